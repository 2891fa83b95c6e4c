#pragma once
// Playing cards and a deterministic deck for No-limit Texas Hold'em.
//
// A Card is one byte: index = (rank - 2) * 4 + suit, so 0..51, with rank 2..14 (14 = ace) and
// suit 0..3 (c, d, h, s). Text form is two characters, rank then suit: "As", "Td", "2c".
// The Deck never touches a global RNG: shuffle() takes a seed and uses SplitMix64 with
// rejection sampling inside a Fisher–Yates pass, so the same seed gives the same order on every
// platform and standard library (std::uniform_int_distribution is not portable in its output).
// Everything here is a plain value, synchronous, and safe to use from any one thread at a time.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::poker {

class Card {
 public:
  static constexpr int kMinRank = 2;
  static constexpr int kMaxRank = 14;  // ace
  static constexpr int kSuits = 4;
  static constexpr int kCount = 52;

  /// The two of clubs; exists so containers of cards can be default-constructed.
  constexpr Card() noexcept = default;

  /// Precondition: kMinRank <= rank <= kMaxRank and 0 <= suit < kSuits (unchecked; use
  /// parse() for untrusted input).
  static constexpr Card make(int rank, int suit) noexcept {
    return Card(static_cast<std::uint8_t>((rank - kMinRank) * kSuits + suit));
  }
  /// Precondition: 0 <= index < kCount.
  static constexpr Card from_index(int index) noexcept {
    return Card(static_cast<std::uint8_t>(index));
  }
  /// Parses "As", "td", "2C": rank one of 23456789TJQKA (case-insensitive), suit one of cdhs
  /// (case-insensitive). Anything else, including extra characters, is Errc::invalid_argument.
  static Result<Card> parse(std::string_view text) noexcept;

  constexpr int rank() const noexcept { return code_ / kSuits + kMinRank; }
  constexpr int suit() const noexcept { return code_ % kSuits; }
  /// 0..51, stable; usable as an array index or a bit position.
  constexpr int index() const noexcept { return code_; }

  /// Canonical text: upper-case rank, lower-case suit ("As", "Td", "2c").
  std::string to_string() const;

  friend constexpr bool operator==(Card, Card) noexcept = default;

 private:
  constexpr explicit Card(std::uint8_t code) noexcept : code_(code) {}
  std::uint8_t code_ = 0;
};

/// Rank character for 2..14 ('2'..'9', 'T', 'J', 'Q', 'K', 'A'); '?' outside the range.
char rank_char(int rank) noexcept;

/// Parses space-separated cards ("As Kd 7c"); any bad token or a repeated card is
/// Errc::invalid_argument. Allocates; meant for tests, tools and logs, not the hot path.
Result<std::vector<Card>> parse_cards(std::string_view text);

/// Space-separated canonical text of `cards`.
std::string format_cards(std::span<const Card> cards);

/// SplitMix64: a tiny, well-mixed, portable 64-bit generator (Steele, Lea, Flood 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept;
  /// Uniform in [0, bound) by rejection; precondition bound > 0.
  std::uint64_t below(std::uint64_t bound) noexcept;
  /// The whole generator state: SplitMix64(state()) continues exactly where this one is.
  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_;
};

/// 52 cards and a deal position. Not thread-safe; owned by one table.
class Deck {
 public:
  /// A fresh deck in index order (2c 2d 2h 2s 3c ... As), nothing dealt.
  Deck() noexcept;

  /// Restores all 52 cards and shuffles them with Fisher–Yates driven by SplitMix64(seed).
  /// Same seed, same order, on every platform.
  void shuffle(std::uint64_t seed) noexcept;

  /// Next card, or nullopt when all 52 have been dealt.
  std::optional<Card> deal() noexcept;

  std::size_t remaining() const noexcept { return cards_.size() - next_; }
  /// The whole deck in its current order, dealt cards included.
  std::span<const Card, Card::kCount> cards() const noexcept { return cards_; }
  /// How many cards have been dealt.
  std::size_t dealt() const noexcept { return next_; }
  /// Puts back a saved state (cards() order and dealt()): Errc::invalid_argument unless `order`
  /// holds each of the 52 card indexes exactly once and dealt <= 52. Unchanged on error.
  Status restore(std::span<const std::uint32_t> order, std::size_t dealt) noexcept;

 private:
  std::array<Card, Card::kCount> cards_;
  std::size_t next_ = 0;
};

}  // namespace sb::poker
