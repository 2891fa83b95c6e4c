#pragma once
// FakeStore: an in-memory store::Store for unit tests, following the contracts in store/store.hpp.
//
// One FakeDatabase holds the data (accounts, bans, settings) behind one mutex; every FakeStore made
// by fake_store_factory() shares it, as every connection of a real store shares one database, so
// the auth worker threads can each open their own. Tests arrange data directly through the
// database's repos (FakeDatabase::open()) and read the counters:
//   calls     every repository call made through any FakeStore (proves a path did not touch it);
//   opened    how many stores the factory handed out.
// Failure injection: `fail_calls` makes every repository call answer Errc::unavailable;
// `open_mode` makes the factory return nullptr or throw std::runtime_error.
// Not a model of SQL: no persistence, no transactions beyond the one mutex per call.
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace sb::fakes {

class FakeStore;

struct FakeDatabase : std::enable_shared_from_this<FakeDatabase> {
  enum class OpenMode { ok, null, throws };

  std::mutex mutex;
  std::map<std::uint64_t, store::Account> accounts;  // by id
  std::vector<store::Ban> bans;
  std::map<std::string, std::string> config;
  std::uint64_t next_account_id = 1;
  std::uint64_t next_ban_id = 1;

  std::atomic<bool> fail_calls{false};
  std::atomic<OpenMode> open_mode{OpenMode::ok};
  std::atomic<std::uint64_t> calls{0};
  std::atomic<int> opened{0};

  /// A connection to this database, as the factory makes (ignores open_mode).
  std::unique_ptr<FakeStore> open();
};

namespace fake_detail {

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Counts the call and answers whether it should fail.
inline bool enter(FakeDatabase& db) {
  ++db.calls;
  return db.fail_calls.load();
}

}  // namespace fake_detail

class FakeAccountRepo final : public store::AccountRepo {
 public:
  explicit FakeAccountRepo(std::shared_ptr<FakeDatabase> db) : db_(std::move(db)) {}

  Result<PlayerId> create(const std::string& username, const std::string& password_hash,
                          const std::string& zone, UnixMillis now) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    if (find_locked(username)) return fail(Errc::already_exists);
    store::Account account;
    account.id = PlayerId{db_->next_account_id++};
    account.username = username;
    account.password_hash = password_hash;
    account.zone = zone;
    account.created_ms = now;
    db_->accounts.emplace(account.id.value, account);
    return account.id;
  }

  Result<store::Account> find_by_name(const std::string& username) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    if (auto* account = find_locked(username)) return *account;
    return fail(Errc::not_found);
  }

  Result<store::Account> find_by_id(PlayerId id) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    auto it = db_->accounts.find(id.value);
    if (it == db_->accounts.end()) return fail(Errc::not_found);
    return it->second;
  }

  Result<store::Account> record_failed_login(PlayerId id, std::uint32_t max_errors) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    auto it = db_->accounts.find(id.value);
    if (it == db_->accounts.end()) return fail(Errc::not_found);
    store::Account& account = it->second;
    ++account.failed_logins;
    if (account.failed_logins > max_errors && !account.disabled) {
      account.disabled = true;
      account.disabled_reason = "too many failed logins";
    }
    return account;
  }

  Status record_good_login(PlayerId id, UnixMillis now) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    auto it = db_->accounts.find(id.value);
    if (it == db_->accounts.end()) return fail(Errc::not_found);
    it->second.failed_logins = 0;
    it->second.last_login_ms = now;
    return {};
  }

  Status set_disabled(PlayerId id, bool disabled, const std::string& reason) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    auto it = db_->accounts.find(id.value);
    if (it == db_->accounts.end()) return fail(Errc::not_found);
    it->second.disabled = disabled;
    it->second.disabled_reason = disabled ? reason : std::string();
    if (!disabled) it->second.failed_logins = 0;
    return {};
  }

 private:
  store::Account* find_locked(const std::string& username) {
    const std::string key = fake_detail::lower(username);
    for (auto& [id, account] : db_->accounts) {
      if (fake_detail::lower(account.username) == key) return &account;
    }
    return nullptr;
  }

  std::shared_ptr<FakeDatabase> db_;
};

