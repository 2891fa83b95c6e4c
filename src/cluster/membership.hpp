#pragma once
// Membership: the async shell around MembershipView (membership_view.hpp) — who is in the cluster.
//
// On start() it subscribes to kMembershipSubject on the backbone, then announces this node every
// `heartbeat` (node id, roles, client and admin addresses, version, start time, load from the
// injected LoadFn). Its first announce asks for the view (want_view): every node that hears it
// answers at once with its own announce, so a joining node knows the cluster after one round trip
// instead of one heartbeat. A timer set to the earliest deadline (last heard + `timeout`) removes
// silent nodes, so a node killed with -9 is out `timeout` after its last heartbeat was heard, on
// every node. stop() publishes a leave (out of every view at once) and unsubscribes.
// Liveness rides on core backbone messages, never on key-value TTLs (NATS 2.9.10 does not tell
// watchers about TTL expiry, and KV writes stall for seconds while a JetStream leader is elected).
//
// Threading: one thread of its own (an io_context) runs the view, the timers, the subscription's
// callbacks and the LoadFn. start()/stop() from one controlling thread; view() and counters()
// from any thread (a snapshot under a mutex, refreshed after every change and heartbeat).
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "backbone/backbone.hpp"
#include "cluster/membership_view.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "metrics/metrics.hpp"

namespace sb::cluster {

/// The version nodes announce: the project version from CMake.
std::string build_version();

struct MembershipOptions {
  std::string node;
  std::vector<std::string> roles;
  std::string tcp_address;    // host:port
  std::string ws_address;
  std::string admin_address;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds timeout{3000};
  UnixMillis started_unix_ms = 0;  // 0 = the clock's wall time at construction
};

/// Samples this node's load; runs on the membership thread once per heartbeat.
using LoadFn = std::function<NodeLoad()>;

class Membership {
 public:
  Membership(backbone::Backbone& backbone, metrics::Registry& registry, const Clock& clock,
             MembershipOptions options, LoadFn load);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  /// Subscribes and starts announcing. Returns the backbone's error if the subscription fails.
  Status start();
  /// Publishes a leave, unsubscribes and joins the thread. Idempotent.
  void stop() { halt(true); }
  /// Stops without a leave, as a crash would (tests of expiry). Idempotent.
  void stop_silently() { halt(false); }

  /// The live view, this node included, ordered by name. Any thread.
  std::vector<Member> view() const;
  MembershipCounters counters() const;
  const MembershipOptions& options() const noexcept { return options_; }
  const Clock& clock() const noexcept { return clock_; }

 private:
  class Executor;

  void heartbeat();
  void arm_heartbeat();
  void on_message(const backbone::Message& m);
  void announce(bool want_view);
  void arm_expiry();
  void on_expiry();
  void count(Change c, const std::string& node);
  void publish_snapshot();
  void halt(bool leave);

  backbone::Backbone& backbone_;
  const Clock& clock_;
  MembershipOptions options_;
  LoadFn load_;
  Member self_;
  MembershipView view_;  // membership thread only

  metrics::Gauge& nodes_gauge_;
  metrics::Counter& joined_;
  metrics::Counter& left_;
  metrics::Counter& expired_;
  metrics::Counter& restarted_;
  metrics::Counter& stale_;
  metrics::Counter& conflict_;
  metrics::Counter& malformed_;
  metrics::Counter& publish_errors_;
  TimePoint last_conflict_log_{};

  mutable std::mutex mutex_;
  std::vector<Member> snapshot_;
  MembershipCounters snapshot_counters_;

  boost::asio::io_context io_{1};
  boost::asio::steady_timer heartbeat_timer_{io_};
  boost::asio::steady_timer expiry_timer_{io_};
  std::chrono::steady_clock::time_point next_beat_{};
  std::shared_ptr<Executor> executor_;
  backbone::SubscriptionId sub_{};
  bool started_ = false;
  std::thread thread_;
};

}  // namespace sb::cluster
