#pragma once
// RateLimiter: token buckets keyed by string (a source address, an account name).
//
// Each key has a bucket of `burst` tokens refilled at `rate_per_sec`; acquire() takes one token or
// says how long until one is available. Buckets are created on first use and the map is bounded
// by `max_keys`: when full, buckets that have refilled completely are dropped first (they carry no
// information), then the least recently used. A rate of 0 disables the limiter (always allows).
// Thread-safe (one mutex); O(1) amortised per call. Time is passed in, so tests need no sleeps.
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"

namespace sb::auth {

class RateLimiter {
 public:
  RateLimiter(double rate_per_sec, double burst, std::size_t max_keys = 100'000);

  /// Takes a token for `key` at `now`. Returns std::nullopt if allowed, else the wait until the
  /// next token. Any thread.
  std::optional<std::chrono::milliseconds> acquire(std::string_view key, TimePoint now);

  /// Number of keys currently tracked (for tests and metrics). Any thread.
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    TimePoint updated;
    std::list<std::string>::iterator lru;
  };
  void evict_one(TimePoint now);

  double rate_;
  double burst_;
  std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // front = most recently used
};

}  // namespace sb::auth
