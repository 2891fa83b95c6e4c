// Bot simulations: thousands of hands on tables of 2..10 seats with the chip invariant checked
// after every hand, and a Room saved and loaded mid-game that must then emit the very same frames
// as the original for hundreds of hands. Deterministic (seeded), no sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "games/poker/poker_bot.hpp"
#include "games/poker/poker_room.hpp"
#include "games/poker/table.hpp"
#include "wire/frame.hpp"

namespace sb::poker {
namespace {

using namespace std::chrono_literals;

constexpr Style kStyles[] = {Style::tight, Style::loose, Style::aggressive, Style::calling_station, Style::random};

PlayerId P(std::uint64_t v) { return PlayerId{v}; }

Style style_for(std::uint64_t i) { return kStyles[i % 5]; }

// ---------------------------------------------------------------- the engine with bots

class TableSim {
 public:
  TableSim(int seats, std::uint64_t seed)
      : table_(TableConfig{seats, 5, 10, 1000}, seed), rng_(seed ^ 0xabcdef) {
    for (int i = 0; i < seats; ++i) add_player(200 + 150 * static_cast<Chips>(i));
  }

  /// Plays `hands` more hands, checking the chip invariant after each; stops at a fatal failure.
  void play(std::uint64_t hands) {
    const std::uint64_t target = table_.hands_completed() + hands;
    while (table_.hands_completed() < target) {
      deliver();
      if (!table_.hand_in_progress()) {
        ASSERT_TRUE(table_.chips_conserved())
            << "hand " << table_.hand_id() << ": " << table_.total_chips() << " != " << table_.chips_in() << " - "
            << table_.chips_out();
        if (table_.hand_id() > 0 && rng_.below(10) == 0) churn_between_hands();
        dealt_ = 0;
        ASSERT_TRUE(table_.start_hand());
        continue;
      }
      if (rng_.below(400) == 0) {
        leave_mid_hand();
        continue;
      }
      const PlayerId who = *table_.to_act();
      auto a = bots_.at(who.value).decide();
      ASSERT_TRUE(a) << "the bot to act has no action";
      const auto why = table_.act(who, a->kind(), a->amount());
      ASSERT_FALSE(why) << style_name(bots_.at(who.value).style()) << " " << a->ShortDebugString() << ": " << *why;
    }
  }

  const Table& table() const { return table_; }
  std::uint64_t rejections() const {
    std::uint64_t n = 0;
    for (const auto& [id, bot] : bots_) n += bot.rejections();
    return n;
  }

 private:
  void add_player(Chips stack) {
    const std::uint64_t id = next_id_++;
    if (!table_.sit(P(id), stack)) return;
    bots_.emplace(id, PokerBot(P(id), style_for(id), id * 7919));
  }

  void deliver() {
    for (auto& out : table_.take_events()) {
      if (out.event.has_hole_cards()) check_distinct(out.event.hole_cards().cards());
      if (out.event.has_street()) check_distinct(out.event.street().cards());
      if (out.to.valid()) {
        auto it = bots_.find(out.to.value);
        ASSERT_NE(it, bots_.end());
        it->second.on_event(out.event);
      } else {
        for (auto& [id, bot] : bots_) bot.on_event(out.event);
      }
    }
  }

  template <class Cards>
  void check_distinct(const Cards& cards) {
    for (const auto c : cards) {
      ASSERT_LT(c, 52u);
      ASSERT_EQ(dealt_ & (std::uint64_t{1} << c), 0u) << "card dealt twice";
      dealt_ |= std::uint64_t{1} << c;
    }
  }

  void leave_mid_hand() {
    auto it = bots_.begin();
    std::advance(it, static_cast<long>(rng_.below(bots_.size())));
    const PlayerId gone = it->second.me();
    table_.leave(gone);
    bots_.erase(gone.value);
    deliver();
    add_player(1000);  // the seat is free at once; the newcomer waits for the next hand
  }

  void churn_between_hands() {
    if (bots_.size() > 2 && rng_.below(2) == 0) {
      auto it = bots_.begin();
      std::advance(it, static_cast<long>(rng_.below(bots_.size())));
      table_.leave(it->second.me());
      bots_.erase(it);
    } else {
      add_player(100 + rng_.below(2000));
    }
    deliver();
  }

