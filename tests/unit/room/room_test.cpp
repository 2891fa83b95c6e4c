#include "room/room.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "wire/frame.hpp"

namespace sb::room {
namespace {

constexpr std::uint32_t kChatMax = 16;

PlayerId P(std::uint64_t v) { return PlayerId{v}; }

RoomSpec spec(std::uint32_t capacity = 4, std::uint32_t log_size = 64) {
  RoomSpec s;
  s.id = RoomId{77};
  s.type = kLobbyType;
  s.zone = "eu";
  s.capacity = capacity;
  s.log_size = log_size;
  return s;
}

proto::ServerFrame decode(const wire::FramePtr& f) {
  auto r = wire::decode_server(f->payload());
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : proto::ServerFrame{};
}

proto::RoomEvent event_of(const wire::FramePtr& f) {
  auto frame = decode(f);
  EXPECT_EQ(frame.body_case(), proto::ServerFrame::kRoomEvent);
  EXPECT_EQ(frame.request_id(), 0u);
  return frame.room_event();
}

proto::RoomJoined snapshot_of(const wire::FramePtr& f) {
  auto frame = decode(f);
  EXPECT_EQ(frame.body_case(), proto::ServerFrame::kRoomJoined);
  return frame.room_joined();
}

class RoomTest : public ::testing::Test {
 protected:
  Room make(std::uint32_t capacity = 4, std::uint32_t log_size = 64) {
    return Room(spec(capacity, log_size), std::make_unique<LobbyHandler>(kChatMax), clock_);
  }
  ManualClock clock_;
};

TEST_F(RoomTest, JoinsUpToCapacityThenRoomFull) {
  Room room = make(3);
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(room.join(P(i), "p" + std::to_string(i))) << i;
  EXPECT_TRUE(room.full());
  EXPECT_EQ(room.size(), 3u);
  for (std::uint64_t i = 4; i <= 10; ++i) {
    const auto st = room.join(P(i), "late");
    ASSERT_FALSE(st);
    EXPECT_EQ(to_errc(st.error()), Errc::room_full);
    EXPECT_LE(room.size(), 3u);
    EXPECT_EQ(room.find(P(i)), nullptr);
  }
  EXPECT_EQ(room.seq(), 3u) << "a refused join emits no event";
  EXPECT_EQ(room.take_broadcasts().size(), 3u);
}

TEST_F(RoomTest, LeaveFreesASeat) {
  Room room = make(2);
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.join(P(2), "b"));
  ASSERT_FALSE(room.join(P(3), "c"));
  room.leave(P(1), LeaveReason::left);
  EXPECT_FALSE(room.full());
  EXPECT_TRUE(room.join(P(3), "c"));
  EXPECT_EQ(room.size(), 2u);
}

TEST_F(RoomTest, RejoinOfAMemberIsANoOp) {
  Room room = make(2);
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.join(P(2), "b"));
  room.take_broadcasts();
  // Even at capacity a member's own rejoin succeeds and takes no second seat.
  EXPECT_TRUE(room.join(P(1), "a-again"));
  EXPECT_EQ(room.size(), 2u);
  EXPECT_EQ(room.seq(), 2u);
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_EQ(room.find(P(1))->name, "a");
}

TEST_F(RoomTest, JoinEmitsMemberJoinedWithRoomIdSeqAndTime) {
  Room room = make();
  ASSERT_TRUE(room.join(P(5), "eve"));
  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].seq, 1u);
  auto ev = event_of(b[0].frame);
  EXPECT_EQ(ev.room_id(), 77u);
  EXPECT_EQ(ev.seq(), 1u);
  EXPECT_EQ(ev.server_time_ms(), static_cast<std::uint64_t>(clock_.unix_ms()));
  ASSERT_EQ(ev.body_case(), proto::RoomEvent::kMemberJoined);
  EXPECT_EQ(ev.member_joined().player_id(), 5u);
  EXPECT_EQ(ev.member_joined().name(), "eve");
  EXPECT_TRUE(ev.member_joined().connected());
}

