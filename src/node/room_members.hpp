#pragma once
// RoomMembers: the member side of rooms on one shard — which local sessions are in which room,
// the room subscriptions, the fan-out of room events to them, and moving a session between rooms.
//
// A shard subscribes to "sb.room.<id>" while it has members there (or a join to it is in
// flight: hold()/release(), so a concurrent failure cannot drop the subscription under a join
// that then succeeds) and receives one copy of each event, fanned out here to every local member
// by one shared frame. room_seq per session drops duplicates between a catch-up reply and the
// subscription. Entering a room answers the request that asked for it with the RoomJoined
// snapshot; a session whose room went away is placed back in its zone's lobby.
// Threading: the shard thread only. Owns `subs_`; the sessions are SessionService's.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "internal.pb.h"
#include "node/request_scope.hpp"
#include "node/shard_env.hpp"
#include "room/room.hpp"

namespace sb::node {

namespace pi = proto::internal;
struct Session;

class RoomMembers {
 public:
  explicit RoomMembers(ShardEnv& env);

  /// Places the session in its zone's lobby (the zone's home shard picks or opens one).
  void join_zone_lobby(SessionId sid, int attempt);
  /// Back into `room` (already recorded as the session's room): reattach with a replay after
  /// `last_seq`; back to the lobby if the room no longer has the seat.
  void attach(SessionId sid, RoomId room, std::uint64_t last_seq);
  /// Moves the session into `room` after its owner accepted it: leaves the previous room, sends
  /// the reply's frames; the first (the snapshot) answers `scope` when it is open.
  void enter(SessionId sid, RoomId room, const pi::RoomReply& reply, RequestScope scope = {});
  /// Leaves the session's current room (if any) without joining another.
  void leave_current_room(Session& s, room::LeaveReason why);
  /// A joined room answered but the session is gone: give the seat back (unless the player has
  /// a session again: a take-over's session owns the seat now).
  void give_back_seat(PlayerId player, RoomId room);

  /// A join or reattach in flight: subscribe now and keep the subscription until release().
  void hold(RoomId room);
  void release(RoomId room);
  void subscribe(RoomId room);
  void remove_member(RoomId room, SessionId sid);
  /// Shutdown: ends every subscription.
  void unsubscribe_all();

 private:
  struct Sub {
    backbone::SubscriptionId sub;
    std::vector<SessionId> sessions;
    std::uint32_t joining = 0;  // joins/reattaches in flight that subscribed ahead of their reply
  };
  void add_member(RoomId room, SessionId sid);
  void drop_if_unused(RoomId room);
  void on_broadcast(const backbone::Message& m);
  void on_removed(RoomId room, const pi::RoomBroadcast& b);

  ShardEnv& env_;
  std::unordered_map<RoomId, Sub> subs_;
};

}  // namespace sb::node
