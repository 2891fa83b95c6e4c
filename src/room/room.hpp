#pragma once
// Room: one instance of a room type, owned by one shard, with a numbered event log.
//
// A Room holds its members (players and spectators, by PlayerId), a capacity that counts players
// only, a zone, a lock flag and a handler (the game logic: the lobby, poker, capture the flag...).
// Every request for the room is executed by its owning shard one at a time, so join() checks
// capacity without races (seed 003). Everything the room tells its members is a RoomEvent with a
// per-room sequence number: encoded once into a frame, kept in a bounded log (replay for a
// returning player, seed 001) and queued in the outbox that the shard shell publishes once per
// edge. An event may be addressed to one member (send_to): it takes a number like any other, is
// delivered and replayed to that member only, so clients see seq increase but not always by one.
// catch_up() answers a returning client with the events after the last one it saw, or a
// snapshot (members plus the handler's view of the game) when that is older than the log.
//
// Handlers see the room only through a RoomContext (what a game may do: broadcast, send to one
// member, kick, lock, arm timers, set a tick rate, end; and read members, spec and time). Kicks
// and the end are applied after the handler callback returns (never re-entrantly). The shell drives time: it calls advance(now)
// at next_deadline(); the room fires due timers and ticks in deadline order.
//
// save()/load() capture the whole room — spec, members, sequence, log, lock, timers, tick phase
// and the handler's own snapshot — so a room restored elsewhere continues exactly as the original
// would (given the same inputs and clock).
// Pure and synchronous: no I/O, no Asio; time only through the injected Clock.
// Not thread-safe: owned by one shard.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "switchboard.pb.h"
#include "wire/frame.hpp"

namespace sb::room {

struct Member {
  PlayerId player;
  std::string name;
  bool connected = true;
  bool spectator = false;
};

/// Why a member left. Values travel in RoomRequest.Leave.reason and RoomLeft.reason.
enum class LeaveReason : std::uint8_t { left = 0, timed_out = 1, kicked = 2, ended = 3 };

/// A refusal from a handler: an error code (Errc::refused unless the game knows better) and a
/// reason the client sees.
struct Refusal {
  Errc code = Errc::refused;
  std::string reason;
};

using Params = std::map<std::string, std::string>;

class Room;
class RoomContext;

/// Game logic behind a room type. Called by the room on its owning shard, synchronously; no I/O.
/// A handler sees its room only through the RoomContext passed in — what a game may read and do
/// (below), never the Room itself, whose other methods serve the shard and the tests. Default
/// implementations do nothing.
class RoomHandler {
 public:
  virtual ~RoomHandler() = default;
  /// The room has been created (not called after load()). Set the tick rate and timers here.
  virtual void on_create(RoomContext&) {}
  /// May `m` take a seat? Capacity, lock and duplicate checks are done by the room first.
  /// Spectators are not asked. Return a Refusal to say no.
  virtual std::optional<Refusal> on_join_request(const RoomContext&, const Member&) { return std::nullopt; }
  /// `m` has joined (the room already emitted member_joined). Also for spectators.
  virtual void on_join(RoomContext&, const Member&) {}
  /// `m` has left: left by itself, its session timed out, it was kicked, or the room ended.
  /// The room already emitted member_left. Not called for LeaveReason::ended.
  virtual void on_leave(RoomContext&, const Member&, LeaveReason) {}
  /// `m`'s connection dropped (connected = false) or came back (true).
  virtual void on_presence(RoomContext&, const Member&, bool /*connected*/) {}
  /// `m`'s session moved to a new connection without a drop (a take-over, TOOK_OVER): the room
  /// emitted nothing and `m` stays connected. Reset per-connection state here (e.g. input
  /// sequence numbers a new client process starts again).
  virtual void on_switch(RoomContext&, const Member&) {}
  /// A chat line (the edge has checked its length). By default it is broadcast to every member
  /// as a ChatMessage; a game without chat returns Errc::bad_state.
  virtual Status on_chat(RoomContext& room, const Member& m, std::string_view text, std::uint64_t tag);
  /// A game message (client's GameMessage.data) from a player (never a spectator). An error
  /// is answered to the sender; game-level refusals are better sent with send_to().
  virtual Status on_message(RoomContext&, const Member&, std::string_view /*data*/) { return fail(Errc::bad_state); }
  /// Called at the room's tick rate (set_tick_hz) while it is non-zero.
  virtual void on_tick(RoomContext&) {}
  /// A timer armed with set_timer() fired.
  virtual void on_timer(RoomContext&, std::uint64_t /*tag*/) {}
  /// The game as `viewer` may see it (hiding what it must not see), for the RoomJoined snapshot
  /// a joining or returning client gets. Empty when the game has no state to show.
  virtual std::string view(const RoomContext&, PlayerId /*viewer*/) const { return {}; }
  /// The handler's whole state, deterministic bytes (RNG state included).
  virtual std::string snapshot() const { return {}; }
  /// Replaces the state with one from snapshot(): Errc::invalid_argument if it does not parse.
  virtual Status restore(std::string_view /*state*/) { return {}; }
};

struct RoomSpec {
  RoomId id;
  std::string type;
  std::string zone;
  std::uint32_t capacity = 400;        // players; spectators do not count
  std::uint32_t max_spectators = 0;
  std::uint32_t log_size = 256;
  /// Emit member_disconnected / member_reconnected events. Small game rooms want them; a large
  /// lobby usually does not (every reconnect would become `capacity` deliveries).
  bool presence_events = true;
  /// Close the room when its last member leaves.
  bool close_when_empty = true;
  PlayerId owner;                      // the creator (may lock/unlock); invalid for auto rooms
  Params params;
};

/// An event queued for publication: to every member, or to `to` only.
struct Broadcast {
  std::uint64_t seq = 0;
  wire::FramePtr frame;
  PlayerId to;  // invalid = everyone
};

/// A member removed by the room itself (kick, end): the shell tells that player's session.
struct Removal {
  PlayerId player;
  LeaveReason reason = LeaveReason::kicked;
  std::string message;
};

using TimerId = std::uint64_t;

/// What a game may read and do with its room: the handler's whole view of it (a thin, non-virtual
/// view of the Room that calls the handler). Acting: broadcast or send to one member, kick, lock,
/// end with results, timers and the tick rate; kicks and the end are applied after the handler
/// callback returns. Reading: the spec (type, zone, capacity, params, owner), members, counts,
/// time and ticks. Valid only during the callback it is passed to; not thread-safe.
class RoomContext {
 public:
  RoomContext(const RoomContext&) = delete;
  RoomContext& operator=(const RoomContext&) = delete;

