// The room as a handler's context: ticks, timers, targeted events, kicks, lock, end, spectators
// and save/load. Pure: a manual clock drives time through Room::advance.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "room/room.hpp"
#include "wire/frame.hpp"

namespace sb::room {
namespace {

using namespace std::chrono_literals;

PlayerId P(std::uint64_t v) { return PlayerId{v}; }

RoomSpec spec(std::uint32_t capacity = 4) {
  RoomSpec s;
  s.id = RoomId{9};
  s.type = "counter";
  s.zone = "eu";
  s.capacity = capacity;
  s.max_spectators = 1;
  s.log_size = 8;
  s.owner = P(1);
  return s;
}

proto::ServerFrame decode(const wire::FramePtr& f) {
  auto r = wire::decode_server(f->payload());
  EXPECT_TRUE(r);
  return r ? *r : proto::ServerFrame{};
}

/// A deterministic little game: a counter advanced by ticks and by "add:<n>" messages, timers
/// that broadcast their tag, and a pseudo-random stream so that save/load must carry state.
class CounterHandler final : public RoomHandler {
 public:
  void on_create(RoomContext& r) override {
    r.set_tick_hz(10);
    r.set_timer(250ms, 1);
  }
  Status on_message(RoomContext& r, const Member& m, std::string_view data) override {
    const std::string d(data);
    if (d.rfind("add:", 0) == 0) {
      total_ += std::stoull(d.substr(4));
      r.broadcast_game("total:" + std::to_string(total_));
    } else if (d == "timer") {
      r.set_timer(120ms, 7);
    } else if (d == "kick-both") {
      for (const auto& mm : r.members()) r.kick(mm.player, "bye");
    } else if (d == "end") {
      r.end("final:" + std::to_string(total_));
    } else if (d == "secret") {
      r.send_game(m.player, "for-you");
    } else {
      return fail(Errc::invalid_argument);
    }
    return {};
  }
  void on_tick(RoomContext& r) override {
    rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
    r.broadcast_game("tick:" + std::to_string(r.ticks()) + ":" + std::to_string(rng_ >> 40));
  }
  void on_timer(RoomContext& r, std::uint64_t tag) override { r.broadcast_game("timer:" + std::to_string(tag)); }
  void on_leave(RoomContext&, const Member&, LeaveReason why) override { leaves_.push_back(why); }
  std::string snapshot() const override { return std::to_string(total_) + "," + std::to_string(rng_); }
  Status restore(std::string_view s) override {
    const std::string str(s);
    const auto comma = str.find(',');
    if (comma == std::string::npos) return fail(Errc::invalid_argument);
    total_ = std::stoull(str.substr(0, comma));
    rng_ = std::stoull(str.substr(comma + 1));
    return {};
  }
  std::vector<LeaveReason> leaves_;

 private:
  std::uint64_t total_ = 0;
  std::uint64_t rng_ = 12345;
};

std::vector<std::string> games(Room& r) {
  std::vector<std::string> out;
  for (auto& b : r.take_broadcasts()) {
    auto f = decode(b.frame);
    if (f.has_room_event() && f.room_event().has_game()) out.push_back(f.room_event().game());
  }
  return out;
}

class RoomHandlerTest : public ::testing::Test {
 protected:
  ManualClock clock_;
};

TEST_F(RoomHandlerTest, TicksAndTimersFireInDeadlineOrder) {
  Room r(spec(), std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(r.join(P(1), "a"));
  (void)r.take_broadcasts();
  ASSERT_TRUE(r.next_deadline());
  EXPECT_EQ(*r.next_deadline(), clock_.now() + 100ms);
  clock_.advance(300ms);
  r.advance(clock_.now());
  auto g = games(r);
  ASSERT_EQ(g.size(), 4u);  // ticks at 100, 200, the timer at 250, the tick at 300
  EXPECT_EQ(g[0].rfind("tick:1:", 0), 0u);
  EXPECT_EQ(g[1].rfind("tick:2:", 0), 0u);
  EXPECT_EQ(g[2], "timer:1");
  EXPECT_EQ(g[3].rfind("tick:3:", 0), 0u);
  EXPECT_EQ(r.ticks(), 3u);
}

TEST_F(RoomHandlerTest, AStalledLoopDoesNotBurstTicks) {
  Room r(spec(), std::make_unique<CounterHandler>(), clock_);
  clock_.advance(10s);
  r.advance(clock_.now());
  EXPECT_LE(r.ticks(), 3u);
  EXPECT_GT(*r.next_deadline(), clock_.now());
}

TEST_F(RoomHandlerTest, TargetedEventsAreNumberedAndReplayedToTheirPlayerOnly) {
  Room r(spec(), std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(r.join(P(1), "a"));
  ASSERT_TRUE(r.join(P(2), "b"));
  (void)r.take_broadcasts();
  const auto before = r.seq();
  ASSERT_TRUE(r.message(P(2), "secret"));
  ASSERT_TRUE(r.message(P(1), "add:5"));
  auto out = r.take_broadcasts();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to, P(2));
  EXPECT_FALSE(out[1].to.valid());
  EXPECT_EQ(out[1].seq, out[0].seq + 1);
  EXPECT_EQ(r.catch_up(P(1), before).size(), 1u);  // the total only
  EXPECT_EQ(r.catch_up(P(2), before).size(), 2u);  // the secret and the total
}

TEST_F(RoomHandlerTest, KicksApplyAfterTheCallbackAndAreReported) {
  auto h = std::make_unique<CounterHandler>();
  auto* handler = h.get();
  Room r(spec(), std::move(h), clock_);
  ASSERT_TRUE(r.join(P(1), "a"));
  ASSERT_TRUE(r.join(P(2), "b"));
  ASSERT_TRUE(r.message(P(1), "kick-both"));
  EXPECT_TRUE(r.empty());
  auto removed = r.take_removals();
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].reason, LeaveReason::kicked);
  EXPECT_EQ(removed[0].message, "bye");
  EXPECT_EQ(handler->leaves_, (std::vector<LeaveReason>{LeaveReason::kicked, LeaveReason::kicked}));
}

TEST_F(RoomHandlerTest, TheEndBroadcastsResultsRemovesEveryoneAndRefusesMore) {
  Room r(spec(), std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(r.join(P(1), "a"));
  ASSERT_TRUE(r.join(P(2), "b"));
  ASSERT_TRUE(r.message(P(1), "add:3"));
  ASSERT_TRUE(r.message(P(2), "end"));
  EXPECT_TRUE(r.ended());
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.next_deadline());
  auto out = r.take_broadcasts();
  auto last = decode(out.back().frame);
  ASSERT_TRUE(last.room_event().has_ended());
  EXPECT_EQ(last.room_event().ended().results(), "final:3");
  auto removed = r.take_removals();
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[1].reason, LeaveReason::ended);
  EXPECT_EQ(r.join(P(3), "c").error(), make_error_code(Errc::bad_state));
}

