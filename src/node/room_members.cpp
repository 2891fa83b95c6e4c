#include "node/room_members.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/connections.hpp"
#include "node/router.hpp"
#include "node/session_service.hpp"

namespace sb::node {

using session::State;

RoomMembers::RoomMembers(ShardEnv& env) : env_(env) {}

void RoomMembers::join_zone_lobby(SessionId sid, int attempt) {
  Session* s = env_.parts.sessions->find(sid);
  if (!s) return;
  if (attempt >= 5) {
    // The zone's home shard did not answer: tell the client rather than leave it roomless.
    if (Conn* c = env_.parts.conns->find(s->conn)) {
      env_.parts.conns->close(*c, proto::CLOSE_UNAVAILABLE, "no lobby available, reconnect");
    }
    return;
  }
  // The zone's home shard places the player (Placement::join_lobby) in one step, so concurrent
  // logins on every shard can never overfill or fragment the zone's lobbies.
  pi::RoomRequest req;
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_join_lobby()->set_zone(s->zone);
  spdlog::debug("shard {}: session {} joins the lobby of zone {} (attempt {})", env_.index, sid.value, s->zone, attempt);
  Router& router = *env_.parts.router;
  router.call(router.lobby_home(s->zone), std::move(req), [this, sid, attempt, player = s->player](pi::RoomReply reply) {
    const RoomId room{reply.room_id()};
    Session* ss = env_.parts.sessions->find(sid);
    if (!ss) {
      if (reply.errc() == 0) give_back_seat(player, room);
      return;
    }
    if (reply.errc() != 0) return join_zone_lobby(sid, attempt + 1);
    if (ss->room.valid() && ss->room != room) {
      // Entered another room meanwhile (a create or join raced this): free this lobby seat. Not
      // give_back_seat(): it keeps the seat of a player who has a session, and this one has
      // (it is `ss`), so the lobby kept a ghost member.
      pi::RoomRequest leave;
      leave.set_room_id(room.value);
      leave.set_player_id(player.value);
      leave.mutable_leave();
      env_.parts.router->send_room(room, std::move(leave));
      return;
    }
    ss->room = room;
    ss->room_type = room::kLobbyType;
    ss->room_seq = 0;
    attach(sid, room, 0);
  });
}

void RoomMembers::attach(SessionId sid, RoomId room, std::uint64_t last_seq) {
  Session* s = env_.parts.sessions->find(sid);
  if (!s) return;
  // Subscribe first, then ask for the catch-up: every event is either in the reply or arrives
  // after it (same inbox queue), and room_seq drops duplicates.
  hold(room);
  pi::RoomRequest req;
  req.set_room_id(room.value);
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_reattach()->set_last_seq(last_seq);
  env_.parts.router->call_room(room, std::move(req), [this, sid, room](pi::RoomReply reply) {
    Session* ss = env_.parts.sessions->find(sid);
    // Gone, or moved on (kicked, left) while this was in flight: nothing to enter.
    const bool still_here = ss && ss->room == room;
    if (still_here && reply.errc() == 0) enter(sid, room, reply);
    release(room);
    if (still_here && reply.errc() != 0) {
      // The room is gone or no longer has the seat: back to the zone's lobby.
      ss->room = {};
      ss->room_type.clear();
      join_zone_lobby(sid, 0);
    }
  });
}

void RoomMembers::enter(SessionId sid, RoomId room, const pi::RoomReply& reply, RequestScope scope) {
  Session* s = env_.parts.sessions->find(sid);
  spdlog::debug("shard {}: session {} enters room {} ({} frames, found {})", env_.index, sid.value, room.value,
                reply.frames_size(), s != nullptr);
  if (!s) return;
  if (s->room.valid() && s->room != room) {
    leave_current_room(*s, room::LeaveReason::left);
    s->room_seq = 0;
  } else if (s->room != room) {
    s->room_seq = 0;
  }
  s->room = room;
  if (!reply.room_type().empty()) s->room_type = reply.room_type();
  s->room_seq = std::max(s->room_seq, reply.seq());
  add_member(room, sid);
  Connections& conns = *env_.parts.conns;
  Conn* c = conns.find(s->conn);
  if (!c) {
    s->room_changed = true;
    return;
  }
  for (const auto& payload : reply.frames()) {
    if (scope.open()) {
      // The first frame (the RoomJoined snapshot) is the answer to the request.
      proto::ServerFrame f;
      if (f.ParseFromString(payload) && f.has_room_joined()) {
        scope.reply(std::move(f));
        continue;
      }
    }
    conns.send_frame(*c, wire::frame_from_payload(payload));
  }
  if (scope.open()) scope.fail(Errc::internal, "room reply without a snapshot");
  s->room_changed = false;
  const State want = s->room_type == room::kLobbyType ? State::in_lobby : State::in_room;
  if (c->fsm.state() != State::closed) conns.set_state(*c, want);
}

void RoomMembers::leave_current_room(Session& s, room::LeaveReason why) {
  if (!s.room.valid()) return;
  const RoomId old = s.room;
  remove_member(old, s.id);
  s.room = {};
  s.room_type.clear();
  s.room_seq = 0;  // the next room numbers its own events
  if (!s.conn.valid()) s.room_changed = true;
  pi::RoomRequest req;
  req.set_room_id(old.value);
  req.set_player_id(s.player.value);
  req.mutable_leave()->set_reason(static_cast<std::uint32_t>(why));
  env_.parts.router->send_room(old, std::move(req));
}

void RoomMembers::give_back_seat(PlayerId player, RoomId room) {
  // The session ended while joining. Unless the player has a session again (a take-over: that
  // session owns the seat now and its own join is a no-op re-join), free the seat.
  env_.svc.backbone.kv_get(SessionService::record_key(player), env_.executor,
                           [this, player, room](Result<backbone::KvEntry> e) {
                             if (e) return;
                             // Unknown (backbone trouble) counts as "no session": the seat is freed.
                             if (to_errc(e.error()) != Errc::not_found) env_.svc.metrics.kv_failures.inc();
                             pi::RoomRequest leave;
                             leave.set_room_id(room.value);
                             leave.set_player_id(player.value);
                             leave.mutable_leave();
                             env_.parts.router->send_room(room, std::move(leave));
                           });
}

void RoomMembers::subscribe(RoomId room) {
  if (subs_.count(room)) return;
  auto sub = env_.svc.backbone.subscribe(Router::room_subject(room), "", env_.executor,
                                         [this](backbone::Message m) { on_broadcast(m); });
  SB_CHECK(sub.has_value());
  subs_[room].sub = *sub;
}

void RoomMembers::add_member(RoomId room, SessionId sid) {
  subscribe(room);
  auto& v = subs_[room].sessions;
  if (std::find(v.begin(), v.end(), sid) == v.end()) v.push_back(sid);
}

void RoomMembers::remove_member(RoomId room, SessionId sid) {
  auto it = subs_.find(room);
  if (it == subs_.end()) return;
  auto& v = it->second.sessions;
  v.erase(std::remove(v.begin(), v.end(), sid), v.end());
  drop_if_unused(room);
}

void RoomMembers::hold(RoomId room) {
  subscribe(room);
  ++subs_[room].joining;
}

void RoomMembers::release(RoomId room) {
  auto it = subs_.find(room);
  if (it == subs_.end()) return;
  if (it->second.joining > 0) --it->second.joining;
  drop_if_unused(room);
}

void RoomMembers::drop_if_unused(RoomId room) {
  auto it = subs_.find(room);
  if (it == subs_.end() || !it->second.sessions.empty() || it->second.joining > 0) return;
  env_.svc.backbone.unsubscribe(it->second.sub);
  subs_.erase(it);
}

void RoomMembers::unsubscribe_all() {
  for (auto& [room, s] : subs_) env_.svc.backbone.unsubscribe(s.sub);
  subs_.clear();
}

void RoomMembers::on_removed(RoomId room, const pi::RoomBroadcast& b) {
  // The room removed a player by itself (kick, end): tell it, and back to the lobby.
  Session* s = env_.parts.sessions->find_player(PlayerId{b.removed().player_id()});
  if (!s || s->room != room) return;
  remove_member(room, s->id);
  s->room = {};
  s->room_type.clear();
  s->room_seq = 0;
  if (!s->conn.valid()) s->room_changed = true;
  if (Conn* c = env_.parts.conns->find(s->conn)) {
    proto::ServerFrame out;
    auto* left = out.mutable_room_left();
    left->set_room_id(room.value);
    left->set_reason(b.removed().reason());
    left->set_message(b.removed().message());
    env_.parts.conns->send(*c, out);
  }
  join_zone_lobby(s->id, 0);
}

void RoomMembers::on_broadcast(const backbone::Message& m) {
  pi::RoomBroadcast b;
  if (!b.ParseFromString(m.payload)) return;
  const RoomId room{b.room_id()};
  auto it = subs_.find(room);
  if (it == subs_.end()) return;
  if (b.has_removed()) return on_removed(room, b);
  Connections& conns = *env_.parts.conns;
  SessionService& sessions = *env_.parts.sessions;
  if (b.has_message_error()) {
    Session* s = sessions.find_player(PlayerId{b.to_player()});
    if (!s || s->room != room) return;
    if (Conn* c = conns.find(s->conn)) {
      conns.send_error(*c, b.message_error().request_id(), static_cast<Errc>(b.message_error().errc()),
                       b.message_error().message());
    }
    return;
  }
  if (b.closed()) {
    drop_if_unused(room);
    return;
  }
  // One frame per shard, shared by every local member.
  const wire::FramePtr frame = wire::frame_from_payload(b.frame());
  auto deliver = [&](Session& s) {
    if (s.room_seq >= b.seq()) return;
    Conn* c = conns.find(s.conn);
    if (!c) return;  // detached: the replay on reattach covers it
    s.room_seq = b.seq();
    conns.send_frame(*c, frame);
    env_.svc.metrics.broadcast_deliveries.inc();
  };
  if (b.to_player() != 0) {
    Session* s = sessions.find_player(PlayerId{b.to_player()});
    if (s && s->room == room) deliver(*s);
    return;
  }
  for (SessionId sid : it->second.sessions) {
    if (Session* s = sessions.find(sid)) deliver(*s);
  }
}

}  // namespace sb::node
