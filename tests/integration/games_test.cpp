// The built-in games played end to end over real sockets: clients auto-join poker tables and
// capture-the-flag rooms through the node and are driven by the games' own bots.
#include <map>

#include "games/ctf/ctf_bot.hpp"
#include "games/ctf/ctf_room.hpp"
#include "games/poker/poker_bot.hpp"
#include "games/poker/poker_room.hpp"
#include "harness.hpp"

namespace sb::test {
namespace {

class GamesTest : public NodeTest {
 protected:
  void SetUp() override {
    NodeTest::SetUp();
    room_types_.add(poker::make_poker_type());
    room_types_.add(ctf::make_ctf_type());
    start();
  }
  client::Client& player(const std::string& name) {
    auto& c = registered(name);
    EXPECT_TRUE(in_room(c)) << name;
    return c;
  }
};

TEST_F(GamesTest, PokerOverSocketsConservesChipsAndRejectsNothing) {
  constexpr int kPlayers = 4;
  const std::map<std::string, std::string> params{
      {"next_hand_delay_ms", "20"}, {"action_timeout_ms", "5000"}, {"buy_in", "500"}};
  struct Seat {
    client::Client* client = nullptr;
    std::unique_ptr<poker::PokerBot> bot;
    std::uint64_t rejected = 0;
    std::uint64_t auto_actions = 0;
  };
  std::vector<Seat> seats(kPlayers);
  std::uint64_t hands = 0;
  std::uint64_t rebought = 0;         // chips added by automatic rebuys so far
  std::uint64_t chip_mismatches = 0;  // hands whose final stacks did not add up
  std::uint64_t room = 0;
  for (int i = 0; i < kPlayers; ++i) {
    auto& c = player("shark" + std::to_string(i));
    seats[static_cast<std::size_t>(i)].client = &c;
    auto joined = run(c.auto_join("poker", "", params));
    ASSERT_TRUE(joined) << c.last_error_message();
    if (room == 0) room = joined->room_id();
    ASSERT_EQ(joined->room_id(), room);  // auto-join fills the fullest table
    seats[static_cast<std::size_t>(i)].bot = std::make_unique<poker::PokerBot>(
        PlayerId{c.player_id()}, static_cast<poker::Style>(i % 4), 1000 + static_cast<std::uint64_t>(i));
    poker::wire::TableView view;
    ASSERT_TRUE(view.ParseFromString(joined->game_state()));
    seats[static_cast<std::size_t>(i)].bot->on_view(view);
  }
  // Play: each client feeds its events to its bot and sends what it decides.
  for (std::size_t i = 0; i < seats.size(); ++i) {
    Seat* s = &seats[i];
    const bool counter = i == 0;
    s->client->set_push_handler([s, counter, &hands, &rebought, &chip_mismatches](const proto::ServerFrame& f) {
      if (!f.has_room_event() || !f.room_event().has_game()) return;
      poker::wire::PokerEvent ev;
      if (!ev.ParseFromString(f.room_event().game())) return;
      if (ev.has_action_rejected()) ++s->rejected;
      if (ev.has_action_taken() && ev.action_taken().auto_()) ++s->auto_actions;
      if (counter && ev.has_rebought()) rebought += ev.rebought().amount();
      if (counter && ev.has_hand_ended()) {
        // Between hands every chip is in a stack: the buy-ins plus the rebuys announced so far.
        ++hands;
        std::uint64_t total = 0;
        for (const auto& st : ev.hand_ended().stacks()) total += st.stack();
        if (ev.hand_ended().stacks_size() != kPlayers || total != 500u * kPlayers + rebought) ++chip_mismatches;
      }
      s->bot->on_event(ev);
      if (auto a = s->bot->decide()) (void)s->client->send_game(a->SerializeAsString());
    });
    if (auto a = s->bot->decide()) (void)s->client->send_game(a->SerializeAsString());
  }
  ASSERT_TRUE(pump_until([&] { return hands >= 30; }, 30s)) << "hands played: " << hands;
  EXPECT_EQ(chip_mismatches, 0u);
  for (const auto& s : seats) {
    EXPECT_EQ(s.rejected, 0u);
    EXPECT_EQ(s.auto_actions, 0u);  // everyone answered in time
  }
}

std::optional<poker::wire::PokerEvent> poker_event(const proto::ServerFrame& f) {
  if (!f.has_room_event() || !f.room_event().has_game()) return std::nullopt;
  poker::wire::PokerEvent ev;
  if (!ev.ParseFromString(f.room_event().game())) return std::nullopt;
  return ev;
}

// docs/games.md §2.7: a TOOK_OVER login is not a disconnection. A player who logs in from a new
// device during its turn keeps the turn and its deadline, acts from the new connection, and the
// hand goes on.
TEST_F(GamesTest, PokerTakeOverDuringTheTurnKeepsTheHand) {
  const std::map<std::string, std::string> params{
      {"next_hand_delay_ms", "20"}, {"action_timeout_ms", "60000"}, {"buy_in", "500"}};
  auto& a = player("switcher1");
  auto& b = player("switcher2");
  auto ja = run(a.auto_join("poker", "", params));
  ASSERT_TRUE(ja) << a.last_error_message();
  auto jb = run(b.auto_join("poker", "", params));
  ASSERT_TRUE(jb) << b.last_error_message();
  ASSERT_EQ(ja->room_id(), jb->room_id());
  // The first turn of the first hand (heads-up: the button, small blind, acts first preflop).
  poker::wire::ToAct turn;
  ASSERT_TRUE(wait_push(a, [&](const proto::ServerFrame& f) {
    auto ev = poker_event(f);
    if (!ev || !ev->has_to_act()) return false;
    turn = ev->to_act();
    return true;
  }, 10s));
  const bool a_moves = turn.player_id() == a.player_id();
  client::Client& mover = a_moves ? a : b;
  client::Client& other = a_moves ? b : a;
  const std::string mover_name = a_moves ? "switcher1" : "switcher2";

  auto& again = make_client();
  ASSERT_TRUE(run(again.connect()));
  auto ok = run(again.login(mover_name, "password-1"));
  ASSERT_TRUE(ok) << again.last_error_message();
  EXPECT_EQ(ok->kind(), proto::TOOK_OVER);
  // The new connection's snapshot: the same hand, still this player's turn, the same deadline.
  auto snap = wait_push(again, [](const proto::ServerFrame& f) { return f.has_room_joined(); });
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->room_joined().room_id(), ja->room_id());
  poker::wire::TableView view;
  ASSERT_TRUE(view.ParseFromString(snap->room_joined().game_state()));
  EXPECT_TRUE(view.hand_in_progress());
  EXPECT_EQ(view.hand_id(), turn.hand_id());
  ASSERT_TRUE(view.has_to_act()) << "the hand was played on without the player";
  EXPECT_EQ(view.to_act().player_id(), mover.player_id());
  EXPECT_EQ(view.to_act().deadline_ms(), turn.deadline_ms());
  EXPECT_EQ(view.my_cards_size(), 2);
  ASSERT_TRUE(pump_until([&] { return mover.last_close().has_value() && !mover.connected(); }));
  EXPECT_EQ(mover.last_close()->reason(), proto::CLOSE_LOGGED_IN_ELSEWHERE);

