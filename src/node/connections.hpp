#pragma once
// Connections: the client connections of one shard, from their first byte to their close.
//
// It implements net::ConnectionEvents for the shard's transports: keeps the connection table
// (Conn: the session FSM, the connection's session id, timestamps, error and game-rate budgets),
// decodes frames, admits requests through the FSM and dispatches them — the handshake and Ping
// here, the login family to SessionService, room requests to RoomRequests. Admission creates the
// request's RequestScope, which ends the in-flight state on every path (request_scope.hpp).
// The in-flight rule (docs/protocol.md §2): a request that arrives while another request of the
// same connection is still being processed is refused with BUSY and not executed. "Arrives" is
// when the shard takes it from the socket: every frame of one TCP read arrives together, so a
// request answered at once still holds the connection until the reader has handed over the rest
// of that read (end_batch()); WebSocket messages arrive one at a time.
// It also owns the output helpers every part uses (send, send_error, close) and the connection
// timeouts (heartbeat, login, idle) run by sweep().
// Threading: the shard thread only; a Conn& is valid only until the next callback.
#include <functional>
#include <unordered_map>

#include "core/gate.hpp"
#include "node/request_scope.hpp"
#include "node/shard_env.hpp"
#include "session/session_fsm.hpp"
#include "switchboard.pb.h"
#include "wire/frame.hpp"

namespace sb::node {

struct Conn {
  net::Connection* io = nullptr;
  session::SessionFsm fsm;
  SessionId session;
  TimePoint opened;
  TimePoint last_rx;
  TimePoint last_request;
  std::uint32_t errors = 0;
  double game_tokens = -1;  // GameMessage bucket (session.game_rate); < 0: not started
  TimePoint game_refill{};
  bool in_batch = false;     // the reader is handing over frames of one read
  bool end_pending = false;  // the request ended during the batch: the FSM is freed at its end
  bool gated = false;        // entered the connections' gate (left in on_close)
};

class Connections final : public net::ConnectionEvents {
 public:
  explicit Connections(ShardEnv& env);
  ~Connections() { retire(); }
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  /// The shard's loop has stopped for good: request scopes still held by dropped callbacks end
  /// without touching connections (their transports are gone). Called by the Shard.
  void retire() noexcept { *self_ = nullptr; }

  // net::ConnectionEvents
  void on_open(net::Connection& c) override;
  void on_payload(net::Connection& c, std::string_view payload) override;
  void on_batch_end(net::Connection& c) override;
  void on_frame_too_large(net::Connection& c) override;
  void on_close(net::Connection& c, net::EndReason why) override;

  /// The connection, or nullptr if it is gone (ids never come back).
  Conn* find(net::ConnId id);
  std::size_t size() const noexcept { return conns_.size(); }

  void send(Conn& c, const proto::ServerFrame& f);
  void send_frame(Conn& c, const wire::FramePtr& f);
  void send_error(Conn& c, std::uint32_t rid, Errc code, std::string message, std::uint32_t retry_after_ms = 0);
  /// Tells the client why and closes after the queue is flushed. Idempotent.
  void close(Conn& c, proto::CloseReason reason, std::string message);
  void set_state(Conn& c, session::State s);
  /// Counts an error against the connection's budget; closes it past session.max_errors.
  void count_error(Conn& c, const char* why);

  /// Shutdown: closes the connections' gate (new connections are refused) and asks every open
  /// one to close; `drained` runs on this thread when the last one has ended (at once if none).
  void close_all(std::function<void()> drained);
  /// Heartbeat, login and idle timeouts.
  void sweep(TimePoint now);

  /// Used by RequestScope only: the request of `conn` has ended.
  void end_request(net::ConnId conn);

 private:
  void dispatch(Conn& c, proto::ClientFrame& f);
  void on_hello(Conn& c, RequestScope scope, const proto::Hello& h);

  ShardEnv& env_;
  const config::Config& cfg_;
  std::unordered_map<net::ConnId, Conn> conns_;
  Gate gate_;  // one entry per open connection
  std::shared_ptr<Connections*> self_ = std::make_shared<Connections*>(this);  // RequestScope's handle
};

}  // namespace sb::node
