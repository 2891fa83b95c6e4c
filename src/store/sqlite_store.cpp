#include "store/sqlite_store.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.hpp"

namespace sb::store {
namespace {

// kMigrations[v] brings a database from user_version v to v + 1. Append only; never edit one
// that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE accounts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  username        TEXT    NOT NULL,
  username_key    TEXT    NOT NULL UNIQUE,
  password_hash   TEXT    NOT NULL,
  zone            TEXT    NOT NULL,
  failed_logins   INTEGER NOT NULL DEFAULT 0,
  disabled        INTEGER NOT NULL DEFAULT 0,
  disabled_reason TEXT    NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  last_login_ms   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE bans (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  player_id  INTEGER NOT NULL REFERENCES accounts (id),
  reason     TEXT    NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  created_by TEXT    NOT NULL
);
CREATE INDEX bans_player_id ON bans (player_id);
CREATE TABLE config (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

struct CloseDb {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

// Turns a failed (extended) result code into a project error; unexpected ones are logged.
boost::system::error_code to_error(sqlite3* db, int rc, const char* sql) {
  if (rc == SQLITE_CONSTRAINT_UNIQUE) return fail(Errc::already_exists);  // only username_key
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return fail(Errc::not_found);   // ban of no account
  spdlog::warn("sqlite store: {} ({}) in: {}", sqlite3_errmsg(db), sqlite3_errstr(rc), sql);
  const int primary = rc & 0xff;
  return fail(primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? Errc::unavailable
                                                                 : Errc::internal);
}

// The lookup key of a username. ASCII folding is exact for the names auth accepts.
std::string fold_case(std::string_view name) {
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

// One connection and its prepared statements. Throws (start-up errors) only from the constructor.
class Connection {
 public:
  explicit Connection(const StoreOptions& options);

  sqlite3* get() const noexcept { return db_.get(); }

  /// The statement for `sql`, prepared on first use and kept until the connection closes.
  Result<sqlite3_stmt*> statement(const char* sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) return to_error(db_.get(), rc, sql);
    statements_.emplace(sql, StmtHandle(raw));
    return raw;
  }

 private:
  [[noreturn]] void raise(std::string_view what) const {
    throw std::runtime_error("sqlite store " + path_ + ": " + std::string(what) + ": " +
                             sqlite3_errmsg(db_.get()));
  }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) raise(sql);
  }
  // The first column of the first row of a one-off statement (pragmas).
  std::string query_text(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
    const StmtHandle stmt(raw);
    if (rc == SQLITE_OK) rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) raise(sql);
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    return text != nullptr ? text : "";
  }
  int user_version() { return std::stoi(query_text("PRAGMA user_version")); }
  void migrate();

  std::string path_;
  DbHandle db_;
  std::unordered_map<std::string, StmtHandle> statements_;  // finalized before db_ closes
};

Connection::Connection(const StoreOptions& options) : path_(options.sqlite_path) {
  if (path_.empty()) throw std::runtime_error("sqlite store: sqlite_path is empty");
  if (sqlite3_threadsafe() == 0) {
    throw std::runtime_error("sqlite store: libsqlite3 is not threadsafe");
  }
  // A failure here surfaces as a clearer open error just below.
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ignored);

  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path_.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);  // even a failed open may allocate a handle that must be closed
  if (rc != SQLITE_OK) {
    if (raw == nullptr) throw std::runtime_error("sqlite store " + path_ + ": out of memory");
    raise("open");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (query_text("PRAGMA journal_mode = WAL") != "wal") raise("cannot enable WAL journal mode");
  exec("PRAGMA synchronous = FULL");
  exec("PRAGMA foreign_keys = ON");
  migrate();
}

