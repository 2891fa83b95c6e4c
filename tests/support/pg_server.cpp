#include "support/pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sb::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kReadyTimeout = 60s;  // a busy 2-core machine can be slow to run crash recovery

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("pg server: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("pg server: cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Waits for `pid` up to `timeout`; true (and *status set) if it exited.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || r < 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

PgServer::PgServer(bool durable) : durable_(durable) {
  const char* bin = std::getenv("SB_PG_BIN");
  bin_ = bin != nullptr ? bin : "/usr/lib/postgresql/15/bin";
  if (!fs::exists(bin_ / "postgres") || !fs::exists(bin_ / "initdb")) {
    throw std::runtime_error("pg server: no PostgreSQL 15 binaries in " + bin_.string() +
                             " (install the postgresql package: scripts/setup.sh)");
  }
  // As root the server user must reach the directory: /tmp is world-traversable, a TMPDIR
  // under /root may not be.
  const bool root = ::geteuid() == 0;
  std::string pattern = ((root ? fs::path("/tmp") : fs::temp_directory_path()) / "sb-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("pg server: mkdtemp failed");
  dir_ = pattern;
  if (root) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) user = ::getpwnam("nobody");
    if (user == nullptr) throw std::runtime_error("pg server: running as root and no postgres user");
    uid_ = user->pw_uid;
    gid_ = user->pw_gid;
    if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("pg server: chown failed");
  }
  port_ = free_port();
  try {
    run_tool({(bin_ / "initdb").string(), "-D", (dir_ / "data").string(), "-U", "postgres", "-A",
              "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"});
    start();
  } catch (...) {
    stop(SIGKILL);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

PgServer::~PgServer() {
  stop(SIGINT);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PgServer::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

pid_t PgServer::spawn(const std::vector<std::string>& argv) {
  const std::string log = (dir_ / "server.log").string();
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("pg server: cannot open " + log);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("pg server: fork failed");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::setpgid(0, 0);  // not in the test's process group: a Ctrl-C reaches us, we stop it
    if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

void PgServer::run_tool(const std::vector<std::string>& argv) {
  const pid_t pid = spawn(argv);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("pg server: " + argv[0] + " failed (status " +
                             std::to_string(status) + "):\n" + log_tail());
  }
}

void PgServer::start() {
  if (pid_ > 0) return;
  std::vector<std::string> argv{(bin_ / "postgres").string(), "-D", (dir_ / "data").string(),
                                "-p", std::to_string(port_), "-k", dir_.string(),
                                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                                "-c", "shared_buffers=32MB"};
  if (!durable_) {
    for (const char* setting : {"fsync=off", "full_page_writes=off"}) {
      argv.push_back("-c");
      argv.push_back(setting);
    }
  }
  pid_ = spawn(argv);
  const std::string info = conninfo() + " connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (PQping(info.c_str()) != PQPING_OK) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("pg server: postgres exited at start-up:\n" + log_tail());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      stop(SIGKILL);
      throw std::runtime_error("pg server: not ready in time:\n" + log_tail());
    }
    std::this_thread::sleep_for(20ms);
  }
}

void PgServer::stop(int signal) {
  if (pid_ <= 0) return;
  signal_all(SIGCONT);  // a frozen server could not act on the signal
  ::kill(pid_, signal);
  int status = 0;
  if (!wait_exit(pid_, 30s, &status)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

// Backends call setsid(), so they are not in the postmaster's process group: signal the
// postmaster and every child of it (found in /proc). Stopped first, the postmaster forks no more.
void PgServer::signal_all(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the command (which may contain spaces) in ")": state, ppid, ...
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid_) ::kill(static_cast<pid_t>(std::stol(name)), signal);
  }
}

void PgServer::freeze() { signal_all(SIGSTOP); }
void PgServer::thaw() { signal_all(SIGCONT); }

void PgServer::stop_immediate() { stop(SIGQUIT); }
void PgServer::stop_fast() { stop(SIGINT); }

std::string PgServer::query(const std::string& database, const std::string& sql) const {
  PGconn* conn = PQconnectdb((conninfo(database) + " connect_timeout=5").c_str());
  std::string out, error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(r);
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error("pg server: " + sql + ": " + error);
  return out;
}

std::string PgServer::create_database() {
  const std::string name = "sb_test_" + std::to_string(++databases_);
  query("postgres", "CREATE DATABASE " + name);
  return name;
}

void PgServer::drop_database(const std::string& name) {
  query("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

std::string PgServer::log_tail() const {
  std::ifstream in(dir_ / "server.log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  if (text.size() > 4000) text = text.substr(text.size() - 4000);
  return text;
}

}  // namespace sb::test
