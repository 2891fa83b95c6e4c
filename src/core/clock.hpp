#pragma once
// Time sources. Game logic and policies take `Clock&` (or a time point) so that tests can use a
// manual clock; production uses SteadyClock for durations and SystemClock for wall time that is
// stored or signed (token expiry, ban expiry).
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sb {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;

/// Milliseconds since the Unix epoch (wall clock), used for stored and signed expiries.
using UnixMillis = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic now. Any thread.
  virtual TimePoint now() const noexcept = 0;
  /// Wall-clock now in Unix milliseconds. Any thread.
  virtual UnixMillis unix_ms() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
  UnixMillis unix_ms() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// A clock moved by hand; for tests. advance() may be called from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMillis start_unix_ms = 1'700'000'000'000) : unix_ms_(start_unix_ms) {}
  TimePoint now() const noexcept override { return TimePoint(Duration(nanos_.load())); }
  UnixMillis unix_ms() const noexcept override { return unix_ms_.load() + nanos_.load() / 1'000'000; }
  void advance(Duration d) noexcept { nanos_ += d.count(); }

 private:
  std::atomic<std::int64_t> nanos_{1'000'000'000};
  std::atomic<UnixMillis> unix_ms_;
};

}  // namespace sb
