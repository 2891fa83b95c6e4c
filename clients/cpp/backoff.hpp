#pragma once
// Reconnect backoff: capped exponential growth with "full jitter".
//
// Attempt k (0-based) sleeps a uniformly random time in [0, ceiling(k)] where
// ceiling(k) = min(cap, base * 2^k). Full jitter spreads a crowd of clients that lost their edge at
// the same instant over the whole window instead of having them return in synchronised waves.
// Pure functions: the randomness is injected (a number in [0,1) or any uniform random bit
// generator), so tests can pin the draw. No I/O, no state, any thread.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace sb::client {

/// The largest sleep of attempt `attempt` (0-based): min(cap, base * 2^attempt), overflow-safe.
/// Negative attempts count as 0; a non-positive base or cap gives 0.
inline std::chrono::milliseconds backoff_ceiling(int attempt, std::chrono::milliseconds base,
                                                 std::chrono::milliseconds cap) noexcept {
  if (base.count() <= 0 || cap.count() <= 0) return std::chrono::milliseconds{0};
  const std::int64_t b = base.count();
  const std::int64_t c = cap.count();
  std::int64_t ceiling = b;
  for (int i = 0; i < attempt && ceiling < c; ++i) ceiling *= 2;  // at most ~63 doublings
  return std::chrono::milliseconds{std::min(ceiling, c)};
}

/// Full-jitter sleep of attempt `attempt` given a uniform draw `u` in [0,1): floor(u * (ceiling+1))
/// clamped to [0, ceiling], so u=0 gives 0 and u just below 1 gives the ceiling.
inline std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                               std::chrono::milliseconds cap, double u) noexcept {
  const std::int64_t ceiling = backoff_ceiling(attempt, base, cap).count();
  if (!(u > 0.0)) return std::chrono::milliseconds{0};  // also catches NaN
  const auto d = static_cast<std::int64_t>(u * static_cast<double>(ceiling + 1));
  return std::chrono::milliseconds{std::clamp<std::int64_t>(d, 0, ceiling)};
}

/// Same, drawing u from a uniform random bit generator (std::mt19937_64 or a test fake). Maps the
/// generator's range linearly so that min() gives 0 and max() gives the ceiling; never loops.
template <class Urbg>
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, Urbg& gen) {
  const auto lo = static_cast<double>(Urbg::min());
  const auto span = static_cast<double>(Urbg::max()) - lo + 1.0;
  const double u = (static_cast<double>(gen()) - lo) / span;
  return backoff_delay(attempt, base, cap, u);
}

/// A uniform random bit generator with 8 bytes of state (SplitMix64), so that thousands of clients
/// in one process can each own one; std::mt19937_64 carries 2.5 KB.
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  explicit SplitMix64(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) noexcept : state_(seed) {}
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }
  result_type operator()() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace sb::client
