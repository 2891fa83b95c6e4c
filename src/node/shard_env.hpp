#pragma once
// ShardEnv: what every part of one shard shares, and ShardParts: how the parts find each other.
//
// A shard (shard.hpp) is one thread with one io_context. It is built from single-job parts, each
// owning its own maps:
//   Connections     connections, decoding, admission (one request in flight), output
//   SessionService  the session table, login/register/resume/logout, take-over (seed 001)
//   Router          where an id lives: this shard, another shard of this node, another node
//   RoomHost        the rooms this shard owns: their timers, flush/publish, zone count pushes
//   Placement       lobby and auto-join placement on the home shard of a (zone, type)
//   ZoneReplica     this shard's copy of the zone directory (KV watches)
//   RoomMembers     the member side of rooms: subscriptions, fan-out to local sessions, entering
//   RoomRequests    the client's room requests (chat, members, create, join, auto, leave, ...)
// The parts refer to each other through ShardParts, filled once by the Shard before its thread
// starts; every part is used only on the shard's thread. Parts never hold pointers to sessions,
// connections or rooms across callbacks: they keep ids and look them up again (a lookup may miss).
#include <boost/asio/io_context.hpp>

#include "auth/auth_service.hpp"
#include "auth/token.hpp"
#include "backbone/backbone.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/executor.hpp"
#include "core/ids.hpp"
#include "node/node_metrics.hpp"
#include "room/room_types.hpp"

namespace sb::node {

namespace asio = boost::asio;

/// Services shared by all shards of a node; each is thread-safe.
struct NodeServices {
  const config::Config& config;
  backbone::Backbone& backbone;
  auth::AuthService& auth;
  const auth::TokenSigner& tokens;
  NodeMetrics& metrics;
  const Clock& clock;
  const room::RoomTypes& room_types;
};

class Connections;
class SessionService;
class Router;
class RoomHost;
class Placement;
class ZoneReplica;
class RoomMembers;
class RoomRequests;

/// The parts of one shard. Filled by Shard's constructor; read only on the shard thread.
struct ShardParts {
  Connections* conns = nullptr;
  SessionService* sessions = nullptr;
  Router* router = nullptr;
  RoomHost* host = nullptr;
  Placement* placement = nullptr;
  ZoneReplica* zones = nullptr;
  RoomMembers* members = nullptr;
  RoomRequests* rooms = nullptr;
};

/// What a part needs from its shard. Lives as long as the Shard.
struct ShardEnv {
  ShardIndex index;
  NodeServices svc;
  const config::Config& cfg;
  asio::io_context& io;
  ExecutorPtr executor;
  IdMinter& minter;
  ShardParts parts;
};

}  // namespace sb::node
