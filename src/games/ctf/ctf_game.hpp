#pragma once
// CtfGame: the rules of capture the flag, pure and deterministic, with no Room dependency.
//
// Two teams (red on the left, blue on the right) on a rectangular map with wall rectangles. Each
// team has a base with its flag. Positions are integer centi-units (1 map unit = 100) so that a
// step is exact and a snapshot restores bit for bit. The server is authoritative: clients only
// send a desired direction (Input, thousandths); step() moves every avatar by at most
// speed / tick_hz along the clamped direction, then resolves walls and the map bounds axis by axis
// (a position is never inside a wall or outside the map). Touching the enemy flag takes it;
// bringing it into your own base while your own flag is at base captures; an enemy carrier touched
// by a defender standing in its own half drops the flag and respawns at its base after a delay; a
// dropped flag goes home after flag_return_ms or when a team-mate touches it (the tagger stands on
// the flag it knocked loose, so a tag in effect returns it at once; the timer matters for flags
// dropped by carriers who leave the room). The match ends at
// score_limit captures or after time_limit_s of match ticks (time is counted in ticks, not read
// from a clock, so a replay is exact).
// Validation: a direction longer than 1000 is clamped, more than flood_per_tick inputs between two
// ticks is a flood, a claimed position farther from the server's than the player could have moved
// since its previous input (plus a tolerance) gets a Correction; each is a violation, and a player
// past max_violations is reported for a kick (Effects::kick).
// What it does not do: networking, timers, membership (CtfHandler does that). RNG: splitmix64,
// only for spawn points. Not thread-safe: owned by one room.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "ctf.pb.h"

namespace sb::ctf {

inline constexpr int kTeams = 2;  // team index 0 = red (wire::RED), 1 = blue (wire::BLUE)

struct Vec {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(Vec, Vec) = default;
};

/// A wall: [x0,x1] x [y0,y1] in centi-units.
struct Rect {
  std::int32_t x0 = 0;
  std::int32_t y0 = 0;
  std::int32_t x1 = 0;
  std::int32_t y1 = 0;
};

/// The playing field. The standard map is point-symmetric about its centre.
struct Map {
  std::int32_t width = 10'000;
  std::int32_t height = 6'000;
  std::vector<Rect> walls;
  std::array<Vec, kTeams> bases{};
  std::int32_t base_radius = 500;
  std::int32_t player_radius = 50;
  std::int32_t touch_radius = 150;

  /// 100 x 60 units, bases at (8,30) and (92,30), five walls.
  static Map standard();
  /// Whether an avatar centred at `p` would overlap a wall or leave the map.
  bool blocked(Vec p) const noexcept;
  /// Where an avatar at valid `from` ends after trying to move by (dx,dy): x first, then y, each
  /// stopped at the first wall face or map edge. |dx|,|dy| must be below the thinnest wall.
  Vec move(Vec from, std::int32_t dx, std::int32_t dy) const noexcept;
  void to_proto(wire::MapInfo& out) const;
  static Map from_proto(const wire::MapInfo& in);
};

struct Rules {
  std::uint32_t tick_hz = 20;
  std::int32_t speed = 800;               // centi-units per second at full input (8 units/s)
  std::uint32_t score_limit = 3;
  std::uint32_t time_limit_s = 300;
  std::uint32_t flag_return_ms = 10'000;  // a dropped flag goes home after this long
  std::uint32_t respawn_ms = 3'000;       // a tagged carrier is out of play this long
  std::int32_t claim_tolerance = 200;     // centi-units of prediction error allowed on top of
                                          // speed * time since the player's previous input
  std::uint32_t claim_grace_ms = 1'000;   // after a respawn teleport claims are not checked
  std::uint32_t max_violations = 50;      // more than this in a match: kick
  std::uint32_t flood_per_tick = 3;       // more inputs than this between two ticks: violation
};

/// An event for everyone (`to` invalid) or for one player.
struct Outgoing {
  PlayerId to;
  wire::CtfEvent event;
};

/// What a call produced: events to publish, in order, and players to kick for cheating.
struct Effects {
  std::vector<Outgoing> events;
  std::vector<PlayerId> kick;
};

struct Player {
  PlayerId id;
  int team = 0;
  Vec pos;
  Vec dir;                      // the applied, clamped direction (thousandths)
  std::uint32_t respawn_ticks = 0;
  std::uint32_t grace_ticks = 0;
  std::uint32_t ack_seq = 0;    // last applied input
  std::uint32_t recv_seq = 0;   // last accepted input
  std::uint32_t inputs_this_tick = 0;
  std::uint64_t last_input_tick = 0;
  std::uint32_t violations = 0;
  bool kicked = false;
  bool connected = true;
  std::optional<wire::Input> pending;  // the latest input not yet applied (dir already clamped)
  std::uint32_t captures = 0;
  std::uint32_t tags = 0;
  std::uint32_t returns = 0;
  std::uint32_t pickups = 0;
};

struct Flag {
  Vec pos;
  PlayerId carrier;             // invalid = not carried
  bool at_base = true;
  std::uint32_t return_ticks = 0;
};

class CtfGame {
 public:
  CtfGame(Rules rules, std::uint64_t seed, Map map = Map::standard());

