// PokerHandler through room::Room with a manual clock: params, dealing, privacy of hole cards,
// timeouts, disconnected players, rejections, leaving, the joining view.
#include "games/poker/poker_room.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "wire/frame.hpp"

namespace sb::poker {
namespace {

using namespace std::chrono_literals;
using wire::Action;
using wire::PokerEvent;

PlayerId P(std::uint64_t v) { return PlayerId{v}; }

room::RoomSpec poker_spec(std::uint32_t capacity, room::Params params = {}) {
  room::RoomSpec s;
  s.id = RoomId{5};
  s.type = kPokerType;
  s.zone = "eu";
  s.capacity = capacity;
  s.max_spectators = 16;
  s.log_size = 512;
  s.params = std::move(params);
  return s;
}

std::unique_ptr<room::RoomHandler> make_handler(const room::RoomSpec& spec) {
  std::string error;
  auto h = make_poker_type().make(spec, error);
  EXPECT_TRUE(h) << error;
  return h ? std::move(*h) : nullptr;
}

struct Got {
  PlayerId to;
  PokerEvent ev;
};

/// The game events among `bs`, decoded.
std::vector<Got> games_of(const std::vector<room::Broadcast>& bs) {
  std::vector<Got> out;
  for (const auto& b : bs) {
    auto frame = sb::wire::decode_server(b.frame->payload());
    EXPECT_TRUE(frame);
    if (!frame || !frame->has_room_event() || frame->room_event().body_case() != proto::RoomEvent::kGame) continue;
    PokerEvent ev;
    EXPECT_TRUE(ev.ParseFromString(frame->room_event().game()));
    out.push_back({b.to, std::move(ev)});
  }
  return out;
}

std::string action(Action::Kind kind, std::uint64_t hand_id, std::uint64_t amount = 0) {
  Action a;
  a.set_kind(kind);
  a.set_hand_id(hand_id);
  a.set_amount(amount);
  return a.SerializeAsString();
}

class PokerRoomTest : public ::testing::Test {
 protected:
  /// A room with `players` players (1..n) joined; the first hand not started yet.
  std::unique_ptr<room::Room> open(std::uint32_t capacity, std::uint64_t players, room::Params params = {}) {
    if (!params.count("seed")) params["seed"] = "11";
    auto spec = poker_spec(capacity, std::move(params));
    auto r = std::make_unique<room::Room>(spec, make_handler(spec), clock_);
    for (std::uint64_t i = 1; i <= players; ++i) EXPECT_TRUE(r->join(P(i), "p" + std::to_string(i)));
    return r;
  }
  PokerHandler& handler(room::Room& r) { return static_cast<PokerHandler&>(r.handler()); }
  /// Moves the clock on by `d` and fires what is due; returns the game events.
  std::vector<Got> run(room::Room& r, std::chrono::milliseconds d) {
    clock_.advance(d);
    r.advance(clock_.now());
    return games_of(r.take_broadcasts());
  }
  static const wire::ToAct* last_to_act(const std::vector<Got>& gs) {
    const wire::ToAct* t = nullptr;
    for (const auto& g : gs) {
      if (g.ev.has_to_act()) t = &g.ev.to_act();
    }
    return t;
  }

  ManualClock clock_;
};

TEST(PokerParamsTest, DefaultsAndValidation) {
  std::string error;
  auto p = parse_poker_params({}, error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->small_blind, 5u);
  EXPECT_EQ(p->big_blind, 10u);
  EXPECT_EQ(p->buy_in, 1000u);
  EXPECT_EQ(p->action_timeout_ms, 15000u);
  EXPECT_EQ(p->next_hand_delay_ms, 2000u);
  EXPECT_FALSE(p->seed);
  p = parse_poker_params({{"small_blind", "25"}, {"big_blind", "50"}, {"buy_in", "500"}, {"seed", "9"}}, error);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->seed, 9u);

  const std::vector<room::Params> bad{
      {{"big_blind", "4"}},                 // below the small blind
      {{"small_blind", "0"}},
      {{"buy_in", "99"}},                   // below 10 big blinds
      {{"action_timeout_ms", "99"}},
      {{"action_timeout_ms", "120001"}},
      {{"next_hand_delay_ms", "60001"}},
      {{"seed", "-1"}},
      {{"small_blind", "5x"}},
      {{"colour", "red"}},
  };
  for (const auto& params : bad) {
    error.clear();
    const auto r = parse_poker_params(params, error);
    ASSERT_FALSE(r) << params.begin()->first;
    EXPECT_EQ(to_errc(r.error()), Errc::invalid_argument);
    EXPECT_FALSE(error.empty());
  }

