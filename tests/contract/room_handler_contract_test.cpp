// Room handler contract: what every room type (a RoomType and the RoomHandler it makes) must do
// behind room::Room (src/room/room.hpp, src/room/room_types.hpp).
//
// The suite runs once per GameCase in game_cases(): the lobby (LobbyHandler wrapped in a RoomType
// here; the node builds lobbies itself), relay, poker and ctf, the last two also with fast
// parameters (short timeouts, a 60 s match) so that whole games, and the end of a room, fit in a
// session. A new game adds one GameCase: its type, how to make plausible valid game messages (it
// may read the room's state to do so) and invalid ones. The contract a game must meet:
//   a. make() with no params succeeds at every capacity the type allows; a type that takes
//      params refuses bad or unknown ones with Errc::invalid_argument and a non-empty error.
//   b. Capacity is never exceeded, at any stage of a game: of capacity+N players at most
//      capacity are admitted, spectators at most max_spectators; members() and size() agree.
//   c. Garbage game messages (random, empty, 60 KB) from players are answered with ok or an
//      error, never a crash or an exception, and do not change membership (a game may kick a
//      persistent offender, so only a handful is sent per player). Spectators' messages are
//      refused by the Room with bad_state, non-members' with not_found.
//   d. view(viewer) works for players, spectators, non-members and the invalid id, is what the
//      RoomJoined snapshot carries, and is deterministic (equal rooms give equal views).
//   e. save()/load() round-trips at any point of a session (joins, leaves, messages, presence,
//      time, mid-game, after the end): Room::load of Room::save with a fresh handler saves to the
//      same bytes, reads the same, and given the same inputs and clock publishes byte-identical
//      frames and removals afterwards (connection switches of a take-over included). Garbage
//      saved state is refused, never fatal.
//   f. Random seeded sessions keep the room's invariants: seq strictly increases across
//      take_broadcasts(); Broadcast.to is invalid or a current-or-just-removed member;
//      catch_up() gives a RoomJoined snapshot or exactly the events after last_seq addressed to
//      everyone or the viewer, in order; next_deadline() is never in the past (after advance(now)
//      it is after now) and is empty once the room ended; the game's own invariants hold (poker:
//      chips conserved, seats == players; ctf: game players == room players); no exceptions.
//   g. A disconnected member does not stall a game that runs by itself (poker, ctf): with one
//      player disconnected, game events keep coming in every 30 s of simulated time; with all of
//      them away the game may pause, and resumes when one comes back; and
//      advance(now) returns for params at the edges of their ranges (zero delays, fastest ticks),
//      players connected, disconnected or gone (a hang is caught by a watchdog clock).
// Pure and synchronous: a ManualClock per simulated room, time driven with Room::advance.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "games/ctf/ctf_room.hpp"
#include "games/poker/poker_room.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"
#include "wire/frame.hpp"

