#pragma once
// Gate: counts work in progress so that shutdown can wait for it (after Seastar's seastar::gate).
//
// Work enters (try_enter) before it starts and leaves when it is done, on every path; close()
// refuses new entries from then on and calls its `on_empty` callback exactly once, when the last
// entered piece of work has left (at once if none is in). The shard closes its connections'
// gate at shutdown and the stopping thread waits for the callback — no polling.
// Not thread-safe: one owner thread (a shard's), which calls every method and runs `on_empty`.
#include <cstddef>
#include <functional>
#include <utility>

#include "core/log.hpp"

namespace sb {

class Gate {
 public:
  /// Enters the gate: false once closed (the caller must not start the work).
  bool try_enter() noexcept {
    if (closed_) return false;
    ++count_;
    return true;
  }
  /// Leaves after a successful try_enter(); the last leave after close() runs `on_empty`.
  void leave() {
    SB_CHECK(count_ > 0);
    if (--count_ == 0 && closed_) fire();
  }
  /// Refuses new entries; `on_empty` runs once nothing is inside (now, if nothing is). Once only.
  void close(std::function<void()> on_empty) {
    SB_CHECK(!closed_);
    closed_ = true;
    on_empty_ = std::move(on_empty);
    if (count_ == 0) fire();
  }
  bool closed() const noexcept { return closed_; }
  std::size_t count() const noexcept { return count_; }

 private:
  void fire() {
    if (auto fn = std::exchange(on_empty_, nullptr)) fn();
  }
  std::size_t count_ = 0;
  bool closed_ = false;
  std::function<void()> on_empty_;
};

}  // namespace sb
