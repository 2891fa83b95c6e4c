#include "games/poker/pots.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>

namespace sb::poker {

Result<std::vector<Pot>> build_pots(std::span<const Contribution> seats) {
  Chips total = 0;
  std::vector<Chips> levels;
  for (const Contribution& c : seats) {
    if (total + c.amount < total) return fail(Errc::invalid_argument);
    total += c.amount;
    if (!c.folded) levels.push_back(c.amount);
  }
  std::vector<Pot> pots;
  if (total == 0) return pots;
  if (levels.empty()) return fail(Errc::invalid_argument);
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  // A live seat that put in nothing (while others did) has matched nothing and wins nothing; a 0
  // level only remains when every live seat put in 0, and then all of them share everything.
  if (levels.front() == 0 && levels.size() > 1) levels.erase(levels.begin());

  Chips previous = 0;
  Chips assigned = 0;
  for (std::size_t li = 0; li < levels.size(); ++li) {
    const Chips level = levels[li];
    Pot pot;
    for (std::size_t s = 0; s < seats.size(); ++s) {
      const Contribution& c = seats[s];
      const Chips upto = std::min(c.amount, level);
      if (upto > previous) pot.amount += upto - previous;
      if (!c.folded && c.amount >= level) {
        pot.eligible.push_back(static_cast<Seat>(s));
      }
    }
    assigned += pot.amount;
    pots.push_back(std::move(pot));
    previous = level;
  }
  // Folded chips above the top live level: keep them, in the last pot.
  pots.back().amount += total - assigned;
  return pots;
}

Result<std::vector<Award>> split_pot(const Pot& pot, std::span<const SeatHand> hands,
                                     std::span<const Seat> seat_order) {
  if (pot.eligible.empty()) return fail(Errc::invalid_argument);
  auto hand_of = [&](Seat seat) -> std::optional<HandRank> {
    for (const SeatHand& h : hands) {
      if (h.seat == seat) return h.rank;
    }
    return std::nullopt;
  };
  std::optional<HandRank> best;
  for (const Seat seat : pot.eligible) {
    const auto rank = hand_of(seat);
    if (!rank) return fail(Errc::invalid_argument);
    if (std::find(seat_order.begin(), seat_order.end(), seat) == seat_order.end()) {
      return fail(Errc::invalid_argument);
    }
    if (!best || *best < *rank) best = rank;
  }
  std::vector<Award> awards;
  for (const Seat seat : seat_order) {
    if (std::find(pot.eligible.begin(), pot.eligible.end(), seat) == pot.eligible.end()) continue;
    if (std::any_of(awards.begin(), awards.end(), [&](const Award& a) { return a.seat == seat; })) {
      continue;  // a seat listed twice in seat_order wins once
    }
    if (*hand_of(seat) == *best) awards.push_back({seat, 0});
  }
  const Chips winners = awards.size();
  const Chips share = pot.amount / winners;
  Chips odd = pot.amount % winners;
  for (Award& a : awards) {
    a.amount = share + (odd > 0 ? 1 : 0);
    if (odd > 0) --odd;
  }
  return awards;
}

}  // namespace sb::poker
