#pragma once
// NatsCluster: three (or n) real nats-server processes clustered with routes and JetStream on
// loopback, for the fault tests (kill -9 one of them under load). Built on NatsServer
// (nats_server.hpp): each server gets a name (-n), the cluster name, its own route port, the
// routes to all (itself included, which nats-server ignores) and an HTTP monitoring port (-m).
//
// start() starts every server and waits until each routes to the others and JetStream has a meta
// leader (so an R3 bucket can be created at once); it returns why not, "" on success — a test
// that cannot start the cluster fails. connected_to(name) asks each server's /connz which one
// holds the client connection named `name` (libnats sends its connection name; the NATS backbone
// names it after the node). Not thread-safe; the servers are killed by their destructors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http_get.hpp"
#include "nats_server.hpp"

namespace sb::test {

class NatsCluster {
 public:
  explicit NatsCluster(int n = 3) : n_(n) {}

  /// Starts every server and waits up to 30 s for the routes and the JetStream meta leader.
  std::string start() {
    std::string routes;
    for (int i = 0; i < n_; ++i) {
      route_ports_.push_back(NatsServer::free_port());
      monitor_ports_.push_back(NatsServer::free_port());
      routes += (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(route_ports_.back()));
    }
    for (int i = 0; i < n_; ++i) {
      servers_.push_back(std::make_unique<NatsServer>(std::vector<std::string>{
          "-n", server_name(i), "--cluster_name", "sb-test", "--cluster",
          "nats://127.0.0.1:" + std::to_string(route_ports_[static_cast<std::size_t>(i)]), "--routes", routes,
          "-m", std::to_string(monitor_ports_[static_cast<std::size_t>(i)])}));
      if (std::string e = servers_.back()->start(); !e.empty()) return server_name(i) + ": " + e;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (formed()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "the NATS cluster did not form (routes + JetStream meta leader) within 30 s";
  }

  int size() const { return n_; }
  NatsServer& server(int i) { return *servers_[static_cast<std::size_t>(i)]; }
  static std::string server_name(int i) { return "n" + std::to_string(i + 1); }

  /// Every server's client URL, as a TOML array: ["nats://...", ...].
  std::string urls_toml() const {
    std::string out = "[";
    for (const auto& s : servers_) out += (out.size() > 1 ? ",\"" : "\"") + s->url() + "\"";
    return out + "]";
  }

  /// The index of the running server that holds client connection `name`, nullopt if none does.
  std::optional<int> connected_to(const std::string& name) const {
    for (int i = 0; i < n_; ++i) {
      if (!servers_[static_cast<std::size_t>(i)]->running()) continue;
      auto body = monitor(i, "/connz?limit=4096");
      if (body && body->find("\"name\": \"" + name + "\"") != std::string::npos) return i;
      if (body && body->find("\"name\":\"" + name + "\"") != std::string::npos) return i;
    }
    return std::nullopt;
  }

  /// GET `path` on server i's monitoring port; the body, nullopt on any failure.
  std::optional<std::string> monitor(int i, const std::string& path) const {
    return http_get(static_cast<std::uint16_t>(monitor_ports_[static_cast<std::size_t>(i)]), path);
  }

 private:
  bool formed() const {
    for (int i = 0; i < n_; ++i) {
      auto routez = monitor(i, "/routez");
      if (!routez) return false;
      const std::string want = "\"num_routes\": " + std::to_string(n_ - 1);
      if (routez->find(want) == std::string::npos &&
          routez->find("\"num_routes\":" + std::to_string(n_ - 1)) == std::string::npos)
        return false;
      auto jsz = monitor(i, "/jsz");
      if (!jsz || jsz->find("\"leader\":") == std::string::npos) return false;
    }
    return true;
  }

  int n_;
  std::vector<int> route_ports_;
  std::vector<int> monitor_ports_;
  std::vector<std::unique_ptr<NatsServer>> servers_;
};

}  // namespace sb::test