TEST_F(RoomTest, EventTimeFollowsTheInjectedClock) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  clock_.advance(std::chrono::milliseconds(1500));
  ASSERT_TRUE(room.join(P(2), "b"));
  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(event_of(b[1].frame).server_time_ms() - event_of(b[0].frame).server_time_ms(), 1500u);
}

TEST_F(RoomTest, LeaveEmitsMemberLeft) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  room.take_broadcasts();
  room.leave(P(1), LeaveReason::timed_out);
  EXPECT_TRUE(room.empty());
  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 1u);
  auto ev = event_of(b[0].frame);
  ASSERT_EQ(ev.body_case(), proto::RoomEvent::kMemberLeft);
  EXPECT_EQ(ev.member_left().player_id(), 1u);
  EXPECT_EQ(ev.member_left().name(), "a");
  EXPECT_EQ(ev.seq(), 2u);
}

TEST_F(RoomTest, LeaveOfANonMemberEmitsNothing) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  room.take_broadcasts();
  room.leave(P(9), LeaveReason::left);
  EXPECT_EQ(room.seq(), 1u);
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_EQ(room.size(), 1u);
}

TEST_F(RoomTest, SeqIncrementsByOnePerEventAndBroadcastsDrainInOrder) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));                  // 1 joined
  ASSERT_TRUE(room.join(P(2), "b"));                  // 2 joined
  ASSERT_TRUE(room.chat(P(1), "hi", 11));             // 3 chat
  room.set_connected(P(2), false);                    // 4 disconnected
  room.set_connected(P(2), true);                     // 5 reconnected
  room.leave(P(1), LeaveReason::left);                // 6 left
  EXPECT_EQ(room.seq(), 6u);

  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 6u);
  const proto::RoomEvent::BodyCase expected[] = {
      proto::RoomEvent::kMemberJoined,       proto::RoomEvent::kMemberJoined,
      proto::RoomEvent::kChat,               proto::RoomEvent::kMemberDisconnected,
      proto::RoomEvent::kMemberReconnected,  proto::RoomEvent::kMemberLeft};
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i].seq, i + 1);
    auto ev = event_of(b[i].frame);
    EXPECT_EQ(ev.seq(), i + 1);
    EXPECT_EQ(ev.body_case(), expected[i]) << i;
  }
  auto chat = event_of(b[2].frame).chat();
  EXPECT_EQ(chat.from_player_id(), 1u);
  EXPECT_EQ(chat.from_name(), "a");
  EXPECT_EQ(chat.text(), "hi");
  EXPECT_EQ(chat.tag(), 11u);
  EXPECT_TRUE(room.take_broadcasts().empty()) << "take_broadcasts drains";
}

TEST_F(RoomTest, CatchUpFromZeroIsASnapshot) {
  Room room = make(5);
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.join(P(2), "b"));
  room.set_connected(P(2), false);
  auto frames = room.catch_up(P(1), 0);
  ASSERT_EQ(frames.size(), 1u);
  auto j = snapshot_of(frames[0]);
  EXPECT_EQ(j.room_id(), 77u);
  EXPECT_EQ(j.room_type(), "lobby");
  EXPECT_EQ(j.zone(), "eu");
  EXPECT_EQ(j.capacity(), 5u);
  EXPECT_EQ(j.seq(), 3u);
  EXPECT_FALSE(j.replay_truncated());
  ASSERT_EQ(j.members_size(), 2);
  EXPECT_EQ(j.members(0).player_id(), 1u);
  EXPECT_EQ(j.members(0).name(), "a");
  EXPECT_TRUE(j.members(0).connected());
  EXPECT_EQ(j.members(1).player_id(), 2u);
  EXPECT_FALSE(j.members(1).connected());
}

