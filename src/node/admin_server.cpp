#include "node/admin_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/membership.hpp"
#include "node/node.hpp"

namespace sb::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

http::response<http::string_body> reply(http::status st, std::string body,
                                        std::string type = "application/json") {
  http::response<http::string_body> res{st, 11};
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> error(http::status st, const std::string& msg) {
  return reply(st, json::serialize(json::object{{"error", msg}}));
}

// Constant-time comparison so the admin token cannot be guessed byte by byte from timings.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string trim(std::string v) {
  const auto first = v.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return v.substr(first, v.find_last_not_of(" \t\r\n") - first + 1);
}

int ban_status(Errc e) {
  switch (e) {
    case Errc::ok: return 200;
    case Errc::not_found: return 404;
    case Errc::invalid_argument: return 400;
    default: return 503;
  }
}

// GET /v1/nodes: the membership view (docs/configuration.md §5).
std::string nodes_json(const cluster::Membership* membership) {
  json::object out;
  json::array nodes;
  if (membership) {
    const auto& o = membership->options();
    out["self"] = o.node;
    out["heartbeat_ms"] = o.heartbeat.count();
    out["timeout_ms"] = o.timeout.count();
    const auto now = membership->clock().now();
    for (const auto& m : membership->view()) {
      json::array roles;
      for (const auto& r : m.roles) roles.emplace_back(r);
      nodes.emplace_back(json::object{
          {"node", m.node},
          {"self", m.self},
          {"roles", std::move(roles)},
          {"tcp", m.tcp_address},
          {"ws", m.ws_address},
          {"admin", m.admin_address},
          {"version", m.version},
          {"started_unix_ms", m.started_unix_ms},
          {"seq", m.seq},
          {"last_heard_ms_ago", std::chrono::duration_cast<std::chrono::milliseconds>(now - m.last_heard).count()},
          {"load", json::object{{"sessions", m.load.sessions},
                                {"connections", m.load.connections},
                                {"rooms", m.load.rooms},
                                {"players_in_rooms", m.load.players_in_rooms},
                                {"cpu_percent", m.load.cpu_percent},
                                {"loop_lag_p99_ms", m.load.loop_lag_p99_ms}}}});
    }
  }
  out["nodes"] = std::move(nodes);
  return json::serialize(out);
}

http::response<http::string_body> handle(Node& node, const http::request<http::string_body>& req) {
  const std::string target(req.target());
  if (req.method() == http::verb::get && target == "/metrics") {
    return reply(http::status::ok, node.render_metrics(), "text/plain; version=0.0.4");
  }
  if (req.method() == http::verb::get && target == "/healthz") return reply(http::status::ok, "ok\n", "text/plain");
  if (req.method() == http::verb::get && target == "/v1/nodes") return reply(http::status::ok, nodes_json(node.membership()));
  const bool mutating = req.method() == http::verb::post || req.method() == http::verb::put ||
                        req.method() == http::verb::delete_;
  if (!mutating) return error(http::status::not_found, "no such endpoint");
  const auto& token = node.config().admin_token;
  if (token.empty()) return error(http::status::forbidden, "admin API disabled (node.admin_token unset)");
  if (!same_secret(req[http::field::authorization], "Bearer " + token)) {
    return error(http::status::unauthorized, "bad admin token");
  }

  if (req.method() == http::verb::post && target == "/v1/bans") {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec || !v.is_object()) return error(http::status::bad_request, "body must be a JSON object");
    const auto& o = v.as_object();
    const auto* user = o.if_contains("username");
    if (!user || !user->is_string()) return error(http::status::bad_request, "username (string) required");
    std::string reason = "banned by an operator";
    if (const auto* r = o.if_contains("reason"); r && r->is_string()) reason = std::string(r->as_string());
    std::int64_t duration = 0;
    if (const auto* d = o.if_contains("duration_s")) {
      if (!d->is_int64() || d->as_int64() < 0) return error(http::status::bad_request, "duration_s must be a non-negative integer");
      duration = d->as_int64();
    }
    auto r = node.ban(std::string(user->as_string()), reason, std::chrono::seconds(duration), "admin");
    if (r.code != Errc::ok) return error(static_cast<http::status>(ban_status(r.code)), r.message);
    return reply(http::status::ok, json::serialize(json::object{{"ban_id", r.ban_id}, {"player_id", r.player_id}}));
  }
  if (req.method() == http::verb::delete_ && target.rfind("/v1/bans/", 0) == 0) {
    auto r = node.unban(target.substr(9));
    if (r.code != Errc::ok) return error(static_cast<http::status>(ban_status(r.code)), r.message);
    return reply(http::status::ok, json::serialize(json::object{{"lifted", r.ban_id}}));
  }
  if (req.method() == http::verb::put && target.rfind("/v1/config/", 0) == 0) {
    const std::string key = target.substr(11);
    const std::string value = trim(req.body());
    if (key.empty() || value.empty()) return error(http::status::bad_request, "key and value required");
    if (key == "max_login_errors" &&
        (value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos)) {
      return error(http::status::bad_request, "max_login_errors must be a non-negative integer");
    }
    auto st = node.set_cluster_config(key, value);
    if (!st) return error(http::status::service_unavailable, "store unavailable");
    return reply(http::status::ok, json::serialize(json::object{{key, value}}));
  }
  return error(http::status::not_found, "no such endpoint");
}

asio::awaitable<void> serve(Node& node, tcp::socket socket) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    auto [ec, n] = co_await http::async_read(socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    auto req = parser.release();
    auto res = handle(node, req);
    res.keep_alive(req.keep_alive());
    auto [wec, wn] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept(Node& node, tcp::acceptor& acc) {
  for (;;) {
    auto [ec, socket] = co_await acc.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acc.get_executor(), serve(node, std::move(socket)), asio::detached);
  }
}

}  // namespace

AdminServer::AdminServer(Node& node, const tcp::endpoint& ep) : node_(node), acceptor_(io_) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept(node_, acceptor_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    io_.stop();
  });
  thread_.join();
}

}  // namespace sb::node
