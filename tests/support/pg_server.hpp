#pragma once
// PgServer: a throw-away PostgreSQL 15 server for tests (*_pgtest.cpp) and local tools.
//
// How: initdb into a fresh directory under the system temp dir (/tmp as root) (trust authentication; fsync off,
// which survives a server crash but not a machine crash: test data only; synchronous_commit stays
// on, so an immediate stop loses no acknowledged commit), then runs the `postgres` binary of /usr/lib/postgresql/15/bin (override with
// SB_PG_BIN) as a child process listening on 127.0.0.1 on a free port, with its Unix socket in
// the same directory. PostgreSQL refuses to run as root: when the euid is 0, the directory is
// given to the `postgres` user (or `nobody`) and initdb/postgres run under that uid/gid. The
// constructor waits until the server accepts connections (PQping), and throws
// std::runtime_error with the server's log if it cannot start — a test that needs PostgreSQL
// fails, never skips. The destructor stops the server (fast shutdown) and removes the directory.
// stop_immediate() is `pg_ctl stop -m immediate` (SIGQUIT: no checkpoint, crash recovery at the
// next start); start() starts it again on the same port and data.
//
// What not: no replication, no TLS, no persistence across runs.
//
// Threading: one thread drives a PgServer; the server itself may be used from any thread.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sb::test {

class PgServer {
 public:
  /// Creates the cluster and starts the server. Throws std::runtime_error on failure.
  /// `durable` keeps fsync and full_page_writes on (benchmarks); tests leave them off.
  explicit PgServer(bool durable = false);
  /// Stops the server and removes its directory.
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  /// A libpq connection string for `database` on this server (TCP on 127.0.0.1).
  std::string conninfo(const std::string& database = "postgres") const;
  std::uint16_t port() const { return port_; }

  /// Creates a new empty database and returns its name (sb_test_1, sb_test_2, ...).
  std::string create_database();
  /// Drops a database, disconnecting its sessions.
  void drop_database(const std::string& name);
  /// Runs `sql` on `database` and returns the first column of the first row ("" if none).
  /// Throws std::runtime_error on error.
  std::string query(const std::string& database, const std::string& sql) const;

  /// Starts the server (again) on the same port and data directory; waits until it is ready.
  void start();
  /// Stops like `pg_ctl stop -m immediate`; waits for the postmaster to exit.
  void stop_immediate();
  /// Stops like `pg_ctl stop -m fast`; waits for the postmaster to exit.
  void stop_fast();
  /// Freezes (SIGSTOP) or thaws (SIGCONT) every process of the server: it then accepts TCP
  /// connections (the kernel does) but answers nothing, like a hung or partitioned host.
  void freeze();
  void thaw();
  bool running() const { return pid_ > 0; }

 private:
  /// Runs `argv` (as the server user) to completion, output appended to the log; throws on failure.
  void run_tool(const std::vector<std::string>& argv);
  /// Starts `argv` as the server user with output appended to the log; returns its pid.
  pid_t spawn(const std::vector<std::string>& argv);
  void stop(int signal);
  void signal_all(int signal);
  std::string log_tail() const;

  std::filesystem::path dir_;   // owned by the server user when running as root
  std::filesystem::path bin_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
  bool durable_ = false;
  uid_t uid_ = 0;  // the uid/gid to run as; 0 = do not switch
  gid_t gid_ = 0;
};

}  // namespace sb::test