namespace sb::room {
namespace {

using namespace std::chrono_literals;
using Rng = std::mt19937_64;

constexpr std::uint32_t kLobbyChatMax = 500;
constexpr std::uint64_t kSpectatorBase = 100'000;  // spectators: 100000, 100001... (above every player id)
constexpr PlayerId kStranger{999'999};          // never a member

PlayerId P(std::uint64_t v) { return PlayerId{v}; }

Errc errc_of(const Status& st) { return st ? Errc::ok : to_errc(st.error()); }

std::string random_bytes(Rng& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng() & 0xFF);
  return s;
}

/// Bytes no game should expect: empty, short random, 60 KB random or constant.
std::string garbage(Rng& rng) {
  switch (rng() % 8) {
    case 0: return {};
    case 1: return random_bytes(rng, 60 * 1024);
    case 2: return std::string(60 * 1024, static_cast<char>(rng() & 0xFF));
    default: return random_bytes(rng, 1 + rng() % 64);
  }
}

/// One room type under test and how to talk to it.
struct GameCase {
  std::string name;
  RoomType type;
  /// Params of the rooms the behaviour tests open (must be accepted).
  Params params;
  /// Params the type must refuse with invalid_argument (an unknown key is always added). Empty:
  /// the type is not built from client params (the lobby), part (a) is skipped.
  std::vector<Params> bad_params;
  /// A plausible valid game message from `sender` in the room's current state; unset when the
  /// type takes no game messages.
  std::function<std::string(const Room&, PlayerId sender, Rng&)> valid_message;
  /// A message the game must refuse or ignore (malformed, or well-formed with wrong content).
  std::function<std::string(const Room&, PlayerId sender, Rng&)> invalid_message;
  /// The player the game waits for, if it has turns (valid messages are sent by them more often).
  std::function<std::optional<PlayerId>(const Room&)> turn;
  /// True while a game (hand, match) is under way: save/load is checked then too.
  std::function<bool(const Room&)> in_game;
  /// The game's own invariants, checked after every step of a session.
  std::function<void(const Room&)> check;
  /// The game moves on by itself over time with two or more players (contract g).
  bool progresses = false;
  /// Accepted params at the edges of their ranges (zero delays, fastest ticks), for the liveness
  /// test: advance() must return whatever the params.
  std::vector<Params> edge_params;
};

void PrintTo(const GameCase& c, std::ostream* os) { *os << c.name; }

// ------------------------------------------------------------------------------ the room types

RoomType lobby_type() {
  RoomType t;
  t.name = kLobbyType;
  t.make = [](const RoomSpec&, std::string&) -> Result<std::unique_ptr<RoomHandler>> {
    return std::unique_ptr<RoomHandler>(std::make_unique<LobbyHandler>(kLobbyChatMax));
  };
  // As the node's lobby (config LobbyConfig), except spectators: the node gives lobbies none,
  // the test allows a few so that the room's spectator rules are exercised here as well.
  t.default_capacity = 400;
  t.min_capacity = 1;
  t.max_capacity = 400;
  t.max_spectators = 8;
  t.log_size = 256;
  t.presence_events = false;
  t.client_creatable = false;
  return t;
}

const poker::PokerHandler& poker_of(const Room& r) { return static_cast<const poker::PokerHandler&>(r.handler()); }
const ctf::CtfHandler& ctf_of(const Room& r) { return static_cast<const ctf::CtfHandler&>(r.handler()); }

std::string poker_valid(const Room& r, PlayerId sender, Rng& rng) {
  using Action = poker::wire::Action;
  const poker::Table& t = poker_of(r).table();
  Action a;
  a.set_hand_id(rng() % 10 != 0 ? t.hand_id() : t.hand_id() + 1);
  if (t.hand_in_progress() && t.to_act() == sender) {
    const auto info = t.to_act_info();
    const auto roll = rng() % 10;
    if (roll == 0) {
      a.set_kind(Action::FOLD);
    } else if (roll == 1) {
      a.set_kind(Action::ALL_IN);
    } else if (roll < 5 && info.min_raise_to() > 0) {
      a.set_kind(info.current_bet() == 0 ? Action::BET : Action::RAISE);
      const auto span = info.max_raise_to() - info.min_raise_to() + 1;
      a.set_amount(info.min_raise_to() + (rng() % 3 == 0 ? rng() % span : 0));
    } else {
      a.set_kind(info.to_call() == 0 ? Action::CHECK : Action::CALL);
    }
  } else {
    a.set_kind(static_cast<Action::Kind>(1 + rng() % 6));
    a.set_amount(rng() % 2000);
  }
  return poker::deterministic_bytes(a);
}

std::string poker_invalid(const Room& r, PlayerId, Rng& rng) {
  using Action = poker::wire::Action;
  const poker::Table& t = poker_of(r).table();
  Action a;
  a.set_hand_id(t.hand_id());
  switch (rng() % 7) {
    case 0: a.set_kind(Action::KIND_NONE); break;
    case 1: a.set_kind(static_cast<Action::Kind>(99)); break;
    case 2: a.set_kind(Action::RAISE); a.set_amount(std::numeric_limits<std::uint64_t>::max()); break;
    case 3: a.set_kind(Action::BET); a.set_amount(1); break;
    case 4: a.set_kind(Action::CALL); a.set_hand_id(std::numeric_limits<std::uint64_t>::max()); break;
    case 5: a.set_kind(static_cast<Action::Kind>(-1)); break;
    default: {
      a.set_kind(Action::CALL);
      std::string s = poker::deterministic_bytes(a);
      if (!s.empty()) s.pop_back();  // truncated
      return s;
    }
  }
  return poker::deterministic_bytes(a);
}

std::string ctf_valid(const Room& r, PlayerId sender, Rng& rng) {
  static constexpr std::int32_t kDirs[][2] = {{1000, 0}, {-1000, 0}, {0, 1000},  {0, -1000},
                                              {707, 707}, {-707, 707}, {707, -707}, {0, 0}};
  const ctf::Player* p = ctf_of(r).game().find(sender);
  ctf::wire::Input in;
  in.set_seq(p ? p->recv_seq + 1 : static_cast<std::uint32_t>(1 + rng() % 5));
  const auto& d = kDirs[rng() % std::size(kDirs)];
  in.set_dir_x(d[0]);
  in.set_dir_y(d[1]);
  if (p && rng() % 3 == 0) {
    in.set_has_claim(true);
    in.set_claimed_x(p->pos.x + static_cast<std::int32_t>(rng() % 41) - 20);
    in.set_claimed_y(p->pos.y + static_cast<std::int32_t>(rng() % 41) - 20);
  }
  in.set_client_time_us(rng());
  return in.SerializeAsString();
}

std::string ctf_invalid(const Room& r, PlayerId sender, Rng& rng) {
  constexpr auto kMin = std::numeric_limits<std::int32_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int32_t>::max();
  const ctf::Player* p = ctf_of(r).game().find(sender);
  const std::uint32_t next = p ? p->recv_seq + 1 : 1;
  ctf::wire::Input in;
  in.set_seq(next);
  switch (rng() % 7) {
    case 0: in.set_seq(0); break;
    case 1: in.set_seq(next - 1); break;  // stale
    case 2: in.set_dir_x(kMin); in.set_dir_y(kMin); break;
    case 3: in.set_dir_x(kMax); in.set_dir_y(-5); break;
    case 4: in.set_has_claim(true); in.set_claimed_x(kMax); in.set_claimed_y(kMin); break;
    case 5: in.set_dir_x(3000); in.set_dir_y(-4000); break;
    default: {
      in.set_dir_x(500);
      std::string s = in.SerializeAsString();
      if (!s.empty()) s.pop_back();  // truncated
      return s;
    }
  }
  return in.SerializeAsString();
}

void poker_check(const Room& r) {
  const auto& h = poker_of(r);
  EXPECT_TRUE(h.chips_conserved()) << "chips in " << h.table().chips_in() << " out " << h.table().chips_out()
                                   << " at the table " << h.total_chips();
  if (!r.ended()) {
    EXPECT_EQ(static_cast<std::uint32_t>(h.table().seated_count()), r.size()) << "seats != players";
  }
}

void ctf_check(const Room& r) {
  if (r.ended()) return;
  std::set<PlayerId> game, room;
  for (const auto& p : ctf_of(r).game().players()) game.insert(p.id);
  for (const auto& m : r.members()) {
    if (!m.spectator) room.insert(m.player);
  }
  EXPECT_EQ(game, room) << "the game's players are not the room's players";
}

std::vector<GameCase> game_cases() {
  std::vector<GameCase> out;
  {
    GameCase c;
    c.name = "lobby";
    c.type = lobby_type();
    c.invalid_message = [](const Room&, PlayerId, Rng& rng) { return garbage(rng); };
    out.push_back(std::move(c));
  }
  {
    GameCase c;
    c.name = "relay";
    c.type = make_relay_type(kLobbyChatMax);
    c.bad_params = {{{"capacity", "4"}}};
    c.valid_message = [](const Room&, PlayerId, Rng& rng) { return random_bytes(rng, rng() % 200); };
    c.invalid_message = [](const Room&, PlayerId, Rng& rng) { return garbage(rng); };
    out.push_back(std::move(c));
  }
  GameCase poker_case;
  poker_case.type = poker::make_poker_type();
  poker_case.bad_params = {{{"big_blind", "4"}},          {{"small_blind", "0"}},
                           {{"buy_in", "99"}},            {{"action_timeout_ms", "99"}},
                           {{"next_hand_delay_ms", "60001"}}, {{"seed", "-1"}},
                           {{"small_blind", "5x"}},       {{"buy_in", ""}}};
  poker_case.valid_message = poker_valid;
  poker_case.invalid_message = poker_invalid;
  poker_case.turn = [](const Room& r) { return poker_of(r).table().to_act(); };
  poker_case.in_game = [](const Room& r) { return poker_of(r).table().hand_in_progress(); };
  poker_case.check = poker_check;
  poker_case.progresses = true;
  poker_case.edge_params = {{{"next_hand_delay_ms", "0"}, {"action_timeout_ms", "100"}},
                            {{"next_hand_delay_ms", "1"}, {"action_timeout_ms", "100"}}};
  {
    GameCase c = poker_case;
    c.name = "poker";
    out.push_back(std::move(c));
  }
  {
    GameCase c = poker_case;
    c.name = "poker_fast";
    // next_hand_delay_ms 0 is tested by AdvanceReturnsAtTheEdgesOfTheParams only: it hangs advance()
    // when every player is disconnected (see there), which would stop the whole suite.
    c.params = {{"action_timeout_ms", "100"}, {"next_hand_delay_ms", "1"}, {"seed", "7"}};
    c.edge_params.clear();  // the same as poker's
    out.push_back(std::move(c));
  }
  GameCase ctf_case;
  ctf_case.type = ctf::make_ctf_type();
  ctf_case.bad_params = {{{"min_players", "0"}},  {{"min_players", "17"}}, {{"tick_hz", "61"}},
                         {{"tick_hz", "4"}},      {{"score_limit", "0"}},  {{"time_limit_s", "9"}},
                         {{"seed", "x"}},         {{"max_violations", "0"}}, {{"start_delay_ms", "-1"}}};
  ctf_case.valid_message = ctf_valid;
  ctf_case.invalid_message = ctf_invalid;
  ctf_case.in_game = [](const Room& r) { return !r.ended() && ctf_of(r).game().phase() == ctf::wire::RUNNING; };
  ctf_case.check = ctf_check;
  ctf_case.progresses = true;
  ctf_case.edge_params = {{{"start_delay_ms", "0"}, {"tick_hz", "60"}, {"min_players", "1"}, {"time_limit_s", "10"}},
                          {{"start_delay_ms", "60000"}, {"tick_hz", "5"}}};
  {
    GameCase c = ctf_case;
    c.name = "ctf";
    out.push_back(std::move(c));
  }
  {
    GameCase c = ctf_case;
    c.name = "ctf_short_match";
    c.params = {{"time_limit_s", "60"}, {"start_delay_ms", "500"}, {"seed", "3"}};
    out.push_back(std::move(c));
  }
  return out;
}

// ------------------------------------------------------------------------- simulated rooms

RoomSpec spec_for(const GameCase& c, std::uint32_t capacity, Params params) {
  RoomSpec s;
  s.id = RoomId{77};
  s.type = c.type.name;
  s.zone = "eu";
  s.capacity = capacity;
  s.max_spectators = c.type.max_spectators;
  s.log_size = c.type.log_size;
  s.presence_events = c.type.presence_events;
  s.params = std::move(params);
  return s;
}

std::unique_ptr<RoomHandler> make_handler(const GameCase& c, const RoomSpec& spec) {
  std::string error;
  auto h = c.type.make(spec, error);
  EXPECT_TRUE(h) << c.name << ": make() refused: " << error;
  return h ? std::move(*h) : nullptr;
}

/// A ManualClock that turns a hang into a failure: a Room::advance() that never returns (a handler
/// that keeps arming work due now) reads the clock without end, so more than kMaxReads reads
/// between two rearm() calls abort with a message instead of spinning until memory runs out.
class WatchdogClock final : public Clock {
 public:
  TimePoint now() const noexcept override {
    count();
    return inner_.now();
  }
  UnixMillis unix_ms() const noexcept override {
    count();
    return inner_.unix_ms();
  }
  void advance(Duration d) noexcept { inner_.advance(d); }
  /// A new budget of reads: called before every op and every advance().
  void rearm() noexcept { reads_ = 0; }

