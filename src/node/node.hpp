#pragma once
// Node: the composition root of one Switchboard process.
//
// Builds, from one Config, the object graph every shard shares — backbone, AuthService (with its
// store connections), token signer, metrics — then the shards (one thread each, all accepting on
// the same ports via SO_REUSEPORT) and the admin HTTP endpoint (Prometheus /metrics, health, and
// operator actions: bans, cluster settings). No globals: tests run several Nodes in one process.
// stop() is the graceful shutdown: stop accepting, tell clients, drain, finish queued auth jobs,
// close the store. Threading: construct, start() and stop() from one controlling thread; the
// admin actions are thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth_service.hpp"
#include "auth/token.hpp"
#include "backbone/backbone.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "node/node_metrics.hpp"
#include "node/shard.hpp"

namespace sb::cluster {
class Membership;
}

namespace sb::node {

class AdminServer;
class NodeLoadSampler;

class Node {
 public:
  /// Prepares the node (opens the store, creates the data directory and token secret).
  /// Throws std::runtime_error on start-up failure.
  /// `room_types` are the game rooms this node can host (the lobby is built in).
  explicit Node(config::Config config, room::RoomTypes room_types = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Binds the ports and starts the shards and the admin endpoint. Throws on bind failure.
  void start();
  /// Graceful shutdown; idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(5));

  std::uint16_t tcp_port() const noexcept { return tcp_port_; }
  std::uint16_t ws_port() const noexcept { return ws_port_; }
  std::uint16_t admin_port() const noexcept { return admin_port_; }
  const config::Config& config() const noexcept { return config_; }
  metrics::Registry& registry() noexcept { return registry_; }
  backbone::Backbone& backbone() noexcept { return *backbone_; }
  /// The live view of the cluster (GET /v1/nodes); null before start() and after stop().
  const cluster::Membership* membership() const noexcept { return membership_.get(); }

  struct BanResult {
    Errc code = Errc::ok;
    std::string message;
    std::uint64_t ban_id = 0;
    std::uint64_t player_id = 0;
  };
  /// Bans `username` for `duration` (zero = permanent) and closes the player's live session.
  /// Blocks the calling thread until the store answers. Thread-safe.
  BanResult ban(const std::string& username, const std::string& reason, std::chrono::seconds duration,
                const std::string& by);
  /// Lifts every ban of `username`. Thread-safe, blocking.
  BanResult unban(const std::string& username);
  /// Sets a cluster setting in the store (e.g. max_login_errors). Thread-safe, blocking.
  Status set_cluster_config(const std::string& key, const std::string& value);
  /// Renders /metrics.
  std::string render_metrics();

 private:
  /// Announces this node on the backbone and keeps the view (after the ports are bound).
  void start_membership();
  /// Runs `job` on an auth worker with a store and waits for it (admin paths only).
  template <class T>
  std::optional<T> run_store_job(std::function<T(store::Store&)> job);

  config::Config config_;
  room::RoomTypes room_types_;
  SystemClock clock_;
  metrics::Registry registry_;
  NodeMetrics metrics_;
  std::unique_ptr<backbone::Backbone> backbone_;
  std::unique_ptr<auth::TokenSigner> tokens_;
  std::unique_ptr<auth::AuthService> auth_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<NodeLoadSampler> load_;
  std::unique_ptr<cluster::Membership> membership_;  // started last, stopped first (its leave)
  std::uint16_t tcp_port_ = 0;
  std::uint16_t ws_port_ = 0;
  std::uint16_t admin_port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sb::node