  const auto type = make_poker_type();
  EXPECT_EQ(type.name, "poker");
  EXPECT_EQ(type.default_capacity, 6u);
  EXPECT_EQ(type.min_capacity, 2u);
  EXPECT_EQ(type.max_capacity, 10u);
  EXPECT_EQ(type.max_spectators, 16u);
  EXPECT_EQ(type.log_size, 128u);
  EXPECT_TRUE(type.presence_events);
  error.clear();
  EXPECT_FALSE(type.make(poker_spec(11), error));
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(type.make(poker_spec(6, {{"buy_in", "1"}}), error));
  EXPECT_NE(error.find("buy_in"), std::string::npos);
}

TEST_F(PokerRoomTest, HandStartsAfterTheDelayAndHoleCardsGoOnlyToTheirOwner) {
  auto r = open(6, 1);
  ASSERT_TRUE(r->join(P(50), "watcher", /*spectator=*/true));
  EXPECT_FALSE(r->next_deadline()) << "one player: no hand";
  ASSERT_TRUE(r->join(P(2), "p2"));
  ASSERT_TRUE(r->join(P(3), "p3"));
  r->take_broadcasts();
  EXPECT_TRUE(run(*r, 1999ms).empty());
  const auto bs = r->take_broadcasts();
  EXPECT_TRUE(bs.empty());
  clock_.advance(1ms);
  r->advance(clock_.now());
  const auto raw = r->take_broadcasts();
  const auto gs = games_of(raw);
  ASSERT_FALSE(gs.empty());
  EXPECT_TRUE(gs.front().ev.has_hand_started());
  int hole = 0;
  for (const auto& g : gs) {
    if (g.ev.has_hole_cards()) {
      ++hole;
      ASSERT_TRUE(g.to.valid()) << "hole cards are never broadcast";
      EXPECT_NE(g.to, P(50));
      EXPECT_EQ(handler(*r).table().seat_of(g.to), static_cast<Seat>(g.ev.hole_cards().seat()));
      EXPECT_EQ(g.ev.hole_cards().cards_size(), 2);
    } else {
      EXPECT_FALSE(g.to.valid()) << g.ev.ShortDebugString();
    }
  }
  EXPECT_EQ(hole, 3);
  const auto* t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->deadline_ms(), static_cast<std::uint64_t>(clock_.unix_ms()) + 15000);

  // Catch-up replays a player's own hole cards and nobody else's; the spectator gets none.
  for (std::uint64_t viewer : {1u, 2u, 3u, 50u}) {
    int seen = 0;
    for (const auto& f : r->catch_up(P(viewer), 1)) {
      auto frame = sb::wire::decode_server(f->payload());
      ASSERT_TRUE(frame);
      if (frame->room_event().body_case() != proto::RoomEvent::kGame) continue;
      PokerEvent ev;
      ASSERT_TRUE(ev.ParseFromString(frame->room_event().game()));
      if (!ev.has_hole_cards()) continue;
      ++seen;
      EXPECT_EQ(handler(*r).table().player_at(static_cast<Seat>(ev.hole_cards().seat())), P(viewer));
    }
    EXPECT_EQ(seen, viewer == 50 ? 0 : 1) << viewer;
  }

  // The joining view shows only the viewer's own cards.
  for (std::uint64_t viewer : {1u, 2u, 50u}) {
    auto frame = sb::wire::decode_server(r->snapshot(P(viewer))->payload());
    ASSERT_TRUE(frame && frame->has_room_joined());
    wire::TableView v;
    ASSERT_TRUE(v.ParseFromString(frame->room_joined().game_state()));
    EXPECT_TRUE(v.hand_in_progress());
    EXPECT_EQ(v.seats_size(), 3);
    EXPECT_EQ(v.my_cards_size(), viewer == 50 ? 0 : 2) << viewer;
    ASSERT_TRUE(v.has_to_act());
    EXPECT_EQ(v.to_act().deadline_ms(), t->deadline_ms());
    EXPECT_EQ(v.pot_total(), 15u);
  }
}

