#pragma once
// Hold'em hand evaluation: the best 5-card poker hand out of 5, 6 or 7 cards.
//
// A HandRank is one 32-bit integer: bits 20..23 hold the category (high card = 0 ... straight
// flush = 8) and bits 0..19 up to five 4-bit tiebreak ranks, most significant first. So plain
// integer comparison orders hands: a higher value wins and equal values are exact ties (split the
// pot). Suits never break ties. Tiebreak ranks per category:
//   straight flush / straight : high card of the run (5 for the wheel A-2-3-4-5)
//   quads                     : quad rank, kicker
//   full house                : trips rank, pair rank
//   flush / high card         : the five ranks, high to low
//   trips                     : trips rank, two kickers
//   two pair                  : high pair, low pair, kicker
//   pair                      : pair rank, three kickers
// The algorithm counts ranks and suits (no lookup tables, no allocation): a few dozen ns per 7
// cards. Pure functions, callable from any thread.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "games/poker/cards.hpp"

namespace sb::poker {

enum class HandCategory : std::uint8_t {
  high_card = 0,
  pair = 1,
  two_pair = 2,
  trips = 3,
  straight = 4,
  flush = 5,
  full_house = 6,
  quads = 7,
  straight_flush = 8,
};

/// "high card", "pair", ..., "straight flush".
std::string_view category_name(HandCategory c) noexcept;

class HandRank {
 public:
  constexpr HandRank() noexcept = default;  // lowest possible value; below every real hand
  /// Builds a rank from a category and up to five tiebreak ranks (2..14), most significant first.
  static HandRank make(HandCategory category, std::span<const int> tiebreak) noexcept;

  constexpr std::uint32_t value() const noexcept { return value_; }
  constexpr HandCategory category() const noexcept {
    return static_cast<HandCategory>(value_ >> 20);
  }
  /// For logs: "two pair K 7 3", "straight 5".
  std::string name() const;

  friend constexpr auto operator<=>(HandRank, HandRank) noexcept = default;

 private:
  std::uint32_t value_ = 0;
};

/// Best hand of exactly five distinct cards (distinctness unchecked).
HandRank evaluate_5(const std::array<Card, 5>& cards) noexcept;
/// Best 5-card hand out of exactly seven distinct cards (distinctness unchecked).
HandRank evaluate_7(const std::array<Card, 7>& cards) noexcept;
/// Best 5-card hand out of 5..7 cards. Errc::invalid_argument for any other count or a repeated
/// card.
Result<HandRank> evaluate(std::span<const Card> cards) noexcept;

}  // namespace sb::poker
