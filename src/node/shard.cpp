#include "node/shard.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "wire/frame.hpp"

namespace sb::node {

namespace pi = proto::internal;
using session::Request;
using session::State;

namespace {

class ShardExecutor final : public Executor {
 public:
  explicit ShardExecutor(asio::io_context& io) : io_(io) {}
  void post(Task task) override { asio::post(io_, std::move(task)); }

 private:
  asio::io_context& io_;
};

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

bool valid_zone(const std::string& z) {
  if (z.empty() || z.size() > 32) return false;
  for (char c : z) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string room_subject(RoomId r) { return "sb.room." + std::to_string(r.value); }

/// Creation parameters a client may pass: at most 16, keys 1..32 bytes, values up to 256.
bool valid_params(const google::protobuf::Map<std::string, std::string>& params) {
  if (params.size() > 16) return false;
  for (const auto& [k, v] : params) {
    if (k.empty() || k.size() > 32 || v.size() > 256) return false;
  }
  return true;
}

room::Params to_params(const google::protobuf::Map<std::string, std::string>& params) {
  return room::Params(params.begin(), params.end());
}

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

void set_error(pi::RoomReply& reply, Errc e, std::string message) {
  reply.set_errc(static_cast<std::uint32_t>(e));
  reply.set_message(message.empty() ? room_error_text(e) : std::move(message));
}

}  // namespace

Shard::Shard(ShardIndex index, NodeServices services)
    : index_(index),
      svc_(services),
      cfg_(services.config),
      executor_(std::make_shared<ShardExecutor>(io_)),
      minter_(index),
      rng_(std::random_device{}()),
      batcher_(io_.get_executor()),
      sweep_timer_(io_),
      zone_timer_(io_),
      lag_timer_(io_) {
  lag_hist_ = &svc_.metrics.registry.histogram(
      "sb_event_loop_lag_seconds", "Delay of a 100 ms timer on each shard's event loop",
      {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
      {{"shard", std::to_string(index)}});
}

Shard::~Shard() {
  if (thread_.joinable()) shutdown(std::chrono::milliseconds(0));
}

std::string Shard::inbox_subject(const std::string& node, ShardIndex shard) {
  return "sb.shard." + node + "." + std::to_string(shard);
}

void Shard::listen(const asio::ip::tcp::endpoint& tcp_ep, const asio::ip::tcp::endpoint& ws_ep) {
  tcp_acceptor_.emplace(net::make_reuseport_acceptor(io_.get_executor(), tcp_ep, cfg_.listen.backlog));
  ws_acceptor_.emplace(net::make_reuseport_acceptor(io_.get_executor(), ws_ep, cfg_.listen.backlog));
}

std::uint16_t Shard::tcp_port() const { return tcp_acceptor_->local_endpoint().port(); }
std::uint16_t Shard::ws_port() const { return ws_acceptor_->local_endpoint().port(); }

void Shard::start() {
  auto inbox = svc_.backbone.subscribe(inbox_subject(cfg_.node_name, index_), "", executor_,
                                       [this](backbone::Message m) { on_inbox(std::move(m)); });
  SB_CHECK(inbox.has_value());
  subs_.push_back(*inbox);
  asio::co_spawn(io_, accept_loop(*tcp_acceptor_, net::TransportKind::tcp), asio::detached);
  asio::co_spawn(io_, accept_loop(*ws_acceptor_, net::TransportKind::websocket), asio::detached);
  start_timers();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("shard {}: event loop died: {}", index_, e.what());
      std::abort();
    }
  });
}

void Shard::shutdown(std::chrono::milliseconds drain) {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    boost::system::error_code ec;
    if (tcp_acceptor_) tcp_acceptor_->close(ec);
    if (ws_acceptor_) ws_acceptor_->close(ec);
    for (auto& [id, c] : conns_) close_conn(c, proto::CLOSE_SERVER_SHUTDOWN, "server shutting down");
  });
  const auto deadline = std::chrono::steady_clock::now() + drain;
  for (;;) {
    std::promise<bool> empty;
    auto fut = empty.get_future();
    asio::post(io_, [this, &empty] { empty.set_value(conns_.empty()); });
    if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready || fut.get()) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto id : subs_) svc_.backbone.unsubscribe(id);
  asio::post(io_, [this] {
    for (auto& [id, rs] : room_subs_) svc_.backbone.unsubscribe(rs.sub);
    for (auto& [zone, w] : zone_watches_) svc_.backbone.unsubscribe(w.sub);
    io_.stop();
  });
  thread_.join();
}

asio::awaitable<void> Shard::accept_loop(asio::ip::tcp::acceptor& acc, net::TransportKind kind) {
  for (;;) {
    auto [ec, socket] = co_await acc.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("shard {}: accept: {}", index_, ec.message());
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (static_cast<std::uint64_t>(svc_.metrics.connections.value()) >= cfg_.session.max_connections) {
      svc_.metrics.connections_refused.inc();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    svc_.metrics.connections_accepted.inc();
    net::ConnectionLimits limits{cfg_.session.max_frame_bytes, cfg_.session.send_queue_bytes};
    const net::ConnId id{(static_cast<std::uint64_t>(index_) << 56) | ++next_conn_};
    if (kind == net::TransportKind::tcp) {
      asio::co_spawn(io_, net::serve_tcp(std::move(socket), id, limits, *this, &batcher_), asio::detached);
    } else {
      asio::co_spawn(io_, net::serve_ws(std::move(socket), id, limits, *this), asio::detached);
    }
  }
}

// ------------------------------------------------------------------ connection events

void Shard::on_open(net::Connection& io) {
  Conn c;
  c.io = &io;
  c.opened = c.last_rx = c.last_request = svc_.clock.now();
  svc_.metrics.connections.add(1);
  svc_.metrics.sessions(State::awaiting_hello).add(1);
  auto [it, inserted] = conns_.emplace(io.id(), std::move(c));
  if (stopping_) close_conn(it->second, proto::CLOSE_SERVER_SHUTDOWN, "server shutting down");
}

void Shard::on_close(net::Connection& io, net::EndReason why) {
  auto it = conns_.find(io.id());
  if (it == conns_.end()) return;
  Conn& c = it->second;
  spdlog::debug("shard {}: connection {} closed ({}), session {}", index_, io.id().value, static_cast<int>(why),
                c.session.value);
  if (why == net::EndReason::slow_consumer) {
    svc_.metrics.slow_consumer_disconnects.inc();
    spdlog::info("shard {}: closed slow consumer {}", index_, io.remote());
  } else if (why == net::EndReason::frame_too_large) {
    svc_.metrics.error(Errc::frame_too_large).inc();
    svc_.metrics.closes_protocol.inc();
  }
  if (c.session.valid()) {
    if (Session* s = find_session(c.session)) detach(*s);
  }
  svc_.metrics.sessions(c.fsm.state()).add(-1);
  svc_.metrics.connections.add(-1);
  conns_.erase(it);
}

void Shard::on_frame_too_large(net::Connection& io) {
  Conn* c = find_conn(io.id());
  if (!c || io.closing() || io.aborted()) return;
  svc_.metrics.closes_protocol.inc();
  send_error(*c, 0, Errc::frame_too_large,
             "frame larger than " + std::to_string(cfg_.session.max_frame_bytes) + " bytes");
  close_conn(*c, proto::CLOSE_FRAME_TOO_LARGE, "frame too large");
}

void Shard::on_payload(net::Connection& io, std::string_view payload) {
  Conn* c = find_conn(io.id());
  if (!c) return;
  const auto now = svc_.clock.now();
  c->last_rx = now;
  svc_.metrics.frames_in.inc();
  svc_.metrics.bytes_in.inc(payload.size());
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
  if (++c->errors > cfg_.session.max_errors) {
    svc_.metrics.closes_protocol.inc();
    close_conn(*c, proto::CLOSE_PROTOCOL_ERROR, "too many protocol errors");
  }
}

void Shard::dispatch(Conn& c, proto::ClientFrame& f) {
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
      svc_.metrics.closes_protocol.inc();
      close_conn(c, proto::CLOSE_PROTOCOL_ERROR, "hello required");
      return;
    }
    send_error(c, rid, e,
               e == Errc::busy ? "another request is in flight"
                               : std::string(session::request_name(*req)) + " is not allowed in state " +
                                     std::string(session::state_name(c.fsm.state())));
    // BUSY is a client pacing mistake, not a protocol error: it does not count towards the limit.
    if (e != Errc::busy && ++c.errors > cfg_.session.max_errors) {
      svc_.metrics.closes_protocol.inc();
      close_conn(c, proto::CLOSE_PROTOCOL_ERROR, "too many errors");
    }
    return;
  }
  if (*req != Request::ping) c.last_request = svc_.clock.now();
  switch (*req) {
    case Request::hello: return on_hello(c, rid, f.hello());
    case Request::register_account: return on_register(c, rid, *f.mutable_register_account());
    case Request::login: return on_login(c, rid, *f.mutable_login());
    case Request::resume: return on_resume(c, rid, f.resume());
    case Request::logout: return on_logout(c, rid);
    case Request::chat: return on_chat(c, rid, *f.mutable_chat());
    case Request::members: return on_members(c, rid);
    case Request::create_room: return on_create_room(c, rid, *f.mutable_create_room());
    case Request::join_room: return on_join_room(c, rid, f.join_room());
    case Request::auto_join: return on_auto_join(c, rid, *f.mutable_auto_join());
    case Request::leave_room: return on_leave_room(c, rid);
    case Request::lock_room: return on_lock_room(c, rid, f.lock_room().locked());
    case Request::list_rooms: return on_list_rooms(c, rid, f.list_rooms());
    case Request::game: return on_game(c, rid, *f.mutable_game());
    case Request::ping: {
      proto::ServerFrame out;
      out.set_request_id(rid);
      out.mutable_pong()->set_client_time_ms(f.ping().client_time_ms());
      out.mutable_pong()->set_server_time_ms(static_cast<std::uint64_t>(svc_.clock.unix_ms()));
      send(c, out);
      return;
    }
  }
}