TEST_F(RoomTest, CatchUpFromCurrentSeqIsEmpty) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.chat(P(1), "x", 0));
  EXPECT_TRUE(room.catch_up(P(1), room.seq()).empty());
}

TEST_F(RoomTest, CatchUpReturnsExactlyTheMissedEvents) {
  Room room = make(4, 64);
  ASSERT_TRUE(room.join(P(1), "a"));
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(room.chat(P(1), "m" + std::to_string(i), 0));
  ASSERT_EQ(room.seq(), 10u);
  for (std::uint64_t k = 1; k < 10; ++k) {
    auto frames = room.catch_up(P(1), k);
    ASSERT_EQ(frames.size(), 10 - k) << k;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(event_of(frames[i]).seq(), k + 1 + i) << "k=" << k;
    }
  }
}

TEST_F(RoomTest, CatchUpReplaysTheSameFramesThatWereBroadcast) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.chat(P(1), "x", 0));
  auto b = room.take_broadcasts();
  auto frames = room.catch_up(P(1), 1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0]->bytes, b[1].frame->bytes);
}

TEST_F(RoomTest, CatchUpOlderThanTheLogIsATruncatedSnapshot) {
  Room room = make(4, 3);
  ASSERT_TRUE(room.join(P(1), "a"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(room.chat(P(1), "m", 0));
  ASSERT_EQ(room.seq(), 6u);  // log holds 4, 5, 6
  // After seq 3 the log still has 4..6: a replay.
  auto replay = room.catch_up(P(1), 3);
  ASSERT_EQ(replay.size(), 3u);
  EXPECT_EQ(event_of(replay[0]).seq(), 4u);
  // After seq 2 event 3 is gone: a snapshot flagged as truncated.
  for (std::uint64_t k : {1u, 2u}) {
    auto frames = room.catch_up(P(1), k);
    ASSERT_EQ(frames.size(), 1u) << k;
    auto j = snapshot_of(frames[0]);
    EXPECT_TRUE(j.replay_truncated()) << k;
    EXPECT_EQ(j.seq(), 6u);
    ASSERT_EQ(j.members_size(), 1);
  }
}

TEST_F(RoomTest, RoomWithoutALogReplaysNothing) {
  Room room = make(4, 0);
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.chat(P(1), "x", 0));
  EXPECT_TRUE(room.catch_up(P(1), 2).empty()) << "caught up: nothing to send, even without a log";
  auto frames = room.catch_up(P(1), 1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(snapshot_of(frames[0]).replay_truncated());
  EXPECT_EQ(room.take_broadcasts().size(), 2u) << "broadcasts do not depend on the log";
}

TEST_F(RoomTest, CatchUpFromTheFutureIsAPlainSnapshot) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  auto frames = room.catch_up(P(1), 1000);
  ASSERT_EQ(frames.size(), 1u);
  auto j = snapshot_of(frames[0]);
  EXPECT_FALSE(j.replay_truncated());
  EXPECT_EQ(j.seq(), 1u);
}

TEST_F(RoomTest, SetConnectedEmitsOnlyOnChange) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  room.take_broadcasts();
  room.set_connected(P(1), true);  // already connected
  EXPECT_TRUE(room.take_broadcasts().empty());
  room.set_connected(P(1), false);
  room.set_connected(P(1), false);
  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 1u);
  auto ev = event_of(b[0].frame);
  ASSERT_EQ(ev.body_case(), proto::RoomEvent::kMemberDisconnected);
  EXPECT_FALSE(ev.member_disconnected().connected());
  EXPECT_FALSE(room.find(P(1))->connected);
  room.set_connected(P(1), true);
  room.set_connected(P(1), true);
  b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 1u);
  ev = event_of(b[0].frame);
  ASSERT_EQ(ev.body_case(), proto::RoomEvent::kMemberReconnected);
  EXPECT_TRUE(ev.member_reconnected().connected());
  room.set_connected(P(42), false);  // not a member
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_EQ(room.seq(), 3u);
}

