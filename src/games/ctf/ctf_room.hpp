#pragma once
// CtfHandler: the "ctf" room type — capture the flag on top of room::Room.
//
// The handler is the thin adapter between the room (membership, ticks, delivery) and CtfGame (the
// rules). Players join the smaller team; spectators only watch. Lifecycle: WAITING until
// min_players have joined, then COUNTDOWN for start_delay_ms (at once if the room fills), then
// RUNNING, then ENDED, when the match result goes out as MatchEnded and as room.end(results): the
// room closes and its players go back to the lobby. The room ticks (set_tick_hz) only while
// counting down or running; each running tick applies at most one Input per player, moves, and
// broadcasts one State (encoded once, shared by every member). Corrections go to one player only
// (send_game); players past max_violations are kicked with "cheating". A dropped connection idles
// the avatar; leaving drops a carried flag. snapshot()/restore() carry the parameters and the
// whole game (RNG included) as deterministic bytes, so Room::save/load continues a match exactly.
// Not thread-safe: called by the owning shard only, like every RoomHandler.
#include <cstdint>
#include <memory>
#include <string>

#include "games/ctf/ctf_game.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"

namespace sb::ctf {

/// A ctf room's parameters (RoomSpec.params, all optional, decimal).
struct CtfParams {
  std::uint32_t min_players = 2;        // 1..capacity: the countdown starts at this many players
  std::uint32_t start_delay_ms = 3000;  // 0..60000: countdown length
  std::uint32_t score_limit = 3;        // 1..20 captures
  std::uint32_t time_limit_s = 300;     // 10..3600 seconds of match time
  std::uint32_t tick_hz = 20;           // 5..60
  std::uint64_t seed = 0;               // spawn RNG; default: derived from the room id
  std::uint32_t max_violations = 50;    // 1..100000 violations before a kick
};

/// Parses and checks `params` for a room of `capacity` players: Errc::invalid_argument with
/// `error` saying what is wrong (unknown keys are refused too, to catch typos). `room_id` seeds
/// the RNG when no seed is given.
Result<CtfParams> parse_params(const room::Params& params, std::uint32_t capacity, std::uint64_t room_id,
                               std::string& error);

/// The rules a room with these parameters plays by.
Rules rules_for(const CtfParams& params);

class CtfHandler final : public room::RoomHandler {
 public:
  explicit CtfHandler(CtfParams params = {});

  /// Players get a team and a spawn point; may start the countdown or (room full) the match.
  void on_join(room::RoomContext& room, const room::Member& m) override;
  /// Drops a carried flag; a countdown below min_players goes back to waiting.
  void on_leave(room::RoomContext& room, const room::Member& m, room::LeaveReason reason) override;
  /// A dropped connection idles the avatar; on return its inputs apply again.
  void on_presence(room::RoomContext& room, const room::Member& m, bool connected) override;
  void on_switch(room::RoomContext& room, const room::Member& m) override;
  /// An encoded wire::Input: Errc::invalid_argument if it does not parse (a violation),
  /// Errc::bad_state once the match ended.
  Status on_message(room::RoomContext& room, const room::Member& m, std::string_view data) override;
  /// Counts down or steps the match; ends the room when the match is over.
  void on_tick(room::RoomContext& room) override;
  /// An encoded wire::GameView for `viewer`.
  std::string view(const room::RoomContext& room, PlayerId viewer) const override;
  /// An encoded wire::CtfSnapshot (deterministic bytes).
  std::string snapshot() const override;
  /// Replaces params and game from snapshot(): Errc::invalid_argument if it does not parse.
  Status restore(std::string_view state) override;

  const CtfParams& params() const noexcept { return params_; }
  const CtfGame& game() const noexcept { return game_; }
  /// Game ticks stepped (countdown and running).
  std::uint64_t ticks() const noexcept { return game_.ticks(); }
  /// Inputs applied (at most one per player per tick).
  std::uint64_t inputs_applied() const noexcept { return game_.inputs_applied(); }
  /// Violations counted (clamped directions, floods, bad claims, undecodable inputs).
  std::uint64_t violations() const noexcept { return game_.violations(); }

 private:
  /// Publishes `fx`: events (one RoomEvent.game each; to one player or to all) and kicks.
  void flush(room::RoomContext& room, Effects& fx);
  /// Starts the countdown or the match when enough players are in.
  void maybe_start(room::RoomContext& room, Effects& fx);

  CtfParams params_;
  CtfGame game_;
};

/// The "ctf" room type: capacity 16 (2..64), 32 spectators, log of 128, presence events.
room::RoomType make_ctf_type();

}  // namespace sb::ctf
