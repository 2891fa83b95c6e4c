// The rules engine alone: blinds, button, betting rules, pots, run-outs, leaving, rejections.
#include "games/poker/table.hpp"

#include <gtest/gtest.h>

#include "poker_test_util.hpp"

namespace sb::poker {
namespace {

using namespace sb::poker::testing;
using wire::Action;
using wire::PokerEvent;

void expect_to_act(const Table& t, std::uint64_t player) {
  const auto who = t.to_act();
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->value, player);
}

void act_ok(Table& t, std::uint64_t player, Action::Kind kind, Chips amount = 0) {
  const auto why = t.act(P(player), kind, amount);
  ASSERT_FALSE(why.has_value()) << "player " << player << " " << action_name(kind) << " " << amount << ": " << *why;
}

/// The last HandStarted among `evs`.
wire::HandStarted started(const std::vector<PokerEvent>& evs) {
  const wire::HandStarted* last = nullptr;
  for (const auto& e : evs) {
    if (e.has_hand_started()) last = &e.hand_started();
  }
  if (!last) {
    ADD_FAILURE() << "no HandStarted";
    return {};
  }
  return *last;
}

TEST(TableTest, BlindsAndButtonRotateThreeHanded) {
  Table t = make_table({1000, 1000, 1000});
  for (int hand = 0; hand < 6; ++hand) {
    ASSERT_TRUE(t.start_hand());
    const auto evs = drain(t);
    const auto hs = started(evs);
    const std::uint32_t button = static_cast<std::uint32_t>(hand % 3);
    EXPECT_EQ(hs.button(), button) << hand;
    EXPECT_EQ(hs.small_blind_seat(), (button + 1) % 3);
    EXPECT_EQ(hs.big_blind_seat(), (button + 2) % 3);
    EXPECT_EQ(count_of(evs, PokerEvent::kBlindPosted), 2);
    EXPECT_EQ(count_of(evs, PokerEvent::kHoleCards), 3);
    // Preflop the button (left of the big blind) acts first; fold twice: the big blind wins.
    expect_to_act(t, button + 1);
    act_ok(t, button + 1, Action::FOLD);
    expect_to_act(t, (button + 1) % 3 + 1);
    act_ok(t, (button + 1) % 3 + 1, Action::FOLD);
    EXPECT_FALSE(t.hand_in_progress());
    EXPECT_TRUE(t.chips_conserved());
  }
  // Two blinds each way round: every stack is back where it started.
  EXPECT_EQ(t.stack_of(P(1)), 1000u);
  EXPECT_EQ(t.stack_of(P(2)), 1000u);
  EXPECT_EQ(t.stack_of(P(3)), 1000u);
}

TEST(TableTest, HeadsUpButtonPostsSmallBlindActsFirstPreflopLastPostflop) {
  Table t = make_table({1000, 1000});
  ASSERT_TRUE(t.start_hand());
  const auto evs = drain(t);
  const auto hs = started(evs);
  EXPECT_EQ(hs.button(), 0u);
  EXPECT_EQ(hs.small_blind_seat(), 0u) << "heads-up the button is the small blind";
  EXPECT_EQ(hs.big_blind_seat(), 1u);
  expect_to_act(t, 1);  // the button first preflop
  EXPECT_EQ(t.to_act_info().to_call(), 5u);
  act_ok(t, 1, Action::CALL);
  expect_to_act(t, 2);  // the big blind's option
  EXPECT_EQ(t.to_act_info().to_call(), 0u);
  EXPECT_EQ(t.to_act_info().min_raise_to(), 20u);
  act_ok(t, 2, Action::CHECK);
  EXPECT_EQ(t.street(), wire::FLOP);
  expect_to_act(t, 2);  // the big blind first after the flop; the button last
  act_ok(t, 2, Action::CHECK);
  expect_to_act(t, 1);
  act_ok(t, 1, Action::CHECK);
  EXPECT_EQ(t.street(), wire::TURN);
  expect_to_act(t, 2);

  // Next hand the button moves to seat 1, which now posts the small blind and acts first.
  Table u = make_table({1000, 1000});
  ASSERT_TRUE(u.start_hand());
  act_ok(u, 1, Action::FOLD);
  ASSERT_TRUE(u.start_hand());
  const auto hs2 = started(drain(u));
  EXPECT_EQ(hs2.button(), 1u);
  EXPECT_EQ(hs2.small_blind_seat(), 1u);
  EXPECT_EQ(hs2.big_blind_seat(), 0u);
  expect_to_act(u, 2);
}

TEST(TableTest, ButtonSkipsEmptySeatsAndBustedPlayersSitOut) {
  Table t = make_table({1000, 1000, 1000, 1000}, 5, 10, 6);
  ASSERT_TRUE(t.start_hand());  // button 0, blinds 1 and 2
  EXPECT_EQ(t.button(), 0);
  t.leave(P(2));  // seat 1, the small blind, leaves mid-hand
  while (t.hand_in_progress()) t.act_default();
  EXPECT_TRUE(t.chips_conserved());
  ASSERT_TRUE(t.start_hand());
  const auto hs = started(drain(t));
  EXPECT_EQ(hs.button(), 2u) << "seat 1 is empty: the button moves on to seat 2";
  EXPECT_EQ(hs.small_blind_seat(), 3u);
  EXPECT_EQ(hs.big_blind_seat(), 0u);
  EXPECT_EQ(hs.seats_size(), 3);
}

TEST(TableTest, MinimumBetAndRaiseAreTheBigBlindThenTheLastFullRaise) {
  Table t = make_table({1000, 1000, 1000});
  ASSERT_TRUE(t.start_hand());
  drain(t);
  expect_to_act(t, 1);
  auto info = t.to_act_info();
  EXPECT_EQ(info.to_call(), 10u);
  EXPECT_EQ(info.min_raise_to(), 20u);
  EXPECT_EQ(info.max_raise_to(), 1000u);
  EXPECT_TRUE(t.act(P(1), Action::RAISE, 19));
  EXPECT_TRUE(t.act(P(1), Action::BET, 40)) << "preflop there is a bet: raise, not bet";
  act_ok(t, 1, Action::RAISE, 30);  // a raise of 20
  info = t.to_act_info();
  EXPECT_EQ(info.min_raise_to(), 50u);
  EXPECT_TRUE(t.act(P(2), Action::RAISE, 45));
  act_ok(t, 2, Action::RAISE, 80);  // a raise of 50
  EXPECT_EQ(t.to_act_info().min_raise_to(), 130u);
  act_ok(t, 3, Action::CALL);
  act_ok(t, 1, Action::CALL);
  EXPECT_EQ(t.street(), wire::FLOP);
  // Postflop the minimum bet is the big blind again.
  expect_to_act(t, 2);
  EXPECT_EQ(t.to_act_info().min_raise_to(), 10u);
  EXPECT_TRUE(t.act(P(2), Action::BET, 9));
  EXPECT_TRUE(t.act(P(2), Action::RAISE, 20)) << "no bet to raise";
  act_ok(t, 2, Action::BET, 10);
  EXPECT_EQ(t.to_act_info().min_raise_to(), 20u);
}

TEST(TableTest, AllInForLessThanTheMinimumIsAllowed) {
  Table t = make_table({1000, 1000, 25});
  ASSERT_TRUE(t.start_hand());
  drain(t);
  act_ok(t, 1, Action::RAISE, 20);
  act_ok(t, 2, Action::CALL);
  // Seat 2 (player 3, big blind) has 15 behind: all-in to 25, below the 30 minimum.
  const auto info = t.to_act_info();
  EXPECT_EQ(info.min_raise_to(), 25u);
  EXPECT_EQ(info.max_raise_to(), 25u);
  act_ok(t, 3, Action::RAISE, 25);
  EXPECT_TRUE(t.chips_conserved());
}

TEST(TableTest, ShortAllInRaiseDoesNotReopenBettingForThoseWhoActed) {
  // Seat 2 will have 150 behind on the flop.
  Table t = make_table({1000, 1000, 160});
  ASSERT_TRUE(t.start_hand());
  act_ok(t, 1, Action::CALL);
  act_ok(t, 2, Action::CALL);
  act_ok(t, 3, Action::CHECK);
  ASSERT_EQ(t.street(), wire::FLOP);
  act_ok(t, 2, Action::BET, 100);
  act_ok(t, 3, Action::ALL_IN);  // to 150: a raise of 50, short of the 100 minimum
  // Player 1 has not acted on this street: it may raise, by the last full raise (100).
  expect_to_act(t, 1);
  EXPECT_EQ(t.to_act_info().min_raise_to(), 250u);
  act_ok(t, 1, Action::CALL);
  // Player 2 already acted: facing only the short raise, it may call or fold, not raise.
  expect_to_act(t, 2);
  const auto info = t.to_act_info();
  EXPECT_EQ(info.to_call(), 50u);
  EXPECT_EQ(info.min_raise_to(), 0u);
  EXPECT_EQ(info.max_raise_to(), 0u);
  const auto before = t.snapshot().SerializeAsString();
  EXPECT_TRUE(t.act(P(2), Action::RAISE, 250));
  EXPECT_TRUE(t.act(P(2), Action::ALL_IN, 0));
  EXPECT_EQ(t.snapshot().SerializeAsString(), before);
  act_ok(t, 2, Action::CALL);
  EXPECT_EQ(t.street(), wire::TURN);
}

TEST(TableTest, FullRaiseAfterShortAllInReopensBetting) {
  Table t = make_table({1000, 1000, 160});
  ASSERT_TRUE(t.start_hand());
  act_ok(t, 1, Action::CALL);
  act_ok(t, 2, Action::CALL);
  act_ok(t, 3, Action::CHECK);
  act_ok(t, 2, Action::BET, 100);
  act_ok(t, 3, Action::ALL_IN);
  act_ok(t, 1, Action::RAISE, 250);  // a full raise
  expect_to_act(t, 2);
  EXPECT_EQ(t.to_act_info().min_raise_to(), 350u);
  act_ok(t, 2, Action::RAISE, 350);
}

TEST(TableTest, SidePotsWithThreeAllInsOfDifferentSizes) {
  Table t = make_table({50, 120, 300, 1000});
  ASSERT_TRUE(t.start_hand());  // button 0, blinds 1 and 2; player 4 first
  rig(t, {{0, "Ah Ad"}, {1, "Kh Kd"}, {2, "Qh Qd"}, {3, "6s 7s"}}, "2c 3d 8h 9s Jc");
  drain(t);
  act_ok(t, 4, Action::RAISE, 400);
  act_ok(t, 1, Action::ALL_IN);  // 50: a call for less
  act_ok(t, 2, Action::ALL_IN);  // 120
  act_ok(t, 3, Action::ALL_IN);  // 300
  // Player 4 has nobody left to bet against: the board runs out.
  EXPECT_FALSE(t.hand_in_progress());
  const auto evs = drain(t);
  EXPECT_EQ(count_of(evs, PokerEvent::kStreet), 3);
  EXPECT_EQ(count_of(evs, PokerEvent::kShowdown), 1);
  std::vector<std::pair<Chips, std::uint64_t>> awards;
  for (const auto& e : evs) {
    if (!e.has_pot_awarded()) continue;
    ASSERT_EQ(e.pot_awarded().winners_size(), 1);
    awards.emplace_back(e.pot_awarded().amount(), e.pot_awarded().winners(0).player_id());
  }
  const std::vector<std::pair<Chips, std::uint64_t>> expected{{200, 1}, {210, 2}, {360, 3}, {100, 4}};
  EXPECT_EQ(awards, expected);
  EXPECT_EQ(t.stack_of(P(1)), 200u);
  EXPECT_EQ(t.stack_of(P(2)), 210u);
  EXPECT_EQ(t.stack_of(P(3)), 360u);
  EXPECT_EQ(t.stack_of(P(4)), 700u);
  EXPECT_TRUE(t.chips_conserved());
  EXPECT_EQ(t.total_chips(), 1470u);
}

TEST(TableTest, SplitPotOddChipGoesToTheFirstWinnerLeftOfTheButton) {
  Table t = make_table({1000, 1000, 1000}, 3, 6);
  ASSERT_TRUE(t.start_hand());  // button seat 0 (player 1)
  rig(t, {{0, "2c 3c"}, {1, "4d 5d"}, {2, "2h 3h"}}, "Ts Js Qs Ks As");
  act_ok(t, 1, Action::CALL);
  act_ok(t, 2, Action::FOLD);  // 3 chips stay in the pot
  act_ok(t, 3, Action::CHECK);
  for (int street = 0; street < 3; ++street) {
    act_ok(t, 3, Action::CHECK);
    act_ok(t, 1, Action::CHECK);
  }
  EXPECT_FALSE(t.hand_in_progress());
  const auto evs = drain(t);
  const wire::PotAwarded* pot = nullptr;
  for (const auto& e : evs) {
    if (e.has_pot_awarded()) pot = &e.pot_awarded();
  }
  ASSERT_NE(pot, nullptr);
  EXPECT_EQ(pot->amount(), 15u);
  ASSERT_EQ(pot->winners_size(), 2);
  // Seat order from the left of the button: seat 1 (folded), seat 2, then seat 0.
  EXPECT_EQ(pot->winners(0).seat(), 2u);
  EXPECT_EQ(pot->winners(0).amount(), 8u);
  EXPECT_EQ(pot->winners(1).seat(), 0u);
  EXPECT_EQ(pot->winners(1).amount(), 7u);
  EXPECT_EQ(t.stack_of(P(1)), 1001u);
  EXPECT_EQ(t.stack_of(P(2)), 997u);
  EXPECT_EQ(t.stack_of(P(3)), 1002u);
  EXPECT_TRUE(t.chips_conserved());
}

TEST(TableTest, AllInPreflopRunsOutTheBoardWithoutFurtherBetting) {
  Table t = make_table({500, 800});
  ASSERT_TRUE(t.start_hand());
  rig(t, {{0, "As Ah"}, {1, "Kc Kd"}, }, "2c 7d 9h Js 3s");
  drain(t);
  act_ok(t, 1, Action::ALL_IN);
  drain(t);
  act_ok(t, 2, Action::CALL);
  EXPECT_FALSE(t.hand_in_progress());
  const auto evs = drain(t);
  EXPECT_EQ(count_of(evs, PokerEvent::kToAct), 0);
  std::vector<wire::Street> streets;
  for (const auto& e : evs) {
    if (e.has_street()) streets.push_back(e.street().street());
  }
  EXPECT_EQ(streets, (std::vector<wire::Street>{wire::FLOP, wire::TURN, wire::RIVER}));
  ASSERT_TRUE(evs.back().has_hand_ended());
  EXPECT_EQ(t.stack_of(P(1)), 1000u);
  EXPECT_EQ(t.stack_of(P(2)), 300u);
  EXPECT_EQ(t.board().size(), 5u);
  EXPECT_TRUE(t.chips_conserved());
}

TEST(TableTest, EveryoneFoldsToTheBigBlind) {
  Table t = make_table({1000, 1000, 1000});
  ASSERT_TRUE(t.start_hand());
  drain(t);
  act_ok(t, 1, Action::FOLD);
  act_ok(t, 2, Action::FOLD);
  EXPECT_FALSE(t.hand_in_progress());
  const auto evs = drain(t);
  EXPECT_EQ(count_of(evs, PokerEvent::kShowdown), 0);
  EXPECT_EQ(count_of(evs, PokerEvent::kStreet), 0);
  ASSERT_EQ(count_of(evs, PokerEvent::kPotAwarded), 1);
  for (const auto& e : evs) {
    if (!e.has_pot_awarded()) continue;
    EXPECT_TRUE(e.pot_awarded().uncontested());
    EXPECT_EQ(e.pot_awarded().amount(), 15u);
    EXPECT_EQ(e.pot_awarded().winners(0).player_id(), 3u);
  }
  EXPECT_EQ(t.stack_of(P(2)), 995u);
  EXPECT_EQ(t.stack_of(P(3)), 1005u);
  EXPECT_EQ(t.hands_completed(), 1u);
}

TEST(TableTest, IllegalActionsAreRejectedWithoutStateChange) {
  Table t = make_table({1000, 1000, 1000});
  EXPECT_TRUE(t.act(P(1), Action::CHECK, 0)) << "no hand yet";
  ASSERT_TRUE(t.start_hand());
  drain(t);
  const auto before = t.snapshot().SerializeAsString();
  struct Case {
    std::uint64_t player;
    Action::Kind kind;
    Chips amount;
  };
  const std::vector<Case> bad{
      {2, Action::CALL, 0},          // not its turn
      {9, Action::FOLD, 0},          // not seated
      {1, Action::CHECK, 0},         // 10 to call
      {1, Action::RAISE, 15},        // below the minimum
      {1, Action::RAISE, 1001},      // more than the stack
      {1, Action::BET, 100},         // there is a bet
      {1, Action::KIND_NONE, 0},     // no action
  };
  for (const auto& c : bad) {
    const auto why = t.act(P(c.player), c.kind, c.amount);
    EXPECT_TRUE(why.has_value()) << c.player << " " << action_name(c.kind) << " " << c.amount;
  }
  EXPECT_EQ(t.snapshot().SerializeAsString(), before);
  EXPECT_TRUE(t.take_events().empty());
  act_ok(t, 1, Action::CALL);
  act_ok(t, 2, Action::CALL);
  EXPECT_TRUE(t.act(P(3), Action::CALL, 0)) << "nothing to call";
}

TEST(TableTest, PlayerLeavingMidHandFoldsAndItsChipsStayInThePot) {
  Table t = make_table({1000, 1000, 1000});
  ASSERT_TRUE(t.start_hand());  // player 1 to act; player 3 is the big blind
  drain(t);
  EXPECT_EQ(t.leave(P(3)), 990u);
  auto evs = drain(t);
  ASSERT_GE(evs.size(), 2u);
  ASSERT_TRUE(evs[0].has_action_taken());
  EXPECT_EQ(evs[0].action_taken().kind(), Action::FOLD);
  EXPECT_TRUE(evs[0].action_taken().auto_());
  EXPECT_TRUE(evs[1].has_unseated());
  EXPECT_TRUE(t.chips_conserved());
  EXPECT_EQ(t.chips_out(), 990u);
  // Still player 1's turn; the big blind's 10 are dead money: calling still costs 10.
  expect_to_act(t, 1);
  EXPECT_EQ(t.to_act_info().to_call(), 10u);
  // The seat is free at once, but a newcomer waits for the next hand.
  ASSERT_TRUE(t.sit(P(7), 500));
  act_ok(t, 1, Action::CALL);
  // The player to act leaves: the turn passes on, and the hand ends with one player left.
  expect_to_act(t, 2);
  EXPECT_EQ(t.leave(P(2)), 995u);
  EXPECT_FALSE(t.hand_in_progress());
  EXPECT_EQ(t.stack_of(P(1)), 1015u) << "its 10, and 10 + 5 of dead money";
  EXPECT_TRUE(t.chips_conserved());
  EXPECT_EQ(t.total_chips(), 1015u + 500u);
  ASSERT_TRUE(t.start_hand());
  EXPECT_EQ(started(drain(t)).seats_size(), 2);
}

TEST(TableTest, LeavingAllInPlayerForfeitsAndTheRunOutContinues) {
  Table t = make_table({300, 1000, 1000});
  ASSERT_TRUE(t.start_hand());
  act_ok(t, 1, Action::ALL_IN);
  act_ok(t, 2, Action::CALL);
  // Player 3 to act; player 1 (all-in) leaves with nothing behind: its 300 stay in the pot.
  EXPECT_EQ(t.leave(P(1)), 0u);
  expect_to_act(t, 3);
  act_ok(t, 3, Action::FOLD);
  EXPECT_FALSE(t.hand_in_progress());
  EXPECT_EQ(t.stack_of(P(2)), 1000u - 300u + 300u + 300u + 10u);
  EXPECT_TRUE(t.chips_conserved());
}

TEST(TableTest, TimeoutDefaultChecksWhenFreeElseFolds) {
  Table t = make_table({1000, 1000});
  ASSERT_TRUE(t.start_hand());
  drain(t);
  t.act_default();  // the button faces 5 more: fold
  auto evs = drain(t);
  ASSERT_TRUE(evs[0].has_action_taken());
  EXPECT_EQ(evs[0].action_taken().kind(), Action::FOLD);
  EXPECT_TRUE(evs[0].action_taken().auto_());
  ASSERT_TRUE(t.start_hand());
  act_ok(t, 2, Action::CALL);
  drain(t);
  t.act_default();  // the big blind's option: check
  evs = drain(t);
  EXPECT_EQ(evs[0].action_taken().kind(), Action::CHECK);
  EXPECT_TRUE(evs[0].action_taken().auto_());
  EXPECT_EQ(t.street(), wire::FLOP);
}

TEST(TableTest, BustedPlayerIsReboughtWhenConfigured) {
  Table t = make_table({100, 1000}, 5, 10, 2, /*rebuy=*/100);
  ASSERT_TRUE(t.start_hand());
  rig(t, {{0, "2c 7d"}, {1, "Ac Ad"}}, "Ks Qs 9h 4h 3c");
  act_ok(t, 1, Action::ALL_IN);
  act_ok(t, 2, Action::CALL);
  EXPECT_EQ(t.stack_of(P(1)), 100u) << "rebought";
  EXPECT_EQ(t.rebuys(), 100u);
  EXPECT_TRUE(t.chips_conserved());
  const auto evs = drain(t);
  EXPECT_EQ(count_of(evs, PokerEvent::kRebought), 1);
  EXPECT_TRUE(evs.back().has_rebought());
}

TEST(TableTest, SnapshotRestoreContinuesIdentically) {
  Table a = make_table({1000, 700, 1300, 400}, 5, 10, 6, 1000, 7);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(a.start_hand());
    while (a.hand_in_progress()) {
      const auto info = a.to_act_info();
      if (info.max_raise_to() > 0 && (i + info.seat()) % 3 == 0) {
        act_ok(a, info.player_id(), info.current_bet() ? Action::RAISE : Action::BET, info.min_raise_to());
      } else if (info.to_call() > 0) {
        act_ok(a, info.player_id(), Action::CALL);
      } else {
        act_ok(a, info.player_id(), Action::CHECK);
      }
      if (a.street() == wire::TURN) break;  // save mid-hand
    }
    a.take_events();
    if (a.hand_in_progress()) break;
  }
  auto b = Table::restore(a.snapshot());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->snapshot().SerializeAsString(), a.snapshot().SerializeAsString());
  for (int step = 0; step < 500; ++step) {
    if (!a.hand_in_progress()) {
      ASSERT_TRUE(a.start_hand());
      ASSERT_TRUE(b->start_hand());
    } else {
      a.act_default();
      b->act_default();
    }
    const auto ea = drain(a);
    const auto eb = drain(*b);
    ASSERT_EQ(ea.size(), eb.size());
    for (std::size_t i = 0; i < ea.size(); ++i) ASSERT_EQ(ea[i].SerializeAsString(), eb[i].SerializeAsString());
  }
}

TEST(TableTest, RestoreRejectsInconsistentSnapshots) {
  Table t = make_table({1000, 1000});
  ASSERT_TRUE(t.start_hand());
  auto s = t.snapshot();
  auto bad = s;
  bad.mutable_seats(0)->set_stack(5000);  // chips from nowhere
  EXPECT_FALSE(Table::restore(bad));
  bad = s;
  bad.set_deck(3, bad.deck(4));  // a repeated card
  EXPECT_FALSE(Table::restore(bad));
  bad = s;
  bad.set_max_seats(11);
  EXPECT_FALSE(Table::restore(bad));
  EXPECT_TRUE(Table::restore(s));
}

}  // namespace
}  // namespace sb::poker
