#pragma once
// Blocking key-value helpers for tests, built on the Backbone's asynchronous KV calls (the only
// ones it has: backbone.hpp). Each starts one call, waits for its completion and returns its
// result. Completions run on one process-wide QueueExecutor (a thread of its own, so the
// Executor contract "never inline" holds and the caller may be any thread, even an executor's);
// a completion that does not arrive within kKvSyncTimeout is a test FAILURE (ADD_FAILURE) and
// the helper returns Errc::timeout instead of hanging. Never call these from the helpers'
// executor itself (a completion). Test-only; header-only.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backbone/backbone.hpp"
#include "core/error.hpp"
#include "fakes/queue_executor.hpp"

namespace sb::test {

/// Longer than any backbone's own KV timeout (nats: op_timeout, 2 s in the tests; a create over a
/// deletion marker or a list may take a few), so a backbone's Errc::timeout comes back as such.
inline constexpr std::chrono::milliseconds kKvSyncTimeout{30000};

/// The executor every helper's completion runs on (started on first use).
inline std::shared_ptr<QueueExecutor> kv_sync_executor() {
  static const auto executor = std::make_shared<QueueExecutor>();
  return executor;
}

/// Starts `start(executor, done)` and waits for `done`'s result; a FAILURE and Errc::timeout if
/// it does not come within kKvSyncTimeout. The promise is shared, so a late completion is safe.
template <class R, class Start>
R kv_await(const char* what, const std::string& key, Start&& start) {
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  std::forward<Start>(start)(kv_sync_executor(),
                             [promise](R result) { promise->set_value(std::move(result)); });
  if (future.wait_for(kKvSyncTimeout) != std::future_status::ready) {
    ADD_FAILURE() << what << "(\"" << key << "\"): no completion within " << kKvSyncTimeout.count()
                  << " ms";
    return R(fail(Errc::timeout));
  }
  return future.get();
}

inline Result<backbone::KvEntry> kv_get_sync(backbone::Backbone& bb, const std::string& key) {
  return kv_await<Result<backbone::KvEntry>>(
      "kv_get", key, [&](auto ex, auto done) { bb.kv_get(key, std::move(ex), std::move(done)); });
}

inline Result<std::uint64_t> kv_put_sync(backbone::Backbone& bb, const std::string& key,
                                         std::string value, std::chrono::milliseconds ttl = {}) {
  return kv_await<Result<std::uint64_t>>("kv_put", key, [&](auto ex, auto done) {
    bb.kv_put(key, std::move(value), ttl, std::move(ex), std::move(done));
  });
}

inline Result<std::uint64_t> kv_create_sync(backbone::Backbone& bb, const std::string& key,
                                            std::string value, std::chrono::milliseconds ttl = {}) {
  return kv_await<Result<std::uint64_t>>("kv_create", key, [&](auto ex, auto done) {
    bb.kv_create(key, std::move(value), ttl, std::move(ex), std::move(done));
  });
}

inline Result<std::uint64_t> kv_update_sync(backbone::Backbone& bb, const std::string& key,
                                            std::string value, std::uint64_t expected,
                                            std::chrono::milliseconds ttl = {}) {
  return kv_await<Result<std::uint64_t>>("kv_update", key, [&](auto ex, auto done) {
    bb.kv_update(key, std::move(value), expected, ttl, std::move(ex), std::move(done));
  });
}

inline Status kv_delete_sync(backbone::Backbone& bb, const std::string& key,
                             std::uint64_t expected = 0) {
  return kv_await<Status>("kv_delete", key, [&](auto ex, auto done) {
    bb.kv_delete(key, expected, std::move(ex), std::move(done));
  });
}

inline Status kv_refresh_sync(backbone::Backbone& bb, const std::string& key,
                              std::chrono::milliseconds ttl) {
  return kv_await<Status>("kv_refresh", key, [&](auto ex, auto done) {
    bb.kv_refresh(key, ttl, std::move(ex), std::move(done));
  });
}

inline Result<std::vector<backbone::KvEntry>> kv_list_sync(backbone::Backbone& bb,
                                                           const std::string& prefix) {
  return kv_await<Result<std::vector<backbone::KvEntry>>>(
      "kv_list", prefix,
      [&](auto ex, auto done) { bb.kv_list(prefix, std::move(ex), std::move(done)); });
}

}  // namespace sb::test