  Table table_;
  SplitMix64 rng_;
  std::map<std::uint64_t, PokerBot> bots_;
  std::uint64_t next_id_ = 1;
  std::uint64_t dealt_ = 0;
};

TEST(PokerSimTest, ChipInvariantHoldsAfterEveryHandOnTablesOfTwoToTenSeats) {
  std::uint64_t total = 0;
  for (int seats = kMinSeats; seats <= kMaxSeats; ++seats) {
    TableSim sim(seats, 1000 + static_cast<std::uint64_t>(seats));
    sim.play(250);
    if (::testing::Test::HasFatalFailure()) return;
    total += sim.table().hands_completed();
    EXPECT_TRUE(sim.table().chips_conserved());
    EXPECT_EQ(sim.rejections(), 0u);
    EXPECT_GT(sim.table().rebuys(), 0u) << "some players went broke and were rebought";
  }
  EXPECT_GE(total, 2000u);
}

TEST(PokerBotTest, ActsOnlyOnItsOwnTurnAndOnlyOnce) {
  PokerBot bot(P(1), Style::tight, 3);
  EXPECT_FALSE(bot.decide());
  wire::PokerEvent ev;
  auto* t = ev.mutable_to_act();
  t->set_hand_id(4);
  t->set_player_id(2);
  t->set_to_call(10);
  bot.on_event(ev);
  EXPECT_FALSE(bot.decide()) << "not its turn";
  t->set_player_id(1);
  t->set_min_raise_to(20);
  t->set_max_raise_to(1000);
  t->set_current_bet(10);
  t->set_pot(15);
  bot.on_event(ev);
  const auto a = bot.decide();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->hand_id(), 4u);
  EXPECT_FALSE(bot.decide()) << "answered already";
  // Rejected: one passive retry (a call, always legal on its turn).
  wire::PokerEvent rej;
  rej.mutable_action_rejected()->set_hand_id(4);
  bot.on_event(rej);
  const auto retry = bot.decide();
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->kind(), wire::Action::CALL);
  bot.on_event(rej);
  EXPECT_FALSE(bot.decide()) << "no retry loop";
}

TEST(PokerBotTest, StylesDifferInHowOftenTheyPutChipsIn) {
  // Same spots for every style: facing a big blind preflop with random hands.
  std::map<Style, int> voluntary;
  for (const Style style : kStyles) {
    PokerBot bot(P(1), style, 99);
    SplitMix64 deal(5);
    for (std::uint64_t hand = 1; hand <= 400; ++hand) {
      Deck deck;
      deck.shuffle(deal.next());
      wire::PokerEvent hs;
      hs.mutable_hand_started()->set_hand_id(hand);
      bot.on_event(hs);
      wire::PokerEvent hc;
      hc.mutable_hole_cards()->set_hand_id(hand);
      hc.mutable_hole_cards()->add_cards(static_cast<std::uint32_t>(deck.deal()->index()));
      hc.mutable_hole_cards()->add_cards(static_cast<std::uint32_t>(deck.deal()->index()));
      bot.on_event(hc);
      wire::PokerEvent ta;
      auto* t = ta.mutable_to_act();
      t->set_hand_id(hand);
      t->set_player_id(1);
      t->set_to_call(10);
      t->set_current_bet(10);
      t->set_min_raise_to(20);
      t->set_max_raise_to(1000);
      t->set_stack(1000);
      t->set_pot(15);
      bot.on_event(ta);
      const auto a = bot.decide();
      ASSERT_TRUE(a);
      if (a->kind() == wire::Action::RAISE) {
        EXPECT_GE(a->amount(), 20u);
        EXPECT_LE(a->amount(), 1000u);
      }
      EXPECT_NE(a->kind(), wire::Action::CHECK) << "10 to call";
      EXPECT_NE(a->kind(), wire::Action::BET) << "there is a bet";
      if (a->kind() != wire::Action::FOLD) ++voluntary[style];
    }
    EXPECT_EQ(bot.hands_seen(), 400u);
  }
  EXPECT_LT(voluntary[Style::tight], voluntary[Style::loose]);
  EXPECT_LT(voluntary[Style::loose], voluntary[Style::calling_station]);
  EXPECT_GT(voluntary[Style::tight], 0);
}

// ---------------------------------------------------------------- rooms saved and loaded

room::RoomSpec sim_spec(std::uint32_t seats) {
  room::RoomSpec s;
  s.id = RoomId{321};
  s.type = kPokerType;
  s.capacity = seats;
  s.max_spectators = 16;
  s.log_size = 512;
  s.params = {{"action_timeout_ms", "1000"}, {"next_hand_delay_ms", "500"}};
  return s;
}

std::unique_ptr<room::RoomHandler> fresh_handler(const room::RoomSpec& spec) {
  std::string error;
  auto h = make_poker_type().make(spec, error);
  EXPECT_TRUE(h) << error;
  return std::move(*h);
}

/// Drives a Room (and optionally a mirror that must behave identically) with bots.
class RoomSim {
 public:
  RoomSim(room::Room& main, ManualClock& clock, std::uint64_t seed) : main_(main), clock_(clock), rng_(seed) {}

  void add_bot(std::uint64_t id) {
    ASSERT_TRUE(main_.join(P(id), "bot" + std::to_string(id)));
    bots_.emplace(id, PokerBot(P(id), style_for(id), id * 31));
  }

  void give_views() {
    for (auto& [id, bot] : bots_) {
      auto frame = sb::wire::decode_server(main_.snapshot(P(id))->payload());
      ASSERT_TRUE(frame && frame->has_room_joined());
      wire::TableView v;
      ASSERT_TRUE(v.ParseFromString(frame->room_joined().game_state()));
      bot.on_view(v);
    }
  }