class FakeBanRepo final : public store::BanRepo {
 public:
  explicit FakeBanRepo(std::shared_ptr<FakeDatabase> db) : db_(std::move(db)) {}

  Result<std::uint64_t> add(const store::Ban& ban) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    if (!db_->accounts.contains(ban.player.value)) return fail(Errc::not_found);
    store::Ban stored = ban;
    stored.id = db_->next_ban_id++;
    db_->bans.push_back(stored);
    return stored.id;
  }

  Result<std::optional<store::Ban>> active(PlayerId player, UnixMillis now) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    std::optional<store::Ban> best;
    for (const auto& ban : db_->bans) {
      if (ban.player != player || !in_force(ban, now)) continue;
      if (!best || later(ban, *best)) best = ban;
    }
    return best;
  }

  Result<std::uint32_t> lift(PlayerId player) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    const auto removed = std::erase_if(db_->bans, [&](const store::Ban& b) { return b.player == player; });
    return static_cast<std::uint32_t>(removed);
  }

  Result<std::vector<store::Ban>> list_active(UnixMillis now) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    std::vector<store::Ban> out;
    for (const auto& ban : db_->bans) {
      if (in_force(ban, now)) out.push_back(ban);
    }
    return out;
  }

 private:
  static bool in_force(const store::Ban& ban, UnixMillis now) {
    return ban.expires_ms == 0 || ban.expires_ms > now;
  }
  // Permanent (0) beats any expiry; otherwise the later expiry wins.
  static bool later(const store::Ban& a, const store::Ban& b) {
    if (b.expires_ms == 0) return false;
    return a.expires_ms == 0 || a.expires_ms > b.expires_ms;
  }

  std::shared_ptr<FakeDatabase> db_;
};

class FakeConfigRepo final : public store::ConfigRepo {
 public:
  explicit FakeConfigRepo(std::shared_ptr<FakeDatabase> db) : db_(std::move(db)) {}

  Result<std::optional<std::string>> get(const std::string& key) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    auto it = db_->config.find(key);
    if (it == db_->config.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Status set(const std::string& key, const std::string& value) override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    db_->config[key] = value;
    return {};
  }

  Result<std::vector<std::pair<std::string, std::string>>> all() override {
    if (fake_detail::enter(*db_)) return fail(Errc::unavailable);
    std::lock_guard lock(db_->mutex);
    return std::vector<std::pair<std::string, std::string>>(db_->config.begin(), db_->config.end());
  }

 private:
  std::shared_ptr<FakeDatabase> db_;
};

class FakeStore final : public store::Store {
 public:
  explicit FakeStore(const std::shared_ptr<FakeDatabase>& db)
      : accounts_(db), bans_(db), config_(db) {}
  store::AccountRepo& accounts() override { return accounts_; }
  store::BanRepo& bans() override { return bans_; }
  store::ConfigRepo& config() override { return config_; }

 private:
  FakeAccountRepo accounts_;
  FakeBanRepo bans_;
  FakeConfigRepo config_;
};

inline std::unique_ptr<FakeStore> FakeDatabase::open() {
  return std::make_unique<FakeStore>(shared_from_this());
}

/// A store factory (AuthService::StoreFactory shape) whose stores share `db`; obeys open_mode.
inline std::function<std::unique_ptr<store::Store>()> fake_store_factory(
    std::shared_ptr<FakeDatabase> db) {
  return [db = std::move(db)]() -> std::unique_ptr<store::Store> {
    switch (db->open_mode.load()) {
      case FakeDatabase::OpenMode::null: return nullptr;
      case FakeDatabase::OpenMode::throws: throw std::runtime_error("fake store: open failed");
      case FakeDatabase::OpenMode::ok: break;
    }
    ++db->opened;
    return db->open();
  };
}

}  // namespace sb::fakes
