#pragma once
// Table: the No-limit Texas Hold'em rules engine for one table. No Room, no clock, no I/O.
//
// The table seats 2..10 players with chip stacks and plays one hand at a time: start_hand()
// moves the button, deals, posts the blinds and asks the first player to act; act() applies one
// betting action of the player to act; the engine then moves on by itself (next player, next
// street, an all-in run-out, the showdown, the awards). What happens comes out as PokerEvents
// (poker.proto) queued in order; take_events() drains them, each tagged with its audience
// (HoleCards go to their owner only, everything else to everyone). The caller owns time: it
// fills ToAct.deadline_ms, and on a timeout calls act_default().
//
// Rules and simplifications (a "moving button"; no dead button, no dead or missed blinds):
// - The button moves to the next seat dealt in; with three or more players the next two seats
//   dealt in post the small and big blind. Heads-up the button posts the small blind, acts first
//   preflop and last after the flop. A player who sits down is dealt in at the next hand without
//   posting; a short blind posts what it has and is all-in.
// - No-limit: a bet or raise is at least the big blind and a raise at least the last full raise
//   on the street; going all-in for less is always allowed, but such a short all-in raise does not
//   reopen the betting for players who have already acted since the last full raise (they may
//   only call or fold; several short raises are not added up). Nobody may raise when every
//   opponent still in the hand is all-in.
// - Side pots come from build_pots(); each pot goes to the best hand(s) among its eligible seats
//   through split_pot(), odd chips first to the seats left of the button. A pot with one eligible
//   seat (a fold win, an uncalled bet) is returned without showdown. At showdown every live hand
//   is shown (no mucking). When at most one player can still bet, the board is run out.
// - A player who leaves mid-hand folds (even when all-in); the stack leaves with the player; the
//   chips already committed stay in the pot as dead money. The seat is free at once.
// - Busted players (stack 0 after a hand) are topped up to TableConfig::rebuy_to when it is
//   non-zero (counted in rebuys()); otherwise they stay seated and are not dealt in.
// Chips are conserved: total_chips() (stacks + bets + pots) always equals chips_in() (buy-ins and
// rebuys) minus chips_out() (stacks that left); this is checked at the end of every hand.
// Deterministic: each hand's deck is shuffled with a seed drawn from a SplitMix64 held in the
// table, and snapshot()/restore() capture everything (deck order and position, RNG state).
// A plain value; not thread-safe (owned by one room on one shard).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "games/poker/cards.hpp"
#include "games/poker/hand_evaluator.hpp"
#include "games/poker/pots.hpp"
#include "poker.pb.h"

namespace sb::poker {

inline constexpr int kMinSeats = 2;
inline constexpr int kMaxSeats = 10;

struct TableConfig {
  int max_seats = 6;      // kMinSeats..kMaxSeats
  Chips small_blind = 5;  // >= 1
  Chips big_blind = 10;   // >= small_blind
  Chips rebuy_to = 0;     // busted players are topped up to this after a hand; 0 = never
};

/// One queued event: to everyone (`to` invalid) or to one player.
struct TableOut {
  PlayerId to;
  wire::PokerEvent event;
};

using ActionKind = wire::Action::Kind;

class Table {
 public:
  /// Precondition: `config` is valid (see TableConfig). `seed` seeds the table's RNG.
  Table(TableConfig config, std::uint64_t seed);

  // ---- seating
  /// Seats `player` at the lowest free seat with `stack` chips (counted in chips_in()); emits
  /// Seated. Errc::already_exists if seated, Errc::room_full without a free seat,
  /// Errc::invalid_argument for a zero stack. A player seated mid-hand waits for the next hand.
  Result<Seat> sit(PlayerId player, Chips stack);
  /// Removes `player` (folding a live hand; committed chips stay in the pot), emits Unseated and
  /// returns the chips that left with the player (0 if not seated).
  Chips leave(PlayerId player);
  /// The seat of `player`, if seated.
  std::optional<Seat> seat_of(PlayerId player) const noexcept;
  /// The player at `seat` (invalid for an empty seat or an out-of-range one).
  PlayerId player_at(Seat seat) const noexcept;
  /// Occupied seats, whether or not they have chips or are in the hand.
  int seated_count() const noexcept;
  /// True when no hand is running and at least two seated players have chips.
  bool can_start() const noexcept;

  // ---- play
  /// Starts the next hand. Errc::bad_state unless can_start().
  Status start_hand();
  /// Applies `player`'s action (amount = "raise to" for BET/RAISE, ignored otherwise). Returns
  /// the reason when the action is refused: no hand, not this player's turn, or illegal; a refused
  /// action changes nothing and emits nothing. `automatic` marks ActionTaken.auto.
  std::optional<std::string> act(PlayerId player, ActionKind kind, Chips amount, bool automatic = false);
  /// Acts for the player to act (check when free, else fold) with auto set. No-op without one.
  void act_default();

