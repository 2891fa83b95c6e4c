#include "games/poker/pots.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace sb::poker {
namespace {

Chips sum_pots(const std::vector<Pot>& pots) {
  Chips s = 0;
  for (const Pot& p : pots) s += p.amount;
  return s;
}

Chips sum_awards(const std::vector<Award>& awards) {
  Chips s = 0;
  for (const Award& a : awards) s += a.amount;
  return s;
}

HandRank rank_of(const char* text) {
  const auto cards = parse_cards(text);
  EXPECT_TRUE(cards);
  const auto r = evaluate(*cards);
  EXPECT_TRUE(r);
  return *r;
}

TEST(BuildPots, ThreeAllInsOfDifferentSizesPlusAFoldedContributor) {
  // Seat 0 all-in 50, seat 1 all-in 120, seat 2 all-in 300 (covered by seat 3), seat 3 bet 300,
  // seat 4 put in 80 and folded.
  const std::vector<Contribution> seats{{50, false}, {120, false}, {300, false}, {300, false}, {80, true}};
  const auto pots = build_pots(seats);
  ASSERT_TRUE(pots);
  ASSERT_EQ(pots->size(), 3u);
  EXPECT_EQ((*pots)[0], (Pot{50 * 5, {0, 1, 2, 3}}));             // 50 from everyone
  EXPECT_EQ((*pots)[1], (Pot{70 * 3 + 30, {1, 2, 3}}));           // 70 from 1,2,3 and 30 from 4
  EXPECT_EQ((*pots)[2], (Pot{180 * 2, {2, 3}}));
  EXPECT_EQ(sum_pots(*pots), 50u + 120 + 300 + 300 + 80);
}

TEST(BuildPots, EqualContributionsMakeOnePotAndFoldedNeverEligible) {
  const std::vector<Contribution> seats{{100, false}, {100, true}, {100, false}, {20, true}};
  const auto pots = build_pots(seats);
  ASSERT_TRUE(pots);
  ASSERT_EQ(pots->size(), 1u);
  EXPECT_EQ((*pots)[0], (Pot{320, {0, 2}}));
}

TEST(BuildPots, UncalledBetIsASinglePlayerPot) {
  const std::vector<Contribution> seats{{500, false}, {200, false}};
  const auto pots = build_pots(seats);
  ASSERT_TRUE(pots);
  ASSERT_EQ(pots->size(), 2u);
  EXPECT_EQ((*pots)[0], (Pot{400, {0, 1}}));
  EXPECT_EQ((*pots)[1], (Pot{300, {0}}));
}

TEST(BuildPots, EdgeCases) {
  EXPECT_TRUE(build_pots({})->empty());
  const std::vector<Contribution> zeros{{0, false}, {0, true}};
  EXPECT_TRUE(build_pots(zeros)->empty());
  const std::vector<Contribution> all_folded{{10, true}, {20, true}};
  EXPECT_FALSE(build_pots(all_folded));
  // A live seat that put in nothing wins nothing.
  const std::vector<Contribution> zero_live{{0, false}, {40, false}, {40, false}};
  const auto pots = build_pots(zero_live);
  ASSERT_TRUE(pots);
  ASSERT_EQ(pots->size(), 1u);
  EXPECT_EQ((*pots)[0], (Pot{80, {1, 2}}));
  // Folded chips above every live level still land in a pot.
  const std::vector<Contribution> odd{{30, false}, {50, true}};
  const auto odd_pots = build_pots(odd);
  ASSERT_TRUE(odd_pots);
  ASSERT_EQ(odd_pots->size(), 1u);
  EXPECT_EQ((*odd_pots)[0], (Pot{80, {0}}));
}

TEST(SplitPot, SingleWinnerTakesAll) {
  const Pot pot{300, {0, 1, 2}};
  const std::vector<SeatHand> hands{{0, rank_of("As Ad 2c 3h 4s")},
                                    {1, rank_of("Ks Kd Kc 3d 4d")},
                                    {2, rank_of("Qs Qd 2d 3c 4c")}};
  const std::vector<Seat> order{2, 0, 1};
  const auto awards = split_pot(pot, hands, order);
  ASSERT_TRUE(awards);
  EXPECT_EQ(*awards, (std::vector<Award>{{1, 300}}));
}

TEST(SplitPot, OddChipsGoToFirstWinnersInSeatOrder) {
  const HandRank tie = rank_of("As Kd Qc Jh Ts");
  const Pot pot{101, {0, 1, 3, 4}};
  const std::vector<SeatHand> hands{{0, tie}, {1, rank_of("2s 3d 4c 5h 7s")}, {3, tie}, {4, tie}};
  // Button at seat 2: order starts at 3.
  const std::vector<Seat> order{3, 4, 0, 1};
  const auto awards = split_pot(pot, hands, order);
  ASSERT_TRUE(awards);
  EXPECT_EQ(*awards, (std::vector<Award>{{3, 34}, {4, 34}, {0, 33}}));
  // Moving the button moves the odd chips.
  const std::vector<Seat> order2{0, 1, 3, 4};
  const auto awards2 = split_pot(pot, hands, order2);
  ASSERT_TRUE(awards2);
  EXPECT_EQ(*awards2, (std::vector<Award>{{0, 34}, {3, 34}, {4, 33}}));
}

TEST(SplitPot, HandsOfIneligibleSeatsAreIgnored) {
  // Seat 2 has the best hand but folded/is not in this side pot.
  const Pot pot{90, {0, 1}};
  const std::vector<SeatHand> hands{{0, rank_of("As Ad 2c 3h 4s")},
                                    {1, rank_of("Ks Kd 2d 3c 4c")},
                                    {2, rank_of("As Ks Qs Js Ts")}};
  const std::vector<Seat> order{0, 1, 2};
  const auto awards = split_pot(pot, hands, order);
  ASSERT_TRUE(awards);
  EXPECT_EQ(*awards, (std::vector<Award>{{0, 90}}));
}

TEST(SplitPot, RejectsMissingHandOrSeat) {
  const Pot pot{10, {0, 1}};
  const std::vector<SeatHand> one_hand{{0, rank_of("As Ad 2c 3h 4s")}};
  const std::vector<Seat> order{0, 1};
  EXPECT_FALSE(split_pot(pot, one_hand, order));
  const std::vector<SeatHand> hands{{0, rank_of("As Ad 2c 3h 4s")}, {1, rank_of("Ks Kd 2d 3c 4c")}};
  const std::vector<Seat> short_order{0};
  EXPECT_FALSE(split_pot(pot, hands, short_order));
  EXPECT_FALSE(split_pot(Pot{10, {}}, hands, order));
}

TEST(Pots, ConservationOverRandomHands) {
  SplitMix64 rng(2024);
  for (int round = 0; round < 2000; ++round) {
    const int n = 2 + static_cast<int>(rng.below(8));  // 2..9 seats
    std::vector<Contribution> seats(static_cast<std::size_t>(n));
    Chips total = 0;
    for (Contribution& c : seats) {
      c.amount = rng.below(4) == 0 ? 0 : 1 + rng.below(1000);
      c.folded = rng.below(3) == 0;
      total += c.amount;
    }
    seats[rng.below(seats.size())].folded = false;  // someone is left
    // Few hand classes so ties are common.
    std::vector<SeatHand> hands;
    for (int s = 0; s < n; ++s) {
      const int r = 2 + static_cast<int>(rng.below(3));
      hands.push_back({s, HandRank::make(HandCategory::pair, std::array<int, 1>{r})});
    }
    std::vector<Seat> order(static_cast<std::size_t>(n));
    const auto button = static_cast<int>(rng.below(static_cast<std::uint64_t>(n)));
    for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = (button + 1 + i) % n;

    const auto pots = build_pots(seats);
    ASSERT_TRUE(pots);
    ASSERT_EQ(sum_pots(*pots), total);
    std::vector<Chips> won(static_cast<std::size_t>(n), 0);
    for (const Pot& pot : *pots) {
      ASSERT_GT(pot.amount, 0u);
      for (const Seat s : pot.eligible) ASSERT_FALSE(seats[static_cast<std::size_t>(s)].folded);
      const auto awards = split_pot(pot, hands, order);
      ASSERT_TRUE(awards);
      ASSERT_EQ(sum_awards(*awards), pot.amount);
      for (const Award& a : *awards) won[static_cast<std::size_t>(a.seat)] += a.amount;
      // Shares differ by at most one chip, the larger ones first in seat order.
      for (std::size_t i = 1; i < awards->size(); ++i) {
        ASSERT_LE((*awards)[i].amount, (*awards)[i - 1].amount);
        ASSERT_LE((*awards)[0].amount - (*awards)[i].amount, 1u);
      }
    }
    ASSERT_EQ(std::accumulate(won.begin(), won.end(), Chips{0}), total);
    for (int s = 0; s < n; ++s) {
      if (seats[static_cast<std::size_t>(s)].folded) {
        ASSERT_EQ(won[static_cast<std::size_t>(s)], 0u);
      }
    }
  }
}

}  // namespace
}  // namespace sb::poker