void Connection::migrate() {
  if (user_version() == kSchemaVersion) return;  // the usual case: no write lock needed
  exec("BEGIN IMMEDIATE");
  try {
    // Re-read under the write lock: a concurrent opener may have migrated meanwhile.
    int version = user_version();
    if (version > kSchemaVersion) {
      throw std::runtime_error("sqlite store " + path_ + ": schema version " +
                               std::to_string(version) + " is newer than this build's " +
                               std::to_string(kSchemaVersion));
    }
    for (; version < kSchemaVersion; ++version) exec(kMigrations[version]);
    exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// One execution of a cached statement: bind parameters in order, step, read columns. The first
// failure (prepare, bind or step) is returned by step(). The statement is reset on destruction,
// so no lock or read snapshot outlives the call.
class Query {
 public:
  Query(Connection& conn, const char* sql) : db_(conn.get()) {
    if (auto stmt = conn.statement(sql)) {
      stmt_ = *stmt;
    } else {
      error_ = stmt.error();
    }
  }
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::int64_t value) {
    return check(stmt_ ? sqlite3_bind_int64(stmt_, ++index_, value) : SQLITE_OK);
  }
  Query& bind(PlayerId id) { return bind(static_cast<std::int64_t>(id.value)); }
  Query& bind(std::string_view text) {
    return check(stmt_ ? sqlite3_bind_text64(stmt_, ++index_, text.data(), text.size(),
                                             SQLITE_TRANSIENT, SQLITE_UTF8)
                       : SQLITE_OK);
  }

  /// Advances: true when a row is ready, false when the statement is done.
  Result<bool> step() {
    if (!error_) {
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      error_ = to_error(db_, rc, sqlite3_sql(stmt_));
    }
    return {boost::system::in_place_error, error_};
  }
  /// Steps to the end (a write commits here); returns the number of rows changed.
  Result<int> run() {
    for (;;) {
      auto row = step();
      if (!row) return row.error();
      if (!*row) return sqlite3_changes(db_);
    }
  }

  std::int64_t integer(int column) const noexcept { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p != nullptr
               ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
               : std::string();
  }

 private:
  Query& check(int rc) {
    if (rc != SQLITE_OK && !error_) error_ = to_error(db_, rc, sqlite3_sql(stmt_));
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  boost::system::error_code error_;
  int index_ = 0;
};

template <class Read>
using RowType = std::invoke_result_t<Read, const Query&>;

// The first row read with `read`, or nullopt. Steps to completion so that a write with RETURNING
// commits and reports a commit failure.
template <class Read>
Result<std::optional<RowType<Read>>> maybe_row(Query& q, Read read) {
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return std::nullopt;
  std::optional<RowType<Read>> value(read(q));
  if (auto done = q.run(); !done) return done.error();
  return value;
}

// The first row read with `read`; Errc::not_found if there is none.
template <class Read>
Result<RowType<Read>> one_row(Query& q, Read read) {
  auto row = maybe_row(q, read);
  if (!row) return row.error();
  if (!*row) return fail(Errc::not_found);
  return std::move(**row);
}

template <class Read>
Result<std::vector<RowType<Read>>> all_rows(Query& q, Read read) {
  std::vector<RowType<Read>> rows;
  for (;;) {
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) return rows;
    rows.push_back(read(q));
  }
}

// An update of one account by id: Errc::not_found if it changed no row.
Status one_account_changed(Query& q) {
  auto changed = q.run();
  if (!changed) return changed.error();
  if (*changed == 0) return fail(Errc::not_found);
  return {};
}

PlayerId read_id(const Query& q) { return PlayerId{static_cast<std::uint64_t>(q.integer(0))}; }

// Column order of every account query.
Account read_account(const Query& q) {
  Account a;
  a.id = read_id(q);
  a.username = q.text(1);
  a.password_hash = q.text(2);
  a.zone = q.text(3);
  a.failed_logins = static_cast<std::uint32_t>(q.integer(4));
  a.disabled = q.integer(5) != 0;
  a.disabled_reason = q.text(6);
  a.created_ms = q.integer(7);
  a.last_login_ms = q.integer(8);
  return a;
}

// Column order of every ban query.
Ban read_ban(const Query& q) {
  Ban b;
  b.id = static_cast<std::uint64_t>(q.integer(0));
  b.player = PlayerId{static_cast<std::uint64_t>(q.integer(1))};
  b.reason = q.text(2);
  b.created_ms = q.integer(3);
  b.expires_ms = q.integer(4);
  b.created_by = q.text(5);
  return b;
}

class SqliteAccounts final : public AccountRepo {
 public:
  explicit SqliteAccounts(Connection& conn) : conn_(conn) {}

  Result<PlayerId> create(const std::string& username, const std::string& password_hash,
                          const std::string& zone, UnixMillis now) override {
    Query q(conn_,
            "INSERT INTO accounts (username, username_key, password_hash, zone, created_ms) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id");
    q.bind(username).bind(fold_case(username)).bind(password_hash).bind(zone).bind(now);
    return one_row(q, read_id);
  }

  Result<Account> find_by_name(const std::string& username) override {
    Query q(conn_,
            "SELECT id, username, password_hash, zone, failed_logins, disabled, disabled_reason, "
            "created_ms, last_login_ms FROM accounts WHERE username_key = ?");
    q.bind(fold_case(username));
    return one_row(q, read_account);
  }

  Result<Account> find_by_id(PlayerId id) override {
    Query q(conn_,
            "SELECT id, username, password_hash, zone, failed_logins, disabled, disabled_reason, "
            "created_ms, last_login_ms FROM accounts WHERE id = ?");
    q.bind(id);
    return one_row(q, read_account);
  }

  // One statement, so concurrent connections cannot lose an increment; SET expressions all see
  // the row as it was before the update. An account already disabled keeps its reason.
  Result<Account> record_failed_login(PlayerId id, std::uint32_t max_errors) override {
    Query q(conn_,
            "UPDATE accounts SET failed_logins = failed_logins + 1, "
            "disabled = CASE WHEN failed_logins + 1 > ?2 THEN 1 ELSE disabled END, "
            "disabled_reason = CASE WHEN disabled = 0 AND failed_logins + 1 > ?2 "
            "THEN 'too many failed logins' ELSE disabled_reason END "
            "WHERE id = ?1 RETURNING id, username, password_hash, zone, failed_logins, disabled, "
            "disabled_reason, created_ms, last_login_ms");
    q.bind(id).bind(std::int64_t{max_errors});
    return one_row(q, read_account);
  }

  Status record_good_login(PlayerId id, UnixMillis now) override {
    Query q(conn_, "UPDATE accounts SET failed_logins = 0, last_login_ms = ? WHERE id = ?");
    q.bind(now).bind(id);
    return one_account_changed(q);
  }

  Status set_disabled(PlayerId id, bool disabled, const std::string& reason) override {
    if (disabled) {
      Query q(conn_, "UPDATE accounts SET disabled = 1, disabled_reason = ? WHERE id = ?");
      q.bind(reason).bind(id);
      return one_account_changed(q);
    }
    Query q(conn_,
            "UPDATE accounts SET disabled = 0, disabled_reason = '', failed_logins = 0 "
            "WHERE id = ?");
    q.bind(id);
    return one_account_changed(q);
  }

 private:
  Connection& conn_;
};

class SqliteBans final : public BanRepo {
 public:
  explicit SqliteBans(Connection& conn) : conn_(conn) {}

  Result<std::uint64_t> add(const Ban& ban) override {
    Query q(conn_,
            "INSERT INTO bans (player_id, reason, created_ms, expires_ms, created_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id");
    q.bind(ban.player)
        .bind(ban.reason)
        .bind(ban.created_ms)
        .bind(ban.expires_ms)
        .bind(ban.created_by);
    return one_row(q, [](const Query& r) { return static_cast<std::uint64_t>(r.integer(0)); });
  }

  Result<std::optional<Ban>> active(PlayerId player, UnixMillis now) override {
    Query q(conn_,
            "SELECT id, player_id, reason, created_ms, expires_ms, created_by FROM bans "
            "WHERE player_id = ? AND (expires_ms = 0 OR expires_ms > ?) "
            "ORDER BY expires_ms = 0 DESC, expires_ms DESC, id DESC LIMIT 1");
    q.bind(player).bind(now);
    return maybe_row(q, read_ban);
  }

  Result<std::uint32_t> lift(PlayerId player) override {
    Query q(conn_, "DELETE FROM bans WHERE player_id = ?");
    q.bind(player);
    auto removed = q.run();
    if (!removed) return removed.error();
    return static_cast<std::uint32_t>(*removed);
  }

  Result<std::vector<Ban>> list_active(UnixMillis now) override {
    Query q(conn_,
            "SELECT id, player_id, reason, created_ms, expires_ms, created_by FROM bans "
            "WHERE expires_ms = 0 OR expires_ms > ? ORDER BY id");
    q.bind(now);
    return all_rows(q, read_ban);
  }

 private:
  Connection& conn_;
};

class SqliteConfig final : public ConfigRepo {
 public:
  explicit SqliteConfig(Connection& conn) : conn_(conn) {}

  Result<std::optional<std::string>> get(const std::string& key) override {
    Query q(conn_, "SELECT value FROM config WHERE key = ?");
    q.bind(key);
    return maybe_row(q, [](const Query& r) { return r.text(0); });
  }

  Status set(const std::string& key, const std::string& value) override {
    Query q(conn_,
            "INSERT INTO config (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    q.bind(key).bind(value);
    if (auto done = q.run(); !done) return done.error();
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> all() override {
    Query q(conn_, "SELECT key, value FROM config ORDER BY key");
    return all_rows(q, [](const Query& r) { return std::pair(r.text(0), r.text(1)); });
  }

 private:
  Connection& conn_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const StoreOptions& options) : conn_(options) {}

  AccountRepo& accounts() override { return accounts_; }
  BanRepo& bans() override { return bans_; }
  ConfigRepo& config() override { return config_; }

 private:
  Connection conn_;  // first: destroyed last, after the repositories that refer to it
  SqliteAccounts accounts_{conn_};
  SqliteBans bans_{conn_};
  SqliteConfig config_{conn_};
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const StoreOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

}  // namespace sb::store
