#include "games/ctf/ctf_room.hpp"

#include <gtest/gtest.h>

#include "ctf_test_util.hpp"

namespace sb::ctf::test {
namespace {

using room::LeaveReason;
using room::Room;

class CtfRoomTest : public RoomFixture {
 protected:
  /// A room whose match runs at once with P(1) red and P(2) blue, grace over.
  std::unique_ptr<Room> running(room::Params params = {}) {
    params.emplace("start_delay_ms", "0");
    auto r = make_room(std::move(params));
    EXPECT_TRUE(r->join(P(1), "red"));
    EXPECT_TRUE(r->join(P(2), "blue"));
    EXPECT_EQ(handler(*r).game().phase(), wire::RUNNING);
    tick(*r, 25);  // past the claim grace after MatchStarted
    r->take_broadcasts();
    return r;
  }
  /// Edits the handler's game through snapshot()/restore().
  static void edit_room(Room& r, const std::function<void(wire::CtfSnapshot&)>& f) {
    wire::CtfSnapshot s;
    ASSERT_TRUE(s.ParseFromString(handler(r).snapshot()));
    f(s);
    ASSERT_TRUE(handler(r).restore(s.SerializeAsString()));
  }
  static wire::GameView view_of(const Room& r, PlayerId viewer) {
    wire::GameView v;
    EXPECT_TRUE(v.ParseFromString(r.game_view(viewer)));
    return v;
  }
};

TEST_F(CtfRoomTest, TypeDefaults) {
  const room::RoomType t = make_ctf_type();
  EXPECT_EQ(t.name, "ctf");
  EXPECT_EQ(t.default_capacity, 16u);
  EXPECT_EQ(t.min_capacity, 2u);
  EXPECT_EQ(t.max_capacity, 64u);
  EXPECT_EQ(t.max_spectators, 32u);
  EXPECT_EQ(t.log_size, 128u);
  EXPECT_TRUE(t.presence_events);
}

TEST_F(CtfRoomTest, ParamsAreValidated) {
  const room::RoomType t = make_ctf_type();
  auto make = [&](room::Params p, std::string& error) {
    room::RoomSpec spec;
    spec.id = RoomId{1};
    spec.capacity = 16;
    spec.params = std::move(p);
    return t.make(spec, error);
  };
  const std::vector<room::Params> bad = {
      {{"score_limit", "0"}},   {{"score_limit", "21"}}, {{"time_limit_s", "9"}}, {{"time_limit_s", "3601"}},
      {{"tick_hz", "4"}},       {{"tick_hz", "61"}},     {{"min_players", "0"}},  {{"min_players", "17"}},
      {{"seed", "-1"}},         {{"tick_hz", "20x"}},    {{"tick_hz", ""}},       {{"scorelimit", "3"}},
      {{"start_delay_ms", "60001"}},
  };
  for (const auto& p : bad) {
    std::string error;
    auto h = make(p, error);
    ASSERT_FALSE(h) << p.begin()->first << "=" << p.begin()->second;
    EXPECT_EQ(to_errc(h.error()), Errc::invalid_argument);
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  auto ok = parse_params({{"min_players", "4"}, {"score_limit", "5"}, {"time_limit_s", "600"}, {"tick_hz", "30"},
                          {"seed", "18446744073709551615"}, {"start_delay_ms", "0"}, {"max_violations", "9"}},
                         16, 1, error);
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(ok->min_players, 4u);
  EXPECT_EQ(ok->score_limit, 5u);
  EXPECT_EQ(ok->time_limit_s, 600u);
  EXPECT_EQ(ok->tick_hz, 30u);
  EXPECT_EQ(ok->seed, UINT64_MAX);
  EXPECT_EQ(ok->start_delay_ms, 0u);
  EXPECT_EQ(ok->max_violations, 9u);
  auto defaults = parse_params({}, 16, 1, error);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->min_players, 2u);
  EXPECT_EQ(defaults->score_limit, 3u);
  EXPECT_EQ(defaults->time_limit_s, 300u);
  EXPECT_EQ(defaults->tick_hz, 20u);
  EXPECT_NE(defaults->seed, parse_params({}, 16, 2, error)->seed) << "rooms get different default seeds";
}

TEST_F(CtfRoomTest, CountdownStartsAtMinPlayersThenTheMatch) {
  auto r = make_room();
  ASSERT_TRUE(r->join(P(1), "a"));
  EXPECT_EQ(r->tick_hz(), 0u) << "no ticks while waiting";
  EXPECT_EQ(view_of(*r, P(1)).phase(), wire::WAITING);
  ASSERT_TRUE(r->join(P(2), "b"));
  EXPECT_EQ(r->tick_hz(), 20u);
  auto cd = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kCountdown);
  ASSERT_EQ(cd.size(), 1u);
  EXPECT_EQ(cd[0].event.countdown().start_in_ms(), 3000u);
  tick(*r, 59);
  EXPECT_EQ(handler(*r).game().phase(), wire::COUNTDOWN);
  EXPECT_EQ(view_of(*r, P(1)).countdown_ms(), 50u);
  auto early = decode_all(r->take_broadcasts());
  EXPECT_TRUE(games_of(early, wire::CtfEvent::kState).empty()) << "no State before the match runs";
  tick(*r);
  EXPECT_EQ(handler(*r).game().phase(), wire::RUNNING);
  auto started = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kStarted);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].event.started().players_size(), 2);
  EXPECT_EQ(started[0].event.started().time_limit_ms(), 300'000u);
  tick(*r);
  auto states = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kState);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_FALSE(states[0].to.valid()) << "State goes to everyone";
  EXPECT_EQ(states[0].event.state().tick(), 1u);
  EXPECT_EQ(states[0].event.state().time_left_ms(), 300'000u - 50u);
}

