#include "games/ctf/ctf_bot.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "ctf_test_util.hpp"

namespace sb::ctf::test {
namespace {

class CtfBotTest : public RoomFixture {};

wire::CtfEvent state_with(PlayerId me, Vec pos, std::uint64_t tick) {
  CtfGame g({}, 1);
  g.add_player(me);
  g.add_player(P(999));
  wire::CtfEvent ev;
  g.fill_state(*ev.mutable_state());
  ev.mutable_state()->set_tick(tick);
  ev.mutable_state()->mutable_players(0)->set_x(pos.x);
  ev.mutable_state()->mutable_players(0)->set_y(pos.y);
  return ev;
}

TEST_F(CtfBotTest, SendsOnlyOnTurnsOrEvery250ms) {
  CtfBot bot(P(1), 5);
  EXPECT_FALSE(bot.next_input()) << "nothing before a State";
  // Standing still at the same spot: a first Input, then a heartbeat every 5 ticks (20 Hz).
  std::vector<std::uint32_t> sent_at;
  for (std::uint32_t t = 1; t <= 40; ++t) {
    bot.on_event(state_with(P(1), {1500, 500}, t));
    if (auto in = bot.next_input()) {
      sent_at.push_back(t);
      EXPECT_EQ(in->seq(), sent_at.size());
      EXPECT_TRUE(in->has_claim());
      EXPECT_EQ(in->claimed_x(), 1500);
      EXPECT_EQ(in->claimed_y(), 500);
      EXPECT_EQ(in->client_time_us(), 0u) << "left to the caller";
      EXPECT_LE(std::int64_t{in->dir_x()} * in->dir_x() + std::int64_t{in->dir_y()} * in->dir_y(), 1'000'000);
    }
    EXPECT_FALSE(bot.next_input()) << "at most one per State";
  }
  ASSERT_GE(sent_at.size(), 8u);
  EXPECT_LE(sent_at.size(), 9u);
  for (std::size_t i = 1; i < sent_at.size(); ++i) EXPECT_EQ(sent_at[i] - sent_at[i - 1], 5u);
}

TEST_F(CtfBotTest, SixteenBotsPlayAFullMatchWithoutViolations) {
  auto r = make_room({{"time_limit_s", "240"}, {"seed", "2024"}}, 16);
  std::vector<CtfBot> bots;
  auto deliver = [&] {
    for (const auto& p : decode_all(r->take_broadcasts())) {
      if (!p.is_game) continue;
      for (auto& b : bots) {
        if (!p.to.valid() || p.to == b.id()) b.on_event(p.event);
      }
    }
  };
  for (std::uint64_t i = 1; i <= 16; ++i) {
    const PlayerId id = P(100 + i);
    bots.emplace_back(id, 77 + i);
    ASSERT_TRUE(r->join(id, "bot" + std::to_string(i)));
    auto joined = sb::wire::decode_server(r->snapshot(id)->payload());
    ASSERT_TRUE(joined);
    wire::GameView view;
    ASSERT_TRUE(view.ParseFromString(joined->room_joined().game_state()));
    bots.back().on_view(view);
    deliver();
  }
  ASSERT_EQ(handler(*r).game().phase(), wire::RUNNING) << "a full room starts at once";
  std::uint64_t ticks = 0;
  std::string results;
  while (!r->ended() && ticks < 240 * 20 + 10) {
    tick(*r);
    ++ticks;
    for (const auto& p : decode_all(r->take_broadcasts())) {
      if (p.is_end) results = p.results;
      if (!p.is_game) continue;
      for (auto& b : bots) {
        if (!p.to.valid() || p.to == b.id()) b.on_event(p.event);
      }
    }
    if (r->ended()) break;
    for (auto& b : bots) {
      if (auto in = b.next_input()) {
        in->set_client_time_us(ticks * 50'000);
        ASSERT_TRUE(r->message(b.id(), enc(*in)));
      }
    }
  }
  ASSERT_TRUE(r->ended());
  EXPECT_EQ(handler(*r).violations(), 0u);
  EXPECT_EQ(r->take_removals().size(), 16u);
  wire::Results res;
  ASSERT_TRUE(res.ParseFromString(results));
  EXPECT_NE(res.reason(), wire::END_REASON_NONE);
  EXPECT_EQ(res.players_size(), 16);
  std::uint32_t captures = 0;
  std::uint32_t pickups = 0;
  for (const auto& p : res.players()) {
    captures += p.captures();
    pickups += p.pickups();
  }
  EXPECT_EQ(captures, res.score(0) + res.score(1));
  EXPECT_GT(pickups, 0u) << "bots reach the enemy flag";
  const double seconds = static_cast<double>(res.ticks()) / 20.0;
  for (const auto& b : bots) {
    const double rate = static_cast<double>(b.inputs_sent()) / seconds;
    EXPECT_LE(rate, 10.5) << b.id().value;
    EXPECT_GE(rate, 3.5) << b.id().value;
  }
  std::printf("ctf bots: %s after %.1f s, score %u-%u, %u pickups, %llu inputs applied\n",
              res.reason() == wire::SCORE_LIMIT ? "score limit" : "time limit", seconds, res.score(0), res.score(1),
              pickups, static_cast<unsigned long long>(handler(*r).inputs_applied()));
}

}  // namespace
}  // namespace sb::ctf::test
