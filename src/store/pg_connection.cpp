#include "store/pg_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "core/log.hpp"
#include "store/pg_migrations.hpp"

namespace sb::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{50};
constexpr milliseconds kMaxBackoff{1000};
// Migrations may wait for another node's migration (the advisory lock) and may rewrite tables.
constexpr milliseconds kMigrationTimeout{60'000};
// pg_advisory_xact_lock key of the migration lock: "SWBD" + schema lock number 1.
constexpr const char* kMigrationLockKey = "1398227524001";

bool starts_with(const char* s, const char* prefix) {
  return s != nullptr && std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

std::string first_line(const char* text) {
  std::string s = text != nullptr ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

// --- PgResult ---------------------------------------------------------------------------------

int PgResult::changed() const { return std::atoi(PQcmdTuples(result_.get())); }

std::string PgResult::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t PgResult::integer(int row, int column) const {
  const char* p = PQgetvalue(result_.get(), row, column);
  std::int64_t value = 0;
  std::from_chars(p, p + PQgetlength(result_.get(), row, column), value);
  return value;
}

bool PgResult::boolean(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

// --- PgConnection -----------------------------------------------------------------------------

void PgConnection::drop() noexcept {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

Clock::time_point PgConnection::answer_deadline() const {
  // The server gives up after statement_timeout; the margin covers the network and a server
  // that does not answer at all (frozen, partitioned), so the wait is bounded either way.
  return Clock::now() + settings_.statement_timeout + settings_.connect_timeout;
}

// Notices a connection the server closed while it sat idle (restart, terminate), so that the
// next statement goes to a fresh connection instead of failing after it was sent.
bool PgConnection::healthy() {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return false;
  // Twice: a server shutting down first sends an error message (read by the first call, which
  // still succeeds), then closes the socket (the end of file is seen by the second).
  if (PQconsumeInput(conn_) == 0 || PQconsumeInput(conn_) == 0) return false;
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool PgConnection::wait_socket(bool for_write, Clock::time_point deadline) {
  for (;;) {
    const int fd = PQsocket(conn_);
    if (fd < 0) return false;
    const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;  // readable/writable, or an error libpq will report
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

Status PgConnection::connect(std::string& why) {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return {};
  drop();
  const char* keys[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {settings_.conninfo.c_str(), "switchboard", nullptr};
  const auto deadline = Clock::now() + settings_.connect_timeout;
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  bool ok = conn_ != nullptr && PQstatus(conn_) != CONNECTION_BAD;
  PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
  while (ok && poll_status != PGRES_POLLING_OK) {
    if (poll_status == PGRES_POLLING_FAILED) {
      ok = false;
    } else if (!wait_socket(poll_status == PGRES_POLLING_WRITING, deadline)) {
      why = "timed out after " + std::to_string(settings_.connect_timeout.count()) + " ms";
      ok = false;
      break;
    } else {
      poll_status = PQconnectPoll(conn_);
    }
  }
  if (ok) {
    // Server notices (e.g. "relation already exists, skipping") go to the debug log, not stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char* message) { spdlog::debug("postgres: {}", first_line(message)); },
        nullptr);
    auto set = simple("SET statement_timeout = " + std::to_string(settings_.statement_timeout.count()),
                      settings_.connect_timeout);
    ok = set.has_value();
  }
  if (!ok) {
    if (why.empty()) {
      why = conn_ != nullptr          ? first_line(PQerrorMessage(conn_))
            : !last_error_.empty()    ? last_error_
                                      : "connection lost during set-up";
    }
    drop();
    backoff_ = std::min(backoff_ == milliseconds{0} ? kFirstBackoff : 2 * backoff_, kMaxBackoff);
    next_connect_ = Clock::now() + backoff_;
    return fail(Errc::unavailable);
  }
  backoff_ = milliseconds{0};
  return {};
}

PgConnection::Attempt PgConnection::collect(Clock::time_point deadline, bool idempotent,
                                            const char* what) {
  auto lost = [&]() {
    spdlog::warn("postgres store: connection lost during {}: {}", what,
                 first_line(PQerrorMessage(conn_)));
    drop();
    return idempotent ? Attempt{Outcome::retry, {}, nullptr}
                      : Attempt{Outcome::fail, fail(Errc::unavailable), nullptr};
  };
  auto timed_out = [&]() {
    spdlog::warn("postgres store: no answer to {} in time; dropping the connection", what);
    drop();
    return Attempt{Outcome::fail, fail(Errc::unavailable), nullptr};
  };
  for (;;) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) return lost();
    if (!wait_socket(true, deadline)) return timed_out();
  }
  // Several results come back for a multi-statement command: keep the first error, else the last.
  PGresult* kept = nullptr;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!wait_socket(false, deadline)) {
        PQclear(kept);
        return timed_out();
      }
      if (PQconsumeInput(conn_) == 0) {
        PQclear(kept);
        return lost();
      }
    }
    PGresult* next = PQgetResult(conn_);
    if (next == nullptr) break;
    if (kept != nullptr && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
      PQclear(next);
    } else {
      PQclear(kept);
      kept = next;
    }
  }
  if (kept == nullptr) return PQstatus(conn_) == CONNECTION_BAD ? lost() : timed_out();
  PgResult result(kept);
  const ExecStatusType status = PQresultStatus(kept);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return {Outcome::done, {}, std::make_unique<PgResult>(std::move(result))};
  }
  const char* state = PQresultErrorField(kept, PG_DIAG_SQLSTATE);
  last_error_ = first_line(PQresultErrorMessage(kept));
  if (PQstatus(conn_) == CONNECTION_BAD || starts_with(state, "08") ||
      starts_with(state, "57P0")) {  // admin/crash shutdown, cannot connect now
    return lost();
  }
  if (starts_with(state, "23505")) return {Outcome::fail, fail(Errc::already_exists), nullptr};
  if (starts_with(state, "23503")) return {Outcome::fail, fail(Errc::not_found), nullptr};
  if (starts_with(state, "40001") || starts_with(state, "40P01")) {  // rolled back: run again
    return {Outcome::retry, {}, nullptr};
  }
  if (starts_with(state, "26000")) {  // prepared statement gone (e.g. DISCARD ALL): prepare again
    prepared_.clear();
    return {Outcome::retry, {}, nullptr};
  }
  spdlog::warn("postgres store: {} (SQLSTATE {}) in {}", last_error_, state ? state : "?", what);
  const bool busy = starts_with(state, "57014") || starts_with(state, "53");  // timeout, resources
  return {Outcome::fail, fail(busy ? Errc::unavailable : Errc::internal), nullptr};
}

Result<PgResult> PgConnection::simple(const std::string& sql, milliseconds timeout) {
  if (PQsendQuery(conn_, sql.c_str()) == 0) {
    last_error_ = first_line(PQerrorMessage(conn_));
    return fail(Errc::unavailable);
  }
  Attempt a = collect(Clock::now() + timeout, /*idempotent=*/false, "a command");
  if (a.outcome == Outcome::done) return std::move(*a.result);
  if (conn_ == nullptr && last_error_.empty()) last_error_ = "connection lost";
  return a.error ? a.error : fail(Errc::unavailable);
}

PgConnection::Attempt PgConnection::attempt(const PgStatement& statement,
                                            const std::vector<std::string>& params) {
  if (!healthy()) {
    drop();
    if (Clock::now() < next_connect_) return {Outcome::fail, fail(Errc::unavailable), nullptr};
    std::string why;
    if (!connect(why)) {
      spdlog::warn("postgres store: cannot connect ({}); retrying in {} ms", why, backoff_.count());
      return {Outcome::fail, fail(Errc::unavailable), nullptr};
    }
  }
  if (!prepared_.contains(statement.name)) {
    if (PQsendPrepare(conn_, statement.name, statement.sql, 0, nullptr) == 0) {
      drop();
      return {Outcome::retry, {}, nullptr};  // nothing was sent
    }
    Attempt prepared = collect(answer_deadline(), /*idempotent=*/true, statement.name);
    if (prepared.outcome != Outcome::done) return prepared;
    prepared_.insert(statement.name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  if (PQsendQueryPrepared(conn_, statement.name, static_cast<int>(values.size()), values.data(),
                          nullptr, nullptr, 0) == 0) {
    drop();
    return {Outcome::retry, {}, nullptr};  // nothing was sent
  }
  return collect(answer_deadline(), statement.idempotent, statement.name);
}

Result<PgResult> PgConnection::run(const PgStatement& statement,
                                   const std::vector<std::string>& params) {
  for (std::uint32_t tries = 0;; ++tries) {
    Attempt a = attempt(statement, params);
    if (a.outcome == Outcome::done) return std::move(*a.result);
    if (a.outcome == Outcome::fail) return a.error;
    if (tries >= settings_.max_retries) {
      spdlog::warn("postgres store: {} still failing after {} retries", statement.name, tries);
      return fail(Errc::unavailable);
    }
    std::this_thread::sleep_for(milliseconds(std::min(5 << tries, 100)));
  }
}

void PgConnection::migrate() {
  std::string why;
  if (!connect(why)) throw std::runtime_error("postgres store: cannot connect: " + why);
  auto step = [this](const std::string& sql) {
    auto r = simple(sql, kMigrationTimeout);
    if (!r) {
      const std::string error = last_error_;
      if (conn_ != nullptr) (void)simple("ROLLBACK", settings_.connect_timeout);  // best effort
      throw std::runtime_error("postgres store migration failed: " + error + " in: " +
                               first_line(sql.c_str()));
    }
    return std::move(*r);
  };
  step("BEGIN");
  step("SET LOCAL statement_timeout = " + std::to_string(kMigrationTimeout.count()));
  // Serialises concurrent starters: the second waits here, then finds the work done.
  step(std::string("SELECT pg_advisory_xact_lock(") + kMigrationLockKey + ")");
  step("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
       "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  PgResult rows = step("SELECT version FROM schema_migrations ORDER BY version");
  std::set<std::int64_t> applied;
  for (int i = 0; i < rows.rows(); ++i) applied.insert(rows.integer(i, 0));
  const int latest = static_cast<int>(kPgMigrationCount);
  if (!applied.empty() && *applied.rbegin() > latest) {
    (void)simple("ROLLBACK", settings_.connect_timeout);
    throw std::runtime_error("postgres store: the database has schema version " +
                             std::to_string(*applied.rbegin()) + ", newer than this build's " +
                             std::to_string(latest));
  }
  for (std::size_t i = 0; i < kPgMigrationCount; ++i) {
    const PgMigration& m = kPgMigrations[i];
    SB_CHECK(m.version == static_cast<int>(i) + 1);  // versions 1..N without gaps
    if (applied.contains(m.version)) continue;
    step(m.sql);
    char* name = PQescapeLiteral(conn_, m.name, std::strlen(m.name));
    const std::string record = "INSERT INTO schema_migrations (version, name) VALUES (" +
                               std::to_string(m.version) + ", " + (name ? name : "''") + ")";
    PQfreemem(name);
    step(record);
    spdlog::info("postgres store: applied migration {}", m.name);
  }
  step("COMMIT");
}

// --- PgPool -----------------------------------------------------------------------------------

PgPool::PgPool(PgSettings settings, std::size_t size)
    : settings_(std::move(settings)), size_(std::max<std::size_t>(size, 1)) {}

std::unique_ptr<PgConnection> PgPool::take() {
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + settings_.connect_timeout + settings_.statement_timeout;
  if (!freed_.wait_until(lock, deadline, [this] { return !idle_.empty() || created_ < size_; })) {
    return nullptr;
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++created_;
  return std::make_unique<PgConnection>(settings_);  // connects on first use
}

void PgPool::give_back(std::unique_ptr<PgConnection> connection) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  freed_.notify_one();
}

Result<PgResult> PgPool::run(const PgStatement& statement, const std::vector<std::string>& params) {
  auto connection = take();
  if (!connection) {
    spdlog::warn("postgres store: all {} connections busy; {} refused", size_, statement.name);
    return fail(Errc::unavailable);
  }
  auto result = connection->run(statement, params);
  give_back(std::move(connection));
  return result;
}

void PgPool::open_and_migrate() {
  auto connection = take();
  if (!connection) throw std::runtime_error("postgres store: no free connection to migrate");
  try {
    connection->migrate();
  } catch (...) {
    give_back(std::move(connection));
    throw;
  }
  give_back(std::move(connection));
}

}  // namespace sb::store
