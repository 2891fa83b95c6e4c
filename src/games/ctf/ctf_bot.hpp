#pragma once
// CtfBot: a capture-the-flag player without I/O, for the network bot fleet and for tests.
//
// Feed it what its client receives (on_view with RoomJoined.game_state, on_event with every
// CtfEvent addressed to it) and call next_input() once per received State; it returns an Input to
// send, or nothing. Behaviour: attackers go for the enemy flag, a carrier runs home, defenders
// guard their base and chase an enemy carrying their flag, anyone near its own dropped flag
// returns it; a carrier first leaves the enemy half (where it can be tagged) by the emptier
// corridor, veering away from close enemies, then runs home. Each bot draws its role and a patrol
// offset from its seed and re-draws them every few seconds. Steering: the straight line to the
// target if no wall is in the way, else the wall corner that makes the shortest two-leg path.
// Rate: it sends only when its direction turns by more than ~15 degrees (at most one Input per
// 100 ms) or, failing that, every 250 ms — between 4 and 10 Inputs a second per bot, instead of
// one per tick (20 a second), so 16,000 bots send at most 160,000 Inputs a second. Its claimed
// position is the last one the server sent it, so an honest bot never draws a Correction.
// It fills seq (1, 2, ...) and leaves client_time_us to the caller. Not thread-safe.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/ids.hpp"
#include "ctf.pb.h"
#include "games/ctf/ctf_game.hpp"

namespace sb::ctf {

class CtfBot {
 public:
  CtfBot(PlayerId me, std::uint64_t seed);

  /// A full view (RoomJoined.game_state): map, phase, positions, this bot's team.
  void on_view(const wire::GameView& view);
  /// One game event (State, MatchStarted, MatchEnded, Correction...).
  void on_event(const wire::CtfEvent& event);
  /// The Input to send now, if any; call once after each State.
  std::optional<wire::Input> next_input();

  PlayerId id() const noexcept { return me_; }
  /// 0 red, 1 blue, -1 not known yet.
  int team() const noexcept { return team_; }
  wire::Phase phase() const noexcept { return phase_; }
  std::uint64_t inputs_sent() const noexcept { return seq_; }

 private:
  struct Seen {
    PlayerId id;
    int team = -1;
    Vec pos;
    bool carrying = false;
    bool down = false;
  };
  struct SeenFlag {
    Vec pos;
    PlayerId carrier;
    bool at_base = true;
  };

  void read_players(const google::protobuf::RepeatedPtrField<wire::PlayerState>& players);
  void read_flags(const google::protobuf::RepeatedPtrField<wire::FlagState>& flags);
  const Seen* find(PlayerId p) const noexcept;
  bool in_enemy_half(Vec p) const noexcept;
  Vec choose_target(const Seen& self);
  bool segment_clear(Vec a, Vec b) const noexcept;
  Vec steer(Vec from, Vec target) const;
  Vec evade(const Seen& self, Vec dir) const;
  double uniform() noexcept;

  PlayerId me_;
  std::uint64_t rng_;
  Map map_ = Map::standard();
  std::uint32_t tick_hz_ = 20;
  wire::Phase phase_ = wire::WAITING;
  int team_ = -1;
  std::vector<Seen> players_;
  std::array<SeenFlag, kTeams> flags_{};
  bool fresh_ = false;  // a State arrived since the last next_input()
  std::uint32_t seq_ = 0;
  Vec last_dir_;
  std::uint32_t ticks_since_send_ = 1'000'000;
  bool attacker_ = true;
  bool carrying_ = false;
  std::int32_t escape_y_ = 1200;
  Vec offset_;
  std::uint32_t redraw_in_ = 0;  // States until role, side and offset are drawn again
};

}  // namespace sb::ctf
