#include "games/poker/hand_evaluator.hpp"

#include <cstddef>

namespace sb::poker {
namespace {

constexpr int kAce = Card::kMaxRank;

// Highest straight in a rank bit mask (bit r set when rank r is present), or 0. The ace also
// counts as rank 1 so A-2-3-4-5 is a 5-high straight.
int straight_high(std::uint32_t mask) noexcept {
  if (mask & (1u << kAce)) mask |= 1u << 1;
  for (int high = kAce; high >= 5; --high) {
    const std::uint32_t run = 0x1Fu << (high - 4);
    if ((mask & run) == run) return high;
  }
  return 0;
}

// Appends up to `n` ranks from `mask`, high to low, skipping `skip_a` and `skip_b`.
int take_high(std::uint32_t mask, int n, int* out, int count, int skip_a = 0, int skip_b = 0) noexcept {
  for (int r = kAce; r >= Card::kMinRank && n > 0; --r) {
    if ((mask & (1u << r)) && r != skip_a && r != skip_b) {
      out[count++] = r;
      --n;
    }
  }
  return count;
}

// Core evaluator. Precondition: 5 <= n <= 7 distinct cards.
HandRank evaluate_n(const Card* cards, std::size_t n) noexcept {
  std::array<int, Card::kMaxRank + 1> rank_count{};
  std::array<std::uint32_t, Card::kSuits> suit_mask{};
  std::array<int, Card::kSuits> suit_count{};
  std::uint32_t rank_mask = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int r = cards[i].rank();
    const int s = cards[i].suit();
    ++rank_count[static_cast<std::size_t>(r)];
    ++suit_count[static_cast<std::size_t>(s)];
    suit_mask[static_cast<std::size_t>(s)] |= 1u << r;
    rank_mask |= 1u << r;
  }

  int tb[5] = {};
  // Flush (and straight flush). With at most 7 cards only one suit can reach five.
  std::uint32_t flush_mask = 0;
  for (std::size_t s = 0; s < suit_count.size(); ++s) {
    if (suit_count[s] >= 5) flush_mask = suit_mask[s];
  }
  if (flush_mask != 0) {
    if (const int high = straight_high(flush_mask); high != 0) {
      tb[0] = high;
      return HandRank::make(HandCategory::straight_flush, {tb, 1});
    }
  }

  // Highest quads, trips, and pairs (a second trips counts as a pair for the full house).
  int quad = 0, trip = 0, pair1 = 0, pair2 = 0;
  for (int r = kAce; r >= Card::kMinRank; --r) {
    const int c = rank_count[static_cast<std::size_t>(r)];
    if (c == 4 && quad == 0) {
      quad = r;
    } else if (c == 3 && trip == 0) {
      trip = r;
    } else if (c >= 2) {
      if (pair1 == 0) {
        pair1 = r;
      } else if (pair2 == 0) {
        pair2 = r;
      }
    }
  }

  if (quad != 0) {
    tb[0] = quad;
    const int k = take_high(rank_mask, 1, tb, 1, quad);
    return HandRank::make(HandCategory::quads, {tb, static_cast<std::size_t>(k)});
  }
  if (trip != 0 && pair1 != 0) {
    tb[0] = trip;
    tb[1] = pair1;  // pair1 is the highest other rank with two or more cards
    return HandRank::make(HandCategory::full_house, {tb, 2});
  }
  if (flush_mask != 0) {
    const int k = take_high(flush_mask, 5, tb, 0);
    return HandRank::make(HandCategory::flush, {tb, static_cast<std::size_t>(k)});
  }
  if (const int high = straight_high(rank_mask); high != 0) {
    tb[0] = high;
    return HandRank::make(HandCategory::straight, {tb, 1});
  }
  if (trip != 0) {
    tb[0] = trip;
    const int k = take_high(rank_mask, 2, tb, 1, trip);
    return HandRank::make(HandCategory::trips, {tb, static_cast<std::size_t>(k)});
  }
  if (pair2 != 0) {
    tb[0] = pair1;
    tb[1] = pair2;
    const int k = take_high(rank_mask, 1, tb, 2, pair1, pair2);  // a third pair may be the kicker
    return HandRank::make(HandCategory::two_pair, {tb, static_cast<std::size_t>(k)});
  }
  if (pair1 != 0) {
    tb[0] = pair1;
    const int k = take_high(rank_mask, 3, tb, 1, pair1);
    return HandRank::make(HandCategory::pair, {tb, static_cast<std::size_t>(k)});
  }
  const int k = take_high(rank_mask, 5, tb, 0);
  return HandRank::make(HandCategory::high_card, {tb, static_cast<std::size_t>(k)});
}

}  // namespace

std::string_view category_name(HandCategory c) noexcept {
  switch (c) {
    case HandCategory::high_card: return "high card";
    case HandCategory::pair: return "pair";
    case HandCategory::two_pair: return "two pair";
    case HandCategory::trips: return "trips";
    case HandCategory::straight: return "straight";
    case HandCategory::flush: return "flush";
    case HandCategory::full_house: return "full house";
    case HandCategory::quads: return "quads";
    case HandCategory::straight_flush: return "straight flush";
  }
  return "unknown";
}

HandRank HandRank::make(HandCategory category, std::span<const int> tiebreak) noexcept {
  HandRank h;
  std::uint32_t v = static_cast<std::uint32_t>(category) << 20;
  for (std::size_t i = 0; i < tiebreak.size() && i < 5; ++i) {
    v |= static_cast<std::uint32_t>(tiebreak[i]) << (16 - 4 * i);
  }
  h.value_ = v;
  return h;
}

std::string HandRank::name() const {
  std::string out(category_name(category()));
  for (int i = 0; i < 5; ++i) {
    const auto r = static_cast<int>((value_ >> (16 - 4 * i)) & 0xFu);
    if (r == 0) break;
    out += ' ';
    out += rank_char(r);
  }
  return out;
}

HandRank evaluate_5(const std::array<Card, 5>& cards) noexcept { return evaluate_n(cards.data(), 5); }

HandRank evaluate_7(const std::array<Card, 7>& cards) noexcept { return evaluate_n(cards.data(), 7); }

Result<HandRank> evaluate(std::span<const Card> cards) noexcept {
  if (cards.size() < 5 || cards.size() > 7) return fail(Errc::invalid_argument);
  std::uint64_t seen = 0;
  for (const Card c : cards) {
    const std::uint64_t bit = std::uint64_t{1} << c.index();
    if (seen & bit) return fail(Errc::invalid_argument);
    seen |= bit;
  }
  return evaluate_n(cards.data(), cards.size());
}

}  // namespace sb::poker