  // The player acts from the new connection, well before the deadline.
  poker::wire::Action act;
  act.set_kind(turn.to_call() > 0 ? poker::wire::Action::CALL : poker::wire::Action::CHECK);
  act.set_hand_id(turn.hand_id());
  ASSERT_TRUE(again.send_game(act.SerializeAsString()));
  // The opponent sees that action (not an automatic one), then its own turn in the same hand,
  // and never a presence change or an early end of the hand.
  bool presence = false;
  bool auto_action = false;
  bool ended = false;
  bool acted = false;
  ASSERT_TRUE(wait_push(other, [&](const proto::ServerFrame& f) {
    if (f.has_room_event() && (f.room_event().has_member_disconnected() || f.room_event().has_member_reconnected())) {
      presence = true;
    }
    auto ev = poker_event(f);
    if (!ev) return false;
    if (ev->has_hand_ended()) ended = true;
    if (ev->has_action_taken() && ev->action_taken().auto_()) auto_action = true;
    if (ev->has_action_taken() && ev->action_taken().player_id() == mover.player_id() &&
        ev->action_taken().hand_id() == turn.hand_id()) {
      EXPECT_EQ(ev->action_taken().kind(), act.kind());
      acted = true;
    }
    return acted && ev->has_to_act() && ev->to_act().player_id() == other.player_id() &&
           ev->to_act().hand_id() == turn.hand_id();
  }, 10s));
  EXPECT_FALSE(presence);
  EXPECT_FALSE(auto_action);
  EXPECT_FALSE(ended);
  // The new connection saw its own action too: it is the player's connection now.
  EXPECT_TRUE(wait_push(again, [&](const proto::ServerFrame& f) {
    auto ev = poker_event(f);
    return ev && ev->has_action_taken() && ev->action_taken().player_id() == mover.player_id() &&
           !ev->action_taken().auto_();
  }));
}

TEST_F(GamesTest, CaptureTheFlagMatchRunsToItsEndOverSockets) {
  constexpr int kPlayers = 4;
  const std::map<std::string, std::string> params{
      {"min_players", "4"}, {"time_limit_s", "10"}, {"start_delay_ms", "0"}, {"score_limit", "1"}};
  struct Avatar {
    client::Client* client = nullptr;
    std::unique_ptr<ctf::CtfBot> bot;
    std::uint64_t states = 0, last_tick = 0, gaps = 0, corrections = 0;
    std::optional<ctf::wire::Results> results;
    bool left = false;
  };
  std::vector<Avatar> avatars(kPlayers);
  for (int i = 0; i < kPlayers; ++i) {
    auto& c = player("runner" + std::to_string(i));
    Avatar& a = avatars[static_cast<std::size_t>(i)];
    a.client = &c;
    a.bot = std::make_unique<ctf::CtfBot>(PlayerId{c.player_id()}, 77 + static_cast<std::uint64_t>(i));
    c.set_push_handler([&a](const proto::ServerFrame& f) {
      if (f.has_room_joined() && f.room_joined().room_type() == "ctf") {
        ctf::wire::GameView view;
        if (view.ParseFromString(f.room_joined().game_state())) a.bot->on_view(view);
        return;
      }
      if (f.has_room_left()) a.left = true;
      if (!f.has_room_event()) return;
      if (f.room_event().has_ended()) {
        ctf::wire::Results r;
        if (r.ParseFromString(f.room_event().ended().results())) a.results = r;
        return;
      }
      if (!f.room_event().has_game()) return;
      ctf::wire::CtfEvent ev;
      if (!ev.ParseFromString(f.room_event().game())) return;
      if (ev.has_correction()) ++a.corrections;
      if (ev.has_state()) {
        ++a.states;
        if (a.last_tick != 0 && ev.state().tick() != a.last_tick + 1) ++a.gaps;
        a.last_tick = ev.state().tick();
      }
      a.bot->on_event(ev);
      if (ev.has_state()) {
        if (auto in = a.bot->next_input()) (void)a.client->send_game(in->SerializeAsString());
      }
    });
  }
  std::uint64_t room = 0;
  for (auto& a : avatars) {
    auto joined = run(a.client->auto_join("ctf", "", params));
    ASSERT_TRUE(joined) << a.client->last_error_message();
    if (room == 0) room = joined->room_id();
    EXPECT_EQ(joined->room_id(), room);
  }
  // The match runs at 20 Hz until a capture or the 10 s limit, then the room ends.
  ASSERT_TRUE(pump_until(
      [&] {
        for (const auto& a : avatars) {
          if (!a.results || !a.left) return false;
        }
        return true;
      },
      25s));
  for (const auto& a : avatars) {
    EXPECT_GT(a.states, 20u);        // it ran
    EXPECT_EQ(a.gaps, 0u);           // no tick lost on the way
    EXPECT_EQ(a.corrections, 0u);    // honest bots are never corrected
    ASSERT_TRUE(a.results);
    EXPECT_EQ(a.results->players_size(), kPlayers);
    EXPECT_EQ(a.results->score_size(), 2);
  }
  // Back in the lobby, the room is gone from the zone's list.
  auto& looker = *avatars[0].client;
  ASSERT_TRUE(pump_until(
      [&] {
        auto list = run(looker.list_rooms("", "ctf"));
        return list && list->rooms_size() == 0;
      },
      5s));
}

// Capture the flag and a take-over: no drop (the avatar is never idle, no presence event), and
// the game forgets the old connection's input counter, so the new client's seq 1 is applied.
TEST_F(GamesTest, CaptureTheFlagTakeOverKeepsTheAvatarAndRestartsTheInputSeq) {
  const std::map<std::string, std::string> params{
      {"min_players", "2"}, {"time_limit_s", "60"}, {"start_delay_ms", "0"}, {"score_limit", "5"}};
  auto& a = player("flagger1");
  auto& b = player("flagger2");
  auto ja = run(a.auto_join("ctf", "", params));
  ASSERT_TRUE(ja) << a.last_error_message();
  auto jb = run(b.auto_join("ctf", "", params));
  ASSERT_TRUE(jb) << b.last_error_message();
  ASSERT_EQ(ja->room_id(), jb->room_id());
  auto ctf_state = [](const proto::ServerFrame& f) -> std::optional<ctf::wire::State> {
    if (!f.has_room_event() || !f.room_event().has_game()) return std::nullopt;
    ctf::wire::CtfEvent ev;
    if (!ev.ParseFromString(f.room_event().game()) || !ev.has_state()) return std::nullopt;
    return ev.state();
  };
  auto player_in = [](const ctf::wire::State& st, std::uint64_t id) -> const ctf::wire::PlayerState* {
    for (const auto& p : st.players()) {
      if (p.player_id() == id) return &p;
    }
    return nullptr;
  };
  ASSERT_TRUE(wait_push(b, [&](const proto::ServerFrame& f) { return ctf_state(f).has_value(); }, 10s));
  // Inputs 1..5 from the first connection, applied.
  for (std::uint32_t seq = 1; seq <= 5; ++seq) {
    ctf::wire::Input in;
    in.set_seq(seq);
    ASSERT_TRUE(a.send_game(in.SerializeAsString()));
  }
  ASSERT_TRUE(wait_push(b, [&](const proto::ServerFrame& f) {
    auto st = ctf_state(f);
    const auto* p = st ? player_in(*st, a.player_id()) : nullptr;
    return p && p->ack_seq() == 5;
  }));

  auto& again = make_client();
  ASSERT_TRUE(run(again.connect()));
  auto ok = run(again.login("flagger1", "password-1"));
  ASSERT_TRUE(ok) << again.last_error_message();
  EXPECT_EQ(ok->kind(), proto::TOOK_OVER);
  auto snap = wait_push(again, [](const proto::ServerFrame& f) {
    return f.has_room_joined() && f.room_joined().room_type() == "ctf";
  });
  ASSERT_TRUE(snap);
  // A new client process numbers its inputs from 1.
  ctf::wire::Input first;
  first.set_seq(1);
  first.set_dir_x(1000);
  ASSERT_TRUE(again.send_game(first.SerializeAsString()));
  bool presence = false;
  bool idle = false;
  ASSERT_TRUE(wait_push(b, [&](const proto::ServerFrame& f) {
    if (f.has_room_event() && (f.room_event().has_member_disconnected() || f.room_event().has_member_reconnected())) {
      presence = true;
    }
    auto st = ctf_state(f);
    const auto* p = st ? player_in(*st, a.player_id()) : nullptr;
    if (p && p->idle()) idle = true;
    return p && p->ack_seq() == 1;
  })) << "the new connection's input seq 1 was never applied";
  EXPECT_FALSE(presence);
  EXPECT_FALSE(idle);
}

}  // namespace
}  // namespace sb::test
