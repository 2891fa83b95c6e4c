#pragma once
// RateLimiter: token buckets keyed by string (a source address, an account name).
//
// Each key has a bucket of `burst` tokens refilled at `rate_per_sec`; acquire() takes one token or
// says how long until one is available. Buckets are created on first use and the map is bounded
// by `max_keys`: when full, buckets that have refilled completely are dropped first (they carry no
// information), then the least recently used. A rate of 0 disables the limiter (always allows).
// Thread-safe (one mutex); O(log n) per call (an ordered index of when each bucket will be full
// makes "refilled first" exact). A burst or max_keys below 1 is raised to 1. Time is passed in,
// so tests need no sleeps.
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
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
  // Heterogeneous lookup: acquire(string_view) does not allocate for a known key.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  // Both indexes point at the map's keys: node-based, so stable until the bucket is erased.
  using LruList = std::list<const std::string*>;
  using FullIndex = std::multimap<TimePoint, const std::string*>;
  struct Bucket {
    double tokens;
    TimePoint updated;
    LruList::iterator lru;
    FullIndex::iterator full;  // keyed by the instant the bucket will be full again
  };
  void evict_one(TimePoint now);
  TimePoint full_at(const Bucket& bucket) const;

  double rate_;
  double burst_;
  std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets_;
  LruList lru_;         // front = most recently used
  FullIndex by_full_;   // begin() = the bucket that refills (or refilled) first
};

}  // namespace sb::auth