  void set_mirror(room::Room* mirror) { mirror_ = mirror; }

  /// Runs until `hands` more hands have completed.
  void run(std::uint64_t hands) {
    const auto& h = static_cast<const PokerHandler&>(main_.handler());
    const std::uint64_t target = h.hands_completed() + hands;
    for (int guard = 0; h.hands_completed() < target; ++guard) {
      ASSERT_LT(guard, 1'000'000);
      step();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  std::uint64_t frames_compared() const { return compared_; }
  std::uint64_t auto_actions() const { return auto_actions_; }

  /// Hands the queued frames to the bots (comparing them with the mirror's).
  void deliver() {
    const auto bs = main_.take_broadcasts();
    if (mirror_) {
      const auto ms = mirror_->take_broadcasts();
      ASSERT_EQ(bs.size(), ms.size());
      for (std::size_t i = 0; i < bs.size(); ++i) {
        ASSERT_EQ(bs[i].frame->payload(), ms[i].frame->payload()) << "frame " << compared_;
        ASSERT_EQ(bs[i].to, ms[i].to);
        ++compared_;
      }
    }
    const auto& h = static_cast<const PokerHandler&>(main_.handler());
    for (const auto& b : bs) {
      auto frame = sb::wire::decode_server(b.frame->payload());
      ASSERT_TRUE(frame);
      if (frame->room_event().body_case() != proto::RoomEvent::kGame) continue;
      wire::PokerEvent ev;
      ASSERT_TRUE(ev.ParseFromString(frame->room_event().game()));
      if (ev.has_hand_ended()) {
        ASSERT_TRUE(h.chips_conserved()) << "hand " << ev.hand_ended().hand_id();
      }
      if (ev.has_action_taken() && ev.action_taken().auto_()) ++auto_actions_;
      for (auto& [id, bot] : bots_) {
        if (!b.to.valid() || b.to == P(id)) bot.on_event(ev);
      }
    }
  }

  /// One input: a bot's action, a connection change, or the clock moved to the next deadline.
  void step() {
    deliver();
    if (::testing::Test::HasFatalFailure()) return;
    // Now and then a connection drops or comes back, on both rooms.
    if (rng_.below(60) == 0) {
      auto it = bots_.begin();
      std::advance(it, static_cast<long>(rng_.below(bots_.size())));
      const bool back = main_.find(P(it->first)) && !main_.find(P(it->first))->connected;
      main_.set_connected(P(it->first), back);
      if (mirror_) mirror_->set_connected(P(it->first), back);
      return;
    }
    for (auto& [id, bot] : bots_) {
      // A few turns are left to time out.
      if (rng_.below(40) == 0) continue;
      if (auto a = bot.decide()) {
        const std::string bytes = a->SerializeAsString();
        const auto st = main_.message(P(id), bytes);
        ASSERT_TRUE(st);
        if (mirror_) {
          ASSERT_TRUE(mirror_->message(P(id), bytes));
        }
        return;
      }
    }
    const auto due = main_.next_deadline();
    ASSERT_TRUE(due) << "a poker room always has a timer running while two players have chips";
    if (mirror_) {
      ASSERT_EQ(mirror_->next_deadline(), due);
    }
    clock_.advance(*due - clock_.now());
    main_.advance(clock_.now());
    if (mirror_) mirror_->advance(clock_.now());
  }

  room::Room& main_;
  room::Room* mirror_ = nullptr;
  ManualClock& clock_;
  SplitMix64 rng_;
  std::map<std::uint64_t, PokerBot> bots_;
  std::uint64_t compared_ = 0;
  std::uint64_t auto_actions_ = 0;
};

TEST(PokerSimTest, SavedAndLoadedRoomEmitsIdenticalFramesForManyHands) {
  ManualClock clock;
  const auto spec = sim_spec(6);
  room::Room a(spec, fresh_handler(spec), clock);
  RoomSim sim(a, clock, 17);
  for (std::uint64_t id = 1; id <= 6; ++id) sim.add_bot(id);
  sim.give_views();
  sim.run(30);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  // Save in the middle of a hand, every frame so far delivered.
  for (int i = 0; i < 1000 && !static_cast<const PokerHandler&>(a.handler()).table().hand_in_progress(); ++i) {
    sim.step();
  }
  sim.deliver();
  ASSERT_TRUE(static_cast<const PokerHandler&>(a.handler()).table().hand_in_progress());
  auto b = room::Room::load(a.save(), fresh_handler(spec), clock);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->save(), a.save());
  sim.set_mirror(b->get());
  sim.run(300);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  EXPECT_GT(sim.frames_compared(), 5000u);
  EXPECT_GT(sim.auto_actions(), 0u);
  EXPECT_EQ((*b)->save(), a.save());
  const auto& hb = static_cast<const PokerHandler&>((*b)->handler());
  EXPECT_EQ(hb.hands_completed(), static_cast<const PokerHandler&>(a.handler()).hands_completed());
  EXPECT_TRUE(hb.chips_conserved());
}

}  // namespace
}  // namespace sb::poker
