#pragma once
// NatsServer: a real nats-server child process with JetStream, for *_natstest tests.
//
// start() picks a free loopback port (bind to port 0, read it, close), creates a temporary store
// directory under /tmp and runs `nats-server -js -a 127.0.0.1 -p <port> -sd <dir>`, then waits
// until the port accepts connections. kill9() sends SIGKILL and reaps the child; start() again
// reuses the same port and store directory (a restart). A test that cannot start the server must
// fail: start() returns an error text, empty on success. Not thread-safe; the destructor kills
// the child and removes the directory. Header-only; POSIX.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace sb::test {

class NatsServer {
 public:
  NatsServer() = default;
  /// `extra` arguments are appended to every start (e.g. cluster options); `port` 0 = pick one.
  explicit NatsServer(std::vector<std::string> extra, int port = 0)
      : extra_(std::move(extra)), port_(port) {}
  ~NatsServer() {
    kill9();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  /// Starts (or restarts) the server; "" on success, else why it could not.
  std::string start() {
    if (pid_ > 0) return "already running";
    if (dir_.empty()) {
      char tmpl[] = "/tmp/sb-nats-XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
      dir_ = tmpl;
    }
    if (port_ == 0 && (port_ = free_port()) == 0) return "no free port";
    const std::string port = std::to_string(port_);
    const std::string store = dir_ + "/store";
    const std::string log = dir_ + "/server.log";
    pid_ = fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      FILE* out = std::freopen(log.c_str(), "a", stdout);
      if (out != nullptr) dup2(fileno(stdout), STDERR_FILENO);
      std::vector<const char*> argv = {"nats-server", "-js",        "-a",  "127.0.0.1",
                                       "-p",          port.c_str(), "-sd", store.c_str()};
      for (const std::string& a : extra_) argv.push_back(a.c_str());
      argv.push_back(nullptr);
      execv("/usr/sbin/nats-server", const_cast<char* const*>(argv.data()));
      execvp("nats-server", const_cast<char* const*>(argv.data()));
      std::_Exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "nats-server exited at start (is it installed? see " + log + ")";
      }
      if (accepts()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill9();
    return "nats-server did not accept connections on port " + port;
  }

  /// SIGKILL and reap; no-op when not running.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  /// The JetStream store directory (-sd), kept across restarts.
  std::string store_dir() const { return dir_ + "/store"; }
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 public:
  /// A loopback TCP port that was free a moment ago.
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

 private:
  bool accepts() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sb::test