TEST_F(CtfRoomTest, AFullRoomStartsAtOnce) {
  auto r = make_room({}, 2);
  ASSERT_TRUE(r->join(P(1), "a"));
  ASSERT_TRUE(r->join(P(2), "b"));
  EXPECT_EQ(handler(*r).game().phase(), wire::RUNNING);
  EXPECT_EQ(games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kStarted).size(), 1u);
}

TEST_F(CtfRoomTest, CountdownStopsWhenPlayersLeave) {
  auto r = make_room();
  ASSERT_TRUE(r->join(P(1), "a"));
  ASSERT_TRUE(r->join(P(2), "b"));
  tick(*r, 10);
  (void)r->take_broadcasts();
  r->leave(P(2), LeaveReason::left);
  EXPECT_EQ(handler(*r).game().phase(), wire::WAITING);
  EXPECT_EQ(r->tick_hz(), 0u);
  EXPECT_FALSE(r->next_deadline());
  // The cancellation is announced: a Countdown of 0 ms.
  auto cd = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kCountdown);
  ASSERT_EQ(cd.size(), 1u);
  EXPECT_EQ(cd[0].event.countdown().start_in_ms(), 0u);
}

TEST_F(CtfRoomTest, TeamsBalanceAndMidMatchJoinersTakeTheSmallerTeam) {
  auto r = make_room({{"min_players", "3"}, {"start_delay_ms", "0"}});
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(r->join(P(i), "p"));
  EXPECT_EQ(handler(*r).game().phase(), wire::RUNNING);
  EXPECT_EQ(view_of(*r, P(1)).your_team(), wire::RED);
  EXPECT_EQ(view_of(*r, P(2)).your_team(), wire::BLUE);
  EXPECT_EQ(view_of(*r, P(3)).your_team(), wire::RED);
  r->leave(P(2), LeaveReason::left);
  ASSERT_TRUE(r->join(P(4), "late"));
  EXPECT_EQ(view_of(*r, P(4)).your_team(), wire::BLUE);
  // A spectator watches without a team.
  ASSERT_TRUE(r->join(P(50), "watcher", true));
  EXPECT_EQ(handler(*r).game().players().size(), 3u);
  const auto v = view_of(*r, P(50));
  EXPECT_EQ(v.your_team(), wire::TEAM_NONE);
  EXPECT_EQ(v.phase(), wire::RUNNING);
  EXPECT_EQ(v.players_size(), 3);
  EXPECT_EQ(v.map().walls_size(), 5);
  EXPECT_EQ(v.map().speed(), 800u);
  // The RoomJoined snapshot carries the view.
  auto frame = sb::wire::decode_server(r->snapshot(P(4))->payload());
  ASSERT_TRUE(frame);
  wire::GameView joined;
  ASSERT_TRUE(joined.ParseFromString(frame->room_joined().game_state()));
  EXPECT_EQ(joined.your_team(), wire::BLUE);
}