 private:
  static constexpr std::uint64_t kMaxReads = 5'000'000;
  void count() const noexcept {
    if (++reads_ > kMaxReads) {
      std::fprintf(stderr, "watchdog: one Room call read the clock %llu times: advance(now) does not return "
                   "(a handler keeps arming work due now)\n", static_cast<unsigned long long>(kMaxReads));
      std::abort();
    }
  }
  ManualClock inner_;
  mutable std::uint64_t reads_ = 0;
};

/// A room with its own clock (one per room, so that a loaded copy shares nothing with it).
struct Sim {
  WatchdogClock clock;
  std::unique_ptr<Room> room;
};

/// Opens a room of `c` with `capacity` players (0: the session capacity) and the case's params.
std::unique_ptr<Sim> open(const GameCase& c, std::uint32_t capacity = 0) {
  if (capacity == 0) capacity = std::clamp<std::uint32_t>(8, c.type.min_capacity, c.type.default_capacity);
  auto s = std::make_unique<Sim>();
  const RoomSpec spec = spec_for(c, capacity, c.params);
  auto h = make_handler(c, spec);
  if (!h) return nullptr;
  s->room = std::make_unique<Room>(spec, std::move(h), s->clock);
  return s;
}

/// Runs `s` for `d` the way the shell does: advance() at every deadline, then at the end.
/// Returns how many times next_deadline() was not after now right after an advance().
int run_for(Sim& s, std::chrono::nanoseconds d) {
  int past = 0;
  const TimePoint end = s.clock.now() + d;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const auto next = s.room->next_deadline();
    if (!next || *next > end) break;
    if (*next > s.clock.now()) s.clock.advance(*next - s.clock.now());
    s.clock.rearm();
    s.room->advance(s.clock.now());
    const auto after = s.room->next_deadline();
    if (after && *after <= s.clock.now()) ++past;
  }
  if (end > s.clock.now()) s.clock.advance(end - s.clock.now());
  s.clock.rearm();
  s.room->advance(s.clock.now());
  const auto after = s.room->next_deadline();
  if (after && *after <= s.clock.now()) ++past;
  return past;
}

using MemberKey = std::tuple<std::uint64_t, std::string, bool, bool>;

std::vector<MemberKey> members_of(const Room& r) {
  std::vector<MemberKey> out;
  for (const auto& m : r.members()) out.emplace_back(m.player.value, m.name, m.connected, m.spectator);
  return out;
}

void expect_counts_agree(const Room& r) {
  std::uint32_t players = 0, spectators = 0;
  std::set<PlayerId> ids;
  for (const auto& m : r.members()) {
    (m.spectator ? spectators : players) += 1;
    EXPECT_TRUE(ids.insert(m.player).second) << "member " << m.player.value << " listed twice";
  }
  EXPECT_EQ(players, r.size());
  EXPECT_EQ(spectators, r.spectators());
  EXPECT_LE(r.size(), r.spec().capacity);
  EXPECT_LE(r.spectators(), r.spec().max_spectators);
  EXPECT_EQ(r.full(), r.size() >= r.spec().capacity);
}

proto::ServerFrame decode(std::string_view payload) {
  auto f = sb::wire::decode_server(payload);
  EXPECT_TRUE(f) << "a frame the room published does not decode";
  return f ? *f : proto::ServerFrame{};
}

int game_events(const std::vector<Broadcast>& bs) {
  int n = 0;
  for (const auto& b : bs) n += decode(b.frame->payload()).room_event().has_game() ? 1 : 0;
  return n;
}

// ------------------------------------------------------------------------------ random ops

enum class OpKind { join, spectate, leave, presence, switch_conn, message, garbage, chat, jump, run };

struct Op {
  OpKind kind = OpKind::jump;
  PlayerId player;
  bool flag = false;
  std::string data;
  std::chrono::milliseconds dt{0};
};

std::string describe(const Op& op) {
  static constexpr const char* kNames[] = {"join", "spectate", "leave", "presence", "message",
                                           "garbage", "chat", "jump", "run"};
  std::ostringstream os;
  os << kNames[static_cast<int>(op.kind)] << " player=" << op.player.value << " flag=" << op.flag
     << " bytes=" << op.data.size() << " dt=" << op.dt.count() << "ms";
  return os.str();
}

/// What one op did to a room: its answer and everything it published.
struct Outcome {
  Errc status = Errc::ok;
  std::vector<Broadcast> broadcasts;
  std::vector<Removal> removals;
  int past_deadlines = 0;
};

/// The difference between two outcomes ("" when they are byte-identical).
std::string diff(const Outcome& a, const Outcome& b) {
  std::ostringstream os;
  if (a.status != b.status) os << "status " << errc_name(a.status) << " vs " << errc_name(b.status) << "; ";
  if (a.broadcasts.size() != b.broadcasts.size()) {
    os << a.broadcasts.size() << " vs " << b.broadcasts.size() << " broadcasts; ";
  } else {
    for (std::size_t i = 0; i < a.broadcasts.size(); ++i) {
      const auto &x = a.broadcasts[i], &y = b.broadcasts[i];
      if (x.seq != y.seq || x.to != y.to || x.frame->payload() != y.frame->payload()) {
        os << "broadcast " << i << " (seq " << x.seq << " vs " << y.seq << ") differs; ";
        break;
      }
    }
  }
  if (a.removals.size() != b.removals.size()) {
    os << a.removals.size() << " vs " << b.removals.size() << " removals; ";
  } else {
    for (std::size_t i = 0; i < a.removals.size(); ++i) {
      const auto &x = a.removals[i], &y = b.removals[i];
      if (x.player != y.player || x.reason != y.reason || x.message != y.message) os << "removal " << i << " differs; ";
    }
  }
  return os.str();
}

class Session {
 public:
  Session(const GameCase& c, std::uint64_t seed) : c_(c), rng_(seed) {}

