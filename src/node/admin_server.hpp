#pragma once
// AdminServer: the node's HTTP endpoint on the admin port, on its own thread.
//
//   GET  /metrics                      Prometheus text format (no auth: bind it to a private address)
//   GET  /healthz                      "ok"
//   GET  /v1/nodes                     the membership view: every live node, its addresses and load
//   POST /v1/bans      {"username","reason","duration_s"}   ban and close the live session
//   DELETE /v1/bans/<username>                               lift bans
//   PUT  /v1/config/<key>   body = value                     set a cluster setting
// Mutating requests need "Authorization: Bearer <node.admin_token>"; with no token configured
// they answer 403. Bad JSON or fields answer 400 with a JSON error; the server never throws.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <thread>

namespace sb::node {

class Node;

class AdminServer {
 public:
  /// Binds (throws on failure) and starts serving on a thread of its own.
  AdminServer(Node& node, const boost::asio::ip::tcp::endpoint& ep);
  ~AdminServer();
  std::uint16_t port() const noexcept { return port_; }
  /// Stops accepting and joins the thread. Idempotent.
  void stop();

 private:
  Node& node_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace sb::node
