#include "node/room_requests.hpp"

#include "node/placement.hpp"
#include "node/room_host.hpp"
#include "node/room_members.hpp"
#include "node/router.hpp"
#include "node/session_service.hpp"
#include "node/zone_replica.hpp"

namespace sb::node {

namespace pi = proto::internal;

namespace {

/// Creation parameters a client may pass: at most 16, keys 1..32 bytes, values up to 256.
bool valid_params(const google::protobuf::Map<std::string, std::string>& params) {
  if (params.size() > 16) return false;
  for (const auto& [k, v] : params) {
    if (k.empty() || k.size() > 32 || v.size() > 256) return false;
  }
  return true;
}

void fail_with(RequestScope& scope, const pi::RoomReply& reply) {
  scope.fail(reply.errc() ? static_cast<Errc>(reply.errc()) : Errc::internal, reply.message());
}

}  // namespace

RoomRequests::RoomRequests(ShardEnv& env) : env_(env), cfg_(env.cfg) {}

void RoomRequests::on_chat(Conn& c, RequestScope scope, proto::ChatSend& r) {
  Session* s = env_.parts.sessions->find(c.session);
  if (!s || !s->room.valid()) return scope.fail(Errc::bad_state, "not in a room");
  if (r.text().empty() || r.text().size() > cfg_.lobby.chat_max_bytes) {
    return scope.fail(Errc::invalid_argument,
                      "chat text must be 1.." + std::to_string(cfg_.lobby.chat_max_bytes) + " bytes");
  }
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_chat()->set_text(std::move(*r.mutable_text()));
  req.mutable_chat()->set_tag(r.tag());
  env_.parts.router->call_room(s->room, std::move(req), [this, sc = share(std::move(scope))](pi::RoomReply reply) {
    if (reply.errc() != 0) return sc->fail(static_cast<Errc>(reply.errc()), reply.message());
    env_.svc.metrics.chat_messages.inc();
    sc->ok();
  });
}

void RoomRequests::on_members(Conn& c, RequestScope scope) {
  Session* s = env_.parts.sessions->find(c.session);
  if (!s || !s->room.valid()) return scope.fail(Errc::bad_state, "not in a room");
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_members();
  env_.parts.router->call_room(s->room, std::move(req), [sc = share(std::move(scope))](pi::RoomReply reply) {
    if (reply.errc() != 0 || reply.members_size() == 0) return fail_with(*sc, reply);
    proto::ServerFrame out;
    if (!out.mutable_members()->ParseFromString(reply.members(0))) return sc->fail(Errc::internal, "bad members reply");
    sc->reply(std::move(out));
  });
}

bool RoomRequests::admit(RequestScope& scope, const Session* s, const std::string& type, const std::string& zone,
                         const google::protobuf::Map<std::string, std::string>& params) {
  const room::RoomType* t = env_.svc.room_types.find(type);
  std::string problem;
  if (!s) problem = "no session";
  else if (!t || !t->client_creatable) problem = "unknown room type '" + type + "'";
  else if (!valid_zone(zone)) problem = "zone must be 1..32 chars of [A-Za-z0-9_-]";
  else if (!valid_params(params)) problem = "at most 16 params, keys 1..32 bytes, values up to 256 bytes";
  if (problem.empty()) return true;
  scope.fail(s ? Errc::invalid_argument : Errc::bad_state, problem);
  return false;
}

void RoomRequests::on_create_room(Conn& c, RequestScope scope, proto::CreateRoom& r) {
  Session* s = env_.parts.sessions->find(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!admit(scope, s, r.type(), zone, r.params())) return;
  // Rooms a client creates live on the shard it is connected to: connections are spread over
  // the shards by the kernel, so rooms are too. The creation runs here and now.
  pi::RoomRequest req;
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  auto* cr = req.mutable_create();
  cr->set_type(r.type());
  cr->set_zone(zone);
  cr->set_capacity(r.capacity());
  *cr->mutable_params() = r.params();
  cr->set_locked(r.locked());
  const SessionId sid = s->id;
  auto reply = env_.parts.placement->create_room(req);
  if (reply.errc() != 0) return fail_with(scope, reply);
  const RoomId room{reply.room_id()};
  env_.parts.members->subscribe(room);
  env_.parts.members->enter(sid, room, reply, std::move(scope));
}

void RoomRequests::on_join_room(Conn& c, RequestScope scope, const proto::JoinRoom& r) {
  Session* s = env_.parts.sessions->find(c.session);
  const RoomId room{r.room_id()};
  if (!s || !room.valid()) {
    return scope.fail(s ? Errc::invalid_argument : Errc::bad_state, s ? "room_id required" : "no session");
  }
  Router& router = *env_.parts.router;
  const Location owner = router.of_room(room);
  // No shard of this node minted it: answer now instead of waiting out a request timeout.
  if (owner.kind == Location::Kind::nowhere) return scope.fail(Errc::not_found, "no such room");
  // Subscribe first: every event after the join is then either in the reply or arrives after it.
  RoomMembers& members = *env_.parts.members;
  members.hold(room);
  pi::RoomRequest req;
  req.set_room_id(room.value);
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_join()->set_spectator(r.spectator());
  const SessionId sid = s->id;
  router.call(owner, std::move(req),
              [this, sc = share(std::move(scope)), sid, room, player = s->player](pi::RoomReply reply) {
                RoomMembers& m = *env_.parts.members;
                const bool here = env_.parts.sessions->find(sid) != nullptr;
                if (reply.errc() == 0 && here) m.enter(sid, room, reply, std::move(*sc));
                m.release(room);  // after enter: the subscription never lapses for a member
                if (reply.errc() != 0) return fail_with(*sc, reply);
                if (!here) m.give_back_seat(player, room);
              });
}

void RoomRequests::on_auto_join(Conn& c, RequestScope scope, proto::AutoJoin& r) {
  Session* s = env_.parts.sessions->find(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!admit(scope, s, r.type(), zone, r.params())) return;
  // The (zone, type) home shard hosts every auto-joined room of that pair and places players in
  // one step (Placement::auto_join): exact under any number of racing joins.
  pi::RoomRequest req;
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  auto* aj = req.mutable_auto_join();
  aj->set_type(r.type());
  aj->set_zone(zone);
  *aj->mutable_params() = r.params();
  const SessionId sid = s->id;
  Router& router = *env_.parts.router;
  router.call(router.auto_join_home(zone, r.type()), std::move(req),
              [this, sc = share(std::move(scope)), sid, player = s->player](pi::RoomReply reply) {
                if (reply.errc() != 0) return fail_with(*sc, reply);
                const RoomId room{reply.room_id()};
                RoomMembers& m = *env_.parts.members;
                if (!env_.parts.sessions->find(sid)) return m.give_back_seat(player, room);
                // The room was unknown before the reply: subscribe now and ask for the snapshot.
                m.hold(room);
                pi::RoomRequest again;
                again.set_room_id(room.value);
                again.set_player_id(player.value);
                again.mutable_reattach()->set_last_seq(0);
                env_.parts.router->call_room(room, std::move(again), [this, sc, sid, room, player](pi::RoomReply r2) {
                  RoomMembers& mm = *env_.parts.members;
                  const bool here = env_.parts.sessions->find(sid) != nullptr;
                  if (r2.errc() == 0 && here) mm.enter(sid, room, r2, std::move(*sc));
                  mm.release(room);
                  if (r2.errc() != 0) return fail_with(*sc, r2);
                  if (!here) mm.give_back_seat(player, room);
                });
              });
}

void RoomRequests::on_leave_room(Conn& c, RequestScope scope) {
  Session* s = env_.parts.sessions->find(c.session);
  if (!s || !s->room.valid() || s->room_type == room::kLobbyType) {
    return scope.fail(Errc::bad_state, "not in a game room");
  }
  env_.parts.members->leave_current_room(*s, room::LeaveReason::left);
  scope.ok();
  env_.parts.members->join_zone_lobby(s->id, 0);
}

void RoomRequests::on_lock_room(Conn& c, RequestScope scope, bool locked) {
  Session* s = env_.parts.sessions->find(c.session);
  if (!s || !s->room.valid()) return scope.fail(Errc::bad_state, "not in a room");
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_lock()->set_locked(locked);
  env_.parts.router->call_room(s->room, std::move(req), [sc = share(std::move(scope))](pi::RoomReply reply) {
    if (reply.errc() != 0) return fail_with(*sc, reply);
    sc->ok();
  });
}

void RoomRequests::on_list_rooms(Conn& c, RequestScope scope, const proto::ListRooms& r) {
  Session* s = env_.parts.sessions->find(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!valid_zone(zone)) return scope.fail(Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
  // Served from this shard's replica of the zone directory: no host is asked. The first list of
  // a zone waits for the replica's initial listing.
  env_.parts.zones->watch(zone, [this, sc = share(std::move(scope)), zone, type = r.type()] {
    proto::ServerFrame out;
    auto* list = out.mutable_room_list();
    list->set_zone(zone);
    for (const auto& e : env_.parts.zones->directory().list(zone)) {
      if (!type.empty() && e.type != type) continue;
      auto* info = list->add_rooms();
      info->set_room_id(e.room.value);
      info->set_room_type(e.type);
      info->set_zone(e.zone);
      info->set_players(e.count);
      info->set_capacity(e.capacity);
      info->set_locked(e.locked);
      info->set_spectators(e.spectators);
      if (list->rooms_size() >= 1000) break;  // keeps the answer well under the frame limit
    }
    sc->reply(std::move(out));
  });
}

bool RoomRequests::take_game_token(Conn& c, std::uint32_t rid) {
  if (cfg_.session.game_rate <= 0) return true;
  // A token bucket per connection: a flood costs the sender errors, not the room's shard.
  const auto now = env_.svc.clock.now();
  if (c.game_tokens < 0) {
    c.game_tokens = cfg_.session.game_burst;
  } else {
    const double dt = std::chrono::duration<double>(now - c.game_refill).count();
    c.game_tokens = std::min(cfg_.session.game_burst, c.game_tokens + dt * cfg_.session.game_rate);
  }
  c.game_refill = now;
  if (c.game_tokens >= 1) {
    c.game_tokens -= 1;
    return true;
  }
  env_.svc.metrics.game_messages_limited.inc();
  env_.parts.conns->send_error(c, rid, Errc::rate_limited, "more game messages than session.game_rate allows",
                               static_cast<std::uint32_t>(1000.0 / cfg_.session.game_rate) + 1);
  env_.parts.conns->count_error(c, "too many errors");
  return false;
}

void RoomRequests::on_game(Conn& c, std::uint32_t rid, proto::GameMessage& r) {
  Session* s = env_.parts.sessions->find(c.session);
  if (!s || !s->room.valid() || s->room_type == room::kLobbyType) {
    env_.parts.conns->send_error(c, rid, Errc::bad_state, "not in a game room");
    return;
  }
  if (!take_game_token(c, rid)) return;
  env_.svc.metrics.game_messages.inc();
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_message()->set_data(std::move(*r.mutable_data()));
  req.mutable_message()->set_request_id(rid);
  env_.parts.router->send_room(s->room, std::move(req));
}

}  // namespace sb::node
