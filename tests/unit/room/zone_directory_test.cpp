#include "room/zone_directory.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace sb::room {
namespace {

ZoneEntry entry(std::uint64_t id, std::uint32_t count, std::uint32_t capacity = 10,
                std::string zone = "eu", std::string type = "lobby") {
  return ZoneEntry{RoomId{id}, std::move(type), std::move(zone), count, capacity};
}

TEST(ZoneDirectoryTest, PickReturnsTheFullestRoomWithSpace) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 3));
  dir.upsert(entry(2, 9));
  dir.upsert(entry(3, 10));  // full
  dir.upsert(entry(4, 5));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{2});
}

TEST(ZoneDirectoryTest, PickNeverReturnsAFullRoom) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 10));
  dir.upsert(entry(2, 11));  // over capacity (stale count)
  dir.upsert(entry(3, 0));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{3});
}

TEST(ZoneDirectoryTest, PickBreaksTiesByLowestId) {
  ZoneDirectory dir;
  dir.upsert(entry(9, 4));
  dir.upsert(entry(5, 4));
  dir.upsert(entry(7, 4));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{5});
}

TEST(ZoneDirectoryTest, PickIsEmptyWhenAllFull) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 10));
  dir.upsert(entry(2, 10));
  EXPECT_EQ(dir.pick("eu", "lobby"), std::nullopt);
}

TEST(ZoneDirectoryTest, PickIsEmptyForAnUnknownZone) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 0));
  EXPECT_EQ(dir.pick("us", "lobby"), std::nullopt);
  EXPECT_EQ(ZoneDirectory{}.pick("eu", "lobby"), std::nullopt);
}

TEST(ZoneDirectoryTest, PickFiltersByType) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 8, 10, "eu", "arena"));
  dir.upsert(entry(2, 2, 10, "eu", "lobby"));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{2});
  EXPECT_EQ(dir.pick("eu", "arena"), RoomId{1});
  EXPECT_EQ(dir.pick("eu", "poker"), std::nullopt);
}

TEST(ZoneDirectoryTest, MarkFullExcludesUntilNextUpsert) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 9));
  dir.upsert(entry(2, 1));
  dir.mark_full(RoomId{1});
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{2});
  dir.mark_full(RoomId{2});
  EXPECT_EQ(dir.pick("eu", "lobby"), std::nullopt);
  dir.upsert(entry(1, 8));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{1});
  dir.mark_full(RoomId{99});  // unknown: no-op
  EXPECT_EQ(dir.size(), 2u);
}

TEST(ZoneDirectoryTest, RemoveDropsTheRoom) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 9));
  dir.upsert(entry(2, 1));
  dir.remove(RoomId{1});
  EXPECT_EQ(dir.size(), 1u);
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{2});
  dir.remove(RoomId{2});
  EXPECT_EQ(dir.pick("eu", "lobby"), std::nullopt);
  EXPECT_TRUE(dir.list("eu").empty());
  dir.remove(RoomId{2});  // absent: no-op
  EXPECT_EQ(dir.size(), 0u);
}

TEST(ZoneDirectoryTest, UpsertReplacesTheCount) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 2));
  dir.upsert(entry(2, 5));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{2});
  dir.upsert(entry(1, 7));
  EXPECT_EQ(dir.pick("eu", "lobby"), RoomId{1});
  EXPECT_EQ(dir.size(), 2u);
}

TEST(ZoneDirectoryTest, ZoneChangeOnUpsertMovesTheRoom) {
  ZoneDirectory dir;
  dir.upsert(entry(1, 5, 10, "eu"));
  dir.upsert(entry(1, 5, 10, "us"));
  EXPECT_EQ(dir.size(), 1u);
  EXPECT_EQ(dir.pick("eu", "lobby"), std::nullopt);
  EXPECT_EQ(dir.pick("us", "lobby"), RoomId{1});
  EXPECT_TRUE(dir.list("eu").empty());
  ASSERT_EQ(dir.list("us").size(), 1u);
  dir.remove(RoomId{1});
  EXPECT_EQ(dir.pick("us", "lobby"), std::nullopt);
  EXPECT_EQ(dir.size(), 0u);
}

TEST(ZoneDirectoryTest, ListIsOrderedByRoomId) {
  ZoneDirectory dir;
  dir.upsert(entry(30, 1));
  dir.upsert(entry(10, 2));
  dir.upsert(entry(20, 3));
  dir.upsert(entry(15, 3, 10, "us"));
  auto list = dir.list("eu");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].room, RoomId{10});
  EXPECT_EQ(list[0].count, 2u);
  EXPECT_EQ(list[1].room, RoomId{20});
  EXPECT_EQ(list[2].room, RoomId{30});
}

TEST(ZoneDirectoryTest, ZoneKeyHasThePrefix) {
  EXPECT_EQ(zone_key("eu", RoomId{42}), "zone.eu.42");
}

}  // namespace
}  // namespace sb::room