TEST_F(PokerRoomTest, ActionTimeoutFoldsFacingABetAndChecksWhenFree) {
  auto r = open(2, 2, {{"action_timeout_ms", "1000"}, {"next_hand_delay_ms", "100"}});
  auto gs = run(*r, 100ms);
  const auto* t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->player_id(), 1u);  // the button, facing 5 more
  EXPECT_TRUE(run(*r, 999ms).empty());
  gs = run(*r, 1ms);
  ASSERT_FALSE(gs.empty());
  ASSERT_TRUE(gs.front().ev.has_action_taken());
  EXPECT_EQ(gs.front().ev.action_taken().kind(), Action::FOLD);
  EXPECT_TRUE(gs.front().ev.action_taken().auto_());
  EXPECT_EQ(handler(*r).hands_completed(), 1u);

  // Next hand: player 2 is the button and calls; player 1's option times out into a check.
  gs = run(*r, 100ms);
  t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->player_id(), 2u);
  ASSERT_TRUE(r->message(P(2), action(Action::CALL, t->hand_id())));
  gs = games_of(r->take_broadcasts());
  t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->player_id(), 1u);
  gs = run(*r, 1000ms);
  ASSERT_FALSE(gs.empty());
  EXPECT_EQ(gs.front().ev.action_taken().kind(), Action::CHECK);
  EXPECT_TRUE(gs.front().ev.action_taken().auto_());
  EXPECT_EQ(handler(*r).table().street(), wire::FLOP);
  EXPECT_TRUE(handler(*r).chips_conserved());
}

TEST_F(PokerRoomTest, StaleTimerDoesNotActAfterThePlayerAnswered) {
  auto r = open(3, 3, {{"action_timeout_ms", "1000"}, {"next_hand_delay_ms", "0"}});
  auto gs = run(*r, 0ms);
  const auto* t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  clock_.advance(900ms);
  r->advance(clock_.now());
  ASSERT_TRUE(r->message(P(t->player_id()), action(Action::CALL, t->hand_id())));
  gs = games_of(r->take_broadcasts());
  t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  // 100 ms later the first deadline passes: nothing happens; the new one is 1000 ms after the call.
  EXPECT_TRUE(run(*r, 100ms).empty());
  gs = run(*r, 900ms);
  ASSERT_FALSE(gs.empty());
  EXPECT_EQ(gs.front().ev.action_taken().player_id(), t->player_id());
  EXPECT_TRUE(gs.front().ev.action_taken().auto_());
}

TEST_F(PokerRoomTest, DisconnectedPlayerIsActedForAtOnceUntilItComesBack) {
  auto r = open(3, 3, {{"next_hand_delay_ms", "0"}});
  auto gs = run(*r, 0ms);
  const auto* t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->player_id(), 1u);
  // Player 1 drops while it is its turn: folded for at once, without waiting for the deadline.
  r->set_connected(P(1), false);
  gs = games_of(r->take_broadcasts());
  ASSERT_FALSE(gs.empty());
  EXPECT_EQ(gs.front().ev.action_taken().player_id(), 1u);
  EXPECT_EQ(gs.front().ev.action_taken().kind(), Action::FOLD);
  EXPECT_TRUE(gs.front().ev.action_taken().auto_());
  // Later hands keep acting for player 1 whenever its turn comes.
  int auto_for_1 = 0;
  const Table& table = handler(*r).table();
  while (table.hands_completed() < 6) {
    if (!table.hand_in_progress()) {
      gs = run(*r, 0ms);
    } else {
      const auto info = table.to_act_info();
      ASSERT_NE(info.player_id(), 1u) << "never waits for a disconnected player";
      ASSERT_TRUE(r->message(P(info.player_id()), action(info.to_call() ? Action::CALL : Action::CHECK, info.hand_id())));
      gs = games_of(r->take_broadcasts());
    }
    for (const auto& g : gs) {
      if (g.ev.has_action_taken() && g.ev.action_taken().player_id() == 1) {
        EXPECT_TRUE(g.ev.action_taken().auto_());
        ++auto_for_1;
      }
    }
  }
  EXPECT_GE(auto_for_1, 5);
  // Back: player 1's turns wait for it again, up to the deadline.
  r->set_connected(P(1), true);
  for (int guard = 0; guard < 200 && table.to_act() != P(1); ++guard) {
    if (!table.hand_in_progress()) {
      run(*r, 0ms);
      continue;
    }
    const auto info = table.to_act_info();
    ASSERT_TRUE(r->message(P(info.player_id()), action(info.to_call() ? Action::CALL : Action::CHECK, info.hand_id())));
  }
  ASSERT_EQ(table.to_act(), P(1));
  r->take_broadcasts();
  EXPECT_TRUE(run(*r, 14999ms).empty());
  EXPECT_EQ(table.to_act(), P(1));
  gs = run(*r, 1ms);
  ASSERT_FALSE(gs.empty());
  EXPECT_TRUE(gs.front().ev.action_taken().auto_());
}

