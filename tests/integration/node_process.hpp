#pragma once
// NodeProcess: the real `switchboard` binary (path from CMake: SB_SWITCHBOARD_BIN) as a child
// process on free loopback ports, for the fault tests that kill nodes with -9 (an in-process node
// cannot be killed alone). Output goes to <dir>/server.log; the data directory is <dir>/data.
//
// start() spawns it with the given `--set` overrides (besides name, data_dir and ports) and waits
// for GET /healthz on its admin port; it reports why it could not (the log's tail) and never
// leaves a half-started child behind. kill9() is SIGKILL and reap; the destructor does a clean
// SIGTERM stop, then SIGKILL after 10 s. http_get() is a blocking one-shot HTTP/1.1 GET with short
// timeouts, for the admin endpoints (/healthz, /v1/nodes).
//
// Threading: one test thread drives a NodeProcess. Header-only; POSIX.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/http_get.hpp"

#ifndef SB_SWITCHBOARD_BIN
#error "SB_SWITCHBOARD_BIN (path of the switchboard binary) must be defined by the build"
#endif

extern char** environ;

namespace sb::test {

/// `n` distinct free loopback ports: bound to port 0 together (so they differ), read, closed.
inline std::vector<std::uint16_t> free_loopback_ports(int n) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    fds.push_back(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      break;
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}


class NodeProcess {
 public:
  NodeProcess() = default;
  ~NodeProcess() { stop(); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  /// Spawns node `name` with its files under `dir` and the extra `--set` overrides `sets`
  /// ("section.key=value"), then waits up to `limit` for /healthz. "" on success, else why not.
  std::string start(const std::string& name, const std::filesystem::path& dir,
                    const std::vector<std::string>& sets, std::chrono::seconds limit) {
    if (pid_ > 0) return "already running";
    const auto ports = free_loopback_ports(3);
    if (ports.size() != 3) return "cannot pick free ports";
    tcp_port_ = ports[0];
    ws_port_ = ports[1];
    admin_port_ = ports[2];
    name_ = name;
    std::filesystem::create_directories(dir);
    log_ = dir / "server.log";
    std::vector<std::string> args = {
        SB_SWITCHBOARD_BIN,
        "--set", "node.name=" + name,
        "--set", "node.data_dir=" + (dir / "data").string(),
        "--set", "listen.tcp_port=" + std::to_string(tcp_port_),
        "--set", "listen.ws_port=" + std::to_string(ws_port_),
        "--set", "listen.admin_port=" + std::to_string(admin_port_),
    };
    for (const auto& s : sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    // Default signal dispositions and an empty mask: the server blocks and sigwaits its own.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return std::string("posix_spawn ") + SB_SWITCHBOARD_BIN + ": " + std::strerror(rc);
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return name + " exited at start-up: " + log_tail();
      }
      if (http_get(admin_port_, "/healthz")) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill9();
    return name + " did not answer /healthz in time: " + log_tail();
  }

  /// SIGKILL and reap; no-op when not running.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// SIGTERM, wait up to 10 s, then SIGKILL; no-op when not running.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill9();
  }

  /// True while the child has not exited (reaps it if it has).
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

  /// The node's membership view (GET /v1/nodes), nullopt if it does not answer.
  std::optional<std::string> nodes() const { return http_get(admin_port_, "/v1/nodes"); }

  /// The last lines of the node's log (for failure messages).
  std::string log_tail(std::size_t bytes = 2000) const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > bytes ? all.substr(all.size() - bytes) : all;
  }

  const std::string& name() const { return name_; }
  std::uint16_t tcp_port() const { return tcp_port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  pid_t pid() const { return pid_; }

 private:
  std::string name_;
  std::filesystem::path log_;
  std::uint16_t tcp_port_ = 0;
  std::uint16_t ws_port_ = 0;
  std::uint16_t admin_port_ = 0;
  pid_t pid_ = -1;
};

/// True if a /v1/nodes body lists node `name`.
inline bool view_lists(const std::string& view, const std::string& name) {
  return view.find("\"node\":\"" + name + "\"") != std::string::npos;
}

}  // namespace sb::test
