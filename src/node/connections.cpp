#include "node/connections.hpp"

#include <spdlog/spdlog.h>

#include "node/room_requests.hpp"
#include "node/session_service.hpp"

namespace sb::node {

using session::Request;
using session::State;

// ------------------------------------------------------------------ RequestScope

RequestScope& RequestScope::operator=(RequestScope&& o) noexcept {
  if (this != &o) {
    drop();
    conns_ = std::move(o.conns_);
    conn_ = o.conn_;
    rid_ = o.rid_;
  }
  return *this;
}

Connections* RequestScope::take() noexcept {
  if (!conns_) return nullptr;
  Connections* conns = *conns_;
  conns_.reset();
  return conns;
}

void RequestScope::reply(proto::ServerFrame f) {
  Connections* conns = take();
  if (!conns) return;
  conns->end_request(conn_);
  if (Conn* c = conns->find(conn_)) {
    f.set_request_id(rid_);
    conns->send(*c, f);
  }
}

void RequestScope::ok() {
  proto::ServerFrame out;
  out.mutable_ok();
  reply(std::move(out));
}

void RequestScope::fail(Errc code, std::string message, std::uint32_t retry_after_ms) {
  Connections* conns = take();
  if (!conns) return;
  conns->end_request(conn_);
  if (Conn* c = conns->find(conn_)) conns->send_error(*c, rid_, code, std::move(message), retry_after_ms);
}

void RequestScope::drop() noexcept {
  if (!open()) {
    conns_.reset();
    return;
  }
  // Dropped without an answer: a path that forgot to answer, or one whose connection is gone.
  try {
    fail(Errc::internal, "request dropped");
  } catch (...) {
    conns_.reset();  // out of memory while encoding: the request still ends
  }
}

// ------------------------------------------------------------------ Connections

namespace {

std::optional<Request> request_of(const proto::ClientFrame& f) {
  switch (f.body_case()) {
    case proto::ClientFrame::kHello: return Request::hello;
    case proto::ClientFrame::kRegisterAccount: return Request::register_account;
    case proto::ClientFrame::kLogin: return Request::login;
    case proto::ClientFrame::kResume: return Request::resume;
    case proto::ClientFrame::kLogout: return Request::logout;
    case proto::ClientFrame::kPing: return Request::ping;
    case proto::ClientFrame::kChat: return Request::chat;
    case proto::ClientFrame::kMembers: return Request::members;
    case proto::ClientFrame::kCreateRoom: return Request::create_room;
    case proto::ClientFrame::kJoinRoom: return Request::join_room;
    case proto::ClientFrame::kAutoJoin: return Request::auto_join;
    case proto::ClientFrame::kLeaveRoom: return Request::leave_room;
    case proto::ClientFrame::kLockRoom: return Request::lock_room;
    case proto::ClientFrame::kListRooms: return Request::list_rooms;
    case proto::ClientFrame::kGame: return Request::game;
    default: return std::nullopt;
  }
}

}  // namespace

Connections::Connections(ShardEnv& env) : env_(env), cfg_(env.cfg) {}

void Connections::on_open(net::Connection& io) {
  Conn c;
  c.io = &io;
  c.opened = c.last_rx = c.last_request = env_.svc.clock.now();
  env_.svc.metrics.connections.add(1);
  env_.svc.metrics.sessions(State::awaiting_hello).add(1);
  c.gated = gate_.try_enter();
  auto [it, inserted] = conns_.emplace(io.id(), std::move(c));
  if (!it->second.gated) close(it->second, proto::CLOSE_SERVER_SHUTDOWN, "server shutting down");
}

void Connections::on_close(net::Connection& io, net::EndReason why) {
  auto it = conns_.find(io.id());
  if (it == conns_.end()) return;
  Conn& c = it->second;
  spdlog::debug("shard {}: connection {} closed ({}), session {}", env_.index, io.id().value, static_cast<int>(why),
                c.session.value);
  if (why == net::EndReason::slow_consumer) {
    env_.svc.metrics.slow_consumer_disconnects.inc();
    spdlog::info("shard {}: closed slow consumer {}", env_.index, io.remote());
  } else if (why == net::EndReason::frame_too_large) {
    env_.svc.metrics.error(Errc::frame_too_large).inc();
    env_.svc.metrics.closes_protocol.inc();
  }
  const SessionId sid = c.session;
  const bool gated = c.gated;
  env_.svc.metrics.sessions(c.fsm.state()).add(-1);
  env_.svc.metrics.connections.add(-1);
  conns_.erase(it);
  if (sid.valid()) env_.parts.sessions->on_connection_lost(sid);
  if (gated) gate_.leave();
}

void Connections::on_frame_too_large(net::Connection& io) {
  Conn* c = find(io.id());
  if (!c || io.closing() || io.aborted()) return;
  env_.svc.metrics.closes_protocol.inc();
  send_error(*c, 0, Errc::frame_too_large, "frame larger than " + std::to_string(cfg_.session.max_frame_bytes) + " bytes");
  close(*c, proto::CLOSE_FRAME_TOO_LARGE, "frame too large");
}

void Connections::on_payload(net::Connection& io, std::string_view payload) {
  Conn* c = find(io.id());
  if (!c) return;
  c->in_batch = true;  // until on_batch_end: see end_request()
  c->last_rx = env_.svc.clock.now();
  env_.svc.metrics.frames_in.inc();
  env_.svc.metrics.bytes_in.inc(payload.size());
  auto frame = wire::decode_client(payload);
  if (!frame) {
    const Errc e = to_errc(frame.error());
    std::uint32_t rid = 0;
    if (e == Errc::unknown_message) {
      // It parsed, so its request id is readable: answer it (a newer client's request type).
      proto::ClientFrame partial;
      if (partial.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) rid = partial.request_id();
    }
    send_error(*c, rid, e, e == Errc::malformed_frame ? "frame is not a valid ClientFrame" : "frame has no known body");
  } else if (frame->request_id() == 0) {
    send_error(*c, 0, Errc::invalid_argument, "request_id must be non-zero");
  } else {
    dispatch(*c, *frame);
    return;
  }
  count_error(*c, "too many protocol errors");
}

void Connections::on_batch_end(net::Connection& io) {
  Conn* c = find(io.id());
  if (!c) return;
  c->in_batch = false;
  if (c->end_pending) {
    c->end_pending = false;
    c->fsm.finish();
  }
}

void Connections::end_request(net::ConnId id) {
  Conn* c = find(id);
  if (!c) return;
  if (c->in_batch) {
    c->end_pending = true;  // frames read together with this request still see it in flight
    return;
  }
  c->fsm.finish();
}

void Connections::count_error(Conn& c, const char* why) {
  if (++c.errors > cfg_.session.max_errors) {
    env_.svc.metrics.closes_protocol.inc();
    close(c, proto::CLOSE_PROTOCOL_ERROR, why);
  }
}

void Connections::dispatch(Conn& c, proto::ClientFrame& f) {
  const std::uint32_t rid = f.request_id();
  const auto req = request_of(f);
  if (!req) {
    send_error(c, rid, Errc::unknown_message, "unknown request");
    return;
  }
  if (auto st = c.fsm.admit(*req); !st) {
    const Errc e = to_errc(st.error());
    if (e == Errc::bad_state && c.fsm.state() == State::awaiting_hello) {
      send_error(c, rid, e, "the first frame must be a hello");
      env_.svc.metrics.closes_protocol.inc();
      close(c, proto::CLOSE_PROTOCOL_ERROR, "hello required");
      return;
    }
    send_error(c, rid, e,
               e == Errc::busy ? "another request is in flight"
                               : std::string(session::request_name(*req)) + " is not allowed in state " +
                                     std::string(session::state_name(c.fsm.state())));
    // BUSY is a client pacing mistake, not a protocol error: it does not count towards the limit.
    if (e != Errc::busy) count_error(c, "too many errors");
    return;
  }
  if (*req != Request::ping) c.last_request = env_.svc.clock.now();
  if (*req == Request::ping) {
    proto::ServerFrame out;
    out.set_request_id(rid);
    out.mutable_pong()->set_client_time_ms(f.ping().client_time_ms());
    out.mutable_pong()->set_server_time_ms(static_cast<std::uint64_t>(env_.svc.clock.unix_ms()));
    send(c, out);
    return;
  }
  if (*req == Request::game) return env_.parts.rooms->on_game(c, rid, *f.mutable_game());
  // Everything else holds the connection's one request in flight until its scope ends.
  RequestScope scope(self_, c.io->id(), rid);
  SessionService& sessions = *env_.parts.sessions;
  RoomRequests& rooms = *env_.parts.rooms;
  switch (*req) {
    case Request::hello: return on_hello(c, std::move(scope), f.hello());
    case Request::register_account: return sessions.on_register(c, std::move(scope), *f.mutable_register_account());
    case Request::login: return sessions.on_login(c, std::move(scope), *f.mutable_login());
    case Request::resume: return sessions.on_resume(c, std::move(scope), f.resume());
    case Request::logout: return sessions.on_logout(c, std::move(scope));
    case Request::chat: return rooms.on_chat(c, std::move(scope), *f.mutable_chat());
    case Request::members: return rooms.on_members(c, std::move(scope));
    case Request::create_room: return rooms.on_create_room(c, std::move(scope), *f.mutable_create_room());
    case Request::join_room: return rooms.on_join_room(c, std::move(scope), f.join_room());
    case Request::auto_join: return rooms.on_auto_join(c, std::move(scope), *f.mutable_auto_join());
    case Request::leave_room: return rooms.on_leave_room(c, std::move(scope));
    case Request::lock_room: return rooms.on_lock_room(c, std::move(scope), f.lock_room().locked());
    case Request::list_rooms: return rooms.on_list_rooms(c, std::move(scope), f.list_rooms());
    case Request::ping:
    case Request::game: return;  // handled above
  }
}

void Connections::on_hello(Conn& c, RequestScope scope, const proto::Hello& h) {
  if (h.min_version() > wire::kProtocolVersion || h.max_version() < wire::kProtocolVersion) {
    scope.fail(Errc::unsupported_version, "server speaks protocol version 1");
    env_.svc.metrics.closes_protocol.inc();
    close(c, proto::CLOSE_UNSUPPORTED_VERSION, "no common protocol version");
    return;
  }
  set_state(c, State::visitor);
  proto::ServerFrame out;
  auto* ok = out.mutable_hello_ok();
  ok->set_version(wire::kProtocolVersion);
  ok->set_server("switchboard/0.1 " + cfg_.node_name);
  ok->set_max_frame_bytes(cfg_.session.max_frame_bytes);
  ok->set_heartbeat_interval_ms(cfg_.session.heartbeat_interval_ms);
  ok->set_heartbeat_timeout_ms(cfg_.session.heartbeat_timeout_ms);
  scope.reply(std::move(out));
}

// ------------------------------------------------------------------ output

void Connections::send(Conn& c, const proto::ServerFrame& f) { send_frame(c, wire::encode(f)); }

void Connections::send_frame(Conn& c, const wire::FramePtr& f) {
  env_.svc.metrics.frames_out.inc();
  env_.svc.metrics.bytes_out.inc(f->size());
  c.io->send(f);
}

void Connections::send_error(Conn& c, std::uint32_t rid, Errc code, std::string message,
                             std::uint32_t retry_after_ms) {
  env_.svc.metrics.error(code).inc();
  proto::ServerFrame out;
  out.set_request_id(rid);
  auto* e = out.mutable_error();
  e->set_code(static_cast<proto::ErrorCode>(code));
  e->set_message(std::move(message));
  e->set_retry_after_ms(retry_after_ms);
  send(c, out);
}

void Connections::close(Conn& c, proto::CloseReason reason, std::string message) {
  if (c.io->closing() || c.io->aborted()) return;
  proto::ServerFrame out;
  out.mutable_closing()->set_reason(reason);
  out.mutable_closing()->set_message(std::move(message));
  send(c, out);
  set_state(c, State::closed);
  c.io->close_after_flush();
}

void Connections::set_state(Conn& c, State s) {
  if (c.fsm.state() == s) return;
  const State old = c.fsm.state();
  if (!c.fsm.transition(s)) return;
  env_.svc.metrics.sessions(old).add(-1);
  env_.svc.metrics.sessions(s).add(1);
}

Conn* Connections::find(net::ConnId id) {
  if (!id.valid()) return nullptr;
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

void Connections::close_all(std::function<void()> drained) {
  for (auto& [id, c] : conns_) close(c, proto::CLOSE_SERVER_SHUTDOWN, "server shutting down");
  gate_.close(std::move(drained));
}

void Connections::sweep(TimePoint now) {
  const auto hb = std::chrono::milliseconds(cfg_.session.heartbeat_timeout_ms);
  const auto idle = std::chrono::milliseconds(cfg_.session.idle_timeout_ms);
  const auto login = std::chrono::milliseconds(cfg_.session.login_timeout_ms);
  for (auto& [id, c] : conns_) {
    if (c.io->closing() || c.io->aborted()) continue;
    const State st = c.fsm.state();
    if (now - c.last_rx > hb) {
      close(c, proto::CLOSE_HEARTBEAT_TIMEOUT, "no frame within the heartbeat timeout");
    } else if ((st == State::awaiting_hello || st == State::visitor) && now - c.opened > login) {
      close(c, proto::CLOSE_LOGIN_TIMEOUT, "not logged in within the login timeout");
    } else if (st != State::awaiting_hello && st != State::visitor && now - c.last_request > idle) {
      close(c, proto::CLOSE_IDLE_TIMEOUT, "idle for too long");
    }
  }
}

}  // namespace sb::node
