#pragma once
// PokerHandler: the room handler of room type "poker" (No-limit Texas Hold'em, 2..10 seats).
//
// It puts a Table (the rules engine, games/poker/table.hpp) behind the Room API: a player who
// joins is seated with the buy-in; a player who leaves folds and takes the stack away. When two
// or more seated players have chips a hand starts after next_hand_delay_ms (a room timer). Every
// public event of a hand is broadcast (RoomEvent.game = a PokerEvent), so the hand history is in
// the room's event log; HoleCards and ActionRejected go to one player only (send_game), so
// spectators and opponents never see hole cards before the showdown. Clients act with Action
// messages; an illegal, out-of-turn or stale action is answered with ActionRejected and leaves the
// table unchanged.
// Time: each ToAct carries a deadline (Unix ms) and a room timer enforces it: on expiry the
// table checks when that is free and otherwise folds for the player (ActionTaken.auto). Seed 001:
// a player whose connection dropped is acted for at once (check/fold, auto) whenever it is their
// turn, so the table never waits for a player who cannot answer; when the player comes back the
// normal deadline applies again. The seat is kept until the room removes the member.
// Busted players are re-bought automatically to the buy-in at the end of the hand (counted in
// Table::rebuys(), so the chip invariant still holds) so that bot tables keep playing.
// snapshot()/restore() carry the whole table (deck order, RNG state) and the handler's own state
// (disconnected players, timer ids, deadline) as deterministic bytes.
// Synchronous, no I/O; called by the room on its owning shard only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "games/poker/table.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"

namespace sb::poker {

inline constexpr const char* kPokerType = "poker";

struct PokerParams {
  Chips small_blind = 5;
  Chips big_blind = 10;                    // >= small_blind
  Chips buy_in = 1000;                     // >= 10 * big_blind
  std::uint64_t action_timeout_ms = 15000; // 100..120000
  std::uint64_t next_hand_delay_ms = 2000; // 0..60000
  std::optional<std::uint64_t> seed;       // default: derived from the room id
};

/// Parses and validates room params (all optional, decimal strings): Errc::invalid_argument with
/// `error` naming the bad parameter. Unknown parameters are refused too.
Result<PokerParams> parse_poker_params(const room::Params& params, std::string& error);

class PokerHandler final : public room::RoomHandler {
 public:
  /// A table of `max_seats` (kMinSeats..kMaxSeats) seats; `seed` seeds the deck RNG.
  PokerHandler(const PokerParams& params, int max_seats, std::uint64_t seed);

  /// Seats a joining player with the buy-in (spectators only watch).
  void on_join(room::RoomContext& room, const room::Member& m) override;
  /// Folds the player's live hand and unseats the player with the stack.
  void on_leave(room::RoomContext& room, const room::Member& m, room::LeaveReason reason) override;
  /// Tracks connections: a disconnected player to act is checked/folded for at once.
  void on_presence(room::RoomContext& room, const room::Member& m, bool connected) override;
  /// Decodes an Action: Errc::invalid_argument if the bytes do not parse; game refusals are an
  /// ActionRejected to the sender and a success.
  Status on_message(room::RoomContext& room, const room::Member& m, std::string_view data) override;
  /// The next-hand and action-deadline timers.
  void on_timer(room::RoomContext& room, std::uint64_t tag) override;
  /// A serialized TableView for `viewer` (own hole cards only).
  std::string view(const room::RoomContext& room, PlayerId viewer) const override;
  /// A serialized HandlerSnapshot, deterministic bytes.
  std::string snapshot() const override;
  /// Replaces the state with a snapshot(): Errc::invalid_argument if it does not parse.
  Status restore(std::string_view state) override;

  // ---- counters for tests and benchmarks
  std::uint64_t hands_completed() const noexcept { return table_.hands_completed(); }
  Chips total_chips() const noexcept { return table_.total_chips(); }
  bool chips_conserved() const noexcept { return table_.chips_conserved(); }
  const Table& table() const noexcept { return table_; }
  const PokerParams& params() const noexcept { return params_; }

 private:
  /// Publishes the table's queued events, acts for disconnected players, and (re)arms the timers.
  void pump(room::RoomContext& room);
  void arm_next_hand(room::RoomContext& room);
  bool disconnected(PlayerId p) const noexcept;
  void reject(room::RoomContext& room, PlayerId p, std::string reason);

  PokerParams params_;
  Table table_;
  std::vector<PlayerId> disconnected_;  // sorted
  room::TimerId action_timer_ = 0;
  room::TimerId next_hand_timer_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t deadline_ms_ = 0;
};

/// The "poker" room type: capacity 6 by default (2..10), 16 spectators, a 128-event log,
/// presence events on. The factory validates params (see PokerParams) and the capacity.
room::RoomType make_poker_type();

/// Serializes `message` with deterministic serialization (stable bytes for equal messages).
std::string deterministic_bytes(const google::protobuf::MessageLite& message);

}  // namespace sb::poker
