// Gate: shutdown waits for work in progress (src/core/gate.hpp).
#include "core/gate.hpp"

#include <gtest/gtest.h>

namespace sb {
namespace {

TEST(GateTest, CloseWithNothingInsideFiresAtOnce) {
  Gate g;
  int fired = 0;
  g.close([&] { ++fired; });
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(g.closed());
}

TEST(GateTest, CloseWaitsForTheLastLeave) {
  Gate g;
  ASSERT_TRUE(g.try_enter());
  ASSERT_TRUE(g.try_enter());
  int fired = 0;
  g.close([&] { ++fired; });
  EXPECT_EQ(fired, 0);
  g.leave();
  EXPECT_EQ(fired, 0);
  g.leave();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(g.count(), 0u);
}

TEST(GateTest, ClosedGateRefusesNewWork) {
  Gate g;
  ASSERT_TRUE(g.try_enter());
  g.close([] {});
  EXPECT_FALSE(g.try_enter());
  EXPECT_EQ(g.count(), 1u);
  g.leave();
}

TEST(GateTest, LeavesBeforeCloseDoNotFire) {
  Gate g;
  int fired = 0;
  ASSERT_TRUE(g.try_enter());
  g.leave();
  EXPECT_EQ(fired, 0);
  g.close([&] { ++fired; });
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace sb
