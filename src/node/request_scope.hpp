#pragma once
// RequestScope: the one request in flight of a connection, from admission to its end.
//
// Connections creates a scope when the session FSM admits a request (every request but Ping
// and the fire-and-forget GameMessage). The handler moves it along its path (into callbacks,
// through the auth pool, across a take-over) and answers through it: reply(), ok() or fail().
// Whatever path it takes, the in-flight state ends exactly once: when it is answered, or when
// the last owner drops it — then, if the connection is still there, it is answered with
// Errc::internal ("request dropped") so a client never waits for nothing. If the connection has
// gone meanwhile, the answer is dropped (there is nobody to tell) and the scope just ends.
// Move-only. A std::function callback (backbone, auth pool) cannot hold a move-only value, so
// the paths that go through one carry it as SharedScope (share()): the request ends when that
// callback, and every copy of it, is gone.
// Threading: the shard thread that owns the connection.
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "net/connection.hpp"
#include "switchboard.pb.h"

namespace sb::node {

class Connections;

class RequestScope {
 public:
  RequestScope() = default;
  /// `conns` is Connections' handle: it reads nullptr once the shard has stopped, and a scope
  /// destroyed after that (a callback dropped at shutdown) ends without touching anything.
  RequestScope(std::shared_ptr<Connections* const> conns, net::ConnId conn, std::uint32_t request_id) noexcept
      : conns_(std::move(conns)), conn_(conn), rid_(request_id) {}
  RequestScope(RequestScope&& o) noexcept : conns_(std::move(o.conns_)), conn_(o.conn_), rid_(o.rid_) {}
  RequestScope& operator=(RequestScope&& o) noexcept;
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;
  ~RequestScope() { drop(); }

  /// True until answered or ended.
  bool open() const noexcept { return conns_ != nullptr && *conns_ != nullptr; }
  net::ConnId conn() const noexcept { return conn_; }
  std::uint32_t request_id() const noexcept { return rid_; }

  /// Answers with `f` (its request_id is set here) and ends the request.
  void reply(proto::ServerFrame f);
  /// Answers Ok and ends the request.
  void ok();
  /// Answers an Error frame and ends the request.
  void fail(Errc code, std::string message, std::uint32_t retry_after_ms = 0);

 private:
  void drop() noexcept;
  /// Takes the Connections out of the scope (ending it); nullptr if already ended or retired.
  Connections* take() noexcept;
  std::shared_ptr<Connections* const> conns_;
  net::ConnId conn_;
  std::uint32_t rid_ = 0;
};

using SharedScope = std::shared_ptr<RequestScope>;
inline SharedScope share(RequestScope s) { return std::make_shared<RequestScope>(std::move(s)); }

}  // namespace sb::node
