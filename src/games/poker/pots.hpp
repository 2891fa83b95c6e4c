#pragma once
// Side pots and pot splitting for No-limit Hold'em.
//
// build_pots() turns each seat's total contribution to the hand into an ordered list of pots,
// main pot first. Pot levels are the distinct contributions of seats still in the hand: the pot
// for level L takes, from every seat (folded or not), what it put in between the previous level
// and L, and is open to the live seats that put in at least L. Folded seats pay but are never
// eligible. Chips folded seats put in above the top live level (cannot happen in legal betting,
// kept for conservation) join the last pot. A pot with a single eligible seat is an uncalled bet
// that simply returns to its owner through split_pot().
//
// split_pot() awards one pot to the best hand(s) among its eligible seats, dividing evenly; the
// odd chips go one each to the winners that come first in the given seat order (the order starting
// left of the button). Both functions conserve chips exactly. Pure, synchronous, any thread.
#include <cstdint>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "games/poker/hand_evaluator.hpp"

namespace sb::poker {

using Chips = std::uint64_t;
using Seat = int;

/// What one seat put into the pot over the whole hand. The seat number is its index in the span.
struct Contribution {
  Chips amount = 0;
  bool folded = false;
};

struct Pot {
  Chips amount = 0;
  std::vector<Seat> eligible;  // ascending seat numbers, never empty
  friend bool operator==(const Pot&, const Pot&) = default;
};

struct SeatHand {
  Seat seat = 0;
  HandRank rank;
};

struct Award {
  Seat seat = 0;
  Chips amount = 0;
  friend bool operator==(const Award&, const Award&) = default;
};

/// Pots for the hand, main pot first; the amounts sum to the sum of all contributions.
/// Empty when nothing was contributed. Errc::invalid_argument when chips were contributed but
/// every seat folded (someone must be left to win), or when the total overflows Chips.
Result<std::vector<Pot>> build_pots(std::span<const Contribution> seats);

/// Awards `pot` to the best hand(s) among pot.eligible. `hands` holds at least every eligible
/// seat (others are ignored); `seat_order` lists seats starting left of the button and must contain
/// every eligible seat. Awards come back in seat_order order, only to winners, and sum to
/// pot.amount. Errc::invalid_argument if an eligible seat has no hand or no place in seat_order,
/// or the pot has no eligible seat.
Result<std::vector<Award>> split_pot(const Pot& pot, std::span<const SeatHand> hands,
                                     std::span<const Seat> seat_order);

}  // namespace sb::poker
