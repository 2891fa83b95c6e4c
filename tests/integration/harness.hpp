#pragma once
// Test harness: a Node on loopback port 0 with a temporary data directory, an io_context for
// clients in the test thread, and helpers to run coroutines to completion with a deadline.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "client.hpp"
#include "config/config.hpp"
#include "node/node.hpp"
#include "wire/frame.hpp"

namespace sb::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline std::filesystem::path temp_dir() {
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() / ("sb-it-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(p);
  return p;
}

/// A fast test configuration: cheap argon2, no rate limits, ports 0, two shards.
inline config::Config test_config(const std::filesystem::path& dir) {
  config::Config c;
  c.node_name = "it";
  c.data_dir = dir.string();
  c.shards = 2;
  c.listen.tcp_port = 0;
  c.listen.ws_port = 0;
  c.listen.admin_port = 0;
  c.auth.argon2_ops = 1;
  c.auth.argon2_mem_kib = 8;
  c.auth.address_rate = 0;
  c.auth.account_rate = 0;
  c.auth.workers = 2;
  c.log_level = "warn";
  if (const char* l = std::getenv("SB_TEST_LOG")) spdlog::set_level(spdlog::level::from_str(l));
  return c;
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    config_ = test_config(dir_);
  }
  void TearDown() override {
    // Order matters: clients finish their coroutines on io_ before they are destroyed, and
    // everything bound to io_ goes before io_ itself.
    if (node_) node_->stop(std::chrono::milliseconds(200));
    node_.reset();
    destroy_clients();
    io_.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// Closes every client, lets their coroutines finish on io_, then destroys them.
  void destroy_clients() {
    for (auto& c : clients_) c->close();
    io_.restart();
    io_.run_for(200ms);
    clients_.clear();
  }

  /// Starts the node with config_ (tests adjust config_ first).
  void start() {
    node_ = std::make_unique<node::Node>(config_, room_types_);
    node_->start();
  }

  client::Client& make_client(client::ClientOptions::Transport t = client::ClientOptions::Transport::tcp) {
    client::ClientOptions o;
    o.port = t == client::ClientOptions::Transport::tcp ? node_->tcp_port() : node_->ws_port();
    o.transport = t;
    o.queue_pushes = true;
    o.request_timeout = 10s;
    clients_.push_back(std::make_unique<client::Client>(io_.get_executor(), o));
    return *clients_.back();
  }

  /// Runs an awaitable on the test's io_context until it completes (fails the test after `limit`).
  template <class T>
  T run(asio::awaitable<T> aw, std::chrono::seconds limit = 20s) {
    // Shared state: if the deadline passes, the coroutine may still finish later.
    struct State {
      std::optional<T> out;
      std::exception_ptr error;
    };
    auto st = std::make_shared<State>();
    asio::co_spawn(io_, std::move(aw), [st](std::exception_ptr e, T v) {
      if (e) st->error = e;
      else st->out.emplace(std::move(v));
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!st->out && !st->error && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(50ms);
      if (io_.stopped()) io_.restart();
    }
    if (st->error) std::rethrow_exception(st->error);
    if (!st->out) throw std::runtime_error("operation did not complete in time");
    return std::move(*st->out);
  }

  /// Pumps the io_context until `pred` holds or `limit` passes; returns pred().
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(20ms);
      if (io_.stopped()) io_.restart();
    }
    return pred();
  }

  /// Connects and registers `name` (password "password-1"); asserts success.
  client::Client& registered(const std::string& name) {
    auto& c = make_client();
    EXPECT_TRUE(run(c.connect()));
    auto ok = run(c.register_account(name, "password-1"));
    EXPECT_TRUE(ok) << name << ": " << c.last_error_message();
    return c;
  }

  /// Waits for the next push matching `pred`, skipping others; nullopt on timeout.
  std::optional<proto::ServerFrame> wait_push(client::Client& c,
                                              const std::function<bool(const proto::ServerFrame&)>& pred,
                                              std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      auto p = run(c.next_push(std::max(left, 1ms)));
      if (!p) return std::nullopt;
      if (pred(*p)) return *p;
    }
    return std::nullopt;
  }

  /// Waits until the client has been told which room it is in.
  bool in_room(client::Client& c) {
    return wait_push(c, [](const proto::ServerFrame& f) { return f.has_room_joined(); }).has_value();
  }

  std::filesystem::path dir_;
  config::Config config_;
  room::RoomTypes room_types_;  // game rooms the node hosts (tests add theirs before start())
  std::unique_ptr<node::Node> node_;
  asio::io_context io_;
  std::vector<std::unique_ptr<client::Client>> clients_;
};

/// A blocking raw TCP connection for bad-input tests: full control over the bytes.
class RawConn {
 public:
  explicit RawConn(std::uint16_t port, int rcvbuf = 0) : socket_(io_) {
    socket_.open(asio::ip::tcp::v4());
    if (rcvbuf > 0) socket_.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void send(proto::ClientFrame f) { write(wire::encode(f)->bytes); }
  void send_hello(std::uint32_t rid = 1) {
    proto::ClientFrame f;
    f.set_request_id(rid);
    f.mutable_hello()->set_min_version(1);
    f.mutable_hello()->set_max_version(1);
    send(f);
  }
  /// Next frame from the server, or nullopt on EOF/timeout.
  std::optional<proto::ServerFrame> read() {
    unsigned char h[4];
    boost::system::error_code ec;
    asio::read(socket_, asio::buffer(h), ec);
    if (ec) return std::nullopt;
    std::string body(wire::read_length(h), '\0');
    asio::read(socket_, asio::buffer(body), ec);
    if (ec) return std::nullopt;
    auto f = wire::decode_server(body);
    if (!f) return std::nullopt;
    return *f;
  }
  /// Reads until a frame matching pred; nullopt on EOF/timeout.
  std::optional<proto::ServerFrame> read_until(const std::function<bool(const proto::ServerFrame&)>& pred) {
    for (;;) {
      auto f = read();
      if (!f || pred(*f)) return f;
    }
  }
  /// True once the server has closed the connection (reads until EOF).
  bool closed_by_server() {
    while (read()) {
    }
    unsigned char b;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&b, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

inline proto::ClientFrame login_frame(std::uint32_t rid, const std::string& user, const std::string& pw) {
  proto::ClientFrame f;
  f.set_request_id(rid);
  f.mutable_login()->set_username(user);
  f.mutable_login()->set_password(pw);
  return f;
}

inline proto::ClientFrame chat_frame(std::uint32_t rid, const std::string& text) {
  proto::ClientFrame f;
  f.set_request_id(rid);
  f.mutable_chat()->set_text(text);
  return f;
}

}  // namespace sb::test