TEST_F(CtfRoomTest, StateAcksTheLastAppliedInput) {
  auto r = running();
  ASSERT_TRUE(r->message(P(1), enc(input(7, 1000, 0))));
  tick(*r);
  auto states = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kState);
  ASSERT_EQ(states.size(), 1u);
  const auto& st = states[0].event.state();
  ASSERT_EQ(st.players_size(), 2);
  EXPECT_EQ(st.players(0).player_id(), 1u);
  EXPECT_EQ(st.players(0).ack_seq(), 7u);
  EXPECT_EQ(st.players(1).ack_seq(), 0u);
  EXPECT_EQ(handler(*r).inputs_applied(), 1u);
}

TEST_F(CtfRoomTest, TeleportClaimIsCorrectedForThatPlayerOnly) {
  auto r = running();
  ASSERT_TRUE(r->join(P(60), "spectator", true));
  r->take_broadcasts();
  const Vec server = handler(*r).game().find(P(1))->pos;
  wire::Input cheat = input(1, 0, 0);
  cheat.set_has_claim(true);
  cheat.set_claimed_x(server.x + 3000);
  cheat.set_claimed_y(server.y);
  ASSERT_TRUE(r->message(P(1), enc(cheat)));
  tick(*r);
  const auto all = decode_all(r->take_broadcasts());
  const auto corr = games_of(all, wire::CtfEvent::kCorrection);
  ASSERT_EQ(corr.size(), 1u);
  EXPECT_EQ(corr[0].to, P(1));
  EXPECT_EQ(corr[0].event.correction().x(), server.x);
  EXPECT_EQ(corr[0].event.correction().y(), server.y);
  for (const auto& p : all) {
    if (p.event.body_case() != wire::CtfEvent::kCorrection) {
      EXPECT_FALSE(p.to.valid());
    }
  }
  // Only P(1) can replay it.
  EXPECT_EQ(r->catch_up(P(2), corr[0].seq - 1).size(), 1u) << "P(2) skips the Correction";
  EXPECT_EQ(r->catch_up(P(1), corr[0].seq - 1).size(), 2u);
  EXPECT_EQ(handler(*r).violations(), 1u);
  EXPECT_EQ(handler(*r).game().find(P(1))->pos, server);
}

TEST_F(CtfRoomTest, FloodingGetsThePlayerKickedForCheating) {
  auto r = running({{"max_violations", "5"}});
  for (std::uint32_t s = 1; s <= 8; ++s) ASSERT_TRUE(r->message(P(1), enc(input(s, 1000, 0))));
  EXPECT_NE(r->find(P(1)), nullptr) << "5 violations are tolerated";
  ASSERT_TRUE(r->message(P(1), enc(input(9, 1000, 0))));
  EXPECT_EQ(r->find(P(1)), nullptr);
  const auto removals = r->take_removals();
  ASSERT_EQ(removals.size(), 1u);
  EXPECT_EQ(removals[0].player, P(1));
  EXPECT_EQ(removals[0].reason, LeaveReason::kicked);
  EXPECT_EQ(removals[0].message, "cheating");
  EXPECT_EQ(handler(*r).game().find(P(1)), nullptr);
  EXPECT_EQ(handler(*r).violations(), 6u);
}

TEST_F(CtfRoomTest, UndecodableInputIsRefusedAndCounted) {
  auto r = running();
  const auto st = r->message(P(1), std::string("\xff\xff\xff", 3));
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::invalid_argument);
  EXPECT_EQ(handler(*r).violations(), 1u);
}