  // ---- reading
  const RoomSpec& spec() const noexcept;
  RoomId id() const noexcept;
  /// Members in join order (players and spectators).
  const std::vector<Member>& members() const noexcept;
  const Member* find(PlayerId p) const noexcept;
  /// Players (spectators excluded).
  std::uint32_t size() const noexcept;
  std::uint32_t spectators() const noexcept;
  bool full() const noexcept;
  bool locked() const noexcept;
  bool ended() const noexcept;
  TimePoint now() const noexcept;
  UnixMillis unix_ms() const noexcept;
  std::uint32_t tick_hz() const noexcept;
  std::uint64_t ticks() const noexcept;
  /// The number of the room's last event.
  std::uint64_t seq() const noexcept;

  // ---- acting
  /// Emits a numbered event to every member: fills room_id, seq and time.
  void broadcast(proto::RoomEvent event);
  /// Emits a numbered event to one member only (ignored if not a member).
  void send_to(PlayerId player, proto::RoomEvent event);
  /// Game payload shorthands (RoomEvent.game).
  void broadcast_game(std::string data);
  void send_game(PlayerId player, std::string data);
  /// Removes a member after the current callback returns; it is told `message`.
  void kick(PlayerId player, std::string message);
  /// Locks (no new players; spectators may still join) or unlocks the room.
  void set_locked(bool locked);
  /// Ends the room after the current callback returns: broadcasts `ended` with `results`,
  /// removes every member and refuses everything after.
  void end(std::string results);
  /// Calls on_tick `hz` times a second from now on (0 stops). At most 1000.
  void set_tick_hz(std::uint32_t hz);
  /// Arms a one-shot timer `delay` from now that calls on_timer(tag). Returns its id.
  TimerId set_timer(std::chrono::milliseconds delay, std::uint64_t tag);
  /// Cancels a timer (no-op if it already fired or never existed).
  void cancel_timer(TimerId id);

 private:
  friend class Room;
  explicit RoomContext(Room& room) noexcept : room_(room) {}
  Room& room_;
};

class Room {
 public:
  /// Creates a room; the handler's on_create runs at once (it may arm timers and a tick).
  Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock);
  /// Restores a room saved with save(): Errc::invalid_argument if the bytes or the handler's
  /// state do not parse. `handler` must be a fresh handler of the saved room's type.
  static Result<std::unique_ptr<Room>> load(std::string_view saved, std::unique_ptr<RoomHandler> handler,
                                            const Clock& clock);
  /// The whole room as bytes (see load()).
  std::string save() const;

