#pragma once
// Histogram: a fixed-bucket, log-linear latency histogram that merges by adding counts.
//
// Values are non-negative integers (the bots record microseconds). Values below 32 have a bucket
// each; above that every power of two is split into 32 equal sub-buckets, so a bucket is at most
// 1/32 (~3%) of its values wide, up to 2^36 (~19 h in µs); larger values land in the last bucket.
// 1024 buckets of 8 bytes: 8 KiB per histogram, independent of the number of samples, so a bot
// process keeps one per metric instead of storing samples, and per-process histograms (sent by
// child processes as sparse bucket lists) add up exactly into the parent's. count, sum, min and
// max are exact; percentiles are the upper edge of the bucket holding the rank (clamped to max).
// Not thread-safe: one owner thread.
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace sb::client {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr std::uint64_t kSub = 1u << kSubBits;  // 32
  static constexpr int kMaxExponent = 35;                // values < 2^36 are resolved
  static constexpr std::size_t kBuckets = kSub + (kMaxExponent - kSubBits + 1) * kSub;  // 1024

  /// Adds `n` samples of `value`.
  void record(std::uint64_t value, std::uint64_t n = 1) noexcept;
  /// Adds every sample of `other` (exact: the buckets are the same).
  void merge(const Histogram& other) noexcept;
  /// The samples recorded since `earlier`, where `earlier` is an older copy of this histogram
  /// (bucket-wise difference; min/max are approximated by the bucket edges of the difference).
  Histogram since(const Histogram& earlier) const;
  void clear() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t sum() const noexcept { return sum_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  /// The value at percentile `p` in [0,100]: upper edge of the bucket holding that rank, never
  /// above max(); 0 when empty.
  std::uint64_t percentile(double p) const noexcept;

  /// Non-empty buckets as (index, count) pairs, for serialisation.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> sparse() const;
  /// Rebuilds from sparse buckets plus the exact aggregates; out-of-range indices are ignored.
  static Histogram from_sparse(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets,
                               std::uint64_t sum, std::uint64_t min, std::uint64_t max);

  /// Bucket index of a value, and the smallest/largest value a bucket holds.
  static std::size_t bucket_of(std::uint64_t value) noexcept;
  static std::uint64_t bucket_low(std::size_t index) noexcept;
  static std::uint64_t bucket_high(std::size_t index) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace sb::client