// ------------------------------------------------------------------ requests

void Shard::on_hello(Conn& c, std::uint32_t rid, const proto::Hello& h) {
  c.fsm.finish();
  if (h.min_version() > wire::kProtocolVersion || h.max_version() < wire::kProtocolVersion) {
    send_error(c, rid, Errc::unsupported_version, "server speaks protocol version 1");
    svc_.metrics.closes_protocol.inc();
    close_conn(c, proto::CLOSE_UNSUPPORTED_VERSION, "no common protocol version");
    return;
  }
  set_state(c, State::visitor);
  proto::ServerFrame out;
  out.set_request_id(rid);
  auto* ok = out.mutable_hello_ok();
  ok->set_version(wire::kProtocolVersion);
  ok->set_server("switchboard/0.1 " + cfg_.node_name);
  ok->set_max_frame_bytes(cfg_.session.max_frame_bytes);
  ok->set_heartbeat_interval_ms(cfg_.session.heartbeat_interval_ms);
  ok->set_heartbeat_timeout_ms(cfg_.session.heartbeat_timeout_ms);
  send(c, out);
}

void Shard::on_register(Conn& c, std::uint32_t rid, proto::RegisterRequest& r) {
  std::string zone = r.zone().empty() ? cfg_.lobby.default_zone : r.zone();
  if (!valid_zone(zone)) {
    c.fsm.finish();
    send_error(c, rid, Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
    return;
  }
  const net::ConnId cid = c.io->id();
  svc_.auth.register_account(std::move(*r.mutable_username()), std::move(*r.mutable_password()), zone,
                             c.io->remote(), executor_,
                             [this, cid, rid, zone](auth::AuthOutcome o) { on_auth_done(cid, rid, zone, 0, std::move(o)); });
}

void Shard::on_login(Conn& c, std::uint32_t rid, proto::LoginRequest& r) {
  std::string zone = r.zone();
  if (!zone.empty() && !valid_zone(zone)) {
    c.fsm.finish();
    send_error(c, rid, Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
    return;
  }
  const net::ConnId cid = c.io->id();
  const std::uint64_t last_seq = r.last_seq();
  svc_.auth.login(std::move(*r.mutable_username()), std::move(*r.mutable_password()), c.io->remote(), executor_,
                  [this, cid, rid, zone, last_seq](auth::AuthOutcome o) {
                    on_auth_done(cid, rid, zone, last_seq, std::move(o));
                  });
}

void Shard::on_auth_done(net::ConnId cid, std::uint32_t rid, std::string zone, std::uint64_t last_seq,
                         auth::AuthOutcome o) {
  if (o.code != Errc::ok) svc_.metrics.login(o.code).inc();  // successes are counted once claimed
  Conn* c = find_conn(cid);
  if (!c) return;  // the client left while we were hashing
  if (o.code != Errc::ok) {
    c->fsm.finish();
    send_error(*c, rid, o.code, o.message, o.retry_after_ms);
    return;
  }
  Claim cl;
  cl.conn = cid;
  cl.request_id = rid;
  cl.player = o.account.id;
  cl.name = o.account.username;
  cl.zone = zone.empty() ? (o.account.zone.empty() ? cfg_.lobby.default_zone : o.account.zone) : zone;
  cl.last_seq = last_seq;
  claim(std::move(cl));
}

void Shard::on_resume(Conn& c, std::uint32_t rid, const proto::ResumeRequest& r) {
  auto claims = svc_.tokens.verify(r.token(), svc_.clock.unix_ms());
  if (!claims) {
    const Errc e = to_errc(claims.error());
    svc_.metrics.login(e).inc();
    c.fsm.finish();
    send_error(c, rid, e, e == Errc::token_expired ? "resume token expired" : "resume token invalid");
    return;
  }
  Claim cl;
  cl.conn = c.io->id();
  cl.request_id = rid;
  cl.player = claims->player;
  cl.last_seq = r.last_seq();
  cl.is_resume = true;
  cl.presented_token_id = claims->token_id;
  claim(std::move(cl));
}

void Shard::on_logout(Conn& c, std::uint32_t rid) {
  c.fsm.finish();
  const SessionId sid = c.session;
  c.session = {};
  end_session(sid, room::LeaveReason::left);
  proto::ServerFrame out;
  out.set_request_id(rid);
  out.mutable_ok();
  send(c, out);
  close_conn(c, proto::CLOSE_LOGOUT, "logged out");
}

void Shard::on_chat(Conn& c, std::uint32_t rid, proto::ChatSend& r) {
  Session* s = find_session(c.session);
  if (!s || !s->room.valid()) {
    c.fsm.finish();
    send_error(c, rid, Errc::bad_state, "not in a room");
    return;
  }
  if (r.text().empty() || r.text().size() > cfg_.lobby.chat_max_bytes) {
    c.fsm.finish();
    send_error(c, rid, Errc::invalid_argument,
               "chat text must be 1.." + std::to_string(cfg_.lobby.chat_max_bytes) + " bytes");
    return;
  }
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_chat()->set_text(std::move(*r.mutable_text()));
  req.mutable_chat()->set_tag(r.tag());
  const net::ConnId cid = c.io->id();
  room_call(s->room, std::move(req), [this, cid, rid](pi::RoomReply reply) {
    Conn* cc = find_conn(cid);
    if (!cc) return;
    cc->fsm.finish();
    if (reply.errc() != 0) {
      send_error(*cc, rid, static_cast<Errc>(reply.errc()), reply.message());
      return;
    }
    svc_.metrics.chat_messages.inc();
    proto::ServerFrame out;
    out.set_request_id(rid);
    out.mutable_ok();
    send(*cc, out);
  });
}

void Shard::on_members(Conn& c, std::uint32_t rid) {
  Session* s = find_session(c.session);
  if (!s || !s->room.valid()) {
    c.fsm.finish();
    send_error(c, rid, Errc::bad_state, "not in a room");
    return;
  }
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_members();
  const net::ConnId cid = c.io->id();
  room_call(s->room, std::move(req), [this, cid, rid](pi::RoomReply reply) {
    Conn* cc = find_conn(cid);
    if (!cc) return;
    cc->fsm.finish();
    if (reply.errc() != 0 || reply.members_size() == 0) {
      send_error(*cc, rid, reply.errc() ? static_cast<Errc>(reply.errc()) : Errc::internal, reply.message());
      return;
    }
    proto::ServerFrame out;
    out.set_request_id(rid);
    if (!out.mutable_members()->ParseFromString(reply.members(0))) {
      send_error(*cc, rid, Errc::internal, "bad members reply");
      return;
    }
    send(*cc, out);
  });
}

void Shard::reply_error(net::ConnId cid, std::uint32_t rid, const pi::RoomReply& reply) {
  Conn* c = find_conn(cid);
  if (!c) return;
  c->fsm.finish();
  send_error(*c, rid, reply.errc() ? static_cast<Errc>(reply.errc()) : Errc::internal, reply.message());
}

bool Shard::admit_room_request(Conn& c, std::uint32_t rid, const Session* s, const std::string& type,
                               const std::string& zone,
                               const google::protobuf::Map<std::string, std::string>& params) {
  const room::RoomType* t = svc_.room_types.find(type);
  std::string problem;
  if (!s) problem = "no session";
  else if (!t || !t->client_creatable) problem = "unknown room type '" + type + "'";
  else if (!valid_zone(zone)) problem = "zone must be 1..32 chars of [A-Za-z0-9_-]";
  else if (!valid_params(params)) problem = "at most 16 params, keys 1..32 bytes, values up to 256 bytes";
  if (problem.empty()) return true;
  c.fsm.finish();
  send_error(c, rid, s ? Errc::invalid_argument : Errc::bad_state, problem);
  return false;
}

void Shard::on_create_room(Conn& c, std::uint32_t rid, proto::CreateRoom& r) {
  Session* s = find_session(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!admit_room_request(c, rid, s, r.type(), zone, r.params())) return;
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
  auto reply = handle_room(req);
  if (reply.errc() != 0) return reply_error(c.io->id(), rid, reply);
  const RoomId room{reply.room_id()};
  subscribe_room(room);
  enter_room(sid, room, reply, rid);
}

void Shard::on_join_room(Conn& c, std::uint32_t rid, const proto::JoinRoom& r) {
  Session* s = find_session(c.session);
  const RoomId room{r.room_id()};
  if (!s || !room.valid()) {
    c.fsm.finish();
    send_error(c, rid, s ? Errc::invalid_argument : Errc::bad_state, s ? "room_id required" : "no session");
    return;
  }
  if (shard_of(room.value) >= cfg_.shards) {
    // No shard of this node minted it: answer now instead of waiting out a request timeout.
    c.fsm.finish();
    send_error(c, rid, Errc::not_found, "no such room");
    return;
  }
  // Subscribe first: every event after the join is then either in the reply or arrives after it.
  hold_room(room);
  pi::RoomRequest req;
  req.set_room_id(room.value);
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_join()->set_spectator(r.spectator());
  const net::ConnId cid = c.io->id();
  const SessionId sid = s->id;
  room_call(room, std::move(req), [this, cid, rid, sid, room, player = s->player](pi::RoomReply reply) {
    if (reply.errc() == 0 && find_session(sid)) enter_room(sid, room, reply, rid);
    release_room(room);  // after enter_room: the subscription never lapses for a member
    if (reply.errc() != 0) return reply_error(cid, rid, reply);
    if (!find_session(sid)) give_back_seat(player, room);
  });
}

void Shard::on_auto_join(Conn& c, std::uint32_t rid, proto::AutoJoin& r) {
  Session* s = find_session(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!admit_room_request(c, rid, s, r.type(), zone, r.params())) return;
  // The (zone, type) home shard hosts every auto-joined room of that pair and places players in
  // one step (fullest room with space, else a new one): exact under any number of racing joins.
  pi::RoomRequest req;
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  auto* aj = req.mutable_auto_join();
  aj->set_type(r.type());
  aj->set_zone(zone);
  *aj->mutable_params() = r.params();
  const net::ConnId cid = c.io->id();
  const SessionId sid = s->id;
  shard_call(zone_home(zone, r.type()), std::move(req),
             [this, cid, rid, sid, player = s->player](pi::RoomReply reply) {
               if (reply.errc() != 0) return reply_error(cid, rid, reply);
               const RoomId room{reply.room_id()};
               if (!find_session(sid)) return give_back_seat(player, room);
               // The room was unknown before the reply: subscribe now and ask for the snapshot.
               hold_room(room);
               pi::RoomRequest again;
               again.set_room_id(room.value);
               again.set_player_id(player.value);
               again.mutable_reattach()->set_last_seq(0);
               room_call(room, std::move(again), [this, cid, rid, sid, room, player](pi::RoomReply r2) {
                 if (r2.errc() == 0 && find_session(sid)) enter_room(sid, room, r2, rid);
                 release_room(room);
                 if (r2.errc() != 0) return reply_error(cid, rid, r2);
                 if (!find_session(sid)) give_back_seat(player, room);
               });
             });
}

void Shard::on_leave_room(Conn& c, std::uint32_t rid) {
  Session* s = find_session(c.session);
  c.fsm.finish();
  if (!s || !s->room.valid() || s->room_type == room::kLobbyType) {
    send_error(c, rid, Errc::bad_state, "not in a game room");
    return;
  }
  leave_current_room(*s, room::LeaveReason::left);
  proto::ServerFrame out;
  out.set_request_id(rid);
  out.mutable_ok();
  send(c, out);
  join_zone_lobby(s->id, 0);
}

void Shard::on_lock_room(Conn& c, std::uint32_t rid, bool locked) {
  Session* s = find_session(c.session);
  if (!s || !s->room.valid()) {
    c.fsm.finish();
    send_error(c, rid, Errc::bad_state, "not in a room");
    return;
  }
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_lock()->set_locked(locked);
  const net::ConnId cid = c.io->id();
  room_call(s->room, std::move(req), [this, cid, rid](pi::RoomReply reply) {
    if (reply.errc() != 0) return reply_error(cid, rid, reply);
    Conn* cc = find_conn(cid);
    if (!cc) return;
    cc->fsm.finish();
    proto::ServerFrame out;
    out.set_request_id(rid);
    out.mutable_ok();
    send(*cc, out);
  });
}

void Shard::on_list_rooms(Conn& c, std::uint32_t rid, const proto::ListRooms& r) {
  c.fsm.finish();
  Session* s = find_session(c.session);
  const std::string zone = r.zone().empty() && s ? s->zone : r.zone();
  if (!valid_zone(zone)) {
    send_error(c, rid, Errc::invalid_argument, "zone must be 1..32 chars of [A-Za-z0-9_-]");
    return;
  }
  // Served from this shard's replica of the zone directory: no host is asked.
  watch_zone(zone);
  proto::ServerFrame out;
  out.set_request_id(rid);
  auto* list = out.mutable_room_list();
  list->set_zone(zone);
  for (const auto& e : zones_.list(zone)) {
    if (!r.type().empty() && e.type != r.type()) continue;
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
  send(c, out);
}

void Shard::on_game(Conn& c, std::uint32_t rid, proto::GameMessage& r) {
  // Fire-and-forget: not the request in flight (the FSM admitted it without marking one).
  Session* s = find_session(c.session);
  if (!s || !s->room.valid() || s->room_type == room::kLobbyType) {
    send_error(c, rid, Errc::bad_state, "not in a game room");
    return;
  }
  if (cfg_.session.game_rate > 0) {
    // A token bucket per connection: a flood costs the sender errors, not the room's shard.
    const auto now = svc_.clock.now();
    if (c.game_tokens < 0) {
      c.game_tokens = cfg_.session.game_burst;
    } else {
      const double dt = std::chrono::duration<double>(now - c.game_refill).count();
      c.game_tokens = std::min(cfg_.session.game_burst, c.game_tokens + dt * cfg_.session.game_rate);
    }
    c.game_refill = now;
    if (c.game_tokens < 1) {
      svc_.metrics.game_messages_limited.inc();
      send_error(c, rid, Errc::rate_limited, "more game messages than session.game_rate allows",
                 static_cast<std::uint32_t>(1000.0 / cfg_.session.game_rate) + 1);
      if (++c.errors > cfg_.session.max_errors) {
        svc_.metrics.closes_protocol.inc();
        close_conn(c, proto::CLOSE_PROTOCOL_ERROR, "too many errors");
      }
      return;
    }
    c.game_tokens -= 1;
  }
  svc_.metrics.game_messages.inc();
  pi::RoomRequest req;
  req.set_room_id(s->room.value);
  req.set_player_id(s->player.value);
  req.mutable_message()->set_data(std::move(*r.mutable_data()));
  req.mutable_message()->set_request_id(rid);
  room_send(s->room, std::move(req));
}

// ------------------------------------------------------------------ session ownership

std::string Shard::session_key(PlayerId p) const { return "sess." + std::to_string(p.value); }

pi::Route Shard::my_route(SessionId sid) const {
  pi::Route r;
  r.set_node(cfg_.node_name);
  r.set_shard(index_);
  r.set_session_id(sid.value);
  return r;
}

void Shard::claim(Claim cl) {
  auto fail_claim = [this](const Claim& k, Errc e, std::string msg) {
    svc_.metrics.login(e).inc();
    if (Conn* c = find_conn(k.conn)) {
      c->fsm.finish();
      send_error(*c, k.request_id, e, std::move(msg));
    }
  };
  if (cl.attempt++ > 8) return fail_claim(cl, Errc::unavailable, "could not claim the session, retry");
  if (!find_conn(cl.conn)) return;
  const std::string key = session_key(cl.player);
  auto entry = svc_.backbone.kv_get(key);
  const SessionId sid{minter_.next()};
  const std::uint64_t token_id = auth::TokenSigner::random_token_id();
  if (!entry) {
    if (to_errc(entry.error()) != Errc::not_found) return fail_claim(cl, Errc::unavailable, "backbone unavailable");
    if (cl.is_resume) return fail_claim(cl, Errc::session_expired, "session expired; log in with your password");
    pi::SessionRecord rec;
    *rec.mutable_route() = my_route(sid);
    rec.set_token_id(token_id);
    rec.set_connected(true);
    auto created = svc_.backbone.kv_create(key, rec.SerializeAsString());
    if (!created) return claim(std::move(cl));  // lost a race: look again
    pi::SessionState state;
    state.set_player_id(cl.player.value);
    state.set_name(cl.name);
    state.set_zone(cl.zone);
    return finish_claim(cl, state, proto::NEW_SESSION, sid, token_id);
  }
  pi::SessionRecord rec;
  if (!rec.ParseFromString(entry->value)) {
    (void)svc_.backbone.kv_delete(key, entry->revision);
    return claim(std::move(cl));
  }
  if (cl.is_resume && rec.token_id() != cl.presented_token_id) {
    return fail_claim(cl, Errc::token_invalid, "resume token was replaced");
  }
  pi::TakeOver t;
  t.set_player_id(cl.player.value);
  *t.mutable_new_route() = my_route(sid);
  t.set_new_token_id(token_id);
  t.set_is_resume(cl.is_resume);
  t.set_presented_token_id(cl.presented_token_id);
  auto on_reply = [this, cl, sid, token_id, key, rev = entry->revision, fail_claim](pi::TakeOverReply r) mutable {
    switch (r.status()) {
      case pi::TakeOverReply::OK: {
        if (!cl.name.empty()) r.mutable_state()->set_name(cl.name);
        if (!cl.zone.empty() && !r.state().room_id()) r.mutable_state()->set_zone(cl.zone);
        const auto kind = r.state().was_connected() ? proto::TOOK_OVER : proto::REATTACHED;
        return finish_claim(cl, r.state(), kind, sid, token_id);
      }
      case pi::TakeOverReply::TOKEN_INVALID:
        return fail_claim(cl, Errc::token_invalid, "resume token was replaced");
      case pi::TakeOverReply::NOT_HERE:
      default:
        // Stale record (holder restarted or mid-handover): clear it if unchanged and retry.
        (void)svc_.backbone.kv_delete(key, rev);
        return claim(std::move(cl));
    }
  };
  if (rec.route().node() == cfg_.node_name && rec.route().shard() == index_) {
    return on_reply(take_over(t));
  }
  svc_.backbone.request(inbox_subject(rec.route().node(), rec.route().shard()),
                        [&] {
                          pi::ShardMessage m;
                          *m.mutable_take_over() = t;
                          return m.SerializeAsString();
                        }(),
                        std::chrono::milliseconds(2000), executor_,
                        [on_reply, this, cl, key, rev = entry->revision](Result<backbone::Message> reply) mutable {
                          pi::TakeOverReply r;
                          if (!reply || !r.ParseFromString(reply->payload)) {
                            // Holder unreachable: its node is gone; the record is stale.
                            r.set_status(pi::TakeOverReply::NOT_HERE);
                          }
                          on_reply(std::move(r));
                        });
}

pi::TakeOverReply Shard::take_over(const pi::TakeOver& t) {
  pi::TakeOverReply reply;
  const PlayerId player{t.player_id()};
  auto it = by_player_.find(player);
  if (it == by_player_.end()) {
    reply.set_status(pi::TakeOverReply::NOT_HERE);
    return reply;
  }
  Session& s = sessions_.at(it->second);
  if (t.is_resume() && t.presented_token_id() != s.token_id) {
    reply.set_status(pi::TakeOverReply::TOKEN_INVALID);
    return reply;
  }
  pi::SessionRecord rec;
  *rec.mutable_route() = t.new_route();
  rec.set_token_id(t.new_token_id());
  rec.set_connected(true);
  if (!svc_.backbone.kv_put(session_key(player), rec.SerializeAsString())) {
    reply.set_status(pi::TakeOverReply::NOT_HERE);
    return reply;
  }
  auto* st = reply.mutable_state();
  st->set_player_id(player.value);
  st->set_name(s.name);
  st->set_zone(s.zone);
  st->set_room_id(s.room.value);
  st->set_room_seq(s.room_seq);
  st->set_was_connected(s.conn.valid());
  st->set_room_changed(s.room_changed);
  if (s.conn.valid() && s.room.valid()) {
    // No drop (protocol.md §7.2 case 2): the room sees no presence change; the game is told of
    // the switch so it can reset per-connection state (e.g. input sequence numbers).
    pi::RoomRequest moved;
    moved.set_room_id(s.room.value);
    moved.set_player_id(player.value);
    moved.mutable_conn_switch();
    room_send(s.room, std::move(moved));
  }
  if (Conn* old = find_conn(s.conn)) {
    old->session = {};
    close_conn(*old, proto::CLOSE_LOGGED_IN_ELSEWHERE, "logged in elsewhere");
  } else {
    svc_.metrics.sessions_detached.add(-1);
  }
  const SessionId old_sid = s.id;
  if (s.room.valid()) remove_room_member(s.room, old_sid);
  by_player_.erase(it);
  sessions_.erase(old_sid);
  reply.set_status(pi::TakeOverReply::OK);
  return reply;
}

void Shard::finish_claim(const Claim& cl, const pi::SessionState& state, proto::LoginKind kind, SessionId sid,
                         std::uint64_t token_id) {
  Session s;
  s.id = sid;
  s.player = PlayerId{state.player_id()};
  s.name = state.name();
  s.zone = state.zone().empty() ? cfg_.lobby.default_zone : state.zone();
  s.token_id = token_id;
  const RoomId old_room{state.room_id()};
  Conn* c = find_conn(cl.conn);
  if (c) {
    s.conn = cl.conn;
    c->session = sid;
  } else {
    // The client vanished mid-login: hold the session as if it had just dropped.
    s.held_until = svc_.clock.now() + std::chrono::milliseconds(cfg_.session.session_grace_ms);
    svc_.metrics.sessions_detached.add(1);
  }
  watch_zone(s.zone);
  sessions_.emplace(sid, s);
  by_player_[s.player] = sid;
  svc_.metrics.login(Errc::ok).inc();
  if (cl.is_resume) svc_.metrics.resumes.inc();
  if (c) {
    const auto expires = svc_.clock.unix_ms() + static_cast<UnixMillis>(cfg_.auth.token_ttl_s) * 1000;
    proto::ServerFrame out;
    out.set_request_id(cl.request_id);
    auto* ok = out.mutable_login_ok();
    ok->set_player_id(s.player.value);
    ok->set_username(s.name);
    ok->set_kind(kind);
    ok->set_resume_token(svc_.tokens.issue({s.player, token_id, expires}));
    ok->set_token_expires_unix_ms(static_cast<std::uint64_t>(expires));
    ok->set_session_grace_ms(cfg_.session.session_grace_ms);
    set_state(*c, State::authenticated);
    c->fsm.finish();
    send(*c, out);
  }
  if (old_room.valid()) {
    // Seed 001 case 4: back into the room, replaying what the client missed.
    sessions_.at(sid).room = old_room;
    attach_to_room(sid, old_room, state.room_changed() ? 0 : cl.last_seq);
  } else {
    join_zone_lobby(sid, 0);
  }
}

void Shard::detach(Session& s) {
  s.conn = {};
  s.held_until = svc_.clock.now() + std::chrono::milliseconds(cfg_.session.session_grace_ms);
  svc_.metrics.sessions_detached.add(1);
  if (s.room.valid()) {
    pi::RoomRequest req;
    req.set_room_id(s.room.value);
    req.set_player_id(s.player.value);
    req.mutable_presence()->set_connected(false);
    room_send(s.room, std::move(req));
  }
}

void Shard::leave_current_room(Session& s, room::LeaveReason why) {
  if (!s.room.valid()) return;
  const RoomId old = s.room;
  remove_room_member(old, s.id);
  s.room = {};
  s.room_type.clear();
  s.room_seq = 0;  // the next room numbers its own events
  if (!s.conn.valid()) s.room_changed = true;
  pi::RoomRequest req;
  req.set_room_id(old.value);
  req.set_player_id(s.player.value);
  req.mutable_leave()->set_reason(static_cast<std::uint32_t>(why));
  room_send(old, std::move(req));
}

void Shard::give_back_seat(PlayerId player, RoomId room) {
  // The session ended while joining. Unless the player has a session again (a take-over: that
  // session owns the seat now and its own join is a no-op re-join), free the seat.
  if (svc_.backbone.kv_get(session_key(player))) return;
  pi::RoomRequest leave;
  leave.set_room_id(room.value);
  leave.set_player_id(player.value);
  leave.mutable_leave();
  room_send(room, std::move(leave));
}

void Shard::end_session(SessionId sid, room::LeaveReason why) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  if (!s.conn.valid()) svc_.metrics.sessions_detached.add(-1);
  leave_current_room(s, why);
  // Remove the ownership record only if it is still ours.
  const std::string key = session_key(s.player);
  if (auto e = svc_.backbone.kv_get(key)) {
    pi::SessionRecord rec;
    if (rec.ParseFromString(e->value) && rec.route().session_id() == sid.value) {
      (void)svc_.backbone.kv_delete(key, e->revision);
    }
  }
  by_player_.erase(s.player);
  sessions_.erase(it);
}

// ------------------------------------------------------------------ rooms, member side

void Shard::join_zone_lobby(SessionId sid, int attempt) {
  Session* s = find_session(sid);
  if (!s) return;
  if (attempt >= 5) {
    // The zone's home shard did not answer: tell the client rather than leave it roomless.
    if (Conn* c = find_conn(s->conn)) close_conn(*c, proto::CLOSE_UNAVAILABLE, "no lobby available, reconnect");
    return;
  }
  // The zone's home shard places the player (fullest lobby with space, else a new one) in one
  // step, so concurrent logins on every shard can never overfill or fragment the zone's lobbies.
  pi::RoomRequest req;
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_join_lobby()->set_zone(s->zone);
  spdlog::debug("shard {}: session {} joins the lobby of zone {} (attempt {})", index_, sid.value, s->zone, attempt);
  shard_call(zone_home(s->zone, room::kLobbyType), std::move(req),
             [this, sid, attempt, player = s->player](pi::RoomReply reply) {
               const RoomId room{reply.room_id()};
               Session* ss = find_session(sid);
               if (!ss) {
                 if (reply.errc() == 0) give_back_seat(player, room);
                 return;
               }
               if (reply.errc() != 0) return join_zone_lobby(sid, attempt + 1);
               if (ss->room.valid() && ss->room != room) {
                 // Entered another room meanwhile (a create or join raced this): free this lobby
                 // seat. Not give_back_seat(): it keeps the seat of a player who has a session,
                 // and this one has (it is `ss`), so the lobby kept a ghost member.
                 pi::RoomRequest leave;
                 leave.set_room_id(room.value);
                 leave.set_player_id(player.value);
                 leave.mutable_leave();
                 room_send(room, std::move(leave));
                 return;
               }
               ss->room = room;
               ss->room_type = room::kLobbyType;
               ss->room_seq = 0;
               attach_to_room(sid, room, 0);
             });
}

void Shard::attach_to_room(SessionId sid, RoomId room, std::uint64_t last_seq) {
  Session* s = find_session(sid);
  if (!s) return;
  // Subscribe first, then ask for the catch-up: every event is either in the reply or arrives
  // after it (same inbox queue), and room_seq drops duplicates.
  hold_room(room);
  pi::RoomRequest req;
  req.set_room_id(room.value);
  req.set_player_id(s->player.value);
  req.set_name(s->name);
  req.mutable_reattach()->set_last_seq(last_seq);
  room_call(room, std::move(req), [this, sid, room](pi::RoomReply reply) {
    Session* ss = find_session(sid);
    // Gone, or moved on (kicked, left) while this was in flight: nothing to enter.
    const bool still_here = ss && ss->room == room;
    if (still_here && reply.errc() == 0) enter_room(sid, room, reply);
    release_room(room);
    if (still_here && reply.errc() != 0) {
      // The room is gone or no longer has the seat: back to the zone's lobby.
      ss->room = {};
      ss->room_type.clear();
      join_zone_lobby(sid, 0);
    }
  });
}

ShardIndex Shard::zone_home(const std::string& zone, const std::string& type) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across processes and builds
  for (unsigned char ch : zone) h = (h ^ ch) * 1099511628211ull;
  if (type != room::kLobbyType) {
    h = (h ^ '/') * 1099511628211ull;
    for (unsigned char ch : type) h = (h ^ ch) * 1099511628211ull;
  }
  return static_cast<ShardIndex>(h % std::max<std::uint32_t>(1, cfg_.shards));
}

void Shard::enter_room(SessionId sid, RoomId room, const pi::RoomReply& reply, std::uint32_t rid) {
  Session* s = find_session(sid);
  spdlog::debug("shard {}: session {} enters room {} ({} frames, found {})", index_, sid.value, room.value,
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
  add_room_member(room, sid);
  Conn* c = find_conn(s->conn);
  if (!c) {
    s->room_changed = true;
    return;
  }
  bool answered = rid == 0;
  for (const auto& payload : reply.frames()) {
    if (!answered) {
      // The first frame (the RoomJoined snapshot) is the answer to the request.
      proto::ServerFrame f;
      if (f.ParseFromString(payload) && f.has_room_joined()) {
        f.set_request_id(rid);
        c->fsm.finish();
        send(*c, f);
        answered = true;
        continue;
      }
    }
    send_frame(*c, wire::frame_from_payload(payload));
  }
  if (!answered) {
    c->fsm.finish();
    send_error(*c, rid, Errc::internal, "room reply without a snapshot");
  }
  s->room_changed = false;
  const State want = s->room_type == room::kLobbyType ? State::in_lobby : State::in_room;
  if (c->fsm.state() != State::closed) set_state(*c, want);
}

void Shard::subscribe_room(RoomId room) {
  if (room_subs_.count(room)) return;
  auto sub = svc_.backbone.subscribe(room_subject(room), "", executor_,
                                     [this](backbone::Message m) { on_room_broadcast(m); });
  SB_CHECK(sub.has_value());
  room_subs_[room].sub = *sub;
}

void Shard::add_room_member(RoomId room, SessionId sid) {
  subscribe_room(room);
  auto& v = room_subs_[room].sessions;
  if (std::find(v.begin(), v.end(), sid) == v.end()) v.push_back(sid);
}

void Shard::remove_room_member(RoomId room, SessionId sid) {
  auto it = room_subs_.find(room);
  if (it == room_subs_.end()) return;
  auto& v = it->second.sessions;
  v.erase(std::remove(v.begin(), v.end(), sid), v.end());
  drop_room_sub_if_unused(room);
}

void Shard::hold_room(RoomId room) {
  subscribe_room(room);
  ++room_subs_[room].joining;
}

void Shard::release_room(RoomId room) {
  auto it = room_subs_.find(room);
  if (it == room_subs_.end()) return;
  if (it->second.joining > 0) --it->second.joining;
  drop_room_sub_if_unused(room);
}

void Shard::drop_room_sub_if_unused(RoomId room) {
  auto it = room_subs_.find(room);
  if (it == room_subs_.end() || !it->second.sessions.empty() || it->second.joining > 0) return;
  svc_.backbone.unsubscribe(it->second.sub);
  room_subs_.erase(it);
}

void Shard::on_room_broadcast(const backbone::Message& m) {
  pi::RoomBroadcast b;
  if (!b.ParseFromString(m.payload)) return;
  const RoomId room{b.room_id()};
  auto it = room_subs_.find(room);
  if (it == room_subs_.end()) return;
  if (b.has_removed()) {
    // The room removed a player by itself (kick, end): tell it, and back to the lobby.
    auto p = by_player_.find(PlayerId{b.removed().player_id()});
    if (p == by_player_.end()) return;
    Session* s = find_session(p->second);
    if (!s || s->room != room) return;
    remove_room_member(room, s->id);
    s->room = {};
    s->room_type.clear();
    s->room_seq = 0;
    if (!s->conn.valid()) s->room_changed = true;
    if (Conn* c = find_conn(s->conn)) {
      proto::ServerFrame out;
      auto* left = out.mutable_room_left();
      left->set_room_id(room.value);
      left->set_reason(b.removed().reason());
      left->set_message(b.removed().message());
      send(*c, out);
    }
    join_zone_lobby(s->id, 0);
    return;
  }
  if (b.has_message_error()) {
    auto p = by_player_.find(PlayerId{b.to_player()});
    if (p == by_player_.end()) return;
    Session* s = find_session(p->second);
    if (!s || s->room != room) return;
    if (Conn* c = find_conn(s->conn)) {
      send_error(*c, b.message_error().request_id(), static_cast<Errc>(b.message_error().errc()),
                 b.message_error().message());
    }
    return;
  }
  if (b.closed()) {
    drop_room_sub_if_unused(room);
    return;
  }
  // One frame per shard, shared by every local member.
  const wire::FramePtr frame = wire::frame_from_payload(b.frame());
  if (b.to_player() != 0) {
    auto p = by_player_.find(PlayerId{b.to_player()});
    if (p == by_player_.end()) return;
    Session* s = find_session(p->second);
    if (!s || s->room != room || s->room_seq >= b.seq()) return;
    Conn* c = find_conn(s->conn);
    if (!c) return;  // detached: the replay on reattach covers it
    s->room_seq = b.seq();
    send_frame(*c, frame);
    svc_.metrics.broadcast_deliveries.inc();
    return;
  }
  for (SessionId sid : it->second.sessions) {
    Session* s = find_session(sid);
    if (!s || s->room_seq >= b.seq()) continue;
    Conn* c = find_conn(s->conn);
    if (!c) continue;  // detached: the replay on reattach covers it
    s->room_seq = b.seq();
    send_frame(*c, frame);
    svc_.metrics.broadcast_deliveries.inc();
  }
}

void Shard::room_call(RoomId room, pi::RoomRequest req, std::function<void(pi::RoomReply)> done) {
  shard_call(shard_of(room.value), std::move(req), std::move(done));
}

void Shard::shard_call(ShardIndex owner, pi::RoomRequest req, std::function<void(pi::RoomReply)> done) {
  if (owner == index_) {
    // Same shard: run it now, answer through the queue so callers see one behaviour.
    auto reply = handle_room(req);
    asio::post(io_, [done = std::move(done), reply = std::move(reply)]() mutable { done(std::move(reply)); });
    return;
  }
  pi::ShardMessage m;
  *m.mutable_room() = std::move(req);
  svc_.backbone.request(inbox_subject(cfg_.node_name, owner), m.SerializeAsString(),
                        std::chrono::milliseconds(5000), executor_,
                        [done = std::move(done)](Result<backbone::Message> r) {
                          pi::RoomReply reply;
                          if (!r || !reply.ParseFromString(r->payload)) {
                            reply.set_errc(static_cast<std::uint32_t>(r ? Errc::internal : to_errc(r.error())));
                            reply.set_message("room unreachable");
                          }
                          done(std::move(reply));
                        });
}

void Shard::room_send(RoomId room, pi::RoomRequest req) {
  const ShardIndex owner = shard_of(room.value);
  if (owner == index_) {
    (void)handle_room(req);
    return;
  }
  pi::ShardMessage m;
  *m.mutable_room() = std::move(req);
  (void)svc_.backbone.publish(inbox_subject(cfg_.node_name, owner), m.SerializeAsString());
}

// ------------------------------------------------------------------ rooms, owner side

Result<room::Room*> Shard::open_room(const std::string& type_name, const std::string& zone, std::uint32_t capacity,
                                     PlayerId owner, const room::Params& params, std::string& error) {
  const room::RoomType* type = svc_.room_types.find(type_name);
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
  spec.id = RoomId{minter_.next()};
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
  auto hosted = std::make_unique<HostedRoom>(HostedRoom{nullptr, asio::steady_timer(io_), std::nullopt});
  hosted->room = std::make_unique<room::Room>(std::move(spec), std::move(*handler), svc_.clock);
  room::Room* r = hosted->room.get();
  rooms_.emplace(r->id(), std::move(hosted));
  zones_.upsert({r->id(), r->spec().type, zone, 0, r->spec().capacity, false, 0});
  dirty_rooms_.insert(r->id());
  svc_.metrics.rooms.add(1);
  svc_.metrics.rooms_created.inc();
  return r;
}

RoomId Shard::create_lobby(const std::string& zone) {
  const RoomId id{minter_.next()};
  room::RoomSpec spec{id, room::kLobbyType, zone, cfg_.lobby.capacity, 0, cfg_.lobby.log_size,
                      cfg_.lobby.presence_events, true, PlayerId{}, {}};
  auto hosted = std::make_unique<HostedRoom>(HostedRoom{nullptr, asio::steady_timer(io_), std::nullopt});
  hosted->room = std::make_unique<room::Room>(
      spec, std::make_unique<room::LobbyHandler>(cfg_.lobby.chat_max_bytes), svc_.clock);
  rooms_.emplace(id, std::move(hosted));
  zones_.upsert({id, room::kLobbyType, zone, 0, cfg_.lobby.capacity, false, 0});
  dirty_rooms_.insert(id);
  svc_.metrics.rooms.add(1);
  svc_.metrics.rooms_created.inc();
  return id;
}

void Shard::join_into(room::Room& r, const pi::RoomRequest& req, bool spectator, pi::RoomReply& reply) {
  const PlayerId player{req.player_id()};
  room::Refusal refusal;
  auto st = r.join(player, req.name(), spectator, &refusal);
  reply.set_room_id(r.id().value);
  reply.set_room_type(r.spec().type);
  if (!st) {
    const Errc e = to_errc(st.error());
    set_error(reply, e, e == Errc::refused ? refusal.reason : std::string());
    return;
  }
  for (auto& f : r.catch_up(player, 0)) reply.add_frames(std::string(f->payload()));
  reply.set_seq(r.seq());
}

pi::RoomReply Shard::join_lobby(const pi::RoomRequest& req) {
  const std::string& zone = req.join_lobby().zone();
  room::Room* best = nullptr;
  for (auto& [id, h] : rooms_) {
    room::Room* r = h->room.get();
    if (r->spec().type != room::kLobbyType || r->spec().zone != zone || r->full()) continue;
    if (!best || r->size() > best->size() || (r->size() == best->size() && id < best->id())) best = r;
  }
  if (!best) best = rooms_.at(create_lobby(zone))->room.get();
  pi::RoomReply reply;
  auto st = best->join(PlayerId{req.player_id()}, req.name());
  if (!st) set_error(reply, to_errc(st.error()), {});
  reply.set_room_id(best->id().value);
  reply.set_room_type(room::kLobbyType);
  reply.set_seq(best->seq());
  flush_room(*best);
  return reply;
}

pi::RoomReply Shard::create_room(const pi::RoomRequest& req) {
  const auto& c = req.create();
  pi::RoomReply reply;
  std::string error;
  auto r = open_room(c.type(), c.zone(), c.capacity(), PlayerId{req.player_id()}, to_params(c.params()), error);
  if (!r) {
    set_error(reply, to_errc(r.error()), error);
    return reply;
  }
  room::Room& room = **r;
  join_into(room, req, false, reply);
  if (reply.errc() == 0 && c.locked()) {
    // The creator's snapshot must show the lock (it is not subscribed yet to see the event).
    room.set_locked(true);
    reply.clear_frames();
    for (auto& f : room.catch_up(PlayerId{req.player_id()}, 0)) reply.add_frames(std::string(f->payload()));
    reply.set_seq(room.seq());
  }
  flush_room(room);
  return reply;
}

pi::RoomReply Shard::auto_join_room(const pi::RoomRequest& req) {
  const auto& a = req.auto_join();
  const PlayerId player{req.player_id()};
  const room::Params wanted = to_params(a.params());
  pi::RoomReply reply;
  // Fullest room of the pair with space, never a full, locked or ended one; ties to the oldest.
  // Rooms the game refuses this player are skipped; a new room is opened when none is left.
  std::vector<room::Room*> candidates;
  for (auto& [id, h] : rooms_) {
    room::Room* r = h->room.get();
    if (r->spec().type != a.type() || r->spec().zone != a.zone() || r->full() || r->locked() || r->ended()) continue;
    if (r->spec().owner.valid()) continue;  // rooms a client created are joined by id
    if (r->spec().params != wanted) continue;  // e.g. other stakes
    candidates.push_back(r);
  }
  std::sort(candidates.begin(), candidates.end(), [](const room::Room* x, const room::Room* y) {
    return x->size() != y->size() ? x->size() > y->size() : x->id() < y->id();
  });
  for (room::Room* r : candidates) {
    if (r->find(player)) {  // already seated there (a retried request)
      reply.set_room_id(r->id().value);
      reply.set_room_type(r->spec().type);
      reply.set_seq(r->seq());
      return reply;
    }
    pi::RoomReply attempt;
    join_into(*r, req, false, attempt);
    flush_room(*r);
    if (attempt.errc() == 0) return attempt;
  }
  std::string error;
  auto r = open_room(a.type(), a.zone(), 0, PlayerId{}, wanted, error);
  if (!r) {
    set_error(reply, to_errc(r.error()), error);
    return reply;
  }
  join_into(**r, req, false, reply);
  flush_room(**r);
  return reply;
}

pi::RoomReply Shard::handle_room(const pi::RoomRequest& req) {
  if (req.has_join_lobby()) return join_lobby(req);
  if (req.has_create()) return create_room(req);
  if (req.has_auto_join()) return auto_join_room(req);
  pi::RoomReply reply;
  auto it = rooms_.find(RoomId{req.room_id()});
  if (it == rooms_.end()) {
    if (req.has_message()) {
      // Fire-and-forget: nobody waits for a reply, so tell the sender's edge directly.
      pi::RoomBroadcast b;
      b.set_room_id(req.room_id());
      b.set_to_player(req.player_id());
      auto* e = b.mutable_message_error();
      e->set_request_id(req.message().request_id());
      e->set_errc(static_cast<std::uint32_t>(Errc::not_found));
      e->set_message("no such room");
      (void)svc_.backbone.publish(room_subject(RoomId{req.room_id()}), b.SerializeAsString());
    }
    set_error(reply, Errc::not_found, "no such room");
    return reply;
  }
  room::Room& r = *it->second->room;
  const PlayerId player{req.player_id()};
  reply.set_room_id(r.id().value);
  auto set_err = [&](const Status& st) {
    if (!st) set_error(reply, to_errc(st.error()), {});
  };
  switch (req.body_case()) {
    case pi::RoomRequest::kJoin:
      join_into(r, req, req.join().spectator(), reply);
      break;
    case pi::RoomRequest::kReattach: {
      if (!r.find(player)) {
        set_error(reply, Errc::not_found, "not a member any more");
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
      auto st = r.message(player, req.message().data());
      if (!st) {
        pi::RoomBroadcast b;
        b.set_room_id(r.id().value);
        b.set_to_player(player.value);
        auto* e = b.mutable_message_error();
        const Errc code = to_errc(st.error());
        e->set_request_id(req.message().request_id());
        e->set_errc(static_cast<std::uint32_t>(code));
        e->set_message(code == Errc::not_found ? "not in this room" : room_error_text(code));
        (void)svc_.backbone.publish(room_subject(r.id()), b.SerializeAsString());
      }
      break;
    }
    default:
      set_error(reply, Errc::unknown_message, {});
      break;
  }
  flush_room(r);
  return reply;
}

void Shard::flush_room(room::Room& r) {
  const RoomId id = r.id();
  r.take_broadcasts(outbox_scratch_);
  auto& out = outbox_scratch_;
  auto removed = r.take_removals();
  for (auto& b : out) {
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    msg.set_seq(b.seq);
    msg.set_frame(std::string(b.frame->payload()));
    msg.set_to_player(b.to.value);
    (void)svc_.backbone.publish(room_subject(id), msg.SerializeAsString());
  }
  for (auto& rm : removed) {
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    auto* x = msg.mutable_removed();
    x->set_player_id(rm.player.value);
    x->set_reason(static_cast<std::uint32_t>(rm.reason));
    x->set_message(rm.message);
    (void)svc_.backbone.publish(room_subject(id), msg.SerializeAsString());
  }
  if (r.ended() || (r.empty() && r.spec().close_when_empty)) {
    // An ended or empty room closes; a later join opens a fresh one.
    pi::RoomBroadcast msg;
    msg.set_room_id(id.value);
    msg.set_closed(true);
    (void)svc_.backbone.publish(room_subject(id), msg.SerializeAsString());
    zones_.remove(id);
    closed_rooms_.emplace(id, r.spec().zone);
    dirty_rooms_.insert(id);
    if (r.ended()) svc_.metrics.rooms_ended.inc();
    rooms_.erase(id);  // cancels its timer; `r` is gone after this line
    svc_.metrics.rooms.add(-1);
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
    zones_.upsert({id, r.spec().type, r.spec().zone, r.size(), r.spec().capacity, r.locked(), r.spectators()});
    dirty_rooms_.insert(id);
  }
  arm_room(h);
}

void Shard::arm_room(HostedRoom& h) {
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
    on_room_due(id);
  });
}

void Shard::on_room_due(RoomId id) {
  auto it = rooms_.find(id);
  if (it == rooms_.end()) return;
  HostedRoom& h = *it->second;
  h.armed.reset();
  const std::uint64_t before = h.room->ticks();
  h.room->advance(svc_.clock.now());
  svc_.metrics.room_ticks.inc(h.room->ticks() - before);
  flush_room(*h.room);  // re-arms (or closes the room if the handler ended it)
}

void Shard::push_zone_counts() {
  for (RoomId id : dirty_rooms_) {
    auto it = rooms_.find(id);
    if (it == rooms_.end()) {
      if (auto closed = closed_rooms_.find(id); closed != closed_rooms_.end()) {
        (void)svc_.backbone.kv_delete(room::zone_key(closed->second, id));
      }
      continue;
    }
    const room::Room& r = *it->second->room;
    pi::ZoneRoom z;
    z.set_room_id(id.value);
    z.set_room_type(r.spec().type);
    z.set_zone(r.spec().zone);
    z.set_node(cfg_.node_name);
    z.set_shard(index_);
    z.set_count(r.size());
    z.set_capacity(r.spec().capacity);
    z.set_locked(r.locked());
    z.set_spectators(r.spectators());
    (void)svc_.backbone.kv_put(room::zone_key(r.spec().zone, id), z.SerializeAsString());
  }
  dirty_rooms_.clear();
  closed_rooms_.clear();
}

void Shard::watch_zone(const std::string& zone) {
  const auto now = svc_.clock.now();
  auto it = zone_watches_.find(zone);
  if (it != zone_watches_.end()) {
    it->second.last_used = now;
    return;
  }
  // Watch first (its initial entries and every later change are queued to this shard in order),
  // then list now so that the first answer is already complete; the queued events that follow
  // replay changes made since the watch began, so the replica converges.
  const std::string prefix = std::string(room::kZonePrefix) + zone + ".";
  auto sub = svc_.backbone.kv_watch(prefix, true, executor_, [this](backbone::KvEvent ev) { on_zone_event(ev); });
  if (!sub) return;  // backbone trouble: lists show this shard's own rooms only; retried next use
  zone_watches_.emplace(zone, ZoneWatch{*sub, now});
  if (auto entries = svc_.backbone.kv_list(prefix)) {
    for (const auto& e : *entries) on_zone_event(backbone::KvEvent{backbone::KvOp::put, e});
  }
}

void Shard::forget_idle_zones() {
  const auto now = svc_.clock.now();
  if (now < next_zone_gc_) return;
  next_zone_gc_ = now + std::chrono::minutes(1);
  std::unordered_map<std::string, bool> in_use;
  for (const auto& [sid, s] : sessions_) in_use[s.zone] = true;
  for (auto it = zone_watches_.begin(); it != zone_watches_.end();) {
    if (in_use.count(it->first) || now - it->second.last_used < std::chrono::minutes(10)) {
      ++it;
      continue;
    }
    svc_.backbone.unsubscribe(it->second.sub);
    for (const auto& e : zones_.list(it->first)) {
      if (!rooms_.count(e.room)) zones_.remove(e.room);
    }
    it = zone_watches_.erase(it);
  }
}

void Shard::on_zone_event(const backbone::KvEvent& ev) {
  if (ev.op != backbone::KvOp::put) {
    const auto dot = ev.entry.key.rfind('.');
    if (dot == std::string::npos) return;
    const RoomId id{std::strtoull(ev.entry.key.c_str() + dot + 1, nullptr, 10)};
    if (!rooms_.count(id)) zones_.remove(id);
    return;
  }
  pi::ZoneRoom z;
  if (!z.ParseFromString(ev.entry.value)) return;
  if (z.node() == cfg_.node_name && z.shard() == index_) return;  // own rooms are applied directly
  zones_.upsert({RoomId{z.room_id()}, z.room_type(), z.zone(), z.count(), z.capacity(), z.locked(), z.spectators()});
}

// ------------------------------------------------------------------ inbox

void Shard::on_inbox(backbone::Message m) {
  pi::ShardMessage msg;
  if (!msg.ParseFromString(m.payload)) {
    spdlog::warn("shard {}: undecodable inbox message on {}", index_, m.subject);
    return;
  }
  switch (msg.body_case()) {
    case pi::ShardMessage::kTakeOver: {
      auto reply = take_over(msg.take_over());
      if (!m.reply_to.empty()) (void)svc_.backbone.publish(m.reply_to, reply.SerializeAsString());
      break;
    }
    case pi::ShardMessage::kRoom: {
      auto reply = handle_room(msg.room());
      if (!m.reply_to.empty()) (void)svc_.backbone.publish(m.reply_to, reply.SerializeAsString());
      break;
    }
    case pi::ShardMessage::kKick: {
      const auto& k = msg.kick();
      auto it = by_player_.find(PlayerId{k.player_id()});
      if (it == by_player_.end()) break;
      const SessionId sid = it->second;
      Session& s = sessions_.at(sid);
      if (Conn* c = find_conn(s.conn)) {
        c->session = {};
        close_conn(*c, static_cast<proto::CloseReason>(k.close_reason()), k.message());
        s.conn = {};
        svc_.metrics.sessions_detached.add(1);  // balanced by end_session
      }
      end_session(sid, room::LeaveReason::kicked);
      break;
    }
    default:
      break;
  }
}

// ------------------------------------------------------------------ output

void Shard::send(Conn& c, const proto::ServerFrame& f) { send_frame(c, wire::encode(f)); }

void Shard::send_frame(Conn& c, const wire::FramePtr& f) {
  svc_.metrics.frames_out.inc();
  svc_.metrics.bytes_out.inc(f->size());
  c.io->send(f);
}

void Shard::send_error(Conn& c, std::uint32_t rid, Errc code, std::string message, std::uint32_t retry_after_ms) {
  svc_.metrics.error(code).inc();
  proto::ServerFrame out;
  out.set_request_id(rid);
  auto* e = out.mutable_error();
  e->set_code(static_cast<proto::ErrorCode>(code));
  e->set_message(std::move(message));
  e->set_retry_after_ms(retry_after_ms);
  send(c, out);
}

void Shard::close_conn(Conn& c, proto::CloseReason reason, std::string message) {
  if (c.io->closing() || c.io->aborted()) return;
  proto::ServerFrame out;
  out.mutable_closing()->set_reason(reason);
  out.mutable_closing()->set_message(std::move(message));
  send(c, out);
  set_state(c, State::closed);
  c.io->close_after_flush();
}

void Shard::set_state(Conn& c, State s) {
  if (c.fsm.state() == s) return;
  const State old = c.fsm.state();
  if (!c.fsm.transition(s)) return;
  svc_.metrics.sessions(old).add(-1);
  svc_.metrics.sessions(s).add(1);
}

Shard::Conn* Shard::find_conn(net::ConnId id) {
  if (!id.valid()) return nullptr;
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

Shard::Session* Shard::find_session(SessionId id) {
  if (!id.valid()) return nullptr;
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

// ------------------------------------------------------------------ timers

void Shard::start_timers() {
  arm_sweep();
  arm_zone();
  arm_lag();
}

void Shard::arm_sweep() {
  sweep_timer_.expires_after(std::chrono::milliseconds(250));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    sweep();
    arm_sweep();
  });
}

void Shard::arm_zone() {
  zone_timer_.expires_after(std::chrono::milliseconds(cfg_.lobby.count_push_ms));
  zone_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (!dirty_rooms_.empty()) push_zone_counts();
    arm_zone();
  });
}