TEST_F(CtfRoomTest, ScoreLimitEndsTheMatchAndTheRoomWithResults) {
  auto r = running({{"score_limit", "1"}});
  const Vec home = handler(*r).game().map().bases[0];
  edit_room(*r, [&](wire::CtfSnapshot& s) {
    s.mutable_flags(1)->set_carrier(1);
    s.mutable_flags(1)->set_at_base(false);
    auto& p = snap_player(s, P(1));
    p.set_x(home.x + 600);
    p.set_y(home.y);
  });
  ASSERT_TRUE(r->message(P(1), enc(input(1, -1000, 0))));
  tick(*r, 3);  // 600 -> 560 -> 520 -> 480: inside the 500 base radius on the third tick
  EXPECT_TRUE(r->ended());
  const auto all = decode_all(r->take_broadcasts());
  ASSERT_EQ(games_of(all, wire::CtfEvent::kCaptured).size(), 1u);
  const auto ended = games_of(all, wire::CtfEvent::kEnded);
  ASSERT_EQ(ended.size(), 1u);
  const auto& res = ended[0].event.ended().results();
  EXPECT_EQ(res.winner(), wire::RED);
  EXPECT_EQ(res.reason(), wire::SCORE_LIMIT);
  ASSERT_EQ(res.score_size(), 2);
  EXPECT_EQ(res.score(0), 1u);
  EXPECT_EQ(res.score(1), 0u);
  ASSERT_EQ(res.players_size(), 2);
  EXPECT_EQ(res.players(0).player_id(), 1u);
  EXPECT_EQ(res.players(0).captures(), 1u);
  // RoomEnded carries the same Results.
  ASSERT_TRUE(all.back().is_end);
  wire::Results room_res;
  ASSERT_TRUE(room_res.ParseFromString(all.back().results));
  EXPECT_EQ(room_res.SerializeAsString(), res.SerializeAsString());
  auto removals = r->take_removals();
  ASSERT_EQ(removals.size(), 2u);
  for (const auto& rm : removals) EXPECT_EQ(rm.reason, LeaveReason::ended);
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(r->next_deadline());
}

TEST_F(CtfRoomTest, TimeLimitEndsTheMatchInADraw) {
  auto r = running({{"time_limit_s", "10"}});  // 200 ticks, 25 already played
  tick(*r, 174);
  EXPECT_FALSE(r->ended());
  EXPECT_EQ(view_of(*r, P(1)).time_left_ms(), 50u);
  tick(*r);
  ASSERT_TRUE(r->ended());
  const auto all = decode_all(r->take_broadcasts());
  const auto ended = games_of(all, wire::CtfEvent::kEnded);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].event.ended().results().winner(), wire::TEAM_NONE);
  EXPECT_EQ(ended[0].event.ended().results().reason(), wire::TIME_LIMIT);
  EXPECT_EQ(ended[0].event.ended().results().ticks(), 200u);
  EXPECT_EQ(r->take_removals().size(), 2u);
}

TEST_F(CtfRoomTest, DisconnectedPlayerIdlesAndResumes) {
  auto r = running();
  edit_room(*r, [](wire::CtfSnapshot& s) {
    snap_player(s, P(1)).set_x(1500);
    snap_player(s, P(1)).set_y(500);
  });
  ASSERT_TRUE(r->message(P(1), enc(input(1, 1000, 0))));
  tick(*r);
  r->set_connected(P(1), false);
  const Vec held = handler(*r).game().find(P(1))->pos;
  EXPECT_EQ(held.x, 1540);
  r->take_broadcasts();
  tick(*r, 20);
  const auto states = games_of(decode_all(r->take_broadcasts()), wire::CtfEvent::kState);
  ASSERT_EQ(states.size(), 20u);
  for (const auto& s : states) {
    EXPECT_TRUE(s.event.state().players(0).idle());
    EXPECT_EQ(s.event.state().players(0).x(), held.x);
  }
  r->set_connected(P(1), true);
  ASSERT_TRUE(r->message(P(1), enc(input(2, 1000, 0))));
  tick(*r);
  EXPECT_EQ(handler(*r).game().find(P(1))->pos.x, held.x + 40);
  EXPECT_FALSE(handler(*r).game().find(P(1))->dir == Vec{});
}

