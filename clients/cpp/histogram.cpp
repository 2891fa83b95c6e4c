#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sb::client {

std::size_t Histogram::bucket_of(std::uint64_t value) noexcept {
  if (value < kSub) return static_cast<std::size_t>(value);
  const int e = static_cast<int>(std::bit_width(value)) - 1;  // floor(log2 value) >= kSubBits
  if (e > kMaxExponent) return kBuckets - 1;
  const std::uint64_t sub = (value >> (e - kSubBits)) & (kSub - 1);
  return static_cast<std::size_t>(kSub + static_cast<std::uint64_t>(e - kSubBits) * kSub + sub);
}

std::uint64_t Histogram::bucket_low(std::size_t index) noexcept {
  if (index < kSub) return index;
  const std::size_t k = index - kSub;
  const int e = static_cast<int>(k / kSub) + kSubBits;
  const std::uint64_t sub = k % kSub;
  return (kSub + sub) << (e - kSubBits);
}

std::uint64_t Histogram::bucket_high(std::size_t index) noexcept {
  if (index + 1 >= kBuckets) return UINT64_MAX;
  return bucket_low(index + 1) - 1;
}

void Histogram::record(std::uint64_t value, std::uint64_t n) noexcept {
  if (n == 0) return;
  buckets_[bucket_of(value)] += n;
  count_ += n;
  sum_ += value * n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

Histogram Histogram::since(const Histogram& earlier) const {
  Histogram d;
  std::size_t first = kBuckets;
  std::size_t last = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t n = buckets_[i] >= earlier.buckets_[i] ? buckets_[i] - earlier.buckets_[i] : 0;
    d.buckets_[i] = n;
    d.count_ += n;
    if (n) {
      first = std::min(first, i);
      last = i;
    }
  }
  if (d.count_ == 0) return d;
  d.sum_ = sum_ >= earlier.sum_ ? sum_ - earlier.sum_ : 0;
  d.min_ = std::max(bucket_low(first), min());
  d.max_ = std::min(bucket_high(last), max_);
  return d;
}

void Histogram::clear() noexcept { *this = Histogram{}; }

std::uint64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(bucket_high(i), max_);
  }
  return max_;
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> Histogram::sparse() const {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (buckets_[i]) out.emplace_back(static_cast<std::uint32_t>(i), buckets_[i]);
  }
  return out;
}

Histogram Histogram::from_sparse(
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& buckets, std::uint64_t sum,
    std::uint64_t min, std::uint64_t max) {
  Histogram h;
  for (const auto& [index, n] : buckets) {
    if (index >= kBuckets || n == 0) continue;
    h.buckets_[index] += n;
    h.count_ += n;
  }
  if (h.count_) {
    h.sum_ = sum;
    h.min_ = min;
    h.max_ = max;
  }
  return h;
}

}  // namespace sb::client