  /// A random op for the room's current state. Ids 1..capacity+3 are players, kSpectatorBase+ spectators.
  Op make_op(const Room& room) {
    Op op;
    const std::uint64_t pool = room.spec().capacity + 3;
    const auto any_player = [&] { return P(1 + rng_() % pool); };
    const auto a_member = [&] {
      const auto& ms = room.members();
      return ms.empty() ? any_player() : ms[rng_() % ms.size()].player;
    };
    const auto a_sender = [&] {
      if (rng_() % 10 == 0) return rng_() % 2 ? a_member() : kStranger;  // maybe a spectator
      std::vector<PlayerId> players;
      for (const auto& m : room.members()) {
        if (!m.spectator) players.push_back(m.player);
      }
      return players.empty() ? any_player() : players[rng_() % players.size()];
    };
    const auto r = rng_() % 100;
    if (r < 14) {
      op.kind = OpKind::join;
      op.player = any_player();
    } else if (r < 17) {
      op.kind = OpKind::spectate;
      op.player = P(kSpectatorBase + rng_() % 4);
    } else if (r < 23) {
      op.kind = OpKind::leave;
      op.player = rng_() % 4 ? a_member() : any_player();
      op.flag = rng_() % 2;  // timed out rather than left
    } else if (r < 31) {
      op.kind = OpKind::presence;
      op.player = a_member();
      op.flag = rng_() % 3 != 0;  // connected
      if (op.flag && rng_() % 4 == 0) op.kind = OpKind::switch_conn;  // a take-over: no drop
    } else if (r < 60) {
      op.kind = OpKind::message;
      op.player = a_sender();
      if (c_.turn && rng_() % 2) {
        if (auto who = c_.turn(room)) op.player = *who;
      }
      op.data = c_.valid_message ? c_.valid_message(room, op.player, rng_) : garbage(rng_);
    } else if (r < 68) {
      op.kind = OpKind::garbage;
      op.player = a_sender();
      op.data = rng_() % 2 ? c_.invalid_message(room, op.player, rng_) : garbage(rng_);
    } else if (r < 71) {
      op.kind = OpKind::chat;
      op.player = a_member();
      op.data = std::string(rng_() % 600, static_cast<char>('a' + rng_() % 26));
    } else {
      op.kind = rng_() % 3 ? OpKind::run : OpKind::jump;
      const auto t = rng_() % 20;
      op.dt = std::chrono::milliseconds(t < 8 ? rng_() % 120 : t < 15 ? rng_() % 1500 : t < 19 ? rng_() % 6000 : 20000);
    }
    return op;
  }