TEST_F(RoomTest, ChatByNonMemberIsNotFound) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  room.take_broadcasts();
  const auto st = room.chat(P(2), "hello", 0);
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::not_found);
  EXPECT_TRUE(room.take_broadcasts().empty());
}

TEST_F(RoomTest, LobbyChatValidatesLength) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  room.take_broadcasts();
  for (const std::string& bad : {std::string(), std::string(kChatMax + 1, 'x')}) {
    const auto st = room.chat(P(1), bad, 0);
    ASSERT_FALSE(st) << bad.size();
    EXPECT_EQ(to_errc(st.error()), Errc::invalid_argument);
  }
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_EQ(room.seq(), 1u);
  EXPECT_TRUE(room.chat(P(1), "x", 0));
  EXPECT_TRUE(room.chat(P(1), std::string(kChatMax, 'y'), 0));
  EXPECT_EQ(room.take_broadcasts().size(), 2u);
}

TEST_F(RoomTest, DefaultHandlerBroadcastsChatButNoGameMessages) {
  Room room(spec(), std::make_unique<RoomHandler>(), clock_);
  ASSERT_TRUE(room.join(P(1), "a"));
  (void)room.take_broadcasts();
  ASSERT_TRUE(room.chat(P(1), "hi", 7));
  auto out = room.take_broadcasts();
  ASSERT_EQ(out.size(), 1u);
  const auto ev = event_of(out[0].frame);
  ASSERT_TRUE(ev.has_chat());
  EXPECT_EQ(ev.chat().text(), "hi");
  EXPECT_EQ(ev.chat().tag(), 7u);
  EXPECT_EQ(to_errc(room.message(P(1), "x").error()), Errc::bad_state);
}

TEST_F(RoomTest, MembersProtoListsEveryMember) {
  Room room = make();
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.join(P(2), "b"));
  room.set_connected(P(1), false);
  auto m = room.members_proto();
  EXPECT_EQ(m.room_id(), 77u);
  ASSERT_EQ(m.members_size(), 2);
  EXPECT_EQ(m.members(0).player_id(), 1u);
  EXPECT_FALSE(m.members(0).connected());
  EXPECT_EQ(m.members(1).name(), "b");
}

// A handler that refuses even-numbered players and records the callbacks it gets.
class PickyHandler final : public RoomHandler {
 public:
  struct Log {
    std::vector<std::uint64_t> joined, left, seq_at_join;
    std::vector<std::pair<std::uint64_t, bool>> presence;
    std::vector<std::uint64_t> switched;
    std::vector<LeaveReason> reasons;
  };
  explicit PickyHandler(Log& log) : log_(log) {}
  std::optional<Refusal> on_join_request(const RoomContext&, const Member& m) override {
    if (m.player.value % 2 == 0) return Refusal{Errc::banned, "even"};
    return std::nullopt;
  }
  void on_join(RoomContext& room, const Member& m) override {
    EXPECT_NE(room.find(m.player), nullptr);
    log_.joined.push_back(m.player.value);
    log_.seq_at_join.push_back(room.seq());
  }
  void on_leave(RoomContext& room, const Member& m, LeaveReason reason) override {
    EXPECT_EQ(room.find(m.player), nullptr);
    log_.left.push_back(m.player.value);
    log_.reasons.push_back(reason);
  }
  void on_presence(RoomContext&, const Member& m, bool connected) override {
    log_.presence.emplace_back(m.player.value, connected);
  }
  void on_switch(RoomContext&, const Member& m) override { log_.switched.push_back(m.player.value); }

 private:
  Log& log_;
};

