#pragma once
// Shared helpers for the ctf tests: building inputs, editing a game through its snapshot, a room
// with a manual clock, and decoding what the room published.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "games/ctf/ctf_game.hpp"
#include "games/ctf/ctf_room.hpp"
#include "room/room.hpp"
#include "wire/frame.hpp"

namespace sb::ctf::test {

inline PlayerId P(std::uint64_t v) { return PlayerId{v}; }

inline wire::Input input(std::uint32_t seq, std::int32_t dx, std::int32_t dy) {
  wire::Input in;
  in.set_seq(seq);
  in.set_dir_x(dx);
  in.set_dir_y(dy);
  return in;
}

inline std::string enc(const google::protobuf::MessageLite& m) { return m.SerializeAsString(); }

/// Edits a game's state through save()/load(): positions, carriers, timers.
inline void edit(CtfGame& g, const std::function<void(wire::CtfSnapshot&)>& f) {
  wire::CtfSnapshot s;
  g.save(s);
  f(s);
  ASSERT_TRUE(g.load(s));
}

inline wire::SnapPlayer& snap_player(wire::CtfSnapshot& s, PlayerId p) {
  for (auto& sp : *s.mutable_players()) {
    if (sp.id() == p.value) return sp;
  }
  ADD_FAILURE() << "no player " << p.value;
  return *s.add_players();
}

inline void place(CtfGame& g, PlayerId p, Vec pos) {
  edit(g, [&](wire::CtfSnapshot& s) {
    auto& sp = snap_player(s, p);
    sp.set_x(pos.x);
    sp.set_y(pos.y);
    sp.set_grace_ticks(0);
  });
}

/// Events of one kind from `fx`.
inline std::vector<Outgoing> of(const Effects& fx, wire::CtfEvent::BodyCase kind) {
  std::vector<Outgoing> out;
  for (const auto& o : fx.events) {
    if (o.event.body_case() == kind) out.push_back(o);
  }
  return out;
}

/// A game event or RoomEnded the room published, with its address.
struct Published {
  PlayerId to;
  std::uint64_t seq = 0;
  bool is_game = false;
  wire::CtfEvent event;  // when is_game
  bool is_end = false;
  std::string results;   // when is_end
};

inline std::vector<Published> decode_all(const std::vector<room::Broadcast>& bs) {
  std::vector<Published> out;
  for (const auto& b : bs) {
    auto frame = sb::wire::decode_server(b.frame->payload());
    EXPECT_TRUE(frame);
    if (!frame || !frame->has_room_event()) continue;
    const auto& ev = frame->room_event();
    Published p;
    p.to = b.to;
    p.seq = b.seq;
    if (ev.body_case() == proto::RoomEvent::kGame) {
      p.is_game = true;
      EXPECT_TRUE(p.event.ParseFromString(ev.game()));
    } else if (ev.body_case() == proto::RoomEvent::kEnded) {
      p.is_end = true;
      p.results = ev.ended().results();
    } else {
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

inline std::vector<Published> games_of(const std::vector<Published>& ps, wire::CtfEvent::BodyCase kind) {
  std::vector<Published> out;
  for (const auto& p : ps) {
    if (p.is_game && p.event.body_case() == kind) out.push_back(p);
  }
  return out;
}

class RoomFixture : public ::testing::Test {
 protected:
  std::unique_ptr<room::Room> make_room(room::Params params = {}, std::uint32_t capacity = 16) {
    const room::RoomType type = make_ctf_type();
    room::RoomSpec spec;
    spec.id = RoomId{9};
    spec.type = type.name;
    spec.zone = "eu";
    spec.capacity = capacity;
    spec.max_spectators = type.max_spectators;
    spec.log_size = type.log_size;
    spec.presence_events = type.presence_events;
    spec.params = std::move(params);
    std::string error;
    auto h = type.make(spec, error);
    EXPECT_TRUE(h) << error;
    return std::make_unique<room::Room>(spec, std::move(*h), clock_);
  }
  static CtfHandler& handler(room::Room& r) { return static_cast<CtfHandler&>(r.handler()); }
  /// Advances the clock by one 20 Hz period `n` times, letting the room fire what is due.
  void tick(room::Room& r, int n = 1) {
    for (int i = 0; i < n; ++i) {
      clock_.advance(std::chrono::milliseconds(50));
      r.advance(clock_.now());
    }
  }
  ManualClock clock_;
};

}  // namespace sb::ctf::test