  Rng& rng() { return rng_; }

 private:
  const GameCase& c_;
  Rng rng_;
};

Outcome apply(Sim& s, const Op& op) {
  Outcome o;
  Room& r = *s.room;
  s.clock.rearm();
  switch (op.kind) {
    case OpKind::join:
    case OpKind::spectate:
      o.status = errc_of(r.join(op.player, "p" + std::to_string(op.player.value), op.kind == OpKind::spectate));
      break;
    case OpKind::leave: r.leave(op.player, op.flag ? LeaveReason::timed_out : LeaveReason::left); break;
    case OpKind::presence: r.set_connected(op.player, op.flag); break;
    case OpKind::switch_conn: r.switch_connection(op.player); break;
    case OpKind::message:
    case OpKind::garbage: o.status = errc_of(r.message(op.player, op.data)); break;
    case OpKind::chat: o.status = errc_of(r.chat(op.player, op.data, 7)); break;
    case OpKind::jump: {
      s.clock.advance(op.dt);
      r.advance(s.clock.now());
      const auto next = r.next_deadline();
      if (next && *next <= s.clock.now()) ++o.past_deadlines;
      break;
    }
    case OpKind::run: o.past_deadlines = run_for(s, op.dt); break;
  }
  o.broadcasts = r.take_broadcasts();
  o.removals = r.take_removals();
  return o;
}

/// Everything the room published so far, by seq, to check catch_up() against.
struct Published {
  std::uint64_t last_seq = 0;
  std::vector<PlayerId> to_by_seq;  // [seq - 1]

  void record(const Room& room, const std::vector<Broadcast>& bs, const std::set<PlayerId>& may_receive) {
    for (const auto& b : bs) {
      EXPECT_GT(b.seq, last_seq) << "seq went backwards";
      last_seq = std::max(last_seq, b.seq);
      if (to_by_seq.size() < b.seq) to_by_seq.resize(b.seq);
      to_by_seq[b.seq - 1] = b.to;
      if (b.to.valid()) {
        EXPECT_TRUE(may_receive.count(b.to)) << "event " << b.seq << " to non-member " << b.to.value;
      }
      const auto f = decode(b.frame->payload());
      EXPECT_TRUE(f.has_room_event());
      EXPECT_EQ(f.room_event().seq(), b.seq);
      EXPECT_EQ(f.room_event().room_id(), room.id().value);
    }
    if (!bs.empty()) {
      EXPECT_EQ(bs.back().seq, room.seq());
    }
  }
};

void check_catch_up(const Room& room, const Published& pub, PlayerId viewer, std::uint64_t last) {
  SCOPED_TRACE("catch_up(" + std::to_string(viewer.value) + ", " + std::to_string(last) + ") at seq " +
               std::to_string(room.seq()));
  const auto frames = room.catch_up(viewer, last);
  const std::uint64_t seq = room.seq();
  const bool replayable = last >= 1 && last <= seq && seq - last <= room.spec().log_size;
  if (!replayable) {
    ASSERT_EQ(frames.size(), 1u);
    const auto f = decode(frames[0]->payload());
    ASSERT_TRUE(f.has_room_joined());
    EXPECT_EQ(f.room_joined().seq(), seq);
    EXPECT_EQ(f.room_joined().game_state(), room.game_view(viewer));
    return;
  }
  std::vector<std::uint64_t> want, got;
  for (std::uint64_t s = last + 1; s <= seq; ++s) {
    const PlayerId to = s <= pub.to_by_seq.size() ? pub.to_by_seq[s - 1] : PlayerId{};
    if (!to.valid() || to == viewer) want.push_back(s);
  }
  for (const auto& fp : frames) {
    const auto f = decode(fp->payload());
    EXPECT_TRUE(f.has_room_event());
    got.push_back(f.room_event().seq());
  }
  EXPECT_EQ(got, want);
}

std::set<PlayerId> ids_of(const Room& r) {
  std::set<PlayerId> out;
  for (const auto& m : r.members()) out.insert(m.player);
  return out;
}

/// Loads a copy of `s` (Room::load of Room::save, a fresh handler, a clock at the same time) and
/// checks that it saves to the same bytes and reads the same. Nullptr (with a failure) if not.
std::unique_ptr<Sim> clone(const GameCase& c, Sim& s) {
  auto out = std::make_unique<Sim>();
  out->clock.advance(s.clock.now() - out->clock.now());
  const std::string saved = s.room->save();
  auto h = make_handler(c, s.room->spec());
  if (!h) return nullptr;
  auto loaded = Room::load(saved, std::move(h), out->clock);
  EXPECT_TRUE(loaded) << "load of a saved room failed";
  if (!loaded) return nullptr;
  out->room = std::move(*loaded);
  const Room &a = *s.room, &b = *out->room;
  EXPECT_EQ(b.save(), saved) << "save -> load -> save changed the bytes";
  EXPECT_EQ(b.seq(), a.seq());
  EXPECT_EQ(members_of(b), members_of(a));
  EXPECT_EQ(b.ended(), a.ended());
  EXPECT_EQ(b.locked(), a.locked());
  EXPECT_EQ(b.next_deadline(), a.next_deadline());
  EXPECT_EQ(b.tick_hz(), a.tick_hz());
  std::vector<PlayerId> viewers{kStranger, PlayerId{}};
  for (const auto& m : a.members()) viewers.push_back(m.player);
  for (const PlayerId v : viewers) {
    EXPECT_EQ(b.game_view(v), a.game_view(v)) << "view for " << v.value;
    EXPECT_EQ(b.snapshot(v)->payload(), a.snapshot(v)->payload()) << "snapshot for " << v.value;
  }
  if (::testing::Test::HasFailure()) return nullptr;
  return out;
}

class RoomHandlerContractTest : public ::testing::TestWithParam<GameCase> {
 protected:
  const GameCase& game() const { return GetParam(); }