TEST_F(RoomHandlerTest, LockSpectatorsAndOwnership) {
  Room r(spec(2), std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(r.join(P(1), "owner"));
  ASSERT_TRUE(r.join(P(2), "b"));
  EXPECT_EQ(r.join(P(3), "c").error(), make_error_code(Errc::room_full));
  ASSERT_TRUE(r.join(P(3), "c", true));  // a spectator does not take a seat
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.spectators(), 1u);
  EXPECT_EQ(r.join(P(4), "d", true).error(), make_error_code(Errc::room_full));  // max_spectators 1
  EXPECT_EQ(r.message(P(3), "add:1").error(), make_error_code(Errc::bad_state));
  EXPECT_EQ(r.request_lock(P(2), true).error(), make_error_code(Errc::bad_state));
  ASSERT_TRUE(r.request_lock(P(1), true));
  r.leave(P(2), LeaveReason::left);
  EXPECT_EQ(r.join(P(5), "e").error(), make_error_code(Errc::room_locked));
  ASSERT_TRUE(r.request_lock(P(1), false));
  EXPECT_TRUE(r.join(P(5), "e"));
}

TEST_F(RoomHandlerTest, ARestoredRoomContinuesExactlyAsTheOriginal) {
  Room a(spec(), std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(a.join(P(1), "a"));
  ASSERT_TRUE(a.join(P(2), "b"));
  ASSERT_TRUE(a.message(P(1), "add:4"));
  ASSERT_TRUE(a.message(P(2), "timer"));
  clock_.advance(150ms);
  a.advance(clock_.now());
  (void)a.take_broadcasts();

  const std::string saved = a.save();
  auto loaded = Room::load(saved, std::make_unique<CounterHandler>(), clock_);
  ASSERT_TRUE(loaded);
  Room& b = **loaded;
  EXPECT_EQ(b.save(), saved);
  EXPECT_EQ(b.seq(), a.seq());
  EXPECT_EQ(b.size(), 2u);
  // The same inputs and the same clock give byte-identical events from here on.
  for (int step = 0; step < 50; ++step) {
    clock_.advance(37ms);
    a.advance(clock_.now());
    b.advance(clock_.now());
    if (step % 7 == 0) {
      ASSERT_TRUE(a.message(P(1 + step % 2), "add:" + std::to_string(step)));
      ASSERT_TRUE(b.message(P(1 + step % 2), "add:" + std::to_string(step)));
    }
    if (step == 20) {
      ASSERT_TRUE(a.message(P(1), "timer"));
      ASSERT_TRUE(b.message(P(1), "timer"));
    }
    auto oa = a.take_broadcasts();
    auto ob = b.take_broadcasts();
    ASSERT_EQ(oa.size(), ob.size()) << step;
    for (std::size_t i = 0; i < oa.size(); ++i) {
      EXPECT_EQ(oa[i].seq, ob[i].seq);
      EXPECT_EQ(oa[i].frame->payload(), ob[i].frame->payload()) << step;
    }
  }
  // A returning player is replayed the same history by both.
  const auto from = a.seq() - 5;
  auto ra = a.catch_up(P(1), from);
  auto rb = b.catch_up(P(1), from);
  ASSERT_EQ(ra.size(), rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) EXPECT_EQ(ra[i]->payload(), rb[i]->payload());
}

TEST_F(RoomHandlerTest, LoadRejectsGarbage) {
  EXPECT_FALSE(Room::load("\xff\xff garbage", std::make_unique<CounterHandler>(), clock_));
  Room a(spec(), std::make_unique<CounterHandler>(), clock_);
  // A handler that cannot parse its part refuses the whole room.
  class Picky final : public RoomHandler {
    Status restore(std::string_view) override { return fail(Errc::invalid_argument); }
  };
  EXPECT_FALSE(Room::load(a.save(), std::make_unique<Picky>(), clock_));
}

}  // namespace
}  // namespace sb::room
