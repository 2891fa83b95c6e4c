#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace sb::client {
namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

TEST(HistogramTest, BucketsCoverValuesContiguously) {
  for (std::size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::bucket_high(i) + 1, Histogram::bucket_low(i + 1)) << i;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(i)), i);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_high(i)), i);
  }
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(31), 31u);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
  // Relative width stays within 1/32 above the exact range.
  for (std::size_t i = Histogram::kSub; i + 1 < Histogram::kBuckets; ++i) {
    const double width = static_cast<double>(Histogram::bucket_high(i) - Histogram::bucket_low(i) + 1);
    ASSERT_LE(width / static_cast<double>(Histogram::bucket_low(i)), 1.0 / 32.0 + 1e-12);
  }
}

TEST(HistogramTest, PercentilesWithinBucketPrecision) {
  std::mt19937_64 gen(7);
  std::lognormal_distribution<double> dist(8.0, 1.5);  // µs-like latencies around 3 ms
  Histogram h;
  std::vector<std::uint64_t> samples;
  for (int i = 0; i < 50000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(gen));
    samples.push_back(v);
    h.record(v);
  }
  EXPECT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.min(), *std::min_element(samples.begin(), samples.end()));
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    const double exact = static_cast<double>(exact_percentile(samples, p));
    const double approx = static_cast<double>(h.percentile(p));
    EXPECT_GE(approx, exact) << p;  // upper bucket edge
    EXPECT_LE(approx, exact * (1.0 + 1.0 / 32.0) + 1.0) << p;
  }
}

TEST(HistogramTest, SmallCountsAndEmpty) {
  Histogram h;
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.record(10);
  h.record(20);
  h.record(30, 2);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), 90u);
  EXPECT_EQ(h.percentile(25), 10u);
  EXPECT_EQ(h.percentile(50), 20u);
  EXPECT_EQ(h.percentile(100), 30u);
  EXPECT_DOUBLE_EQ(h.mean(), 22.5);
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 gen(1);
  std::uniform_int_distribution<std::uint64_t> small(0, 5000), large(100000, 90000000);
  Histogram a, b, all;
  for (int i = 0; i < 10000; ++i) {
    const auto x = small(gen);
    const auto y = large(gen);
    a.record(x);
    b.record(y);
    all.record(x);
    all.record(y);
  }
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.sum(), all.sum());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.sparse(), all.sparse());
  for (double p : {50.0, 99.0, 99.99}) EXPECT_EQ(merged.percentile(p), all.percentile(p));
}

TEST(HistogramTest, SparseRoundTripAndSince) {
  Histogram h;
  for (std::uint64_t v : {1u, 5u, 5u, 900u, 70000u}) h.record(v);
  const Histogram earlier = h;
  h.record(123456);
  h.record(3);
  const Histogram copy = Histogram::from_sparse(h.sparse(), h.sum(), h.min(), h.max());
  EXPECT_EQ(copy.sparse(), h.sparse());
  EXPECT_EQ(copy.count(), h.count());
  EXPECT_EQ(copy.percentile(90), h.percentile(90));

  const Histogram delta = h.since(earlier);
  EXPECT_EQ(delta.count(), 2u);
  EXPECT_EQ(delta.sum(), 123456u + 3u);
  EXPECT_EQ(delta.percentile(100), 123456u);  // clamped to max of h
  EXPECT_EQ(delta.min(), 3u);
}

}  // namespace
}  // namespace sb::client
