#pragma once
// Shard: one thread, one io_context, and the parts that run on it.
//
// A shard accepts on the node's ports (SO_REUSEPORT: every shard listens, the kernel spreads
// connections) and wires single-job parts together (shard_env.hpp lists them): Connections
// (frames, admission, output), SessionService (sessions, logins, take-over), Router (where an id
// lives), RoomHost (owned rooms), Placement (lobby and auto-join), ZoneReplica (zone directory)
// and RoomMembers / RoomRequests (the member side of rooms). The shard itself owns only the
// io_context and its thread, the acceptors, the periodic timers (connection and session sweep,
// zone count pushes, event-loop lag probe) and its inbox "sb.shard.<node>.<index>", whose
// messages (take-over, room requests, kicks) it hands to the part that serves them.
// Nothing a shard owns is touched by another thread: other shards and nodes reach it only
// through the backbone. Shutdown closes the connections' gate and waits for it.
// Threading: the public methods marked "any thread" may be called from any thread; the rest run
// before start() or on the shard's thread.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "internal.pb.h"
#include "metrics/metrics.hpp"
#include "net/connection.hpp"
#include "node/connections.hpp"
#include "node/placement.hpp"
#include "node/room_host.hpp"
#include "node/room_members.hpp"
#include "node/room_requests.hpp"
#include "node/router.hpp"
#include "node/session_service.hpp"
#include "node/shard_env.hpp"
#include "node/zone_replica.hpp"

namespace sb::node {

class Shard final {
 public:
  Shard(ShardIndex index, NodeServices services);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  /// Binds this shard's acceptors (port 0 picks a port; pass the first shard's ports to the
  /// others). Start-up: throws on failure. Call before start().
  void listen(const asio::ip::tcp::endpoint& tcp_ep, const asio::ip::tcp::endpoint& ws_ep);
  std::uint16_t tcp_port() const;
  std::uint16_t ws_port() const;

  /// Subscribes to its inbox and starts the thread.
  void start();
  /// Stops accepting, tells every client the server is shutting down, waits up to `drain` for
  /// the connections' gate (every connection flushed and closed), then stops the loop and joins
  /// the thread. Any thread.
  void shutdown(std::chrono::milliseconds drain);

  asio::io_context& io() noexcept { return io_; }
  /// Posts to this shard's thread (for completions of calls made on behalf of the node).
  const ExecutorPtr& executor() const noexcept { return env_.executor; }
  ShardIndex index() const noexcept { return index_; }

 private:
  /// Serves a room request on this shard: placement (lobby, create, auto-join) or a hosted room.
  pi::RoomReply serve(const pi::RoomRequest& req);
  void on_inbox(backbone::Message m);
  void start_timers();
  void arm_sweep();
  void arm_zone();
  void arm_lag();
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acc, net::TransportKind kind);

  ShardIndex index_;
  const config::Config& cfg_;
  asio::io_context io_{1};
  IdMinter minter_;
  ShardEnv env_;
  // The parts (each owns its own maps; see shard_env.hpp).
  Connections conns_;
  SessionService sessions_;
  Router router_;
  RoomHost host_;
  Placement placement_;
  ZoneReplica zones_;
  RoomMembers members_;
  RoomRequests rooms_;

  std::optional<asio::ip::tcp::acceptor> tcp_acceptor_;
  std::optional<asio::ip::tcp::acceptor> ws_acceptor_;
  net::WriteBatcher batcher_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer zone_timer_;
  asio::steady_timer lag_timer_;
  TimePoint lag_expected_{};
  metrics::Histogram* lag_hist_ = nullptr;
  std::thread thread_;
  bool stopping_ = false;
  std::uint64_t next_conn_ = 0;
  std::vector<backbone::SubscriptionId> subs_;
};

}  // namespace sb::node
