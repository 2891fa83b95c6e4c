#include "backoff.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace sb::client {
namespace {

using std::chrono::milliseconds;

/// A generator that always returns the same number: pins the jitter draw.
struct FixedGen {
  using result_type = std::uint32_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type value;
  result_type operator()() { return value; }
};

TEST(BackoffTest, CeilingDoublesFromBaseUntilCap) {
  const milliseconds base{100}, cap{5000};
  EXPECT_EQ(backoff_ceiling(0, base, cap), milliseconds{100});
  EXPECT_EQ(backoff_ceiling(1, base, cap), milliseconds{200});
  EXPECT_EQ(backoff_ceiling(2, base, cap), milliseconds{400});
  EXPECT_EQ(backoff_ceiling(5, base, cap), milliseconds{3200});
  EXPECT_EQ(backoff_ceiling(6, base, cap), milliseconds{5000});
  EXPECT_EQ(backoff_ceiling(7, base, cap), milliseconds{5000});
}

TEST(BackoffTest, CeilingNeverOverflows) {
  EXPECT_EQ(backoff_ceiling(1000, milliseconds{100}, milliseconds{5000}), milliseconds{5000});
  const milliseconds huge{std::numeric_limits<std::int64_t>::max() / 2};
  EXPECT_EQ(backoff_ceiling(std::numeric_limits<int>::max(), milliseconds{3}, huge), huge);
  EXPECT_EQ(backoff_ceiling(-3, milliseconds{100}, milliseconds{5000}), milliseconds{100});
  EXPECT_EQ(backoff_ceiling(4, milliseconds{0}, milliseconds{5000}), milliseconds{0});
  EXPECT_EQ(backoff_ceiling(4, milliseconds{300}, milliseconds{200}), milliseconds{200});
}

TEST(BackoffTest, FullJitterSpansZeroToCeiling) {
  const milliseconds base{100}, cap{5000};
  EXPECT_EQ(backoff_delay(3, base, cap, 0.0), milliseconds{0});
  EXPECT_EQ(backoff_delay(3, base, cap, 0.5), milliseconds{400});
  EXPECT_EQ(backoff_delay(3, base, cap, 0.999999), milliseconds{800});
  EXPECT_EQ(backoff_delay(3, base, cap, 1.0), milliseconds{800});  // clamped
  EXPECT_EQ(backoff_delay(3, base, cap, -1.0), milliseconds{0});

  FixedGen lowest{0};
  FixedGen highest{FixedGen::max()};
  for (int attempt = 0; attempt < 12; ++attempt) {
    EXPECT_EQ(backoff_delay(attempt, base, cap, lowest), milliseconds{0});
    EXPECT_EQ(backoff_delay(attempt, base, cap, highest), backoff_ceiling(attempt, base, cap));
  }
}

TEST(BackoffTest, SeededDrawsStayInBoundsAndGrow) {
  std::mt19937_64 gen(42);
  const milliseconds base{100}, cap{5000};
  double previous_mean = -1;
  for (int attempt = 0; attempt < 9; ++attempt) {
    const auto ceiling = backoff_ceiling(attempt, base, cap);
    double sum = 0;
    constexpr int kDraws = 4000;
    for (int i = 0; i < kDraws; ++i) {
      const auto d = backoff_delay(attempt, base, cap, gen);
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d, ceiling);
      sum += static_cast<double>(d.count());
    }
    const double mean = sum / kDraws;
    // Uniform on [0, ceiling]: the mean is close to ceiling/2 (5% slack with 4000 draws).
    EXPECT_NEAR(mean, static_cast<double>(ceiling.count()) / 2.0,
                0.05 * static_cast<double>(ceiling.count()) + 1.0);
    if (ceiling < cap) {
      EXPECT_GT(mean, previous_mean);
    }
    previous_mean = mean;
  }
}

}  // namespace
}  // namespace sb::client