/// A deterministic stream of inputs: direction per (tick, player), an input every other tick.
void drive(Room& r, std::uint32_t t) {
  for (std::uint64_t p = 1; p <= 6; ++p) {
    if (!r.find(P(p)) || (t + p) % 2 != 0) continue;
    const auto h = (t * 2654435761u) ^ static_cast<std::uint32_t>(p * 40503u);
    const auto dx = static_cast<std::int32_t>(h % 2001) - 1000;
    const auto dy = static_cast<std::int32_t>((h / 2001) % 2001) - 1000;
    wire::Input in = input(t, dx, dy);
    if (t % 7 == 0) {  // now and then a wild claim, for Corrections
      in.set_has_claim(true);
      in.set_claimed_x(static_cast<std::int32_t>(h % 10000));
      in.set_claimed_y(static_cast<std::int32_t>(h % 6000));
    }
    (void)r.message(P(p), enc(in));
  }
}

TEST_F(CtfRoomTest, SaveAndLoadContinueIdentically) {
  auto a = make_room({{"seed", "99"}, {"max_violations", "100000"}, {"time_limit_s", "60"}});
  for (std::uint64_t p = 1; p <= 5; ++p) ASSERT_TRUE(a->join(P(p), "p"));
  std::uint32_t t = 1;
  for (; t <= 150; ++t) {  // through the countdown into the match
    drive(*a, t);
    tick(*a);
  }
  ASSERT_EQ(handler(*a).game().phase(), wire::RUNNING);
  a->take_broadcasts();
  drive(*a, t++);  // an input pending across the save

  auto b_loaded = Room::load(a->save(), std::make_unique<CtfHandler>(), clock_);
  ASSERT_TRUE(b_loaded);
  auto b = std::move(*b_loaded);
  EXPECT_EQ(a->save(), b->save());
  std::size_t compared = 0;
  for (std::uint32_t i = 0; i < 600; ++i, ++t) {
    if (i == 100) {  // a join, a drop and a leave along the way
      ASSERT_TRUE(a->join(P(6), "late"));
      ASSERT_TRUE(b->join(P(6), "late"));
      a->set_connected(P(2), false);
      b->set_connected(P(2), false);
    }
    if (i == 200) {
      a->leave(P(3), LeaveReason::left);
      b->leave(P(3), LeaveReason::left);
      a->set_connected(P(2), true);
      b->set_connected(P(2), true);
    }
    drive(*a, t);
    drive(*b, t);
    clock_.advance(std::chrono::milliseconds(50));
    a->advance(clock_.now());
    b->advance(clock_.now());
    const auto ba = a->take_broadcasts();
    const auto bb = b->take_broadcasts();
    ASSERT_EQ(ba.size(), bb.size()) << "tick " << i;
    for (std::size_t k = 0; k < ba.size(); ++k) {
      ASSERT_EQ(ba[k].seq, bb[k].seq);
      ASSERT_EQ(ba[k].to, bb[k].to);
      ASSERT_EQ(ba[k].frame->bytes, bb[k].frame->bytes) << "tick " << i << " event " << k;
      ++compared;
    }
    if (a->ended()) break;
  }
  EXPECT_GT(compared, 500u);
  EXPECT_GT(handler(*a).violations(), 0u) << "the stream exercised Corrections";
  EXPECT_EQ(handler(*a).ticks(), handler(*b).ticks());
  EXPECT_EQ(handler(*a).inputs_applied(), handler(*b).inputs_applied());
  EXPECT_EQ(handler(*a).snapshot(), handler(*b).snapshot());
  EXPECT_EQ(a->save(), b->save());
}

TEST_F(CtfRoomTest, RestoreRefusesGarbage) {
  CtfHandler h;
  EXPECT_FALSE(h.restore(std::string("\xff\x01", 2)));
  wire::CtfSnapshot s;  // parses, but has no flags and no tick rate
  EXPECT_FALSE(h.restore(s.SerializeAsString()));
}

}  // namespace
}  // namespace sb::ctf::test
