#pragma once
// RoomRequests: the room requests of this shard's clients, read top to bottom.
//
// Each handler checks what it can locally (session, room, sizes), builds a RoomRequest and asks
// the Router to carry it to the room's owner (or to the (zone, type) home shard), then answers
// the client through the request's RequestScope when the reply comes back. CreateRoom runs here
// and now (a client's rooms live on the shard it is connected to); ListRooms is served from the
// zone replica; GameMessage is fire-and-forget (no request in flight; an error comes back through
// the room's subject) and paced by a token bucket per connection.
// Threading: the shard thread only. Owns nothing.
#include <string>

#include "node/connections.hpp"
#include "node/shard_env.hpp"
#include "switchboard.pb.h"

namespace sb::node {

struct Session;

class RoomRequests {
 public:
  explicit RoomRequests(ShardEnv& env);

  void on_chat(Conn& c, RequestScope scope, proto::ChatSend& r);
  void on_members(Conn& c, RequestScope scope);
  void on_create_room(Conn& c, RequestScope scope, proto::CreateRoom& r);
  void on_join_room(Conn& c, RequestScope scope, const proto::JoinRoom& r);
  void on_auto_join(Conn& c, RequestScope scope, proto::AutoJoin& r);
  void on_leave_room(Conn& c, RequestScope scope);
  void on_lock_room(Conn& c, RequestScope scope, bool locked);
  void on_list_rooms(Conn& c, RequestScope scope, const proto::ListRooms& r);
  /// Fire-and-forget: `rid` is echoed in an error, there is no request in flight.
  void on_game(Conn& c, std::uint32_t rid, proto::GameMessage& r);

 private:
  /// Checks what CreateRoom and AutoJoin share (session, type, zone, params); answers the error
  /// through `scope` when something is wrong.
  bool admit(RequestScope& scope, const Session* s, const std::string& type, const std::string& zone,
             const google::protobuf::Map<std::string, std::string>& params);
  /// The game-message budget of a connection (session.game_rate / game_burst).
  bool take_game_token(Conn& c, std::uint32_t rid);

  ShardEnv& env_;
  const config::Config& cfg_;
};

}  // namespace sb::node
