#include "games/poker/hand_evaluator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace sb::poker {
namespace {

HandRank eval(const std::string& text) {
  const auto cards = parse_cards(text);
  EXPECT_TRUE(cards) << text;
  if (!cards) return {};
  const auto r = evaluate(*cards);
  EXPECT_TRUE(r) << text;
  return r ? *r : HandRank{};
}

HandCategory cat(const std::string& text) { return eval(text).category(); }

TEST(HandEvaluator, Categories) {
  EXPECT_EQ(cat("As Kd 9c 7h 3s"), HandCategory::high_card);
  EXPECT_EQ(cat("As Ad 9c 7h 3s"), HandCategory::pair);
  EXPECT_EQ(cat("As Ad 9c 9h 3s"), HandCategory::two_pair);
  EXPECT_EQ(cat("As Ad Ac 9h 3s"), HandCategory::trips);
  EXPECT_EQ(cat("9s Td Jc Qh Ks"), HandCategory::straight);
  EXPECT_EQ(cat("As 2d 3c 4h 5s"), HandCategory::straight);
  EXPECT_EQ(cat("As Js 9s 7s 3s"), HandCategory::flush);
  EXPECT_EQ(cat("As Ad Ac 9h 9s"), HandCategory::full_house);
  EXPECT_EQ(cat("As Ad Ac Ah 9s"), HandCategory::quads);
  EXPECT_EQ(cat("9s Ts Js Qs Ks"), HandCategory::straight_flush);
  EXPECT_EQ(cat("As 2s 3s 4s 5s"), HandCategory::straight_flush);
  // Not straights: wrap-around and gaps.
  EXPECT_EQ(cat("Qs Kd Ac 2h 3s"), HandCategory::high_card);
  EXPECT_EQ(cat("9s Td Jc Qh As"), HandCategory::high_card);
}

TEST(HandEvaluator, EachCategoryBeatsTheOneBelow) {
  // The weakest hand of each category still beats the strongest of the one below.
  const HandRank worst[] = {eval("7s 5d 4c 3h 2s"), eval("2s 2d 5c 4h 3s"), eval("3s 3d 2c 2h 4s"),
                            eval("2s 2d 2c 4h 3s"), eval("As 2d 3c 4h 5s"), eval("7s 5s 4s 3s 2s"),
                            eval("2s 2d 2c 3h 3s"), eval("2s 2d 2c 2h 3s"), eval("As 2s 3s 4s 5s")};
  const HandRank best[] = {eval("As Kd Qc Jh 9s"), eval("As Ad Kc Qh Js"), eval("As Ad Kc Kh Qs"),
                           eval("As Ad Ac Kh Qs"), eval("As Kd Qc Jh Ts"), eval("As Ks Qs Js 9s"),
                           eval("As Ad Ac Kh Ks"), eval("As Ad Ac Ah Ks"), eval("As Ks Qs Js Ts")};
  for (int c = 0; c < 9; ++c) {
    EXPECT_EQ(static_cast<int>(worst[c].category()), c) << worst[c].name();
    EXPECT_EQ(static_cast<int>(best[c].category()), c) << best[c].name();
    EXPECT_LT(worst[c], best[c]) << worst[c].name() << " vs " << best[c].name();
    if (c > 0) {
      EXPECT_LT(best[c - 1], worst[c]) << best[c - 1].name() << " vs " << worst[c].name();
    }
  }
}

TEST(HandEvaluator, StraightOrdering) {
  EXPECT_GT(eval("As Ks Qs Js Ts"), eval("As 2s 3s 4s 5s"));  // royal > steel wheel
  EXPECT_GT(eval("6h 2s 3s 4s 5s"), eval("As 2d 3c 4h 5s"));  // 6-high > wheel
  EXPECT_GT(eval("6s 2s 3s 4s 5s"), eval("As 2s 3s 4s 5s"));
  EXPECT_GT(eval("As Kd Qc Jh Ts"), eval("Ks Qd Jc Th 9s"));
  EXPECT_EQ(eval("As 2d 3c 4h 5s").name(), "straight 5");
  EXPECT_EQ(eval("As 2s 3s 4s 5s").name(), "straight flush 5");
  // 7 cards: A-2-3-4-5-6 plays as 6-high, not as the wheel.
  EXPECT_EQ(eval("As 2d 3c 4h 5s 6d 9c"), eval("6d 2d 3c 4h 5s"));
}

TEST(HandEvaluator, KickersPerCategory) {
  EXPECT_GT(eval("As Kd 9c 7h 4s"), eval("As Kd 9c 7h 3s"));  // high card: fifth card
  EXPECT_GT(eval("As Ad Kc 7h 4s"), eval("As Ad Kc 7h 3s"));  // pair: third kicker
  EXPECT_LT(eval("2s 2d Ac Kh Qs"), eval("3s 3d 4c 5h 7s"));  // pair rank before kickers
  EXPECT_GT(eval("Ks Kd 7c 7h 4s"), eval("Ks Kd 7c 7h 3s"));  // two pair: kicker
  EXPECT_GT(eval("Ks Kd 8c 8h 2s"), eval("Ks Kd 7c 7h As"));  // two pair: low pair before kicker
  EXPECT_GT(eval("As Ad 2c 2h 3s"), eval("Ks Kd Qc Qh As"));  // two pair: high pair first
  EXPECT_GT(eval("7s 7d 7c Ah 2s"), eval("7s 7d 7c Kh Qs"));  // trips: kicker
  EXPECT_GT(eval("7s 7d 7c Ah 3s"), eval("7s 7d 7c Ah 2s"));  // trips: second kicker
  EXPECT_GT(eval("3s 3d 3c 2h 2s"), eval("2s 2d 2c Ah As"));  // full house: trips first
  EXPECT_GT(eval("3s 3d 3c Ah As"), eval("3s 3d 3c Kh Ks"));  // full house: then pair
  EXPECT_GT(eval("9s 9d 9c 9h 3s"), eval("9s 9d 9c 9h 2s"));  // quads: kicker
  EXPECT_GT(eval("3s 3d 3c 3h 2s"), eval("2s 2d 2c 2h As"));  // quads: rank first
  // Flush compared by all five cards.
  EXPECT_GT(eval("As Js 9s 7s 3s"), eval("Ad Jd 9d 7d 2d"));
  EXPECT_GT(eval("As Js 9s 8s 2s"), eval("Ad Jd 9d 7d 6d"));
  EXPECT_GT(eval("As Qs 3s 4s 2s"), eval("Ad Jd Td 9d 7d"));
  EXPECT_EQ(eval("As Js 9s 7s 3s"), eval("Ad Jd 9d 7d 3d"));  // suits never break ties
  EXPECT_EQ(eval("As Js 9s 7s 3s").name(), "flush A J 9 7 3");
}

TEST(HandEvaluator, FlushBeatsStraightInSevenCards) {
  // Both a straight (5-9) and a flush in hearts: the flush wins, and it is not a straight flush.
  const HandRank r = eval("5h 6h 7c 8h 9d Kh 2h");
  EXPECT_EQ(r.category(), HandCategory::flush);
  EXPECT_EQ(r, eval("Kh 8h 6h 5h 2h"));
  // Straight flush inside a 7-card flush, with a higher non-suited straight card present.
  const HandRank sf = eval("5h 6h 7h 8h 9h Tc Ah");
  EXPECT_EQ(sf, eval("5h 6h 7h 8h 9h"));
  // Steel wheel in 7 cards beats the plain flush the same cards also make.
  EXPECT_EQ(eval("Ah 2h 3h 4h 5h Kh Qd").category(), HandCategory::straight_flush);
}

TEST(HandEvaluator, SevenCardsChooseTheBestFive) {
  // Two trips make a full house: the higher trips over the lower as the pair.
  EXPECT_EQ(eval("9s 9d 9c 4h 4s 4d Ac"), eval("9s 9d 9c 4h 4s"));
  // Trips plus two pairs: the higher pair completes the full house.
  EXPECT_EQ(eval("5s 5d 5c Kh Ks 7d 7c"), eval("5s 5d 5c Kh Ks"));
  // Three pairs: best two pairs, and the kicker may come from the third pair.
  EXPECT_EQ(eval("As Ad Kc Kh 9s 9d 2c"), eval("As Ad Kc Kh 9s"));
  EXPECT_EQ(eval("As Ad Kc Kh 4s 4d 9c"), eval("As Ad Kc Kh 9c"));
  // Quads with a pair on board: kicker is the highest remaining card.
  EXPECT_EQ(eval("8s 8d 8c 8h Ks Kd Ac"), eval("8s 8d 8c 8h Ac"));
  // Pair with the two lowest cards dropped.
  EXPECT_EQ(eval("Js Jd 2c 3h 7s 9d Qc"), eval("Js Jd Qc 9d 7s"));
  // Six cards work too.
  EXPECT_EQ(eval("Js Jd 2c 3h 7s 9d"), eval("Js Jd 9d 7s 3h"));
}

TEST(HandEvaluator, ExactTiesWhenTheBoardPlays) {
  const std::string board = "As Kd Qc Jh Ts";  // broadway on board
  EXPECT_EQ(eval(board + " 2c 3d"), eval(board + " 4c 4d"));
  const std::string board2 = "7s 7d 7c 7h Ks";  // quads with king kicker, nobody beats it below A
  EXPECT_EQ(eval(board2 + " 2c 3d"), eval(board2 + " Qc Jd"));
  EXPECT_LT(eval(board2 + " 2c 3d"), eval(board2 + " Ac 3h"));
  // Same two pair and same kicker from different suits.
  EXPECT_EQ(eval("As Ad 9c 9h 3s"), eval("Ac Ah 9s 9d 3c"));
}

TEST(HandEvaluator, RejectsBadInput) {
  const auto four = parse_cards("As Kd Qc Jh");
  ASSERT_TRUE(four);
  EXPECT_FALSE(evaluate(*four));
  const auto eight = parse_cards("As Kd Qc Jh Ts 2c 3c 4c");
  ASSERT_TRUE(eight);
  EXPECT_FALSE(evaluate(*eight));
  const std::array<Card, 5> dup{Card::make(14, 3), Card::make(14, 3), Card::make(2, 0),
                                Card::make(3, 0), Card::make(4, 0)};
  EXPECT_FALSE(evaluate(dup));
}

TEST(HandEvaluator, SevenEqualsMaxOfTwentyOneFives) {
  Deck deck;
  int categories_seen = 0;
  std::array<int, 9> per_category{};
  for (std::uint64_t seed = 1; seed <= 5000; ++seed) {
    deck.shuffle(seed);
    std::array<Card, 7> seven;
    for (Card& c : seven) c = *deck.deal();
    HandRank best;
    for (int a = 0; a < 7; ++a) {
      for (int b = a + 1; b < 7; ++b) {
        std::array<Card, 5> five;
        std::size_t k = 0;
        for (int i = 0; i < 7; ++i) {
          if (i != a && i != b) five[k++] = seven[static_cast<std::size_t>(i)];
        }
        best = std::max(best, evaluate_5(five));
      }
    }
    const HandRank got = evaluate_7(seven);
    ASSERT_EQ(got, best) << format_cards(seven) << ": " << got.name() << " vs " << best.name();
    ++per_category[static_cast<std::size_t>(got.category())];
  }
  for (const int n : per_category) categories_seen += n > 0 ? 1 : 0;
  EXPECT_GE(categories_seen, 8);  // random 7-card hands hit all but (usually) straight flush
}

TEST(HandEvaluator, FiveCardNamesForLogs) {
  EXPECT_EQ(eval("Ks Kd 7c 7h 3s").name(), "two pair K 7 3");
  EXPECT_EQ(eval("As Ad Ac Ah 9s").name(), "quads A 9");
  EXPECT_EQ(category_name(HandCategory::full_house), "full house");
}

}  // namespace
}  // namespace sb::poker