void Shard::arm_lag() {
  lag_expected_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  lag_timer_.expires_at(lag_expected_);
  lag_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    probe_lag();
    arm_lag();
  });
}

void Shard::probe_lag() {
  const auto late = std::chrono::steady_clock::now() - lag_expected_;
  lag_hist_->observe(std::chrono::duration<double>(late).count());
}

void Shard::sweep() {
  forget_idle_zones();
  const auto now = svc_.clock.now();
  const auto hb = std::chrono::milliseconds(cfg_.session.heartbeat_timeout_ms);
  const auto idle = std::chrono::milliseconds(cfg_.session.idle_timeout_ms);
  const auto login = std::chrono::milliseconds(cfg_.session.login_timeout_ms);
  for (auto& [id, c] : conns_) {
    if (c.io->closing() || c.io->aborted()) continue;
    const State st = c.fsm.state();
    if (now - c.last_rx > hb) {
      close_conn(c, proto::CLOSE_HEARTBEAT_TIMEOUT, "no frame within the heartbeat timeout");
    } else if ((st == State::awaiting_hello || st == State::visitor) && now - c.opened > login) {
      close_conn(c, proto::CLOSE_LOGIN_TIMEOUT, "not logged in within the login timeout");
    } else if (st != State::awaiting_hello && st != State::visitor && now - c.last_request > idle) {
      close_conn(c, proto::CLOSE_IDLE_TIMEOUT, "idle for too long");
    }
  }
  std::vector<SessionId> expired;
  for (const auto& [sid, s] : sessions_) {
    if (!s.conn.valid() && now >= s.held_until) expired.push_back(sid);
  }
  for (SessionId sid : expired) end_session(sid, room::LeaveReason::timed_out);
}

}  // namespace sb::node
