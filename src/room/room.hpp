#pragma once
// Room: one instance of a room type, owned by one shard, with a numbered event log.
//
// A Room holds its members (by PlayerId), a capacity, a zone and a handler (the game logic; the
// lobby is the first handler). Every request for the room is executed by its owning shard one
// at a time, so join() can check capacity without races (seed 003). Everything the room tells its
// members is a RoomEvent with a per-room sequence number: it is encoded once into a frame, kept in
// a bounded log (for replay to a returning player, seed 001) and queued as an outbound broadcast
// that the shard shell publishes once per edge. catch_up() answers a returning client with the
// events after the last one it saw, or a snapshot when that is older than the log.
// Pure and synchronous: no I/O, no Asio, no clock reads except through the injected Clock.
// Not thread-safe: owned by one shard.
#include <cstdint>
#include <deque>
#include <memory>
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
};

enum class LeaveReason : std::uint8_t { left = 0, timed_out = 1, kicked = 2 };

class Room;

/// Game logic behind a room type. Called by the room on its owning shard, synchronously.
class RoomHandler {
 public:
  virtual ~RoomHandler() = default;
  /// Decides whether `m` may join (capacity is already checked by the room). Errc to refuse.
  virtual Status on_join_request(const Room&, const Member&) { return {}; }
  /// `m` has joined (the room already emitted member_joined).
  virtual void on_join(Room&, const Member&) {}
  /// `m` has left (the room already emitted member_left).
  virtual void on_leave(Room&, const Member&, LeaveReason) {}
  /// `m`'s connection dropped (connected = false) or came back (true).
  virtual void on_presence(Room&, const Member&, bool /*connected*/) {}
  /// A chat line from `m`; Errc::bad_state if the room type has no chat.
  virtual Status on_chat(Room&, const Member&, std::string_view /*text*/, std::uint64_t /*tag*/) {
    return fail(Errc::bad_state);
  }
};

struct RoomSpec {
  RoomId id;
  std::string type;
  std::string zone;
  std::uint32_t capacity = 400;
  std::uint32_t log_size = 256;
  /// Emit member_disconnected / member_reconnected events. Small game rooms want them; a large
  /// lobby usually does not (every reconnect would become `capacity` deliveries).
  bool presence_events = true;
};

/// An event queued for publication to the room's members.
struct Broadcast {
  std::uint64_t seq = 0;
  wire::FramePtr frame;
};

class Room {
 public:
  Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock);

  const RoomSpec& spec() const noexcept { return spec_; }
  RoomId id() const noexcept { return spec_.id; }
  std::uint64_t seq() const noexcept { return seq_; }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(members_.size()); }
  bool full() const noexcept { return members_.size() >= spec_.capacity; }
  bool empty() const noexcept { return members_.empty(); }
  const Member* find(PlayerId p) const noexcept;

  /// Adds a member: Errc::room_full at capacity, or the handler's refusal. Joining again while a
  /// member is a no-op success (a reattach, not a second seat).
  Status join(PlayerId player, std::string name);
  /// Removes a member (no-op if absent).
  void leave(PlayerId player, LeaveReason reason);
  /// Marks a member's connection dropped or back; emits the presence event on change (if the
  /// spec asks for presence events) and tells the handler either way.
  void set_connected(PlayerId player, bool connected);
  /// Chat from a member: Errc::not_found if not a member, or the handler's answer.
  Status chat(PlayerId player, std::string_view text, std::uint64_t tag);

  /// Frames that bring a client that last saw `last_seq` up to date: the events after it if the
  /// log still has them all, else (or for last_seq 0) a RoomJoined snapshot.
  std::vector<wire::FramePtr> catch_up(std::uint64_t last_seq) const;
  /// A RoomJoined snapshot frame (`truncated` sets replay_truncated).
  wire::FramePtr snapshot(bool truncated = false) const;
  proto::Members members_proto() const;

  /// Emits a numbered event to every member (for handlers): fills room_id, seq and time.
  void broadcast(proto::RoomEvent event);

  /// Drains the broadcasts queued since the last call (the shard shell publishes them).
  std::vector<Broadcast> take_broadcasts();

 private:
  static void fill_member(proto::Member& out, const Member& m);

  RoomSpec spec_;
  std::unique_ptr<RoomHandler> handler_;
  const Clock& clock_;
  std::vector<Member> members_;  // small (≤ capacity); linear search beats a map here
  std::uint64_t seq_ = 0;
  std::deque<Broadcast> log_;
  std::vector<Broadcast> outbox_;
};

/// The built-in lobby: chat broadcast to every member, text of 1..max_chat_bytes bytes.
class LobbyHandler final : public RoomHandler {
 public:
  explicit LobbyHandler(std::uint32_t max_chat_bytes) : max_chat_bytes_(max_chat_bytes) {}
  Status on_chat(Room& room, const Member& m, std::string_view text, std::uint64_t tag) override;

 private:
  std::uint32_t max_chat_bytes_;
};

inline constexpr const char* kLobbyType = "lobby";

}  // namespace sb::room
