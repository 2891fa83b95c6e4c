// MembershipView with a fake clock: join, refresh, expiry, leave, restart, malformed input.
#include "cluster/membership_view.hpp"

#include <gtest/gtest.h>

#include "membership.pb.h"

namespace sb::cluster {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 3000ms;

Member node(const std::string& name, UnixMillis started = 1000, std::uint64_t seq = 1) {
  Member m;
  m.node = name;
  m.started_unix_ms = started;
  m.seq = seq;
  m.roles = {"edge", "host"};
  m.tcp_address = "127.0.0.1:7700";
  m.ws_address = "127.0.0.1:7701";
  m.admin_address = "127.0.0.1:7702";
  m.version = "0.1.0";
  m.heartbeat_ms = 1000;
  m.load.sessions = 12;
  m.load.rooms = 3;
  m.load.players_in_rooms = 7;
  m.load.cpu_percent = 41.5f;
  m.load.loop_lag_p99_ms = 0.5f;
  return m;
}

class MembershipViewTest : public ::testing::Test {
 protected:
  MembershipViewTest() : view_("self", kTimeout) { view_.set_self(node("self", 500), clock_.now()); }

  Event hear(const Member& m, bool want_view = false) {
    return view_.on_message(encode_announce(m, want_view), clock_.now());
  }
  Event hear_leave(const std::string& name, UnixMillis started) {
    return view_.on_message(encode_leave(name, started), clock_.now());
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& m : view_.members()) out.push_back(m.node);
    return out;
  }

  ManualClock clock_;
  MembershipView view_;
};

TEST_F(MembershipViewTest, StartsWithItselfOnly) {
  EXPECT_EQ(names(), std::vector<std::string>{"self"});
  EXPECT_TRUE(view_.find("self")->self);
  EXPECT_FALSE(view_.next_expiry().has_value());
}

TEST_F(MembershipViewTest, JoinCarriesEveryAnnouncedField) {
  const Event ev = hear(node("b"), /*want_view=*/true);
  EXPECT_EQ(ev.change, Change::joined);
  EXPECT_EQ(ev.node, "b");
  EXPECT_TRUE(ev.view_requested);
  const Member* b = view_.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->self);
  EXPECT_EQ(b->roles, (std::vector<std::string>{"edge", "host"}));
  EXPECT_EQ(b->tcp_address, "127.0.0.1:7700");
  EXPECT_EQ(b->ws_address, "127.0.0.1:7701");
  EXPECT_EQ(b->admin_address, "127.0.0.1:7702");
  EXPECT_EQ(b->version, "0.1.0");
  EXPECT_EQ(b->started_unix_ms, 1000);
  EXPECT_EQ(b->heartbeat_ms, 1000u);
  EXPECT_EQ(b->load.sessions, 12u);
  EXPECT_EQ(b->load.rooms, 3u);
  EXPECT_EQ(b->load.players_in_rooms, 7u);
  EXPECT_FLOAT_EQ(b->load.cpu_percent, 41.5f);
  EXPECT_FLOAT_EQ(b->load.loop_lag_p99_ms, 0.5f);
  EXPECT_EQ(b->last_heard, clock_.now());
  EXPECT_EQ(names(), (std::vector<std::string>{"b", "self"}));
  EXPECT_EQ(view_.counters().joins, 1u);
}

TEST_F(MembershipViewTest, AnOrdinaryHeartbeatDoesNotAskForTheView) {
  EXPECT_FALSE(hear(node("b")).view_requested);
}

TEST_F(MembershipViewTest, SilentNodeExpiresExactlyAtTheTimeout) {
  hear(node("b"));
  ASSERT_EQ(view_.next_expiry(), clock_.now() + kTimeout);
  clock_.advance(kTimeout - 1ms);
  EXPECT_TRUE(view_.expire(clock_.now()).empty());
  EXPECT_NE(view_.find("b"), nullptr);
  clock_.advance(1ms);
  EXPECT_EQ(view_.expire(clock_.now()), std::vector<std::string>{"b"});
  EXPECT_EQ(view_.find("b"), nullptr);
  EXPECT_EQ(view_.counters().expiries, 1u);
  EXPECT_FALSE(view_.next_expiry().has_value());
}

TEST_F(MembershipViewTest, HeartbeatsKeepANodeInAndUpdateItsLoad) {
  hear(node("b", 1000, 1));
  for (std::uint64_t seq = 2; seq <= 10; ++seq) {
    clock_.advance(1000ms);
    auto m = node("b", 1000, seq);
    m.load.sessions = static_cast<std::uint32_t>(seq);
    EXPECT_EQ(hear(m).change, Change::refreshed);
    EXPECT_TRUE(view_.expire(clock_.now()).empty());
  }
  EXPECT_EQ(view_.find("b")->load.sessions, 10u);
  EXPECT_EQ(view_.next_expiry(), clock_.now() + kTimeout);
  EXPECT_EQ(view_.counters().joins, 1u);
}

TEST_F(MembershipViewTest, ItsOwnEntryNeverExpires) {
  clock_.advance(kTimeout * 10);
  EXPECT_TRUE(view_.expire(clock_.now()).empty());
  EXPECT_NE(view_.find("self"), nullptr);
}

TEST_F(MembershipViewTest, CleanLeaveRemovesAtOnce) {
  hear(node("b", 1000));
  hear(node("c", 1000));
  EXPECT_EQ(hear_leave("b", 1000).change, Change::left);
  EXPECT_EQ(names(), (std::vector<std::string>{"c", "self"}));
  EXPECT_EQ(view_.counters().leaves, 1u);
}

