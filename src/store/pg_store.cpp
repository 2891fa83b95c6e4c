#include "store/pg_store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_connection.hpp"

namespace sb::store {
namespace {

// The lookup key of a username: the same ASCII folding as SqliteStore, exact for the names auth
// accepts (not SQL lower(), which depends on the database's locale).
std::string fold_case(std::string_view name) {
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(PlayerId id) { return std::to_string(id.value); }

#define SB_ACCOUNT_COLUMNS \
  "id, username, password_hash, zone, failed_logins, disabled, disabled_reason, created_ms, " \
  "last_login_ms"
#define SB_BAN_COLUMNS "id, player_id, reason, created_ms, expires_ms, created_by"

// Every statement; `idempotent` says whether running it twice leaves the same state (a retry
// after the connection died mid-call is then safe).
constexpr PgStatement kCreateAccount{
    "account_create",
    "INSERT INTO accounts (username, username_key, password_hash, zone, created_ms) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id",
    false};
constexpr PgStatement kFindByName{
    "account_by_name", "SELECT " SB_ACCOUNT_COLUMNS " FROM accounts WHERE username_key = $1", true};
constexpr PgStatement kFindById{
    "account_by_id", "SELECT " SB_ACCOUNT_COLUMNS " FROM accounts WHERE id = $1", true};
// One statement, so concurrent nodes cannot lose an increment (the row is locked and re-read);
// SET expressions all see the row as it was. An account already disabled keeps its reason.
constexpr PgStatement kFailedLogin{
    "account_failed_login",
    "UPDATE accounts SET failed_logins = failed_logins + 1, "
    "disabled = CASE WHEN failed_logins + 1 > $2::bigint THEN true ELSE disabled END, "
    "disabled_reason = CASE WHEN NOT disabled AND failed_logins + 1 > $2::bigint "
    "THEN 'too many failed logins' ELSE disabled_reason END "
    "WHERE id = $1 RETURNING " SB_ACCOUNT_COLUMNS,
    false};
constexpr PgStatement kGoodLogin{
    "account_good_login", "UPDATE accounts SET failed_logins = 0, last_login_ms = $2 WHERE id = $1",
    true};
constexpr PgStatement kDisable{
    "account_disable", "UPDATE accounts SET disabled = true, disabled_reason = $2 WHERE id = $1",
    true};
constexpr PgStatement kEnable{
    "account_enable",
    "UPDATE accounts SET disabled = false, disabled_reason = '', failed_logins = 0 WHERE id = $1",
    true};
constexpr PgStatement kAddBan{
    "ban_add",
    "INSERT INTO bans (player_id, reason, created_ms, expires_ms, created_by) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id",
    false};
constexpr PgStatement kActiveBan{
    "ban_active",
    "SELECT " SB_BAN_COLUMNS " FROM bans WHERE player_id = $1 AND (expires_ms = 0 OR expires_ms > $2) "
    "ORDER BY expires_ms = 0 DESC, expires_ms DESC, id DESC LIMIT 1",
    true};
constexpr PgStatement kLiftBans{"ban_lift", "DELETE FROM bans WHERE player_id = $1", true};
constexpr PgStatement kListBans{
    "ban_list_active",
    "SELECT " SB_BAN_COLUMNS " FROM bans WHERE expires_ms = 0 OR expires_ms > $1 ORDER BY id", true};
constexpr PgStatement kGetConfig{"config_get", "SELECT value FROM config WHERE key = $1", true};
constexpr PgStatement kSetConfig{
    "config_set",
    "INSERT INTO config (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    true};
constexpr PgStatement kAllConfig{"config_all", "SELECT key, value FROM config ORDER BY key", true};

#undef SB_ACCOUNT_COLUMNS
#undef SB_BAN_COLUMNS

// Column order of SB_ACCOUNT_COLUMNS.
Account read_account(const PgResult& r, int row) {
  Account a;
  a.id = PlayerId{static_cast<std::uint64_t>(r.integer(row, 0))};
  a.username = r.text(row, 1);
  a.password_hash = r.text(row, 2);
  a.zone = r.text(row, 3);
  a.failed_logins = static_cast<std::uint32_t>(r.integer(row, 4));
  a.disabled = r.boolean(row, 5);
  a.disabled_reason = r.text(row, 6);
  a.created_ms = r.integer(row, 7);
  a.last_login_ms = r.integer(row, 8);
  return a;
}

// Column order of SB_BAN_COLUMNS.
Ban read_ban(const PgResult& r, int row) {
  Ban b;
  b.id = static_cast<std::uint64_t>(r.integer(row, 0));
  b.player = PlayerId{static_cast<std::uint64_t>(r.integer(row, 1))};
  b.reason = r.text(row, 2);
  b.created_ms = r.integer(row, 3);
  b.expires_ms = r.integer(row, 4);
  b.created_by = r.text(row, 5);
  return b;
}

// The first row of `result` read with `read`; Errc::not_found if there is none.
template <class Read>
auto one_row(Result<PgResult> result, Read read) -> Result<decltype(read(*result, 0))> {
  if (!result) return result.error();
  if (result->rows() == 0) return fail(Errc::not_found);
  return read(*result, 0);
}

// An update of one account by id: Errc::not_found if it changed no row.
Status one_account_changed(Result<PgResult> result) {
  if (!result) return result.error();
  if (result->changed() == 0) return fail(Errc::not_found);
  return {};
}

class PgAccounts final : public AccountRepo {
 public:
  explicit PgAccounts(PgPool& pool) : pool_(pool) {}

  Result<PlayerId> create(const std::string& username, const std::string& password_hash,
                          const std::string& zone, UnixMillis now) override {
    return one_row(
        pool_.run(kCreateAccount, {username, fold_case(username), password_hash, zone, num(now)}),
        [](const PgResult& r, int row) {
          return PlayerId{static_cast<std::uint64_t>(r.integer(row, 0))};
        });
  }

  Result<Account> find_by_name(const std::string& username) override {
    return one_row(pool_.run(kFindByName, {fold_case(username)}), read_account);
  }

  Result<Account> find_by_id(PlayerId id) override {
    return one_row(pool_.run(kFindById, {num(id)}), read_account);
  }

  Result<Account> record_failed_login(PlayerId id, std::uint32_t max_errors) override {
    return one_row(pool_.run(kFailedLogin, {num(id), num(std::int64_t{max_errors})}),
                   read_account);
  }

  Status record_good_login(PlayerId id, UnixMillis now) override {
    return one_account_changed(pool_.run(kGoodLogin, {num(id), num(now)}));
  }

  Status set_disabled(PlayerId id, bool disabled, const std::string& reason) override {
    if (disabled) return one_account_changed(pool_.run(kDisable, {num(id), reason}));
    return one_account_changed(pool_.run(kEnable, {num(id)}));
  }

 private:
  PgPool& pool_;
};

class PgBans final : public BanRepo {
 public:
  explicit PgBans(PgPool& pool) : pool_(pool) {}

  Result<std::uint64_t> add(const Ban& ban) override {
    return one_row(pool_.run(kAddBan, {num(ban.player), ban.reason, num(ban.created_ms),
                                       num(ban.expires_ms), ban.created_by}),
                   [](const PgResult& r, int row) {
                     return static_cast<std::uint64_t>(r.integer(row, 0));
                   });
  }

  Result<std::optional<Ban>> active(PlayerId player, UnixMillis now) override {
    auto result = pool_.run(kActiveBan, {num(player), num(now)});
    if (!result) return result.error();
    if (result->rows() == 0) return std::optional<Ban>();
    return std::optional<Ban>(read_ban(*result, 0));
  }

  Result<std::uint32_t> lift(PlayerId player) override {
    auto result = pool_.run(kLiftBans, {num(player)});
    if (!result) return result.error();
    return static_cast<std::uint32_t>(result->changed());
  }

  Result<std::vector<Ban>> list_active(UnixMillis now) override {
    auto result = pool_.run(kListBans, {num(now)});
    if (!result) return result.error();
    std::vector<Ban> bans;
    for (int i = 0; i < result->rows(); ++i) bans.push_back(read_ban(*result, i));
    return bans;
  }

 private:
  PgPool& pool_;
};

class PgConfig final : public ConfigRepo {
 public:
  explicit PgConfig(PgPool& pool) : pool_(pool) {}

  Result<std::optional<std::string>> get(const std::string& key) override {
    auto result = pool_.run(kGetConfig, {key});
    if (!result) return result.error();
    if (result->rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(result->text(0, 0));
  }

  Status set(const std::string& key, const std::string& value) override {
    auto result = pool_.run(kSetConfig, {key, value});
    if (!result) return result.error();
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> all() override {
    auto result = pool_.run(kAllConfig, {});
    if (!result) return result.error();
    std::vector<std::pair<std::string, std::string>> pairs;
    for (int i = 0; i < result->rows(); ++i) pairs.emplace_back(result->text(i, 0), result->text(i, 1));
    return pairs;
  }

 private:
  PgPool& pool_;
};

class PgStore final : public Store {
 public:
  explicit PgStore(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  AccountRepo& accounts() override { return accounts_; }
  BanRepo& bans() override { return bans_; }
  ConfigRepo& config() override { return config_; }

 private:
  std::shared_ptr<PgPool> pool_;  // first: outlives the repositories that refer to it
  PgAccounts accounts_{*pool_};
  PgBans bans_{*pool_};
  PgConfig config_{*pool_};
};

PgSettings settings_of(const StoreOptions& options) {
  PgSettings s;
  s.conninfo = options.postgres.conninfo;
  s.connect_timeout = std::chrono::milliseconds(options.postgres.connect_timeout_ms);
  s.statement_timeout = std::chrono::milliseconds(options.postgres.statement_timeout_ms);
  s.max_retries = options.postgres.max_retries;
  return s;
}

std::shared_ptr<PgPool> open_pool(const StoreOptions& options, std::size_t size) {
  auto pool = std::make_shared<PgPool>(settings_of(options), size);
  pool->open_and_migrate();
  return pool;
}

}  // namespace

std::unique_ptr<Store> open_pg_store(const StoreOptions& options) {
  return std::make_unique<PgStore>(open_pool(options, 1));
}

StoreFactory make_pg_store_factory(const StoreOptions& options) {
  std::shared_ptr<PgPool> pool = open_pool(options, options.postgres.pool_size);
  return [pool] { return std::unique_ptr<Store>(std::make_unique<PgStore>(pool)); };
}

}  // namespace sb::store
