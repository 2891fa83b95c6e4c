#pragma once
// Placement: which room a player goes to when it does not name one.
//
// Runs on the home shard of a (zone, type) pair (Router::lobby_home / auto_join_home), which
// hosts every lobby of the zone and every auto-joined room of the pair, so that placing a player
// is one step on one thread — exact under any number of racing logins or auto-joins:
//   join_lobby: the fullest lobby of the zone with space (ties to the oldest), else a new one;
//   auto_join:  the fullest room of the type with space whose params match and whose game takes
//               the player, never a full, locked, ended or client-created one; else a new room.
// create_room opens a client's room on the shard it is connected to (rooms follow connections,
// which the kernel spreads over the shards) and seats its creator.
// Threading: the shard thread only. Owns nothing: the rooms are RoomHost's.
#include "internal.pb.h"
#include "node/shard_env.hpp"

namespace sb::node {

namespace pi = proto::internal;

class Placement {
 public:
  explicit Placement(ShardEnv& env);

  /// JoinLobby: seats the player in a lobby of the request's zone hosted here.
  pi::RoomReply join_lobby(const pi::RoomRequest& req);
  /// Create: opens the room here and seats its creator (locked at once if asked).
  pi::RoomReply create_room(const pi::RoomRequest& req);
  /// AutoJoin: seats the player in a matching room hosted here, or a new one.
  pi::RoomReply auto_join(const pi::RoomRequest& req);

 private:
  ShardEnv& env_;
};

}  // namespace sb::node