TEST_F(MembershipViewTest, ALateAnnounceOfAnIncarnationThatLeftDoesNotBringItBack) {
  hear(node("b", 1000, 5));
  hear_leave("b", 1000);
  EXPECT_EQ(hear(node("b", 1000, 6)).change, Change::stale);
  EXPECT_EQ(view_.find("b"), nullptr);
  // ...but the same node started again is welcome at once.
  EXPECT_EQ(hear(node("b", 2000, 1)).change, Change::joined);
}

TEST_F(MembershipViewTest, RestartWithANewStartTimeReplacesTheOldEntryAtOnce) {
  hear(node("b", 1000, 40));
  clock_.advance(500ms);
  auto fresh = node("b", 5000, 1);
  fresh.tcp_address = "127.0.0.1:9900";
  EXPECT_EQ(hear(fresh).change, Change::restarted);
  ASSERT_NE(view_.find("b"), nullptr);
  EXPECT_EQ(view_.find("b")->started_unix_ms, 5000);
  EXPECT_EQ(view_.find("b")->tcp_address, "127.0.0.1:9900");
  EXPECT_EQ(view_.counters().restarts, 1u);
  // The old incarnation's leftovers change nothing: neither its announces nor its leave.
  EXPECT_EQ(hear(node("b", 1000, 41)).change, Change::stale);
  EXPECT_EQ(hear_leave("b", 1000).change, Change::stale);
  EXPECT_EQ(view_.find("b")->started_unix_ms, 5000);
  EXPECT_EQ(view_.size(), 2u);
}

TEST_F(MembershipViewTest, RepeatedOrOlderSequenceNumbersAreStale) {
  hear(node("b", 1000, 7));
  clock_.advance(2000ms);
  EXPECT_EQ(hear(node("b", 1000, 7)).change, Change::stale);
  EXPECT_EQ(hear(node("b", 1000, 3)).change, Change::stale);
  EXPECT_EQ(view_.counters().stale, 2u);
  // A stale message does not refresh liveness.
  clock_.advance(1000ms);
  EXPECT_EQ(view_.expire(clock_.now()), std::vector<std::string>{"b"});
}

TEST_F(MembershipViewTest, MalformedMessagesAreIgnoredAndCounted) {
  hear(node("b"));
  const TimePoint heard = view_.find("b")->last_heard;
  clock_.advance(100ms);
  EXPECT_EQ(view_.on_message("\xff\xff\xff garbage", clock_.now()).change, Change::malformed);
  EXPECT_EQ(view_.on_message("", clock_.now()).change, Change::malformed);  // no kind
  proto::membership::MembershipMessage no_version;
  no_version.mutable_announce()->set_node("b");
  no_version.mutable_announce()->set_started_unix_ms(1000);
  no_version.mutable_announce()->set_seq(99);
  EXPECT_EQ(view_.on_message(no_version.SerializeAsString(), clock_.now()).change, Change::malformed);
  EXPECT_EQ(hear(node("", 1000)).change, Change::malformed);       // no name
  EXPECT_EQ(hear(node("d", 0)).change, Change::malformed);         // no start time
  EXPECT_EQ(hear_leave("", 1000).change, Change::malformed);
  EXPECT_EQ(view_.counters().malformed, 6u);
  EXPECT_EQ(names(), (std::vector<std::string>{"b", "self"}));
  EXPECT_EQ(view_.find("b")->last_heard, heard);
  EXPECT_EQ(view_.find("b")->seq, 1u);
}

TEST_F(MembershipViewTest, ItsOwnEchoIsIgnoredAndAnotherProcessUnderItsNameIsAConflict) {
  EXPECT_EQ(hear(node("self", 500, 9)).change, Change::none);
  EXPECT_EQ(hear(node("self", 999, 1)).change, Change::conflict);
  EXPECT_EQ(view_.counters().conflicts, 1u);
  EXPECT_EQ(view_.find("self")->started_unix_ms, 500);
  EXPECT_EQ(hear_leave("self", 500).change, Change::none);
  EXPECT_NE(view_.find("self"), nullptr);
}

TEST_F(MembershipViewTest, ALeaveForAnUnknownNodeStopsItsInFlightAnnounce) {
  EXPECT_EQ(hear_leave("b", 1000).change, Change::stale);
  EXPECT_EQ(hear(node("b", 1000, 3)).change, Change::stale);
  // The memory of the leave is dropped after the timeout.
  clock_.advance(kTimeout);
  view_.expire(clock_.now());
  EXPECT_EQ(hear(node("b", 1000, 4)).change, Change::joined);
}

TEST_F(MembershipViewTest, NodesExpireIndependently) {
  hear(node("b"));
  clock_.advance(1000ms);
  hear(node("c"));
  EXPECT_EQ(view_.next_expiry(), clock_.now() + kTimeout - 1000ms);
  clock_.advance(2000ms);
  EXPECT_EQ(view_.expire(clock_.now()), std::vector<std::string>{"b"});
  EXPECT_EQ(view_.next_expiry(), clock_.now() + 1000ms);
  clock_.advance(1000ms);
  EXPECT_EQ(view_.expire(clock_.now()), std::vector<std::string>{"c"});
  EXPECT_EQ(names(), std::vector<std::string>{"self"});
}

}  // namespace
}  // namespace sb::cluster
