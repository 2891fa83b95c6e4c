#include "node/room_host.hpp"

#include "node/router.hpp"
#include "node/zone_replica.hpp"
#include "room/zone_directory.hpp"

namespace sb::node {

std::string room_error_text(Errc e) {
  switch (e) {
    case Errc::room_full: return "the room is full";
    case Errc::room_locked: return "the room is locked";
    case Errc::not_found: return "no such room, or not a member";
    case Errc::bad_state: return "not allowed in this room now";
    case Errc::invalid_argument: return "invalid request for this room";
    case Errc::refused: return "refused by the game";
    default: return std::string(errc_name(e));
  }
}

void set_room_error(pi::RoomReply& reply, Errc e, std::string message) {
  reply.set_errc(static_cast<std::uint32_t>(e));
  reply.set_message(message.empty() ? room_error_text(e) : std::move(message));
}

room::Params to_params(const google::protobuf::Map<std::string, std::string>& params) {
  return room::Params(params.begin(), params.end());
}

RoomHost::RoomHost(ShardEnv& env) : env_(env) {}

room::Room& RoomHost::adopt(std::unique_ptr<room::Room> room) {
  auto hosted = std::make_unique<HostedRoom>(HostedRoom{std::move(room), asio::steady_timer(env_.io), std::nullopt});
  room::Room& r = *hosted->room;
  rooms_.emplace(r.id(), std::move(hosted));
  env_.parts.zones->set_own({r.id(), r.spec().type, r.spec().zone, 0, r.spec().capacity, false, 0});
  dirty_.insert(r.id());
  env_.svc.metrics.rooms.add(1);
  env_.svc.metrics.rooms_created.inc();
  return r;
}

Result<room::Room*> RoomHost::open_room(const std::string& type_name, const std::string& zone, std::uint32_t capacity,
                                        PlayerId owner, const room::Params& params, std::string& error) {
  const room::RoomType* type = env_.svc.room_types.find(type_name);
  if (!type) {
    error = "unknown room type '" + type_name + "'";
    return fail(Errc::invalid_argument);
  }
  if (capacity == 0) capacity = type->default_capacity;
  if (capacity < type->min_capacity || capacity > type->max_capacity) {
    error = "capacity of a " + type_name + " room must be " + std::to_string(type->min_capacity) + ".." +
            std::to_string(type->max_capacity);
    return fail(Errc::invalid_argument);
  }
  room::RoomSpec spec;
  spec.id = RoomId{env_.minter.next()};
  spec.type = type_name;
  spec.zone = zone;
  spec.capacity = capacity;
  spec.max_spectators = type->max_spectators;
  spec.log_size = type->log_size;
  spec.presence_events = type->presence_events;
  spec.owner = owner;
  spec.params = params;
  auto handler = type->make(spec, error);
  if (!handler) {
    if (error.empty()) error = "invalid room parameters";
    return fail(Errc::invalid_argument);
  }
  return &adopt(std::make_unique<room::Room>(std::move(spec), std::move(*handler), env_.svc.clock));
}

room::Room& RoomHost::open_lobby(const std::string& zone) {
  const auto& lobby = env_.cfg.lobby;
  room::RoomSpec spec{RoomId{env_.minter.next()}, room::kLobbyType, zone, lobby.capacity, 0, lobby.log_size,
                      lobby.presence_events, true, PlayerId{}, {}};
  return adopt(std::make_unique<room::Room>(spec, std::make_unique<room::LobbyHandler>(lobby.chat_max_bytes),
                                            env_.svc.clock));
}

std::vector<room::Room*> RoomHost::rooms_of(const std::string& type, const std::string& zone) {
  std::vector<room::Room*> out;
  for (auto& [id, h] : rooms_) {
    if (h->room->spec().type == type && h->room->spec().zone == zone) out.push_back(h->room.get());
  }
  return out;
}

void RoomHost::join_into(room::Room& r, const pi::RoomRequest& req, bool spectator, pi::RoomReply& reply) {
  const PlayerId player{req.player_id()};
  room::Refusal refusal;
  auto st = r.join(player, req.name(), spectator, &refusal);
  reply.set_room_id(r.id().value);
  reply.set_room_type(r.spec().type);
  if (!st) {
    const Errc e = to_errc(st.error());
    set_room_error(reply, e, e == Errc::refused ? refusal.reason : std::string());
    return;
  }
  for (auto& f : r.catch_up(player, 0)) reply.add_frames(std::string(f->payload()));
  reply.set_seq(r.seq());
}

void RoomHost::message_error(RoomId room, PlayerId to, std::uint32_t request_id, Errc code, std::string message) {
  // Game messages are fire-and-forget: nobody waits for a reply, so tell the sender's edge.
  pi::RoomBroadcast b;
  b.set_room_id(room.value);
  b.set_to_player(to.value);
  auto* e = b.mutable_message_error();
  e->set_request_id(request_id);
  e->set_errc(static_cast<std::uint32_t>(code));
  e->set_message(std::move(message));
  env_.parts.router->publish_room(room, b);
}

pi::RoomReply RoomHost::handle(const pi::RoomRequest& req) {
  pi::RoomReply reply;
  auto it = rooms_.find(RoomId{req.room_id()});
  if (it == rooms_.end()) {
    if (req.has_message()) {
      message_error(RoomId{req.room_id()}, PlayerId{req.player_id()}, req.message().request_id(), Errc::not_found,
                    "no such room");
    }
    set_room_error(reply, Errc::not_found, "no such room");
    return reply;
  }
  room::Room& r = *it->second->room;
  const PlayerId player{req.player_id()};
  reply.set_room_id(r.id().value);
  auto set_err = [&](const Status& st) {
    if (!st) set_room_error(reply, to_errc(st.error()));
  };
  switch (req.body_case()) {
    case pi::RoomRequest::kJoin:
      join_into(r, req, req.join().spectator(), reply);
      break;
    case pi::RoomRequest::kReattach: {
      if (!r.find(player)) {
        set_room_error(reply, Errc::not_found, "not a member any more");
        break;
      }
      reply.set_room_type(r.spec().type);
      r.set_connected(player, true);
      // catch_up after set_connected so the reconnect event itself is part of the replay.
      for (auto& f : r.catch_up(player, req.reattach().last_seq())) reply.add_frames(std::string(f->payload()));
      reply.set_seq(r.seq());
      break;
    }
    case pi::RoomRequest::kLeave:
      r.leave(player, static_cast<room::LeaveReason>(std::min<std::uint32_t>(req.leave().reason(), 3)));
      break;
    case pi::RoomRequest::kPresence:
      r.set_connected(player, req.presence().connected());
      break;
    case pi::RoomRequest::kConnSwitch:
      r.switch_connection(player);
      break;
    case pi::RoomRequest::kChat:
      set_err(r.chat(player, req.chat().text(), req.chat().tag()));
      break;
    case pi::RoomRequest::kMembers:
      reply.add_members(r.members_proto().SerializeAsString());
      break;
    case pi::RoomRequest::kLock:
      set_err(r.request_lock(player, req.lock().locked()));
      if (reply.errc() != 0) reply.set_message("only the room's creator may lock it");
      break;
    case pi::RoomRequest::kMessage: {
      if (auto st = r.message(player, req.message().data()); !st) {
        const Errc code = to_errc(st.error());
        message_error(r.id(), player, req.message().request_id(), code,
                      code == Errc::not_found ? "not in this room" : room_error_text(code));
      }
      break;
    }
    default:
      set_room_error(reply, Errc::unknown_message);
      break;
  }
  flush(r);
  return reply;
}

void RoomHost::flush(room::Room& r) {
  const RoomId id = r.id();
  r.take_broadcasts(outbox_scratch_);
  auto removed = r.take_removals();
  for (auto& b : outbox_scratch_) {
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    msg.set_seq(b.seq);
    msg.set_frame(std::string(b.frame->payload()));
    msg.set_to_player(b.to.value);
    env_.parts.router->publish_room(id, msg);
  }
  for (auto& rm : removed) {
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    auto* x = msg.mutable_removed();
    x->set_player_id(rm.player.value);
    x->set_reason(static_cast<std::uint32_t>(rm.reason));
    x->set_message(rm.message);
    env_.parts.router->publish_room(id, msg);
  }
  if (r.ended() || (r.empty() && r.spec().close_when_empty)) {
    // An ended or empty room closes; a later join opens a fresh one.
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    msg.set_closed(true);
    env_.parts.router->publish_room(id, msg);
    env_.parts.zones->remove_own(id);
    closed_.emplace(id, r.spec().zone);
    dirty_.insert(id);
    if (r.ended()) env_.svc.metrics.rooms_ended.inc();
    rooms_.erase(id);  // cancels its timer; `r` is gone after this line
    env_.svc.metrics.rooms.add(-1);
    return;
  }
  auto it = rooms_.find(id);
  if (it == rooms_.end()) return;
  HostedRoom& h = *it->second;
  if (h.listed_players != r.size() || h.listed_spectators != r.spectators() || h.listed_locked != r.locked()) {
    // Counts changed: update the local replica now and push to the directory (coalesced).
    h.listed_players = r.size();
    h.listed_spectators = r.spectators();
    h.listed_locked = r.locked();
    env_.parts.zones->set_own(
        {id, r.spec().type, r.spec().zone, r.size(), r.spec().capacity, r.locked(), r.spectators()});
    dirty_.insert(id);
  }
  arm(h);
}

void RoomHost::arm(HostedRoom& h) {
  const auto due = h.room->next_deadline();
  if (due == h.armed) return;
  h.armed = due;
  if (!due) {
    h.timer.cancel();
    return;
  }
  h.timer.expires_at(*due);
  h.timer.async_wait([this, id = h.room->id()](boost::system::error_code ec) {
    if (ec) return;
    on_due(id);
  });
}

void RoomHost::on_due(RoomId id) {
  auto it = rooms_.find(id);
  if (it == rooms_.end()) return;
  HostedRoom& h = *it->second;
  h.armed.reset();
  const std::uint64_t before = h.room->ticks();
  h.room->advance(env_.svc.clock.now());
  env_.svc.metrics.room_ticks.inc(h.room->ticks() - before);
  flush(*h.room);  // re-arms (or closes the room if the handler ended it)
}

void RoomHost::push_zone_counts() {
  if (dirty_.empty()) return;
  auto counted = [this](Status st) {
    // not_found: a room closed before its entry was ever written.
    if (!st && to_errc(st.error()) != Errc::not_found) env_.svc.metrics.kv_failures.inc();
  };
  for (RoomId id : dirty_) {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) {
      if (auto closed = closed_.find(id); closed != closed_.end()) {
        env_.svc.backbone.kv_delete(room::zone_key(closed->second, id), 0, env_.executor, counted);
      }
      continue;
    }
    const room::Room& r = *it->second->room;
    pi::ZoneRoom z;
    z.set_room_id(id.value);
    z.set_room_type(r.spec().type);
    z.set_zone(r.spec().zone);
    z.set_node(env_.cfg.node_name);
    z.set_shard(env_.index);
    z.set_count(r.size());
    z.set_capacity(r.spec().capacity);
    z.set_locked(r.locked());
    z.set_spectators(r.spectators());
    env_.svc.backbone.kv_put(room::zone_key(r.spec().zone, id), z.SerializeAsString(), {}, env_.executor,
                             [this](Result<std::uint64_t> put) {
                               if (!put) env_.svc.metrics.kv_failures.inc();
                             });
  }
  dirty_.clear();
  closed_.clear();
}

}  // namespace sb::node