  struct SessionStats {
    int checkpoints = 0;
    int mid_game_checkpoints = 0;
    int ended_checkpoints = 0;
    int compared_steps = 0;
  };

  /// A seeded random session of `steps` ops with every invariant checked after each op. With
  /// `shadow_always`, a loaded copy runs beside the room at every step (a new copy every 20
  /// steps); otherwise every 40 steps and as soon as a game is under way.
  SessionStats run_session(std::uint64_t seed, int steps, bool shadow_always) {
    const GameCase& c = game();
    SessionStats stats;
    Session session(c, seed);
    auto main = open(c);
    if (!main) {
      ADD_FAILURE() << "cannot open a room";
      return stats;
    }
    Published pub;
    pub.record(*main->room, main->room->take_broadcasts(), ids_of(*main->room));
    std::unique_ptr<Sim> shadow;
    int shadow_left = 0;
    int since_mid_game = 1'000'000;
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      Room& room = *main->room;
      const bool in_game = c.in_game && c.in_game(room);
      ++since_mid_game;
      if (!shadow && (shadow_always || step % 40 == 20 || (in_game && since_mid_game > 60))) {
        shadow = clone(c, *main);
        if (!shadow) return stats;
        shadow_left = shadow_always ? 20 : 30;
        ++stats.checkpoints;
        if (in_game) {
          ++stats.mid_game_checkpoints;
          since_mid_game = 0;
        }
        if (room.ended()) ++stats.ended_checkpoints;
      }

      const Op op = session.make_op(room);
      SCOPED_TRACE(describe(op));
      std::set<PlayerId> may_receive = ids_of(room);
      Outcome o;
      try {
        o = apply(*main, op);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "exception: " << e.what();
        return stats;
      }
      for (const PlayerId p : ids_of(room)) may_receive.insert(p);
      for (const auto& rm : o.removals) may_receive.insert(rm.player);

      // f: the room's invariants.
      pub.record(room, o.broadcasts, may_receive);
      expect_counts_agree(room);
      EXPECT_EQ(o.past_deadlines, 0) << "next_deadline() not after now after advance(now)";
      if (const auto next = room.next_deadline()) {
        EXPECT_GE(*next, main->clock.now());
      }
      if (room.ended()) {
        EXPECT_TRUE(room.members().empty());
        EXPECT_FALSE(room.next_deadline());
      }
      if (c.check) c.check(room);
      for (int k = 0; k < 2; ++k) {
        const auto& ms = room.members();
        const PlayerId viewer = !ms.empty() && session.rng()() % 4 ? ms[session.rng()() % ms.size()].player : kStranger;
        const std::uint64_t seq = room.seq();
        std::uint64_t last = 0;
        switch (session.rng()() % 6) {
          case 0: last = 0; break;
          case 1: last = seq + 1 + session.rng()() % 3; break;
          case 2: last = session.rng()() % (seq + 1); break;
          default: last = seq - std::min<std::uint64_t>(seq, session.rng()() % 30); break;
        }
        check_catch_up(room, pub, viewer, last);
      }

      // e: the loaded copy, given the same op, does exactly the same.
      if (shadow) {
        Outcome so;
        try {
          so = apply(*shadow, op);
        } catch (const std::exception& e) {
          ADD_FAILURE() << "exception in the loaded copy: " << e.what();
          return stats;
        }
        const std::string d = diff(o, so);
        EXPECT_EQ(d, "") << "the loaded copy diverged";
        ++stats.compared_steps;
        if (!d.empty() || --shadow_left == 0) {
          EXPECT_EQ(shadow->room->save(), room.save()) << "the loaded copy saves differently";
          shadow.reset();
        }
      }
      if (::testing::Test::HasFailure()) return stats;  // the first broken step says enough
    }
    // The room at the end of the session round-trips too (it may have ended).
    if (clone(c, *main)) ++stats.checkpoints;
    return stats;
  }
};

// ---------------------------------------------------------------------------- a. make()

TEST_P(RoomHandlerContractTest, MakeAcceptsDefaultsAndRefusesBadParams) {
  const GameCase& c = game();
  for (const std::uint32_t cap : {c.type.min_capacity, c.type.default_capacity, c.type.max_capacity}) {
    std::string error;
    auto h = c.type.make(spec_for(c, cap, {}), error);
    ASSERT_TRUE(h) << "default params at capacity " << cap << ": " << error;
    EXPECT_NE(*h, nullptr);
  }
  std::string error;
  EXPECT_TRUE(c.type.make(spec_for(c, c.type.default_capacity, c.params), error)) << error;
  EXPECT_LE(c.type.min_capacity, c.type.default_capacity);
  EXPECT_LE(c.type.default_capacity, c.type.max_capacity);

  if (c.bad_params.empty()) GTEST_SKIP() << c.name << " is not made from client params";
  std::vector<Params> bad = c.bad_params;
  bad.push_back({{"no_such_param", "1"}});
  for (const auto& params : bad) {
    SCOPED_TRACE(params.begin()->first + "=" + params.begin()->second);
    error.clear();
    auto h = c.type.make(spec_for(c, c.type.default_capacity, params), error);
    ASSERT_FALSE(h) << "accepted";
    EXPECT_EQ(to_errc(h.error()), Errc::invalid_argument);
    EXPECT_FALSE(error.empty()) << "no reason given";
  }
}

// ------------------------------------------------------------------------------- b. capacity

