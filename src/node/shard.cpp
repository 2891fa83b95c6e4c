#include "node/shard.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <spdlog/spdlog.h>

#include "core/log.hpp"

namespace sb::node {

namespace {

class ShardExecutor final : public Executor {
 public:
  explicit ShardExecutor(asio::io_context& io) : io_(io) {}
  void post(Task task) override { asio::post(io_, std::move(task)); }

 private:
  asio::io_context& io_;
};

}  // namespace

Shard::Shard(ShardIndex index, NodeServices services)
    : index_(index),
      cfg_(services.config),
      minter_(index),
      env_{index, services, services.config, io_, std::make_shared<ShardExecutor>(io_), minter_, {}},
      conns_(env_),
      sessions_(env_),
      router_(env_, [this](const pi::RoomRequest& req) { return serve(req); }),
      host_(env_),
      placement_(env_),
      zones_(env_),
      members_(env_),
      rooms_(env_),
      batcher_(io_.get_executor()),
      sweep_timer_(io_),
      zone_timer_(io_),
      lag_timer_(io_) {
  env_.parts = ShardParts{&conns_, &sessions_, &router_, &host_, &placement_, &zones_, &members_, &rooms_};
  lag_hist_ = &services.metrics.registry.histogram(
      "sb_event_loop_lag_seconds", "Delay of a 100 ms timer on each shard's event loop",
      {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, {{"shard", std::to_string(index)}});
}

Shard::~Shard() {
  if (thread_.joinable()) shutdown(std::chrono::milliseconds(0));
  // Callbacks still queued or held (the io_context, the backbone) are destroyed after the parts;
  // the request scopes they carry must then end without touching them.
  conns_.retire();
}

void Shard::listen(const asio::ip::tcp::endpoint& tcp_ep, const asio::ip::tcp::endpoint& ws_ep) {
  tcp_acceptor_.emplace(net::make_reuseport_acceptor(io_.get_executor(), tcp_ep, cfg_.listen.backlog));
  ws_acceptor_.emplace(net::make_reuseport_acceptor(io_.get_executor(), ws_ep, cfg_.listen.backlog));
}

std::uint16_t Shard::tcp_port() const { return tcp_acceptor_->local_endpoint().port(); }
std::uint16_t Shard::ws_port() const { return ws_acceptor_->local_endpoint().port(); }

void Shard::start() {
  auto inbox = env_.svc.backbone.subscribe(Router::inbox_subject(cfg_.node_name, index_), "", env_.executor,
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
  // The gate opens (on the shard thread) when the last connection has flushed and closed.
  auto drained = std::make_shared<std::promise<void>>();
  auto gate_open = drained->get_future();
  asio::post(io_, [this, drained] {
    stopping_ = true;
    boost::system::error_code ec;
    if (tcp_acceptor_) tcp_acceptor_->close(ec);
    if (ws_acceptor_) ws_acceptor_->close(ec);
    conns_.close_all([drained] { drained->set_value(); });
  });
  if (gate_open.wait_for(drain) != std::future_status::ready) {
    spdlog::info("shard {}: drain deadline passed with connections still open", index_);
  }
  for (auto id : subs_) env_.svc.backbone.unsubscribe(id);
  asio::post(io_, [this] {
    members_.unsubscribe_all();
    zones_.unsubscribe_all();
    io_.stop();
  });
  thread_.join();
  conns_.retire();
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
    if (static_cast<std::uint64_t>(env_.svc.metrics.connections.value()) >= cfg_.session.max_connections) {
      env_.svc.metrics.connections_refused.inc();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    env_.svc.metrics.connections_accepted.inc();
    net::ConnectionLimits limits{cfg_.session.max_frame_bytes, cfg_.session.send_queue_bytes};
    const net::ConnId id{(static_cast<std::uint64_t>(index_) << 56) | ++next_conn_};
    if (kind == net::TransportKind::tcp) {
      asio::co_spawn(io_, net::serve_tcp(std::move(socket), id, limits, conns_, &batcher_), asio::detached);
    } else {
      asio::co_spawn(io_, net::serve_ws(std::move(socket), id, limits, conns_), asio::detached);
    }
  }
}

pi::RoomReply Shard::serve(const pi::RoomRequest& req) {
  if (req.has_join_lobby()) return placement_.join_lobby(req);
  if (req.has_create()) return placement_.create_room(req);
  if (req.has_auto_join()) return placement_.auto_join(req);
  return host_.handle(req);
}

void Shard::on_inbox(backbone::Message m) {
  pi::ShardMessage msg;
  if (!msg.ParseFromString(m.payload)) {
    spdlog::warn("shard {}: undecodable inbox message on {}", index_, m.subject);
    return;
  }
  switch (msg.body_case()) {
    case pi::ShardMessage::kTakeOver:
      sessions_.take_over(msg.take_over(), [this, to = std::move(m.reply_to)](pi::TakeOverReply reply) {
        router_.reply(to, reply.SerializeAsString());
      });
      break;
    case pi::ShardMessage::kRoom: {
      auto reply = serve(msg.room());
      router_.reply(m.reply_to, reply.SerializeAsString());
      break;
    }
    case pi::ShardMessage::kKick:
      sessions_.kick(msg.kick());
      break;
    default:
      break;
  }
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
    const auto now = env_.svc.clock.now();
    zones_.forget_idle(now, [this] { return sessions_.zones_in_use(); });
    conns_.sweep(now);
    sessions_.sweep(now);
    arm_sweep();
  });
}

void Shard::arm_zone() {
  zone_timer_.expires_after(std::chrono::milliseconds(cfg_.lobby.count_push_ms));
  zone_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    host_.push_zone_counts();
    arm_zone();
  });
}

void Shard::arm_lag() {
  lag_expected_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  lag_timer_.expires_at(lag_expected_);
  lag_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto late = std::chrono::steady_clock::now() - lag_expected_;
    lag_hist_->observe(std::chrono::duration<double>(late).count());
    arm_lag();
  });
}

}  // namespace sb::node
