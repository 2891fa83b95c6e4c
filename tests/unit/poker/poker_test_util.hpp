#pragma once
// Helpers shared by the poker rules, room and simulation tests: building tables, rigging the
// cards of a hand that has just started (through snapshot/restore, the public API), and reading
// queued events.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "games/poker/table.hpp"

namespace sb::poker::testing {

inline PlayerId P(std::uint64_t v) { return PlayerId{v}; }

/// A table of `stacks.size()` seats (or `seats`), players 1..n at seats 0..n-1.
inline Table make_table(std::vector<Chips> stacks, Chips sb = 5, Chips bb = 10, int seats = 0,
                        Chips rebuy = 0, std::uint64_t seed = 42) {
  const int n = seats > 0 ? seats : static_cast<int>(stacks.size());
  Table t(TableConfig{n, sb, bb, rebuy}, seed);
  for (std::size_t i = 0; i < stacks.size(); ++i) {
    auto seat = t.sit(P(i + 1), stacks[i]);
    EXPECT_TRUE(seat);
    EXPECT_EQ(*seat, static_cast<Seat>(i));
  }
  t.take_events();
  return t;
}

/// Replaces the hole cards of the hand just started (every dealt-in seat must be listed) and the
/// board to come ("As Kd 7c 2h 3s"). Call before the flop.
inline void rig(Table& t, const std::map<int, std::string>& holes, const std::string& board) {
  wire::TableSnapshot s = t.snapshot();
  std::vector<std::uint32_t> order;
  std::uint64_t used = 0;
  auto take = [&](Card c) {
    ASSERT_EQ(used & (std::uint64_t{1} << c.index()), 0u) << "card used twice: " << c.to_string();
    used |= std::uint64_t{1} << c.index();
    order.push_back(static_cast<std::uint32_t>(c.index()));
  };
  for (const auto& [seat, text] : holes) {
    auto cards = parse_cards(text);
    ASSERT_TRUE(cards && cards->size() == 2) << text;
    auto* ss = s.mutable_seats(seat);
    ASSERT_TRUE(ss->in_hand()) << "seat " << seat;
    ss->clear_hole();
    for (const Card c : *cards) {
      ss->add_hole(static_cast<std::uint32_t>(c.index()));
      take(c);
    }
  }
  ASSERT_EQ(order.size(), s.deck_pos()) << "list every seat dealt in";
  auto b = parse_cards(board);
  ASSERT_TRUE(b && b->size() == 5);
  for (const Card c : *b) take(c);
  for (int i = 0; i < Card::kCount; ++i) {
    if (!(used & (std::uint64_t{1} << i))) order.push_back(static_cast<std::uint32_t>(i));
  }
  s.clear_deck();
  for (const auto c : order) s.add_deck(c);
  auto r = Table::restore(s);
  ASSERT_TRUE(r);
  t = std::move(*r);
}

/// The events queued since the last call, without their audience.
inline std::vector<wire::PokerEvent> drain(Table& t) {
  std::vector<wire::PokerEvent> out;
  for (auto& e : t.take_events()) out.push_back(std::move(e.event));
  return out;
}

inline int count_of(const std::vector<wire::PokerEvent>& evs, wire::PokerEvent::BodyCase c) {
  int n = 0;
  for (const auto& e : evs) n += e.body_case() == c ? 1 : 0;
  return n;
}

inline std::vector<Card> cards_of(const char* text) {
  auto c = parse_cards(text);
  EXPECT_TRUE(c);
  return c ? *c : std::vector<Card>{};
}

}  // namespace sb::poker::testing
