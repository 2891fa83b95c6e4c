#pragma once
// Router: the one home of "where does this id live?" and of carrying a request there.
//
// Ids carry the shard that minted them (core/ids.hpp), so a room is found without a lookup: its
// owner is shard_of(id) of this node. A session's holder comes from its `sess.<player>` record
// (a Route: node + shard). Auto-joined rooms and lobbies of a zone live on the zone's home shard
// (a stable hash of zone and type). Each question is answered as a Location: this shard, another
// shard of this node, or another node; game and session code never compute an owner themselves.
// call()/send() carry a RoomRequest to a location: on this shard it is served at once (the reply
// still comes back through the queue, so callers see one behaviour), elsewhere over the backbone
// to the owner's inbox "sb.shard.<node>.<index>". Failures of fire-and-forget sends are counted.
// Threading: owned by one shard; every method runs on its thread.
#include <functional>
#include <string>

#include "internal.pb.h"
#include "node/shard_env.hpp"

namespace sb::node {

namespace pi = proto::internal;

struct Location {
  enum class Kind : std::uint8_t { this_shard, other_shard, other_node, nowhere };
  Kind kind = Kind::nowhere;
  std::string node;
  ShardIndex shard = 0;
  bool here() const noexcept { return kind == Kind::this_shard; }
};

class Router {
 public:
  /// Serves a room request on this shard, synchronously (Placement or RoomHost).
  using LocalServe = std::function<pi::RoomReply(const pi::RoomRequest&)>;
  using RoomDone = std::function<void(pi::RoomReply)>;

  Router(ShardEnv& env, LocalServe serve);

  /// The owner of a room: the shard that minted its id, of this node; nowhere if no shard of
  /// this node has that index.
  Location of_room(RoomId room) const;
  /// The holder named by a session record's route.
  Location of_route(const pi::Route& route) const;
  /// The home shard of the zone's lobbies.
  Location lobby_home(const std::string& zone) const;
  /// The home shard of the auto-joined rooms of `type` in `zone`.
  Location auto_join_home(const std::string& zone, const std::string& type) const;

  /// A route naming `sid` on this shard (for session records and take-overs).
  pi::Route route_here(SessionId sid) const;
  /// Inbox subject of a shard of a node.
  static std::string inbox_subject(const std::string& node, ShardIndex shard);
  static std::string room_subject(RoomId room);

  /// Sends `req` to `to` and calls `done` on this shard with the reply (or an error reply:
  /// Errc::not_found for nowhere, the backbone's error, Errc::internal for an unreadable reply).
  /// Never inline.
  void call(const Location& to, pi::RoomRequest req, RoomDone done);
  /// Shorthand: call the room's owner.
  void call_room(RoomId room, pi::RoomRequest req, RoomDone done) { call(of_room(room), std::move(req), std::move(done)); }
  /// Fire-and-forget to the room's owner (served at once when it is this shard).
  void send_room(RoomId room, pi::RoomRequest req);
  /// Asks the holder at `to` (another shard or node) to hand over a session; `done` gets the reply
  /// or NOT_HERE when the holder cannot be reached.
  void take_over(const Location& to, const pi::TakeOver& t, std::function<void(pi::TakeOverReply)> done);
  /// Publishes a room broadcast on the room's subject; a failure is counted.
  void publish_room(RoomId room, const pi::RoomBroadcast& b);
  /// Publishes a reply; a failure is counted.
  void reply(const std::string& reply_to, const std::string& payload);

 private:
  Location on_shard(ShardIndex shard) const;
  ShardEnv& env_;
  LocalServe serve_;
};

}  // namespace sb::node
