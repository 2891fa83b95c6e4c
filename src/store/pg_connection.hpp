#pragma once
// PgConnection and PgPool: the libpq layer under PgStore (internal to src/store; nothing outside
// this module includes it, so no PGconn or PGresult leaves the module).
//
// PgConnection is one libpq connection driven without ever blocking past a deadline: it connects
// with PQconnectStartParams/PQconnectPoll under connect_timeout, sets statement_timeout on the
// session, prepares each statement on first use (again after a reconnect), and waits for every
// answer with poll() until statement_timeout + connect_timeout (a server that stops answering —
// frozen, partitioned — costs that, never a hang; the connection is then dropped, and the
// server's own statement_timeout ends the orphaned statement; no cancel request is sent, since
// PG15's PQcancel blocks without a timeout). A call that
// finds the connection broken reconnects first; a failed connect answers Errc::unavailable at
// once and the next attempts back off (50 ms doubling to 1 s, during which calls fail fast), so
// a database that is down costs each call at most one connect timeout and the connection comes
// back by itself when the database does.
// Retries (at most max_retries per call, with a short growing pause): serialization failure and
// deadlock (the statement was rolled back), a connection found lost before the statement was
// sent, and a lost connection during an idempotent statement. A non-idempotent write whose
// connection died after sending answers Errc::unavailable: it may or may not have committed.
// Error mapping: 23505 unique violation → already_exists, 23503 foreign key → not_found,
// statement timeout, connection failures, server shutting down, too many connections →
// unavailable; anything else → internal (logged at warn with the server's message).
//
// Limit: libpq resolves a host name synchronously inside PQconnectStartParams, outside the
// connect deadline; give `hostaddr=` (or an IP address) where DNS may hang.
//
// PgPool owns up to `size` PgConnections, opened lazily, and lends one per call; it also applies
// the schema migrations once (pg_migrations.hpp) under pg_advisory_xact_lock.
//
// Threading: a PgConnection is used by one thread at a time; PgPool is thread-safe.
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.hpp"

namespace sb::store {

struct PgSettings {
  std::string conninfo;                        // libpq connection string or URI
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds statement_timeout{2000};
  std::uint32_t max_retries = 3;
};

/// A named statement, prepared once per connection. `sql` uses $1, $2... placeholders.
struct PgStatement {
  const char* name;
  const char* sql;
  bool idempotent;  // safe to run again if the connection died after sending it
};

/// A successful result (text format). Owns its PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  int rows() const noexcept { return PQntuples(result_.get()); }
  /// Rows changed by an INSERT/UPDATE/DELETE.
  int changed() const;
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  bool boolean(int row, int column) const;

 private:
  struct Clear {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

class PgConnection {
 public:
  explicit PgConnection(const PgSettings& settings) : settings_(settings) {}
  ~PgConnection() { drop(); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// Runs `statement` with text parameters, reconnecting and retrying as described above.
  Result<PgResult> run(const PgStatement& statement, const std::vector<std::string>& params);

  /// Connects now if not connected (ignoring the back-off). Errc::unavailable on failure, with
  /// the reason in `why`.
  Status connect(std::string& why);

  /// Applies the pending migrations in one transaction under the advisory lock. Throws
  /// std::runtime_error on any failure, or if the database has a migration this build lacks.
  void migrate();

 private:
  enum class Outcome { done, retry, fail };
  struct Attempt {
    Outcome outcome;
    boost::system::error_code error;  // when fail
    std::unique_ptr<PgResult> result; // when done
  };
  Attempt attempt(const PgStatement& statement, const std::vector<std::string>& params);
  /// Sends nothing; waits for the answer to what was sent, until `deadline`.
  Attempt collect(std::chrono::steady_clock::time_point deadline, bool idempotent, const char* what);
  /// Waits until the socket is readable (or writable); false on timeout or error.
  bool wait_socket(bool for_write, std::chrono::steady_clock::time_point deadline);
  /// Runs a plain (possibly multi-statement) command; used at connect and by migrate().
  Result<PgResult> simple(const std::string& sql, std::chrono::milliseconds timeout);
  std::chrono::steady_clock::time_point answer_deadline() const;
  void drop() noexcept;
  bool healthy();

  PgSettings settings_;
  PGconn* conn_ = nullptr;
  std::unordered_set<std::string> prepared_;  // statement names prepared on conn_
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_error_;  // the server's message for the last failed statement
};

/// Up to `size` connections shared by every PgStore made from it. Thread-safe.
class PgPool {
 public:
  PgPool(PgSettings settings, std::size_t size);

  /// Runs `statement` on a free connection (waiting for one at most connect_timeout +
  /// statement_timeout, else Errc::unavailable). Any thread.
  Result<PgResult> run(const PgStatement& statement, const std::vector<std::string>& params);

  /// Connects one connection and applies the migrations. Throws std::runtime_error (start-up).
  void open_and_migrate();

 private:
  std::unique_ptr<PgConnection> take();
  void give_back(std::unique_ptr<PgConnection> connection);

  PgSettings settings_;
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::size_t created_ = 0;
};

}  // namespace sb::store