  // ---- what the shell and handlers read
  const RoomSpec& spec() const noexcept { return spec_; }
  RoomId id() const noexcept { return spec_.id; }
  std::uint64_t seq() const noexcept { return seq_; }
  /// Players (spectators excluded).
  std::uint32_t size() const noexcept { return players_; }
  std::uint32_t spectators() const noexcept { return static_cast<std::uint32_t>(members_.size()) - players_; }
  bool full() const noexcept { return players_ >= spec_.capacity; }
  bool empty() const noexcept { return members_.empty(); }
  bool locked() const noexcept { return locked_; }
  bool ended() const noexcept { return ended_; }
  const Member* find(PlayerId p) const noexcept;
  const std::vector<Member>& members() const noexcept { return members_; }
  TimePoint now() const noexcept { return clock_.now(); }
  UnixMillis unix_ms() const noexcept { return clock_.unix_ms(); }
  std::uint32_t tick_hz() const noexcept { return tick_hz_; }
  std::uint64_t ticks() const noexcept { return ticks_; }
  RoomHandler& handler() noexcept { return *handler_; }
  const RoomHandler& handler() const noexcept { return *handler_; }

  // ---- requests (the shell, on the owning shard)
  /// Adds a member. Errc::room_full at capacity, Errc::room_locked when locked, Errc::bad_state
  /// once ended, the handler's refusal (with `refusal_out` filled when given); spectators:
  /// Errc::room_full past max_spectators. Joining again while a member is a no-op success.
  Status join(PlayerId player, std::string name, bool spectator = false, Refusal* refusal_out = nullptr);
  /// Removes a member (no-op if absent).
  void leave(PlayerId player, LeaveReason reason);
  /// Marks a member's connection dropped or back; emits the presence event on change (if the
  /// spec asks for presence events) and tells the handler either way.
  void set_connected(PlayerId player, bool connected);
  /// A connected member's session moved to a new connection (take-over): no event, no presence
  /// change; tells the handler (on_switch). No-op for a member marked disconnected (its return
  /// is a set_connected) or not a member.
  void switch_connection(PlayerId player);
  /// Chat from a member: Errc::not_found if not a member, or the handler's answer.
  Status chat(PlayerId player, std::string_view text, std::uint64_t tag);
  /// A game message: Errc::not_found if not a member, Errc::bad_state from a spectator or after
  /// the end, or the handler's answer.
  Status message(PlayerId player, std::string_view data);
  /// Lock or unlock at a player's request: only the owner may (Errc::bad_state otherwise).
  Status request_lock(PlayerId player, bool locked);
  /// Fires every timer and tick due at or before `now`, in deadline order. Timers armed by the
  /// handler during this call fire at the next call, even if already due.
  void advance(TimePoint now);
  /// When advance() next has work, if ever.
  std::optional<TimePoint> next_deadline() const noexcept;

  /// Frames that bring `viewer`, who last saw `last_seq`, up to date: the events after it (those
  /// addressed to everyone or to `viewer`) if the log still has them all, else (or for last_seq
  /// 0) a RoomJoined snapshot.
  std::vector<wire::FramePtr> catch_up(PlayerId viewer, std::uint64_t last_seq) const;
  /// A RoomJoined snapshot frame for `viewer` (`truncated` sets replay_truncated).
  wire::FramePtr snapshot(PlayerId viewer, bool truncated = false) const;
  proto::Members members_proto() const;
  /// The handler's view of the game for `viewer` (what a RoomJoined snapshot carries).
  std::string game_view(PlayerId viewer) const;
  proto::RoomInfo info() const;

  /// Drains the events queued since the last call (the shell publishes them).
  std::vector<Broadcast> take_broadcasts();
  /// The same into `out` (cleared first), keeping both vectors' capacity for the next drain.
  void take_broadcasts(std::vector<Broadcast>& out);
  /// Drains the members the room removed by itself since the last call.
  std::vector<Removal> take_removals();

  // ---- what the handler's RoomContext forwards to (also used by the shell and tests); each
  // contract is stated once, on the RoomContext method of the same name. end(): the members
  // leave with LeaveReason::ended and the shell closes the room.
  void broadcast(proto::RoomEvent event);
  void send_to(PlayerId player, proto::RoomEvent event);
  void broadcast_game(std::string data);
  void send_game(PlayerId player, std::string data);
  void kick(PlayerId player, std::string message);
  void set_locked(bool locked);
  void end(std::string results);
  void set_tick_hz(std::uint32_t hz);
  TimerId set_timer(std::chrono::milliseconds delay, std::uint64_t tag);
  void cancel_timer(TimerId id);

 private:
  struct Timer {
    TimePoint due;
    TimerId id;
    std::uint64_t tag;
  };
  struct Pending {  // kicks queued by the handler
    PlayerId player;
    std::string message;
  };

