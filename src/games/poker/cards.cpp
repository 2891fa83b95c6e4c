#include "games/poker/cards.hpp"

#include <algorithm>
#include <utility>

namespace sb::poker {
namespace {

constexpr std::string_view kRanks = "23456789TJQKA";
constexpr std::string_view kSuitChars = "cdhs";

char to_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Result<Card> Card::parse(std::string_view text) noexcept {
  if (text.size() != 2) return fail(Errc::invalid_argument);
  const auto r = kRanks.find(to_upper(text[0]));
  const auto s = kSuitChars.find(to_lower(text[1]));
  if (r == std::string_view::npos || s == std::string_view::npos) return fail(Errc::invalid_argument);
  return Card::make(static_cast<int>(r) + kMinRank, static_cast<int>(s));
}

char rank_char(int rank) noexcept {
  if (rank < Card::kMinRank || rank > Card::kMaxRank) return '?';
  return kRanks[static_cast<std::size_t>(rank - Card::kMinRank)];
}

std::string Card::to_string() const {
  return {rank_char(rank()), kSuitChars[static_cast<std::size_t>(suit())]};
}

Result<std::vector<Card>> parse_cards(std::string_view text) {
  std::vector<Card> out;
  std::uint64_t seen = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    const auto end = std::min(text.find(' ', pos), text.size());
    auto card = Card::parse(text.substr(pos, end - pos));
    if (!card) return card.error();
    const std::uint64_t bit = std::uint64_t{1} << card->index();
    if (seen & bit) return fail(Errc::invalid_argument);
    seen |= bit;
    out.push_back(*card);
    pos = end;
  }
  return out;
}

std::string format_cards(std::span<const Card> cards) {
  std::string out;
  for (const Card c : cards) {
    if (!out.empty()) out += ' ';
    out += c.to_string();
  }
  return out;
}

std::uint64_t SplitMix64::next() noexcept {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) noexcept {
  // Reject the top partial bucket so every residue is equally likely.
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
  std::uint64_t x = next();
  while (x >= limit) x = next();
  return x % bound;
}

Deck::Deck() noexcept {
  for (int i = 0; i < Card::kCount; ++i) cards_[static_cast<std::size_t>(i)] = Card::from_index(i);
}

void Deck::shuffle(std::uint64_t seed) noexcept {
  for (int i = 0; i < Card::kCount; ++i) cards_[static_cast<std::size_t>(i)] = Card::from_index(i);
  next_ = 0;
  SplitMix64 rng(seed);
  for (std::size_t i = cards_.size() - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i + 1));
    std::swap(cards_[i], cards_[j]);
  }
}

std::optional<Card> Deck::deal() noexcept {
  if (next_ >= cards_.size()) return std::nullopt;
  return cards_[next_++];
}

Status Deck::restore(std::span<const std::uint32_t> order, std::size_t dealt) noexcept {
  if (order.size() != cards_.size() || dealt > cards_.size()) return fail(Errc::invalid_argument);
  std::uint64_t seen = 0;
  for (const std::uint32_t i : order) {
    if (i >= static_cast<std::uint32_t>(Card::kCount)) return fail(Errc::invalid_argument);
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (seen & bit) return fail(Errc::invalid_argument);
    seen |= bit;
  }
  for (std::size_t k = 0; k < cards_.size(); ++k) cards_[k] = Card::from_index(static_cast<int>(order[k]));
  next_ = dealt;
  return {};
}

}  // namespace sb::poker
