#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb::auth {
namespace {

using std::chrono::milliseconds;

const TimePoint kStart = TimePoint(std::chrono::seconds(1000));

TEST(RateLimiterTest, AllowsBurstThenRefusesWithRetryAfter) {
  RateLimiter limiter(2.0, 3.0);  // 2 tokens/s -> one every 500 ms
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt) << i;
  auto wait = limiter.acquire("a", kStart);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, milliseconds(500));
}

TEST(RateLimiterTest, RetryAfterShrinksAsTimePasses) {
  RateLimiter limiter(1.0, 1.0);
  EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt);
  EXPECT_EQ(limiter.acquire("a", kStart + milliseconds(300)), milliseconds(700));
  EXPECT_EQ(limiter.acquire("a", kStart + milliseconds(999)), milliseconds(1));
}

TEST(RateLimiterTest, RefusedCallsDoNotConsume) {
  RateLimiter limiter(1.0, 1.0);
  EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.acquire("a", kStart + milliseconds(100)));
  EXPECT_EQ(limiter.acquire("a", kStart + milliseconds(1000)), std::nullopt);
}

TEST(RateLimiterTest, RefillsOverTimeUpToBurst) {
  RateLimiter limiter(2.0, 3.0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limiter.acquire("a", kStart), std::nullopt);
  ASSERT_TRUE(limiter.acquire("a", kStart));
  // Exactly the promised wait gives one token, and only one.
  const TimePoint t1 = kStart + milliseconds(500);
  EXPECT_EQ(limiter.acquire("a", t1), std::nullopt);
  EXPECT_EQ(limiter.acquire("a", t1), milliseconds(500));
  // A long pause refills to the burst, not beyond.
  const TimePoint t2 = t1 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("a", t2), std::nullopt) << i;
  EXPECT_TRUE(limiter.acquire("a", t2));
}

TEST(RateLimiterTest, KeysAreIndependent) {
  RateLimiter limiter(1.0, 2.0);
  EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt);
  EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt);
  EXPECT_TRUE(limiter.acquire("a", kStart));
  EXPECT_EQ(limiter.acquire("b", kStart), std::nullopt);
  EXPECT_EQ(limiter.acquire("b", kStart), std::nullopt);
  EXPECT_TRUE(limiter.acquire("b", kStart));
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(RateLimiterTest, ZeroRateIsUnlimitedAndTracksNothing) {
  RateLimiter limiter(0.0, 1.0);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(limiter.acquire("a", kStart), std::nullopt);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiterTest, TimeGoingBackwardsNeitherRefillsNorDrains) {
  // Threads may pass slightly out-of-order times; an earlier `now` must count as no time passing.
  RateLimiter limiter(1.0, 2.0);
  const TimePoint later = kStart + std::chrono::seconds(10);
  EXPECT_EQ(limiter.acquire("a", later), std::nullopt);
  EXPECT_EQ(limiter.acquire("a", kStart), std::nullopt);
  EXPECT_EQ(limiter.acquire("a", later), milliseconds(1000));
  EXPECT_EQ(limiter.acquire("a", later + milliseconds(1000)), std::nullopt);
}

TEST(RateLimiterTest, SizeIsBounded) {
  RateLimiter limiter(1.0, 5.0, 100);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(limiter.acquire("k" + std::to_string(i), kStart), std::nullopt);
    ASSERT_LE(limiter.size(), 100u);
  }
  EXPECT_EQ(limiter.size(), 100u);
}

TEST(RateLimiterTest, EvictsLeastRecentlyUsedWhenNoneIsFull) {
  RateLimiter limiter(1.0, 2.0, 2);
  // Drain a and b, then touch a so that b is the least recently used.
  for (const char* k : {"a", "a", "b", "b"}) ASSERT_EQ(limiter.acquire(k, kStart), std::nullopt);
  ASSERT_TRUE(limiter.acquire("a", kStart));
  ASSERT_EQ(limiter.acquire("c", kStart), std::nullopt);  // evicts b
  EXPECT_EQ(limiter.size(), 2u);
  // a kept its (empty) bucket; b starts afresh with a full one.
  EXPECT_TRUE(limiter.acquire("a", kStart));
  EXPECT_EQ(limiter.acquire("b", kStart), std::nullopt);
}

TEST(RateLimiterTest, EvictsFullyRefilledBucketBeforeLeastRecentlyUsed) {
  RateLimiter limiter(2.0, 5.0, 3);
  // b: drained at t0 (least recently used). a: one token used at t0 (full again at +500 ms).
  // c: drained at t0.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter.acquire("b", kStart), std::nullopt);
  ASSERT_EQ(limiter.acquire("a", kStart), std::nullopt);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter.acquire("c", kStart), std::nullopt);
  const TimePoint t = kStart + milliseconds(600);  // a full; b and c hold 1.2 tokens
  ASSERT_EQ(limiter.acquire("d", t), std::nullopt);  // must evict a, not b
  EXPECT_EQ(limiter.size(), 3u);
  // b kept its state: one token, then refused. A fresh bucket would allow five.
  EXPECT_EQ(limiter.acquire("b", t), std::nullopt);
  EXPECT_TRUE(limiter.acquire("b", t));
  EXPECT_EQ(limiter.size(), 3u);  // b was still tracked, nothing new was inserted
}

}  // namespace
}  // namespace sb::auth
