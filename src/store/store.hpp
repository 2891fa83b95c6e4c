#pragma once
// Store: the durable state of the cluster behind repository interfaces.
//
// Accounts (with password hashes and the bad-password counter), bans, and cluster configuration
// (key/value settings such as max_login_errors). Implementations: `sqlite` (embedded default:
// one file, WAL, synchronous=FULL) and `postgres` (pg_store.hpp: a shared database for a
// cluster); both pass tests/contract/store_contract.
//
// Threading: a Store object is used by one thread at a time (each worker thread opens its own,
// from `open_store` or a `make_store_factory` factory); implementations make concurrent Store
// objects on the same database safe (SQLite: WAL + busy timeout; PostgreSQL: single-statement
// transactions). Calls block, for a bounded time: never call them on a shard's event loop, only
// from worker threads (auth pool, admin).
// Errors: driver errors become Errc::unavailable (database down/locked too long) or
// Errc::internal; no driver type leaves this module.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"

namespace sb::store {

struct Account {
  PlayerId id;
  std::string username;        // as registered (display); lookups are case-insensitive (ASCII)
  std::string password_hash;   // argon2id encoded string (libsodium crypto_pwhash_str format)
  std::string zone;            // default lobby zone
  std::uint32_t failed_logins = 0;
  bool disabled = false;
  std::string disabled_reason;
  UnixMillis created_ms = 0;
  UnixMillis last_login_ms = 0;
};

struct Ban {
  std::uint64_t id = 0;
  PlayerId player;
  std::string reason;
  UnixMillis created_ms = 0;
  UnixMillis expires_ms = 0;   // 0 = permanent; otherwise in force while now < expires_ms
  std::string created_by;
};

class AccountRepo {
 public:
  virtual ~AccountRepo() = default;
  /// Inserts a new account (id assigned by the store, returned). Errc::already_exists when the
  /// username is taken (case-insensitive).
  virtual Result<PlayerId> create(const std::string& username, const std::string& password_hash,
                                  const std::string& zone, UnixMillis now) = 0;
  /// Looks up by username (case-insensitive). Errc::not_found if none.
  virtual Result<Account> find_by_name(const std::string& username) = 0;
  /// Looks up by id. Errc::not_found if none.
  virtual Result<Account> find_by_id(PlayerId id) = 0;
  /// Atomically increments the bad-password counter; if it then exceeds `max_errors`, disables
  /// the account with reason "too many failed logins" (an account already disabled keeps its
  /// reason). Returns the account after the update. Errc::not_found if none.
  virtual Result<Account> record_failed_login(PlayerId id, std::uint32_t max_errors) = 0;
  /// Resets the counter to zero and sets last_login_ms. Errc::not_found if none.
  virtual Status record_good_login(PlayerId id, UnixMillis now) = 0;
  /// Enables or disables an account (operator action). Disabling sets `reason`; enabling resets
  /// the counter and clears the reason (`reason` is then ignored). Errc::not_found if none.
  virtual Status set_disabled(PlayerId id, bool disabled, const std::string& reason) = 0;
};

class BanRepo {
 public:
  virtual ~BanRepo() = default;
  /// Adds a ban (`ban.id` is ignored); returns its id. Errc::not_found if the player does not
  /// exist.
  virtual Result<std::uint64_t> add(const Ban& ban) = 0;
  /// The ban in force at `now` with the latest expiry (permanent wins), or std::nullopt.
  virtual Result<std::optional<Ban>> active(PlayerId player, UnixMillis now) = 0;
  /// Lifts (deletes) every ban of the player, expired ones included; returns how many were
  /// removed (0 if none).
  virtual Result<std::uint32_t> lift(PlayerId player) = 0;
  /// Every ban in force at `now`, ordered by id.
  virtual Result<std::vector<Ban>> list_active(UnixMillis now) = 0;
};

class ConfigRepo {
 public:
  virtual ~ConfigRepo() = default;
  /// Value of a cluster setting, or std::nullopt if unset.
  virtual Result<std::optional<std::string>> get(const std::string& key) = 0;
  /// Sets (inserts or replaces) a cluster setting.
  virtual Status set(const std::string& key, const std::string& value) = 0;
  /// Every setting, ordered by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> all() = 0;
};

/// One connection to the store with its repositories. Owned by one thread at a time.
class Store {
 public:
  virtual ~Store() = default;
  virtual AccountRepo& accounts() = 0;
  virtual BanRepo& bans() = 0;
  virtual ConfigRepo& config() = 0;
};

/// PostgreSQL settings (config [postgres]); see pg_store.hpp for what each bounds.
struct PostgresStoreOptions {
  std::string conninfo;                     // libpq connection string or URI
  std::uint32_t pool_size = 4;              // connections shared by one factory's Store objects
  std::uint32_t statement_timeout_ms = 2000;
  std::uint32_t connect_timeout_ms = 2000;  // per connection attempt
  std::uint32_t max_retries = 3;            // transient errors, per call
};

struct StoreOptions {
  std::string kind = "sqlite";   // "sqlite" or "postgres"
  std::string sqlite_path;       // file path; created with its schema if missing
  int busy_timeout_ms = 5000;
  PostgresStoreOptions postgres;
};

/// Opens one connection, creating/migrating the schema if needed. Throws std::runtime_error on
/// start-up failure (bad path, unsupported kind, database unreachable): a start-up error, not a
/// data-plane one. Any thread.
std::unique_ptr<Store> open_store(const StoreOptions& options);

using StoreFactory = std::function<std::unique_ptr<Store>()>;

/// A factory of Store objects for one process (a node): validates the options and creates or
/// migrates the schema now (throws std::runtime_error like open_store), then every call returns
/// a new Store without touching the database. sqlite: each Store is its own connection.
/// postgres: the Stores share one pool of postgres.pool_size connections, so the node's
/// connection count does not grow with its worker threads, and a Store made while the database
/// is down still works once it is back. The factory may be copied and called from any thread.
StoreFactory make_store_factory(const StoreOptions& options);

/// Cluster configuration keys and their defaults.
inline constexpr const char* kMaxLoginErrorsKey = "max_login_errors";
inline constexpr std::uint32_t kDefaultMaxLoginErrors = 10;

}  // namespace sb::store