TEST_F(RoomTest, CustomHandlerRefusalIsHonoured) {
  PickyHandler::Log log;
  Room room(spec(), std::make_unique<PickyHandler>(log), clock_);
  const auto st = room.join(P(2), "even");
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::banned);
  EXPECT_EQ(room.find(P(2)), nullptr);
  EXPECT_TRUE(room.empty());
  EXPECT_EQ(room.seq(), 0u);
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_TRUE(log.joined.empty());

  ASSERT_TRUE(room.join(P(3), "odd"));
  EXPECT_EQ(log.joined, std::vector<std::uint64_t>{3});
  // The room emitted member_joined (seq 1) before calling on_join.
  EXPECT_EQ(log.seq_at_join, std::vector<std::uint64_t>{1});
  room.set_connected(P(3), false);
  room.leave(P(3), LeaveReason::kicked);
  EXPECT_EQ(log.left, std::vector<std::uint64_t>{3});
  ASSERT_EQ(log.reasons.size(), 1u);
  EXPECT_EQ(log.reasons[0], LeaveReason::kicked);
  ASSERT_EQ(log.presence.size(), 1u);
  EXPECT_EQ(log.presence[0], std::make_pair(std::uint64_t{3}, false));
}

TEST_F(RoomTest, AConnectionSwitchTellsTheHandlerOnlyAndEmitsNothing) {
  PickyHandler::Log log;
  Room room(spec(), std::make_unique<PickyHandler>(log), clock_);
  ASSERT_TRUE(room.join(P(1), "a"));
  ASSERT_TRUE(room.join(P(3), "b"));
  (void)room.take_broadcasts();
  const auto seq = room.seq();
  room.switch_connection(P(3));
  EXPECT_EQ(log.switched, std::vector<std::uint64_t>{3});
  EXPECT_TRUE(log.presence.empty());
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_EQ(room.seq(), seq);
  EXPECT_TRUE(room.find(P(3))->connected);
  // The new connection's reattach then changes nothing either.
  room.set_connected(P(3), true);
  EXPECT_TRUE(log.presence.empty());
  EXPECT_TRUE(room.take_broadcasts().empty());
  // A member marked disconnected returns by set_connected, not by a switch; a stranger is ignored.
  room.set_connected(P(1), false);
  room.switch_connection(P(1));
  room.switch_connection(P(99));
  EXPECT_EQ(log.switched, std::vector<std::uint64_t>{3});
}

TEST_F(RoomTest, CapacityIsCheckedBeforeTheHandler) {
  PickyHandler::Log log;
  Room room(spec(1), std::make_unique<PickyHandler>(log), clock_);
  ASSERT_TRUE(room.join(P(1), "a"));
  const auto st = room.join(P(2), "even-and-late");
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::room_full);
}

TEST_F(RoomTest, HandlerBroadcastIsNumberedAndLogged) {
  Room room = make();
  proto::RoomEvent ev;
  ev.set_game("payload");
  room.broadcast(ev);
  EXPECT_EQ(room.seq(), 1u);
  auto b = room.take_broadcasts();
  ASSERT_EQ(b.size(), 1u);
  auto got = event_of(b[0].frame);
  EXPECT_EQ(got.room_id(), 77u);
  EXPECT_EQ(got.game(), "payload");
}

}  // namespace
}  // namespace sb::room

namespace sb::room {
namespace {

TEST(RoomPresenceTest, PresenceWithoutEventsStillUpdatesTheMember) {
  ManualClock clock;
  RoomSpec s = spec(4, 64);
  s.presence_events = false;
  Room room(s, std::make_unique<LobbyHandler>(500), clock);
  ASSERT_TRUE(room.join(P(1), "a"));
  const auto seq = room.seq();
  (void)room.take_broadcasts();
  room.set_connected(P(1), false);
  EXPECT_EQ(room.seq(), seq) << "no event when presence events are off";
  EXPECT_TRUE(room.take_broadcasts().empty());
  EXPECT_FALSE(room.find(P(1))->connected);
  EXPECT_FALSE(room.members_proto().members(0).connected());
}

}  // namespace
}  // namespace sb::room