TEST_F(PokerRoomTest, IllegalStaleAndOutOfTurnActionsAreRejectedToTheSenderOnly) {
  auto r = open(3, 3);
  ASSERT_TRUE(r->join(P(50), "watcher", true));
  auto gs = run(*r, 2000ms);
  const auto* t = last_to_act(gs);
  ASSERT_NE(t, nullptr);
  const std::uint64_t hand = t->hand_id();
  const std::string before = handler(*r).snapshot();
  struct Case {
    std::uint64_t player;
    std::string data;
  };
  const std::vector<Case> cases{
      {2, action(Action::CALL, hand)},              // out of turn
      {1, action(Action::CALL, hand + 1)},          // stale hand id
      {1, action(Action::CALL, 0)},
      {1, action(Action::CHECK, hand)},             // 10 to call
      {1, action(Action::RAISE, hand, 11)},         // below the minimum
      {1, action(Action::KIND_NONE, hand)},
  };
  for (const auto& c : cases) {
    const auto st = r->message(P(c.player), c.data);
    EXPECT_TRUE(st) << "a game refusal is not an error";
    const auto bs = r->take_broadcasts();
    ASSERT_EQ(bs.size(), 1u);
    EXPECT_EQ(bs[0].to, P(c.player));
    const auto g = games_of(bs);
    ASSERT_EQ(g.size(), 1u);
    ASSERT_TRUE(g[0].ev.has_action_rejected());
    EXPECT_FALSE(g[0].ev.action_rejected().reason().empty());
  }
  EXPECT_EQ(handler(*r).snapshot(), before);
  const auto st = r->message(P(1), std::string("\xff\xff\xff", 3));
  ASSERT_FALSE(st);
  EXPECT_EQ(to_errc(st.error()), Errc::invalid_argument);
  EXPECT_FALSE(r->message(P(50), action(Action::FOLD, hand))) << "spectators do not play";
  EXPECT_EQ(handler(*r).snapshot(), before);
  ASSERT_TRUE(r->message(P(1), action(Action::RAISE, hand, 30)));
  gs = games_of(r->take_broadcasts());
  ASSERT_FALSE(gs.empty());
  EXPECT_EQ(gs.front().ev.action_taken().kind(), Action::RAISE);
  EXPECT_EQ(gs.front().ev.action_taken().bet(), 30u);
}

TEST_F(PokerRoomTest, LeavingMidHandFoldsAndTheHandGoesOn) {
  auto r = open(4, 3);
  auto gs = run(*r, 2000ms);
  ASSERT_TRUE(handler(*r).table().hand_in_progress());
  r->leave(P(3), room::LeaveReason::left);  // the big blind, not to act
  gs = games_of(r->take_broadcasts());
  ASSERT_GE(gs.size(), 2u);
  EXPECT_EQ(gs[0].ev.action_taken().kind(), Action::FOLD);
  EXPECT_TRUE(gs[0].ev.action_taken().auto_());
  EXPECT_EQ(gs[1].ev.unseated().stack(), 990u);
  EXPECT_TRUE(handler(*r).chips_conserved());
  EXPECT_EQ(handler(*r).table().to_act(), P(1));
  // The to-act player leaves too: the last player wins.
  r->leave(P(1), room::LeaveReason::timed_out);
  EXPECT_FALSE(handler(*r).table().hand_in_progress());
  EXPECT_EQ(handler(*r).table().stack_of(P(2)), 1010u);
  EXPECT_TRUE(handler(*r).chips_conserved());
  // A newcomer takes a seat and play resumes.
  ASSERT_TRUE(r->join(P(4), "p4"));
  gs = run(*r, 2000ms);
  EXPECT_TRUE(handler(*r).table().hand_in_progress());
}

TEST_F(PokerRoomTest, SaveAndLoadMidHandContinuesIdentically) {
  auto a = open(4, 4, {{"action_timeout_ms", "500"}});
  run(*a, 2000ms);
  ASSERT_TRUE(handler(*a).table().hand_in_progress());
  a->take_broadcasts();
  auto b = room::Room::load(a->save(), std::make_unique<PokerHandler>(PokerParams{}, 2, 0), clock_);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->save(), a->save());
  for (int i = 0; i < 40; ++i) {
    clock_.advance(500ms);
    a->advance(clock_.now());
    (*b)->advance(clock_.now());
    const auto ba = a->take_broadcasts();
    const auto bb = (*b)->take_broadcasts();
    ASSERT_EQ(ba.size(), bb.size());
    for (std::size_t k = 0; k < ba.size(); ++k) {
      EXPECT_EQ(ba[k].frame->payload(), bb[k].frame->payload());
      EXPECT_EQ(ba[k].to, bb[k].to);
    }
  }
  EXPECT_GT(handler(*a).hands_completed(), 2u);
  EXPECT_FALSE(handler(**b).restore("\xff\xff"));
}

}  // namespace
}  // namespace sb::poker
