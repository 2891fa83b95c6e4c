#include "auth/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sb::auth {
namespace {

// Floating-point noise: a refill may land a hair below a whole token (0.9999999999) exactly when
// retry_after said one would be there, and a wait of 1.0000000000000009 ms must round to 1 ms, not
// 2. A millionth of a token (and of a millisecond) is far below anything observable.
constexpr double kEpsilon = 1e-6;
// Caps on derived durations so that absurdly small rates cannot overflow the clock arithmetic.
constexpr double kMaxSeconds = 1e9;  // ~31 years

Duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(std::min(seconds, kMaxSeconds)));
}

}  // namespace

RateLimiter::RateLimiter(double rate_per_sec, double burst, std::size_t max_keys)
    : rate_(rate_per_sec > 0 ? rate_per_sec : 0),
      burst_(std::max(burst, 1.0)),
      max_keys_(std::max<std::size_t>(max_keys, 1)) {}

TimePoint RateLimiter::full_at(const Bucket& bucket) const {
  return bucket.updated + seconds_to_duration((burst_ - bucket.tokens) / rate_);
}

std::optional<std::chrono::milliseconds> RateLimiter::acquire(std::string_view key,
                                                              TimePoint now) {
  if (rate_ == 0) return std::nullopt;
  std::lock_guard lock(mutex_);

  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict_one(now);
    it = buckets_.try_emplace(std::string(key), Bucket{burst_, now, {}, {}}).first;
    lru_.push_front(&it->first);
    it->second.lru = lru_.begin();
    it->second.full = by_full_.emplace(now, &it->first);
  } else {
    Bucket& b = it->second;
    // Callers on different threads may pass slightly out-of-order times: never go backwards.
    if (now > b.updated) {
      const double elapsed = std::chrono::duration<double>(now - b.updated).count();
      b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
      b.updated = now;
    }
    lru_.splice(lru_.begin(), lru_, b.lru);
  }

  Bucket& b = it->second;
  std::optional<std::chrono::milliseconds> wait;
  if (b.tokens + kEpsilon >= 1.0) {
    b.tokens = std::max(0.0, b.tokens - 1.0);
  } else {
    // Rounded up (less the noise tolerance) so that waiting that long always suffices.
    const double exact_ms = std::min((1.0 - b.tokens) / rate_, kMaxSeconds) * 1000.0;
    const double ms = std::ceil(exact_ms - kEpsilon);
    wait = std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(ms)));
  }
  // Re-key the bucket in the refill index without reallocating its node.
  auto node = by_full_.extract(b.full);
  node.key() = full_at(b);
  b.full = by_full_.insert(std::move(node));
  return wait;
}

void RateLimiter::evict_one(TimePoint now) {
  // A bucket that is full again behaves exactly like a missing one: drop those first.
  const auto first_full = by_full_.begin();
  const std::string* victim =
      (first_full != by_full_.end() && first_full->first <= now) ? first_full->second : lru_.back();
  const auto it = buckets_.find(*victim);
  lru_.erase(it->second.lru);
  by_full_.erase(it->second.full);
  buckets_.erase(it);
}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace sb::auth
