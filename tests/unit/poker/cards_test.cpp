#include "games/poker/cards.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sb::poker {
namespace {

TEST(Card, ParseFormatRoundTripAllCards) {
  for (int i = 0; i < Card::kCount; ++i) {
    const Card c = Card::from_index(i);
    const auto parsed = Card::parse(c.to_string());
    ASSERT_TRUE(parsed) << c.to_string();
    EXPECT_EQ(*parsed, c);
    EXPECT_EQ(parsed->index(), i);
  }
}

TEST(Card, ParseKnownCards) {
  const auto as = Card::parse("As");
  ASSERT_TRUE(as);
  EXPECT_EQ(as->rank(), 14);
  EXPECT_EQ(as->suit(), 3);
  EXPECT_EQ(as->to_string(), "As");
  const auto td = Card::parse("td");
  ASSERT_TRUE(td);
  EXPECT_EQ(td->rank(), 10);
  EXPECT_EQ(td->to_string(), "Td");
  const auto two = Card::parse("2C");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->rank(), 2);
  EXPECT_EQ(two->suit(), 0);
  EXPECT_EQ(two->to_string(), "2c");
  EXPECT_EQ(Card::make(13, 1).to_string(), "Kd");
}

TEST(Card, RejectsBadStrings) {
  for (const char* bad : {"", "A", "Asx", "1s", "10s", "Ax", "sA", "  ", "A ", "Zc", "?h"}) {
    const auto r = Card::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), make_error_code(Errc::invalid_argument));
  }
}

TEST(Card, ParseCardsListAndDuplicates) {
  const auto cards = parse_cards("As Kd  7c");
  ASSERT_TRUE(cards);
  ASSERT_EQ(cards->size(), 3u);
  EXPECT_EQ(format_cards(*cards), "As Kd 7c");
  EXPECT_FALSE(parse_cards("As As"));
  EXPECT_FALSE(parse_cards("As Kx"));
}

TEST(Deck, FreshDeckDeals52DistinctThenEmpty) {
  Deck deck;
  std::set<int> seen;
  EXPECT_EQ(deck.remaining(), 52u);
  while (auto c = deck.deal()) seen.insert(c->index());
  EXPECT_EQ(seen.size(), 52u);
  EXPECT_EQ(deck.remaining(), 0u);
  EXPECT_FALSE(deck.deal());
}

TEST(Deck, ShuffleIsAPermutationAndDeterministic) {
  Deck a, b, c;
  a.shuffle(42);
  b.shuffle(42);
  c.shuffle(43);
  std::set<int> seen;
  for (const Card card : a.cards()) seen.insert(card.index());
  EXPECT_EQ(seen.size(), 52u);
  EXPECT_TRUE(std::equal(a.cards().begin(), a.cards().end(), b.cards().begin()));
  EXPECT_FALSE(std::equal(a.cards().begin(), a.cards().end(), c.cards().begin()));
  EXPECT_FALSE(std::equal(a.cards().begin(), a.cards().end(), Deck().cards().begin()));
  // Re-shuffling resets the deal position and is independent of the previous order.
  (void)a.deal();
  a.shuffle(42);
  EXPECT_EQ(a.remaining(), 52u);
  EXPECT_TRUE(std::equal(a.cards().begin(), a.cards().end(), b.cards().begin()));
}

TEST(Deck, ShuffleLooksUniform) {
  // Position of the ace of spades over many seeds: every slot should be hit (coarse sanity that
  // the shuffle actually moves cards everywhere, not a statistical test).
  std::array<int, 52> hits{};
  const Card ace = Card::make(14, 3);
  for (std::uint64_t seed = 0; seed < 5200; ++seed) {
    Deck d;
    d.shuffle(seed);
    for (std::size_t i = 0; i < 52; ++i) {
      if (d.cards()[i] == ace) ++hits[i];
    }
  }
  for (const int h : hits) {
    EXPECT_GT(h, 50);
    EXPECT_LT(h, 170);
  }
}

TEST(SplitMix64, KnownFirstOutput) {
  // Reference value of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
}

}  // namespace
}  // namespace sb::poker