TEST_P(RoomHandlerContractTest, CapacityIsNeverExceeded) {
  const GameCase& c = game();
  for (const std::uint32_t cap : {c.type.min_capacity, c.type.default_capacity, c.type.max_capacity}) {
    SCOPED_TRACE("capacity " + std::to_string(cap));
    auto s = std::make_unique<Sim>();
    const RoomSpec spec = spec_for(c, cap, c.params);
    auto h = make_handler(c, spec);
    ASSERT_TRUE(h);
    s->room = std::make_unique<Room>(spec, std::move(h), s->clock);
    Room& r = *s->room;
    std::uint32_t admitted = 0;
    for (std::uint64_t i = 1; i <= cap + 5; ++i) {
      const Errc e = errc_of(r.join(P(i), "p" + std::to_string(i)));
      if (e == Errc::ok) {
        ++admitted;
      } else {
        EXPECT_TRUE(e == Errc::room_full || e == Errc::refused || e == Errc::room_locked || e == Errc::bad_state)
            << errc_name(e);
      }
      expect_counts_agree(r);
      if (i == 2) run_for(*s, 5s);  // a game may start with two players: joining goes on
    }
    EXPECT_LE(admitted, cap);
    EXPECT_LE(r.size(), cap);
    if (!r.ended()) {
      EXPECT_EQ(errc_of(r.join(P(cap + 100), "late")), Errc::room_full);
    }
    // Spectators do not take seats and have their own limit.
    const std::uint32_t size_before = r.size();
    std::uint32_t watching = 0;
    for (std::uint64_t i = 0; i < r.spec().max_spectators + 3; ++i) {
      if (r.join(P(kSpectatorBase + i), "s", true)) ++watching;
    }
    EXPECT_LE(watching, r.spec().max_spectators);
    EXPECT_EQ(r.size(), size_before);
    expect_counts_agree(r);
    // Mid-game: one leaves, two try to take the seat.
    run_for(*s, 5s);
    if (!r.ended() && r.size() > 0) {
      r.leave(r.members().front().player, LeaveReason::left);
      (void)r.join(P(cap + 200), "x");
      (void)r.join(P(cap + 201), "y");
      EXPECT_LE(r.size(), cap);
      expect_counts_agree(r);
    }
  }
}

// ------------------------------------------------------------------------------- c. garbage

TEST_P(RoomHandlerContractTest, GarbageMessagesAreAnsweredAndChangeNoMembership) {
  const GameCase& c = game();
  auto s = open(c);
  ASSERT_TRUE(s);
  Room& r = *s->room;
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(r.join(P(i), "p" + std::to_string(i)));
  const PlayerId spectator = P(kSpectatorBase);
  ASSERT_GT(r.spec().max_spectators, 0u);
  ASSERT_TRUE(r.join(spectator, "watcher", true));
  (void)r.take_broadcasts();
  Rng rng(99);

  // Before the game starts, then during it (5 s later every game here has started).
  for (int stage = 0; stage < 2; ++stage) {
    SCOPED_TRACE(stage == 0 ? "before the game" : "during the game");
    for (std::uint64_t i = 1; i <= 3; ++i) {
      std::vector<std::string> inputs{"", std::string(60 * 1024, '\0'), std::string(60 * 1024, '\xff'),
                                      random_bytes(rng, 60 * 1024)};
      for (int k = 0; k < 6; ++k) inputs.push_back(random_bytes(rng, 1 + rng() % 64));
      for (int k = 0; k < 3; ++k) inputs.push_back(c.invalid_message(r, P(i), rng));
      for (const auto& in : inputs) {
        const auto before = members_of(r);
        Errc e = Errc::internal;
        EXPECT_NO_THROW(e = errc_of(r.message(P(i), in))) << in.size() << " bytes";
        EXPECT_NE(e, Errc::internal);
        EXPECT_EQ(members_of(r), before) << "membership changed after " << in.size() << " garbage bytes";
        EXPECT_TRUE(r.take_removals().empty());
        expect_counts_agree(r);
        for (const auto& b : r.take_broadcasts()) {
          if (b.to.valid()) {
            EXPECT_TRUE(r.find(b.to)) << "event to a non-member";
          }
        }
      }
    }
    // Spectators watch: the room refuses their messages before the game sees them.
    for (int k = 0; k < 4; ++k) {
      std::string in = k == 0 && c.valid_message ? c.valid_message(r, spectator, rng) : garbage(rng);
      EXPECT_EQ(errc_of(r.message(spectator, in)), Errc::bad_state);
      EXPECT_EQ(errc_of(r.message(kStranger, in)), Errc::not_found);
    }
    EXPECT_TRUE(r.take_broadcasts().empty()) << "a refused message published something";
    run_for(*s, 5s);
    (void)r.take_broadcasts();
  }
}

// ---------------------------------------------------------------------------------- d. view

TEST_P(RoomHandlerContractTest, ViewWorksForEveryViewerAndIsDeterministic) {
  const GameCase& c = game();
  auto a = open(c), b = open(c);
  ASSERT_TRUE(a && b);
  const PlayerId spectator = P(kSpectatorBase);
  Rng rng(5);
  const auto both = [&](const std::function<void(Sim&)>& f) {
    f(*a);
    f(*b);
  };
  const auto check_views = [&](const char* stage) {
    SCOPED_TRACE(stage);
    for (const PlayerId v : {P(1), P(2), spectator, kStranger, PlayerId{}}) {
      SCOPED_TRACE("viewer " + std::to_string(v.value));
      const Room &x = *a->room, &y = *b->room;
      std::string view;
      EXPECT_NO_THROW(view = x.game_view(v));
      EXPECT_EQ(x.game_view(v), view) << "view is not deterministic";
      EXPECT_EQ(y.game_view(v), view) << "equal rooms give different views";
      const auto f = decode(x.snapshot(v)->payload());
      ASSERT_TRUE(f.has_room_joined());
      EXPECT_EQ(f.room_joined().game_state(), view);
      EXPECT_EQ(f.room_joined().spectator(), x.find(v) && x.find(v)->spectator);
    }
  };
  check_views("empty room");
  both([&](Sim& s) {
    for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(s.room->join(P(i), "p" + std::to_string(i)));
    ASSERT_TRUE(s.room->join(spectator, "watcher", true));
  });
  check_views("players and a spectator joined");
  for (int k = 0; k < 20; ++k) {
    // Messages are made from room a; both rooms get the same bytes.
    const PlayerId from = P(1 + rng() % 3);
    const std::string msg = c.valid_message ? c.valid_message(*a->room, from, rng) : garbage(rng);
    both([&](Sim& s) {
      (void)s.room->message(from, msg);
      run_for(s, 700ms);
    });
  }
  check_views("mid-game");
  both([&](Sim& s) {
    s.room->set_connected(P(2), false);
    s.room->leave(P(3), LeaveReason::left);
    run_for(s, 20s);
  });
  check_views("after a disconnect, a leave and 20 s");
}