  struct Restoring {};
  Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock, Restoring);
  static void fill_member(proto::Member& out, const Member& m);
  void emit(proto::RoomEvent event, PlayerId to);
  void remove(PlayerId player, LeaveReason reason, bool tell_handler);
  /// Applies kicks and the end queued by the handler. Every public entry point ends with it.
  void settle();

  RoomSpec spec_;
  RoomContext ctx_{*this};  // the handler's view of this room
  std::unique_ptr<RoomHandler> handler_;
  const Clock& clock_;
  std::vector<Member> members_;  // small (≤ capacity + spectators); linear search beats a map
  std::uint32_t players_ = 0;
  std::uint64_t seq_ = 0;
  bool locked_ = false;
  bool ended_ = false;
  std::deque<Broadcast> log_;
  std::vector<Broadcast> outbox_;
  std::vector<Removal> removals_;
  std::vector<Pending> kicks_;
  std::optional<std::string> end_results_;
  std::vector<Timer> timers_;  // few per room: linear scan
  TimerId next_timer_ = 0;
  std::uint32_t tick_hz_ = 0;
  TimePoint next_tick_{};
  std::uint64_t ticks_ = 0;
  int depth_ = 0;  // handler callbacks in progress (settle only at depth 0)
};

// ---- RoomContext: forwards to its Room
inline const RoomSpec& RoomContext::spec() const noexcept { return room_.spec(); }
inline RoomId RoomContext::id() const noexcept { return room_.id(); }
inline const std::vector<Member>& RoomContext::members() const noexcept { return room_.members(); }
inline const Member* RoomContext::find(PlayerId p) const noexcept { return room_.find(p); }
inline std::uint32_t RoomContext::size() const noexcept { return room_.size(); }
inline std::uint32_t RoomContext::spectators() const noexcept { return room_.spectators(); }
inline bool RoomContext::full() const noexcept { return room_.full(); }
inline bool RoomContext::locked() const noexcept { return room_.locked(); }
inline bool RoomContext::ended() const noexcept { return room_.ended(); }
inline TimePoint RoomContext::now() const noexcept { return room_.now(); }
inline UnixMillis RoomContext::unix_ms() const noexcept { return room_.unix_ms(); }
inline std::uint32_t RoomContext::tick_hz() const noexcept { return room_.tick_hz(); }
inline std::uint64_t RoomContext::ticks() const noexcept { return room_.ticks(); }
inline std::uint64_t RoomContext::seq() const noexcept { return room_.seq(); }
inline void RoomContext::broadcast(proto::RoomEvent event) { room_.broadcast(std::move(event)); }
inline void RoomContext::send_to(PlayerId player, proto::RoomEvent event) { room_.send_to(player, std::move(event)); }
inline void RoomContext::broadcast_game(std::string data) { room_.broadcast_game(std::move(data)); }
inline void RoomContext::send_game(PlayerId player, std::string data) { room_.send_game(player, std::move(data)); }
inline void RoomContext::kick(PlayerId player, std::string message) { room_.kick(player, std::move(message)); }
inline void RoomContext::set_locked(bool locked) { room_.set_locked(locked); }
inline void RoomContext::end(std::string results) { room_.end(std::move(results)); }
inline void RoomContext::set_tick_hz(std::uint32_t hz) { room_.set_tick_hz(hz); }
inline TimerId RoomContext::set_timer(std::chrono::milliseconds delay, std::uint64_t tag) {
  return room_.set_timer(delay, tag);
}
inline void RoomContext::cancel_timer(TimerId id) { room_.cancel_timer(id); }

/// The built-in lobby: chat broadcast to every member, text of 1..max_chat_bytes bytes.
class LobbyHandler final : public RoomHandler {
 public:
  explicit LobbyHandler(std::uint32_t max_chat_bytes) : max_chat_bytes_(max_chat_bytes) {}
  Status on_chat(RoomContext& room, const Member& m, std::string_view text, std::uint64_t tag) override;

 private:
  std::uint32_t max_chat_bytes_;
};

/// The built-in "relay" room: chat like a lobby, and every GameMessage is broadcast to all members
/// as a RelayMessage (sender id + bytes). For games whose rules run on the clients (Photon-style
/// relay) and for parties.
class RelayHandler final : public RoomHandler {
 public:
  explicit RelayHandler(std::uint32_t max_chat_bytes) : lobby_(max_chat_bytes) {}
  Status on_chat(RoomContext& room, const Member& m, std::string_view text, std::uint64_t tag) override {
    return lobby_.on_chat(room, m, text, tag);
  }
  Status on_message(RoomContext& room, const Member& m, std::string_view data) override;

 private:
  LobbyHandler lobby_;
};

inline constexpr const char* kLobbyType = "lobby";
inline constexpr const char* kRelayType = "relay";

}  // namespace sb::room
