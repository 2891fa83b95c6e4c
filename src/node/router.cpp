#include "node/router.hpp"

#include <boost/asio/post.hpp>

#include "room/room.hpp"

namespace sb::node {

namespace {

pi::RoomReply error_reply(Errc e, std::string message) {
  pi::RoomReply reply;
  reply.set_errc(static_cast<std::uint32_t>(e));
  reply.set_message(std::move(message));
  return reply;
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

}  // namespace

Router::Router(ShardEnv& env, LocalServe serve) : env_(env), serve_(std::move(serve)) {}

std::string Router::inbox_subject(const std::string& node, ShardIndex shard) {
  return "sb.shard." + node + "." + std::to_string(shard);
}

std::string Router::room_subject(RoomId r) { return "sb.room." + std::to_string(r.value); }

Location Router::on_shard(ShardIndex shard) const {
  Location l;
  l.node = env_.cfg.node_name;
  l.shard = shard;
  if (shard == env_.index) l.kind = Location::Kind::this_shard;
  else if (shard < env_.cfg.shards) l.kind = Location::Kind::other_shard;
  else l.kind = Location::Kind::nowhere;
  return l;
}

Location Router::of_room(RoomId room) const { return on_shard(shard_of(room.value)); }

Location Router::of_route(const pi::Route& route) const {
  if (route.node() == env_.cfg.node_name) return on_shard(route.shard());
  Location l;
  l.kind = Location::Kind::other_node;
  l.node = route.node();
  l.shard = route.shard();
  return l;
}

Location Router::lobby_home(const std::string& zone) const {
  // FNV-1a: stable across processes and builds.
  const std::uint64_t h = fnv1a(1469598103934665603ull, zone);
  return on_shard(static_cast<ShardIndex>(h % std::max<std::uint32_t>(1, env_.cfg.shards)));
}

Location Router::auto_join_home(const std::string& zone, const std::string& type) const {
  if (type == room::kLobbyType) return lobby_home(zone);
  std::uint64_t h = fnv1a(1469598103934665603ull, zone);
  h = (h ^ '/') * 1099511628211ull;
  h = fnv1a(h, type);
  return on_shard(static_cast<ShardIndex>(h % std::max<std::uint32_t>(1, env_.cfg.shards)));
}

pi::Route Router::route_here(SessionId sid) const {
  pi::Route r;
  r.set_node(env_.cfg.node_name);
  r.set_shard(env_.index);
  r.set_session_id(sid.value);
  return r;
}

void Router::call(const Location& to, pi::RoomRequest req, RoomDone done) {
  if (to.kind == Location::Kind::nowhere) {
    asio::post(env_.io, [done = std::move(done)] { done(error_reply(Errc::not_found, "no such room")); });
    return;
  }
  if (to.here()) {
    // Same shard: serve it now, answer through the queue so callers see one behaviour.
    auto reply = serve_(req);
    asio::post(env_.io, [done = std::move(done), reply = std::move(reply)]() mutable { done(std::move(reply)); });
    return;
  }
  pi::ShardMessage m;
  *m.mutable_room() = std::move(req);
  env_.svc.backbone.request(inbox_subject(to.node, to.shard), m.SerializeAsString(), std::chrono::milliseconds(5000),
                            env_.executor, [done = std::move(done)](Result<backbone::Message> r) {
                              pi::RoomReply reply;
                              if (!r || !reply.ParseFromString(r->payload)) {
                                reply = error_reply(r ? Errc::internal : to_errc(r.error()), "room unreachable");
                              }
                              done(std::move(reply));
                            });
}

void Router::send_room(RoomId room, pi::RoomRequest req) {
  const Location to = of_room(room);
  if (to.kind == Location::Kind::nowhere) return;  // nobody hosts it: nothing to tell
  if (to.here()) {
    serve_(req);  // fire-and-forget: errors reach the sender through the room's subject
    return;
  }
  pi::ShardMessage m;
  *m.mutable_room() = std::move(req);
  if (!env_.svc.backbone.publish(inbox_subject(to.node, to.shard), m.SerializeAsString())) {
    env_.svc.metrics.publish_failures.inc();
  }
}

void Router::take_over(const Location& to, const pi::TakeOver& t, std::function<void(pi::TakeOverReply)> done) {
  pi::ShardMessage m;
  *m.mutable_take_over() = t;
  env_.svc.backbone.request(inbox_subject(to.node, to.shard), m.SerializeAsString(), std::chrono::milliseconds(2000),
                            env_.executor, [done = std::move(done)](Result<backbone::Message> reply) {
                              pi::TakeOverReply r;
                              if (!reply || !r.ParseFromString(reply->payload)) {
                                // Holder unreachable: its node is gone; the record is stale.
                                r.set_status(pi::TakeOverReply::NOT_HERE);
                              }
                              done(std::move(r));
                            });
}

void Router::publish_room(RoomId room, const pi::RoomBroadcast& b) {
  if (!env_.svc.backbone.publish(room_subject(room), b.SerializeAsString())) env_.svc.metrics.publish_failures.inc();
}

void Router::reply(const std::string& reply_to, const std::string& payload) {
  if (reply_to.empty()) return;
  if (!env_.svc.backbone.publish(reply_to, payload)) env_.svc.metrics.publish_failures.inc();
}

}  // namespace sb::node
