#include "node/node.hpp"

#include <filesystem>
#include <malloc.h>
#include <fstream>
#include <future>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <google/protobuf/stubs/logging.h>

#include "cluster/membership.hpp"
#include "internal.pb.h"
#include "node/admin_server.hpp"
#include "node/node_load.hpp"
#include "store/store.hpp"
#include "backbone/nats_backbone.hpp"  // node.backbone = "nats"

namespace sb::node {

namespace fs = std::filesystem;
namespace pi = proto::internal;

namespace {

auth::TokenSigner::Secret load_secret(const config::Config& cfg) {
  if (!cfg.auth.token_secret_hex.empty()) {
    auto s = auth::TokenSigner::secret_from_hex(cfg.auth.token_secret_hex);
    if (!s) throw std::runtime_error("config: auth.token_secret_hex must be 64 hex characters");
    return *s;
  }
  const fs::path path = fs::path(cfg.data_dir) / "token.secret";
  if (std::ifstream in(path); in) {
    std::string hex;
    in >> hex;
    auto s = auth::TokenSigner::secret_from_hex(hex);
    if (!s) throw std::runtime_error("token secret file is corrupt: " + path.string());
    return *s;
  }
  const auto secret = auth::TokenSigner::random_secret();
  {
    std::ofstream out(path, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string());
    out << auth::TokenSigner::secret_to_hex(secret) << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return secret;
}

// The answer of an admin action whose username lookup failed.
Node::BanResult no_account(const boost::system::error_code& ec) {
  Node::BanResult r;
  r.code = to_errc(ec);
  r.message = r.code == Errc::not_found ? "no such user" : "store unavailable";
  return r;
}

auth::AuthOptions auth_options(const config::Config& c) {
  auth::AuthOptions o;
  o.workers = c.auth.workers;
  o.max_queue = c.auth.max_queue;
  o.worker_nice = c.auth.worker_nice;
  o.hash.ops_limit = c.auth.argon2_ops;
  o.hash.mem_limit = static_cast<std::size_t>(c.auth.argon2_mem_kib) * 1024;
  o.address_rate_per_sec = c.auth.address_rate;
  o.address_burst = c.auth.address_burst;
  o.account_rate_per_sec = c.auth.account_rate;
  o.account_burst = c.auth.account_burst;
  o.password_min = c.auth.password_min;
  o.password_max = c.auth.password_max;
  o.default_zone = c.lobby.default_zone;
  return o;
}

std::unique_ptr<backbone::Backbone> make_backbone(const config::Config& c) {
  if (c.backbone != "nats") return backbone::make_inproc_backbone();
  backbone::NatsOptions o;
  o.servers = c.nats.servers;
  o.bucket = c.nats.kv_bucket;
  o.replicas = static_cast<int>(c.nats.kv_replicas);
  o.connect_timeout = std::chrono::milliseconds(c.nats.connect_timeout_ms);
  o.op_timeout = std::chrono::milliseconds(c.nats.op_timeout_ms);
  o.reconnect_wait = std::chrono::milliseconds(c.nats.reconnect_wait_ms);
  o.name = c.node_name;
  return backbone::make_nats_backbone(std::move(o));  // throws if it cannot connect
}

}  // namespace

Node::Node(config::Config config, room::RoomTypes room_types)
    : config_(std::move(config)), room_types_(std::move(room_types)), metrics_(registry_) {
  if (!room_types_.find(room::kRelayType)) room_types_.add(room::make_relay_type(config_.lobby.chat_max_bytes));
  // Protobuf logs an ERROR line for every string field with invalid UTF-8: untrusted clients
  // could flood the log. Decoding failures are counted (sb_errors_total) instead.
  google::protobuf::SetLogHandler(nullptr);
  if (config_.shards == 0) config_.shards = std::max(1u, std::thread::hardware_concurrency());
  fs::create_directories(config_.data_dir);
  if (config_.sqlite_path.empty()) config_.sqlite_path = (fs::path(config_.data_dir) / "switchboard.db").string();
  store::StoreOptions so;
  so.kind = config_.store;
  so.sqlite_path = config_.sqlite_path;
  so.postgres = {config_.postgres.conninfo, config_.postgres.pool_size,
                 config_.postgres.statement_timeout_ms, config_.postgres.connect_timeout_ms,
                 config_.postgres.max_retries};
  // Opens the store now, so a bad path or an unreachable database fails at start-up, not at the
  // first login; creates or migrates the schema. Postgres: the workers' Stores share one pool.
  store::StoreFactory stores = store::make_store_factory(so);
  auth::init_sodium();
  tokens_ = std::make_unique<auth::TokenSigner>(load_secret(config_));
  backbone_ = make_backbone(config_);
  auth_ = std::make_unique<auth::AuthService>(
      auth_options(config_), std::move(stores), clock_);
  NodeServices svc{config_, *backbone_, *auth_, *tokens_, metrics_, clock_, room_types_};
  for (ShardIndex i = 0; i < config_.shards; ++i) shards_.push_back(std::make_unique<Shard>(i, svc));
}

Node::~Node() { stop(std::chrono::milliseconds(500)); }

void Node::start() {
  namespace ip = boost::asio::ip;
  const auto addr = ip::make_address(config_.listen.host);
  ip::tcp::endpoint tcp_ep(addr, config_.listen.tcp_port), ws_ep(addr, config_.listen.ws_port);
  // Port 0: the first shard picks the ports, the others join them via SO_REUSEPORT.
  shards_[0]->listen(tcp_ep, ws_ep);
  tcp_ep.port(shards_[0]->tcp_port());
  ws_ep.port(shards_[0]->ws_port());
  for (std::size_t i = 1; i < shards_.size(); ++i) shards_[i]->listen(tcp_ep, ws_ep);
  tcp_port_ = tcp_ep.port();
  ws_port_ = ws_ep.port();
  for (auto& s : shards_) s->start();
  const auto admin_addr =
      config_.listen.admin_host.empty() ? addr : ip::make_address(config_.listen.admin_host);
  admin_ = std::make_unique<AdminServer>(*this, ip::tcp::endpoint(admin_addr, config_.listen.admin_port));
  admin_port_ = admin_->port();
  start_membership();
  started_ = true;
  spdlog::info("node {}: {} shards, tcp {}:{}, websocket {}:{}, admin {}:{}, store {}", config_.node_name,
               shards_.size(), config_.listen.host, tcp_port_, config_.listen.host, ws_port_,
               config_.listen.admin_host.empty() ? config_.listen.host : config_.listen.admin_host, admin_port_,
               config_.store == "postgres" ? std::string("postgres") : config_.sqlite_path);
}

void Node::stop(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  if (started_) spdlog::info("node {}: shutting down", config_.node_name);
  if (membership_) membership_->stop();  // first: the leave goes out while the backbone is up
  if (admin_) admin_->stop();
  membership_.reset();
  // Shards drain in parallel: each gets the same deadline.
  std::vector<std::thread> stoppers;
  for (auto& s : shards_) stoppers.emplace_back([&s, drain] { s->shutdown(drain); });
  for (auto& t : stoppers) t.join();
  if (auth_) auth_->shutdown();
  shards_.clear();
  auth_.reset();  // joins workers; their store connections close cleanly
  if (started_) spdlog::info("node {}: stopped", config_.node_name);
}

void Node::start_membership() {
  const auto& l = config_.listen;
  const auto addr = [](const std::string& host, std::uint16_t port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  };
  cluster::MembershipOptions o;
  o.node = config_.node_name;
  o.roles = config_.roles;
  o.tcp_address = addr(l.host, tcp_port_);
  o.ws_address = addr(l.host, ws_port_);
  o.admin_address = addr(l.admin_host.empty() ? l.host : l.admin_host, admin_port_);
  o.heartbeat = std::chrono::milliseconds(config_.membership.heartbeat_ms);
  o.timeout = std::chrono::milliseconds(config_.membership.timeout_ms);
  load_ = std::make_unique<NodeLoadSampler>(metrics_, static_cast<std::uint32_t>(shards_.size()));
  membership_ = std::make_unique<cluster::Membership>(*backbone_, registry_, clock_, std::move(o),
                                                      [this] { return load_->sample(); });
  if (auto st = membership_->start(); !st) {
    throw std::runtime_error("membership: cannot subscribe on the backbone: " + st.error().message());
  }
}

template <class T>
std::optional<T> Node::run_store_job(std::function<T(store::Store&)> job) {
  auto promise = std::make_shared<std::promise<T>>();
  auto fut = promise->get_future();
  if (!auth_ || !auth_->submit([promise, job](store::Store& s) { promise->set_value(job(s)); })) return std::nullopt;
  if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return std::nullopt;
  return fut.get();
}

Node::BanResult Node::ban(const std::string& username, const std::string& reason, std::chrono::seconds duration,
                          const std::string& by) {
  const UnixMillis now = clock_.unix_ms();
  auto result = run_store_job<BanResult>([username, reason, duration, by, now](store::Store& s) {
    BanResult r;
    auto acc = s.accounts().find_by_name(username);
    if (!acc) return no_account(acc.error());
    store::Ban b;
    b.player = acc->id;
    b.reason = reason;
    b.created_ms = now;
    b.expires_ms = duration.count() > 0 ? now + duration.count() * 1000 : 0;
    b.created_by = by;
    auto id = s.bans().add(b);
    if (!id) {
      r.code = to_errc(id.error());
      r.message = "store error";
      return r;
    }
    r.ban_id = *id;
    r.player_id = acc->id.value;
    return r;
  });
  if (!result) return {Errc::unavailable, "store busy", 0, 0};
  if (result->code != Errc::ok) return *result;
  // Apply to the live session, wherever it is.
  if (auto e = backbone_->kv_get("sess." + std::to_string(result->player_id))) {
    pi::SessionRecord rec;
    if (rec.ParseFromString(e->value)) {
      pi::ShardMessage m;
      m.mutable_kick()->set_player_id(result->player_id);
      m.mutable_kick()->set_close_reason(proto::CLOSE_BANNED);
      m.mutable_kick()->set_message("banned: " + reason);
      (void)backbone_->publish(Shard::inbox_subject(rec.route().node(), rec.route().shard()), m.SerializeAsString());
    }
  }
  return *result;
}

Node::BanResult Node::unban(const std::string& username) {
  auto result = run_store_job<BanResult>([username](store::Store& s) {
    BanResult r;
    auto acc = s.accounts().find_by_name(username);
    if (!acc) return no_account(acc.error());
    auto n = s.bans().lift(acc->id);
    if (!n) r.code = to_errc(n.error());
    r.player_id = acc->id.value;
    r.ban_id = n ? *n : 0;
    return r;
  });
  if (!result) return {Errc::unavailable, "store busy", 0, 0};
  return *result;
}

Status Node::set_cluster_config(const std::string& key, const std::string& value) {
  auto r = run_store_job<Status>([key, value](store::Store& s) { return s.config().set(key, value); });
  if (!r) return fail(Errc::unavailable);
  return *r;
}

std::string Node::render_metrics() {
  if (auth_) {
    auto& g = registry_.gauge("sb_auth_queue_depth", "Login/registration jobs waiting for a hashing worker");
    g.set(static_cast<std::int64_t>(auth_->queue_depth()));
  }
  // Heap in use (glibc): lets benchmarks attribute memory per session without a profiler.
  const struct mallinfo2 mi = ::mallinfo2();
  registry_.gauge("sb_heap_in_use_bytes", "Heap bytes allocated and not freed (glibc mallinfo2)")
      .set(static_cast<std::int64_t>(mi.uordblks + mi.hblkhd));
  return registry_.render();
}

}  // namespace sb::node