  const Rules& rules() const noexcept { return rules_; }
  const Map& map() const noexcept { return map_; }
  wire::Phase phase() const noexcept { return phase_; }
  const std::vector<Player>& players() const noexcept { return players_; }
  const Player* find(PlayerId p) const noexcept;
  const std::array<Flag, kTeams>& flags() const noexcept { return flags_; }
  const std::array<std::uint32_t, kTeams>& score() const noexcept { return score_; }
  /// Players on team `team` (0 red, 1 blue).
  std::uint32_t team_size(int team) const noexcept;
  /// Ticks stepped while running (the match clock).
  std::uint64_t match_tick() const noexcept { return match_tick_; }
  std::uint32_t time_left_ms() const noexcept;
  std::uint32_t countdown_ms() const noexcept;
  wire::EndReason end_reason() const noexcept { return end_reason_; }
  // Counters over the game's life.
  std::uint64_t ticks() const noexcept { return ticks_; }
  std::uint64_t inputs_applied() const noexcept { return inputs_applied_; }
  std::uint64_t violations() const noexcept { return violations_; }

  /// Adds a player to the smaller team (red on a tie) at a spawn point of its base; returns the
  /// team index. A player already present keeps its team.
  int add_player(PlayerId p);
  /// Removes a player; a flag it carried is dropped where it stood (FlagDropped). No-op if absent.
  void remove_player(PlayerId p, Effects& fx);
  /// A dropped connection zeroes the player's input (the avatar idles) until it returns; a
  /// returning client may restart its input seq from 1.
  void set_connected(PlayerId p, bool connected);
  /// `p`'s session moved to a new connection without a drop (take-over): the new client numbers
  /// its inputs from 1 again and the old client's input no longer steers the avatar.
  void switch_connection(PlayerId p);
  /// An Input received from `p`: Errc::not_found if not a player, Errc::bad_state once ended.
  /// Stale seqs are ignored; floods and over-long directions count violations. Applied at the
  /// next step() (only the latest per tick).
  Status submit(PlayerId p, const wire::Input& in, Effects& fx);
  /// Counts one violation against `p` (e.g. an undecodable message); no-op if absent.
  void violation(PlayerId p, Effects& fx);

  /// WAITING -> COUNTDOWN for `ticks` ticks (Countdown event); no-op in any other phase.
  void begin_countdown(std::uint32_t ticks, Effects& fx);
  /// COUNTDOWN -> WAITING (players left); no-op otherwise.
  void cancel_countdown() noexcept;
  /// WAITING or COUNTDOWN -> RUNNING: everyone respawns at base, MatchStarted.
  void start(Effects& fx);
  /// One tick: counts down, or (RUNNING) applies inputs, moves, resolves flags, tags and
  /// captures, broadcasts State and ends the match (MatchEnded) at a limit. No-op otherwise.
  void step(Effects& fx);

  wire::Results results() const;
  void fill_state(wire::State& out) const;
  void fill_view(wire::GameView& out, PlayerId viewer) const;
  void save(wire::CtfSnapshot& out) const;
  /// Replaces the state with `in`'s (rules and map stay). Errc::invalid_argument if inconsistent.
  Status load(const wire::CtfSnapshot& in);

 private:
  Player* find_mut(PlayerId p) noexcept;
  std::uint64_t next_random() noexcept;
  Vec spawn_point(int team) noexcept;
  std::uint32_t ms_to_ticks(std::uint32_t ms) const noexcept;
  void fill_player(wire::PlayerState& out, const Player& p) const;
  void fill_flag(wire::FlagState& out, int team) const;
  void apply_inputs(Effects& fx);
  void drop_flag(Player& carrier, Effects& fx);
  void resolve_tags(Effects& fx);
  void resolve_touches(Effects& fx);
  void return_flag(int team, PlayerId by, Effects& fx);
  void end(wire::EndReason reason, Effects& fx);

  Rules rules_;
  Map map_;
  std::uint64_t rng_;
  wire::Phase phase_ = wire::WAITING;
  std::uint32_t countdown_ticks_ = 0;
  std::uint64_t match_tick_ = 0;
  std::vector<Player> players_;  // join order; ≤ 64, linear search
  std::array<Flag, kTeams> flags_{};
  std::array<std::uint32_t, kTeams> score_{};
  wire::EndReason end_reason_ = wire::END_REASON_NONE;
  std::uint64_t ticks_ = 0;
  std::uint64_t inputs_applied_ = 0;
  std::uint64_t violations_ = 0;
};

/// wire::Team for a team index, and back (-1 for TEAM_NONE or unknown).
inline wire::Team team_wire(int team) noexcept { return team == 0 ? wire::RED : wire::BLUE; }
inline int team_index(wire::Team t) noexcept { return t == wire::RED ? 0 : t == wire::BLUE ? 1 : -1; }

}  // namespace sb::ctf