  // ---- reading
  /// Between start_hand() and the HandEnded event.
  bool hand_in_progress() const noexcept { return in_progress_; }
  /// The current hand, or the last one; 0 before the first.
  std::uint64_t hand_id() const noexcept { return hand_id_; }
  /// The current street (STREET_NONE between hands).
  wire::Street street() const noexcept { return street_; }
  /// The button seat of the current or last hand; -1 before the first.
  int button() const noexcept { return button_; }
  /// The player to act, if a hand is waiting for one.
  std::optional<PlayerId> to_act() const noexcept;
  /// What the player to act may do (deadline_ms left 0). Precondition: to_act().
  wire::ToAct to_act_info() const;
  /// The table as `viewer` may see it: hole cards only for the viewer's own seat.
  wire::TableView view(PlayerId viewer) const;
  /// `player`'s stack behind (0 if not seated).
  Chips stack_of(PlayerId player) const noexcept;
  /// The board of the current or last hand.
  std::span<const Card> board() const noexcept { return board_; }
  /// Every chip at the table: stacks, current bets, pots and dead money.
  Chips total_chips() const noexcept;
  /// Chips brought to the table: buy-ins (sit) and automatic rebuys.
  Chips chips_in() const noexcept { return chips_in_; }
  /// Chips taken away by players who left.
  Chips chips_out() const noexcept { return chips_out_; }
  /// Chips added by automatic rebuys (part of chips_in()).
  Chips rebuys() const noexcept { return rebuys_; }
  /// total_chips() == chips_in() - chips_out().
  bool chips_conserved() const noexcept { return total_chips() + chips_out_ == chips_in_; }
  /// Hands played to the end.
  std::uint64_t hands_completed() const noexcept { return hands_completed_; }
  const TableConfig& config() const noexcept { return config_; }

  /// Drains the events queued since the last call, oldest first.
  std::vector<TableOut> take_events();

  /// The whole state (queued events excluded: drain them first).
  wire::TableSnapshot snapshot() const;
  /// A table from snapshot(): Errc::invalid_argument if it is inconsistent.
  static Result<Table> restore(const wire::TableSnapshot& s);

 private:
  struct SeatState {
    PlayerId player;  // invalid = empty
    Chips stack = 0;
    Chips bet = 0;        // this street
    Chips committed = 0;  // this hand, bet included
    bool in_hand = false;
    bool folded = false;
    bool all_in = false;
    bool acted = false;  // since the last full raise: may not re-raise after a short all-in
    bool needs_action = false;
    std::array<Card, 2> hole{};
  };

  bool live(Seat s) const noexcept;  // in the hand and not folded
  bool able(Seat s) const noexcept;  // live and not all-in: can still bet
  int live_count() const noexcept;
  int able_count() const noexcept;
  Seat next_seat(Seat from, bool (Table::*pred)(Seat) const noexcept) const noexcept;
  bool dealt_in(Seat s) const noexcept { return seats_[static_cast<std::size_t>(s)].in_hand; }
  bool needs(Seat s) const noexcept { return seats_[static_cast<std::size_t>(s)].needs_action; }
  bool may_raise(Seat s) const noexcept;
  Chips pot_total() const noexcept;
  SeatState& at(Seat s) noexcept { return seats_[static_cast<std::size_t>(s)]; }
  const SeatState& at(Seat s) const noexcept { return seats_[static_cast<std::size_t>(s)]; }

  void put(Seat s, Chips chips);
  void raise_to(Seat s, Chips to);
  void post_blind(Seat s, Chips blind, bool big);
  void emit_action(Seat s, ActionKind kind, Chips amount, bool automatic);
  /// Moves the hand on after a change: ends it on folds, asks the next player (after `from`)
  /// needing action, or closes the street.
  void proceed(Seat from);
  /// Clears needs_action of the last able player when nobody can bet against it.
  void close_if_alone();
  void end_street();
  void finish_hand();
  void emit(wire::PokerEvent ev, PlayerId to = {});

  TableConfig config_;
  std::vector<SeatState> seats_;
  std::vector<Chips> dead_money_;
  SplitMix64 rng_;
  Deck deck_;
  std::uint64_t hand_id_ = 0;
  bool in_progress_ = false;
  wire::Street street_ = wire::STREET_NONE;
  int button_ = -1;
  int sb_seat_ = -1;
  int bb_seat_ = -1;
  std::vector<Card> board_;
  Chips current_bet_ = 0;
  Chips min_raise_ = 0;
  int to_act_ = -1;
  Chips chips_in_ = 0;
  Chips chips_out_ = 0;
  Chips rebuys_ = 0;
  std::uint64_t hands_completed_ = 0;
  std::vector<TableOut> events_;
};

/// "fold", "check", ... for logs and messages.
std::string_view action_name(ActionKind kind) noexcept;

}  // namespace sb::poker
