#pragma once
// RoomHost: the rooms one shard owns, and their life around the pure room::Room.
//
// A hosted room is a room::Room (synchronous game logic) plus what the shell adds: its timer
// (armed at the room's next deadline, fired by advance()), publication of its queued events and
// removals on the room's subject "sb.room.<id>" (one copy per subscribed shard; RoomMembers fans
// out), closing when it ends or empties, and the zone directory: the local replica is updated at
// once, and counts are pushed to the backbone KV ("zone.<zone>.<room>") coalesced, every
// lobby.count_push_ms, only when they changed. Every request for a hosted room is served here one
// at a time by handle() (join, reattach, leave, presence, chat, members, lock, game messages), so
// capacity checks need no locks (seed 003). Where rooms are opened and who is placed in which
// lobby or auto-joined room is Placement's job; it uses open_room()/join_into()/flush().
// Threading: the shard thread only. Owns `rooms_` and the pending directory pushes.
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "internal.pb.h"
#include "node/shard_env.hpp"
#include "room/room.hpp"

namespace sb::node {

namespace pi = proto::internal;

/// The text a client sees for a room error code.
std::string room_error_text(Errc e);
/// Fills a reply's error (the standard text when `message` is empty).
void set_room_error(pi::RoomReply& reply, Errc e, std::string message = {});
room::Params to_params(const google::protobuf::Map<std::string, std::string>& params);

class RoomHost {
 public:
  explicit RoomHost(ShardEnv& env);

  bool hosts(RoomId room) const { return rooms_.count(room) != 0; }
  /// Serves a request addressed to one hosted room (room_id set): Errc::not_found when it is
  /// not here (a game message's error then goes to the sender through the room's subject).
  pi::RoomReply handle(const pi::RoomRequest& req);

  /// Creates a room of a registered type here. Errc::invalid_argument (message in `error`).
  Result<room::Room*> open_room(const std::string& type, const std::string& zone, std::uint32_t capacity,
                                PlayerId owner, const room::Params& params, std::string& error);
  /// Opens a new lobby of `zone` here.
  room::Room& open_lobby(const std::string& zone);
  /// Seats the request's player in `r` and fills the reply (frames, seq, errors).
  void join_into(room::Room& r, const pi::RoomRequest& req, bool spectator, pi::RoomReply& reply);
  /// Publishes the room's queued events and removals, updates the zone entry, closes the room
  /// if it ended or emptied (`r` is then gone), and re-arms its timer. Call after every
  /// operation on a room.
  void flush(room::Room& r);
  /// Hosted rooms for placement to choose from (valid until the next flush()).
  std::vector<room::Room*> rooms_of(const std::string& type, const std::string& zone);

  /// Pushes changed counts and closed rooms to the zone directory in the backbone.
  void push_zone_counts();

 private:
  struct HostedRoom {
    std::unique_ptr<room::Room> room;
    asio::steady_timer timer;
    std::optional<TimePoint> armed;
    // What the zone directory last heard (only changes are pushed: ticks and inputs are not).
    std::uint32_t listed_players = UINT32_MAX;
    std::uint32_t listed_spectators = 0;
    bool listed_locked = false;
  };
  room::Room& adopt(std::unique_ptr<room::Room> room);
  void arm(HostedRoom& h);
  void on_due(RoomId id);
  void message_error(RoomId room, PlayerId to, std::uint32_t request_id, Errc code, std::string message);

  ShardEnv& env_;
  std::unordered_map<RoomId, std::unique_ptr<HostedRoom>> rooms_;
  std::set<RoomId> dirty_;
  std::unordered_map<RoomId, std::string> closed_;   // closed since the last push -> zone
  std::vector<room::Broadcast> outbox_scratch_;      // flush's drain buffer (keeps its capacity)
};

}  // namespace sb::node
