#include "cluster/membership.hpp"

#include <boost/asio/post.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace sb::cluster {

namespace asio = boost::asio;

#ifndef SB_BUILD_VERSION
#define SB_BUILD_VERSION "unknown"
#endif

std::string build_version() { return SB_BUILD_VERSION; }

// Posts backbone callbacks to the membership thread; closed before the io_context goes away so a
// late post (the backbone may hold the pointer a little longer) is dropped instead.
class Membership::Executor final : public sb::Executor {
 public:
  explicit Executor(asio::io_context& io) : io_(io) {}
  void post(Task task) override {
    std::lock_guard lock(mutex_);
    if (!closed_) asio::post(io_, std::move(task));
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

 private:
  std::mutex mutex_;
  bool closed_ = false;
  asio::io_context& io_;
};

namespace {
metrics::Counter& event_counter(metrics::Registry& r, const char* event) {
  return r.counter("sb_membership_events_total",
                   "Membership changes and ignored messages seen by this node", {{"event", event}});
}
}  // namespace

Membership::Membership(backbone::Backbone& backbone, metrics::Registry& registry, const Clock& clock,
                       MembershipOptions options, LoadFn load)
    : backbone_(backbone),
      clock_(clock),
      options_(std::move(options)),
      load_(std::move(load)),
      view_(options_.node, options_.timeout),
      nodes_gauge_(registry.gauge("sb_cluster_nodes", "Nodes in this node's membership view, itself included")),
      joined_(event_counter(registry, "joined")),
      left_(event_counter(registry, "left")),
      expired_(event_counter(registry, "expired")),
      restarted_(event_counter(registry, "restarted")),
      stale_(event_counter(registry, "stale")),
      conflict_(event_counter(registry, "name_conflict")),
      malformed_(event_counter(registry, "malformed")),
      publish_errors_(registry.counter("sb_membership_publish_errors_total",
                                       "Announces and leaves the backbone refused (not connected)")),
      executor_(std::make_shared<Executor>(io_)) {
  if (options_.started_unix_ms <= 0) options_.started_unix_ms = clock_.unix_ms();
  self_.node = options_.node;
  self_.started_unix_ms = options_.started_unix_ms;
  self_.roles = options_.roles;
  self_.tcp_address = options_.tcp_address;
  self_.ws_address = options_.ws_address;
  self_.admin_address = options_.admin_address;
  self_.version = build_version();
  self_.heartbeat_ms = static_cast<std::uint32_t>(options_.heartbeat.count());
  view_.set_self(self_, clock_.now());
  publish_snapshot();
}

Membership::~Membership() { halt(true); }

Status Membership::start() {
  if (started_) return {};
  auto sub = backbone_.subscribe(std::string(kMembershipSubject), {}, executor_,
                                 [this](backbone::Message m) { on_message(m); });
  if (!sub) return sub.error();
  sub_ = *sub;
  started_ = true;
  // The first announce (asking for the view) goes out as soon as the thread runs.
  asio::post(io_, [this] {
    next_beat_ = std::chrono::steady_clock::now();
    heartbeat();
  });
  thread_ = std::thread([this] { io_.run(); });
  spdlog::info("membership {}: announcing every {} ms on {}, timeout {} ms", options_.node,
               options_.heartbeat.count(), kMembershipSubject, options_.timeout.count());
  return {};
}

void Membership::halt(bool leave) {
  if (!thread_.joinable()) return;
  backbone_.unsubscribe(sub_);
  asio::post(io_, [this, leave] {
    heartbeat_timer_.cancel();
    expiry_timer_.cancel();
    if (leave) {
      if (!backbone_.publish(std::string(kMembershipSubject), encode_leave(self_.node, self_.started_unix_ms))) {
        publish_errors_.inc();
      }
    }
    io_.stop();
  });
  thread_.join();
  executor_->close();
  if (leave) spdlog::info("membership {}: left the cluster", options_.node);
}

void Membership::heartbeat() {
  // Alone (just started, or everyone else timed out, e.g. after a reconnect): ask for the view.
  announce(view_.size() <= 1);
  on_expiry();
  arm_heartbeat();
}

void Membership::arm_heartbeat() {
  // Drift-free: each beat is due one period after the previous one was due; a stalled thread
  // skips missed beats instead of bursting.
  const auto now = std::chrono::steady_clock::now();
  next_beat_ += options_.heartbeat;
  if (next_beat_ < now) next_beat_ = now + options_.heartbeat;
  heartbeat_timer_.expires_at(next_beat_);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

void Membership::announce(bool want_view) {
  ++self_.seq;
  if (load_) self_.load = load_();
  view_.set_self(self_, clock_.now());
  if (!backbone_.publish(std::string(kMembershipSubject), encode_announce(self_, want_view))) {
    publish_errors_.inc();
  }
  publish_snapshot();
}

void Membership::on_message(const backbone::Message& m) {
  const Event ev = view_.on_message(m.payload, clock_.now());
  count(ev.change, ev.node);
  if (ev.view_requested) announce(false);
  if (ev.change == Change::joined || ev.change == Change::refreshed || ev.change == Change::restarted ||
      ev.change == Change::left) {
    arm_expiry();
    publish_snapshot();
  } else {
    std::lock_guard lock(mutex_);
    snapshot_counters_ = view_.counters();
  }
}

void Membership::count(Change c, const std::string& node) {
  switch (c) {
    case Change::joined:
      joined_.inc();
      if (const Member* m = view_.find(node)) {
        spdlog::info("membership {}: {} joined (roles {}, tcp {}, version {})", options_.node, node,
                     fmt::join(m->roles, ","), m->tcp_address, m->version);
      }
      break;
    case Change::restarted:
      restarted_.inc();
      spdlog::info("membership {}: {} restarted", options_.node, node);
      break;
    case Change::left:
      left_.inc();
      spdlog::info("membership {}: {} left", options_.node, node);
      break;
    case Change::stale: stale_.inc(); break;
    case Change::malformed: malformed_.inc(); break;
    case Change::conflict: {
      conflict_.inc();
      const auto now = clock_.now();
      if (last_conflict_log_ == TimePoint{} || now - last_conflict_log_ > std::chrono::minutes(1)) {
        last_conflict_log_ = now;
        spdlog::warn("membership {}: another process announces under this node's name; give each "
                     "node its own node.name", options_.node);
      }
      break;
    }
    case Change::none:
    case Change::refreshed: break;
  }
}

void Membership::arm_expiry() {
  const auto next = view_.next_expiry();
  if (!next) {
    expiry_timer_.cancel();
    return;
  }
  const auto wait = *next - clock_.now();
  expiry_timer_.expires_after(wait.count() > 0 ? wait : Duration::zero());
  expiry_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_expiry();
  });
}

void Membership::on_expiry() {
  const auto gone = view_.expire(clock_.now());
  for (const auto& n : gone) {
    expired_.inc();
    spdlog::warn("membership {}: {} timed out (nothing heard for {} ms)", options_.node, n,
                 options_.timeout.count());
  }
  arm_expiry();
  if (!gone.empty()) publish_snapshot();
}

void Membership::publish_snapshot() {
  auto members = view_.members();
  nodes_gauge_.set(static_cast<std::int64_t>(members.size()));
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(members);
  snapshot_counters_ = view_.counters();
}

std::vector<Member> Membership::view() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

MembershipCounters Membership::counters() const {
  std::lock_guard lock(mutex_);
  return snapshot_counters_;
}

}  // namespace sb::cluster