// --------------------------------------------------------------------------- e. save / load

TEST_P(RoomHandlerContractTest, SaveLoadRoundTripsAndContinuesIdentically) {
  // A loaded copy runs beside the room at every step of the session (a new one every 20 steps).
  for (const std::uint64_t seed : {11u, 12u, 13u}) {
    const auto stats = run_session(seed, 300, /*shadow_always=*/true);
    if (HasFailure()) return;
    EXPECT_GE(stats.compared_steps, 290);
    if (game().in_game) {
      EXPECT_GT(stats.mid_game_checkpoints, 0) << "no checkpoint mid-game for seed " << seed;
    }
  }
}

TEST_P(RoomHandlerContractTest, GarbageSavedStateIsRefused) {
  const GameCase& c = game();
  auto s = open(c);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->room->join(P(1), "a"));
  ASSERT_TRUE(s->room->join(P(2), "b"));
  run_for(*s, 5s);
  Rng rng(3);
  ManualClock clock;
  for (const std::string& bad : {std::string("\xff\xff\xff\xff", 4), random_bytes(rng, 300)}) {
    auto loaded = Room::load(bad, make_handler(c, s->room->spec()), clock);
    if (!loaded) {
      EXPECT_EQ(to_errc(loaded.error()), Errc::invalid_argument);
    } else {
      (void)(*loaded)->save();  // parsed by chance: it must still be usable
    }
  }
  // A handler with state refuses state that does not parse.
  auto fresh = make_handler(c, s->room->spec());
  ASSERT_TRUE(fresh);
  const Status st = fresh->restore(std::string("\xff\xff\xff\xff", 4));
  if (!s->room->handler().snapshot().empty()) {
    ASSERT_FALSE(st);
    EXPECT_EQ(to_errc(st.error()), Errc::invalid_argument);
  }
}

// --------------------------------------------------------------------------- f. random sessions

TEST_P(RoomHandlerContractTest, RandomSessionsKeepTheRoomInvariants) {
  for (const std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const auto stats = run_session(seed, 400, /*shadow_always=*/false);
    if (HasFailure()) return;
    EXPECT_GT(stats.checkpoints, 5);
  }
}

// ------------------------------------------------------------------ g. disconnected members

TEST_P(RoomHandlerContractTest, ADisconnectedMemberDoesNotStallTheGame) {
  const GameCase& c = game();
  if (!c.progresses) GTEST_SKIP() << c.name << " does nothing by itself over time";
  for (const bool all : {false, true}) {
    SCOPED_TRACE(all ? "every player disconnected" : "one player disconnected");
    auto s = open(c);
    ASSERT_TRUE(s);
    Room& r = *s->room;
    for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(r.join(P(i), "p" + std::to_string(i)));
    run_for(*s, 5s);
    (void)r.take_broadcasts();
    for (std::uint64_t i = 1; i <= (all ? 3u : 1u); ++i) r.set_connected(P(i), false);
    if (all) {
      // With nobody connected a game may pause (poker does), but advance() must keep returning,
      // and the first player back must get it going again.
      run_for(*s, 60s);
      (void)r.take_broadcasts();
      if (r.ended()) continue;
      r.set_connected(P(2), true);
    }
    for (int window = 0; window < 4 && !r.ended(); ++window) {
      SCOPED_TRACE("window " + std::to_string(window));
      run_for(*s, 30s);
      const auto bs = r.take_broadcasts();
      if (!r.ended()) {
        EXPECT_GT(game_events(bs), 0) << "no game event in 30 s";
      }
    }
  }
}

// advance(now) returns for every accepted params, with the players connected, disconnected or
// gone. Each set runs in a child process (a death test) so that a hang, which the WatchdogClock
// turns into an abort, fails this test only.
TEST_P(RoomHandlerContractTest, AdvanceReturnsAtTheEdgesOfTheParams) {
  const GameCase& c = game();
  if (c.edge_params.empty()) GTEST_SKIP() << c.name << " has no params";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const auto& params : c.edge_params) {
    std::string label;
    for (const auto& [k, v] : params) label += k + "=" + v + " ";
    SCOPED_TRACE(label);
    const auto play = [&] {
      auto s = std::make_unique<Sim>();
      const RoomSpec spec = spec_for(c, c.type.default_capacity, params);
      s->room = std::make_unique<Room>(spec, make_handler(c, spec), s->clock);
      Room& r = *s->room;
      for (std::uint64_t i = 1; i <= 2; ++i) (void)r.join(P(i), "p" + std::to_string(i));
      run_for(*s, 3s);
      (void)r.take_broadcasts();
      r.set_connected(P(1), false);
      run_for(*s, 3s);
      (void)r.take_broadcasts();
      r.set_connected(P(2), false);
      run_for(*s, 30s);
      (void)r.take_broadcasts();
      r.set_connected(P(1), true);
      r.leave(P(2), LeaveReason::timed_out);
      run_for(*s, 5s);
      std::exit(0);
    };
    EXPECT_EXIT(play(), ::testing::ExitedWithCode(0), "") << "advance() did not return";
  }
}

INSTANTIATE_TEST_SUITE_P(AllRoomTypes, RoomHandlerContractTest, ::testing::ValuesIn(game_cases()),
                         [](const ::testing::TestParamInfo<GameCase>& param) { return param.param.name; });

}  // namespace
}  // namespace sb::room
