// Store contract: the behaviour every Store implementation must have (src/store/store.hpp).
//
// The suite runs once per backend in backends(). A backend creates a fresh, empty database per
// test and can open any number of connections (Store objects) to it; the first connection creates
// the schema. Adding PostgreSQL later is one more entry (a TestDatabase that creates and drops a
// scratch database). SQLite-only behaviour (files, WAL, locking) is tested at the end.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace sb::store {
namespace {

namespace fs = std::filesystem;

constexpr UnixMillis kNow = 1'700'000'000'000;
constexpr PlayerId kUnknownPlayer{987'654'321};

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sb-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

StoreOptions sqlite_options(const fs::path& file, int busy_timeout_ms = 5000) {
  StoreOptions options;
  options.kind = "sqlite";
  options.sqlite_path = file.string();
  options.busy_timeout_ms = busy_timeout_ms;
  return options;
}

// One scratch database for one test; destroyed (dropped) at teardown.
class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  /// A new connection to this database.
  virtual std::unique_ptr<Store> connect() = 0;
};

class SqliteTestDatabase final : public TestDatabase {
 public:
  std::unique_ptr<Store> connect() override {
    return open_store(sqlite_options(dir_.path() / "store.db"));
  }

 private:
  TempDir dir_;
};

struct Backend {
  const char* name;
  std::unique_ptr<TestDatabase> (*create)();
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::vector<Backend> backends() {
  return {
      {"sqlite", [] { return std::unique_ptr<TestDatabase>(new SqliteTestDatabase); }},
  };
}

class StoreContractTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    store_ = db_->connect();
  }

  AccountRepo& accounts() { return store_->accounts(); }
  BanRepo& bans() { return store_->bans(); }
  ConfigRepo& config() { return store_->config(); }

  PlayerId create_account(const std::string& name) {
    auto id = accounts().create(name, "hash-of-" + name, "lobby", kNow);
    EXPECT_TRUE(id.has_value()) << name << ": " << id.error().message();
    return id.has_value() ? *id : PlayerId{};
  }

  static Ban make_ban(PlayerId player, UnixMillis expires_ms, const std::string& reason) {
    Ban ban;
    ban.player = player;
    ban.reason = reason;
    ban.created_ms = kNow - 10;
    ban.expires_ms = expires_ms;
    ban.created_by = "admin";
    return ban;
  }

  std::uint64_t add_ban(PlayerId player, UnixMillis expires_ms, const std::string& reason) {
    auto id = bans().add(make_ban(player, expires_ms, reason));
    EXPECT_TRUE(id.has_value()) << reason << ": " << id.error().message();
    return id.has_value() ? *id : 0;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

Errc error_of(const auto& result) {
  return result.has_value() ? Errc::ok : to_errc(result.error());
}

// --- accounts ---------------------------------------------------------------------------------

TEST_P(StoreContractTest, CreatedAccountIsFoundByNameInAnyCaseAndById) {
  const PlayerId alice = create_account("Alice");
  const PlayerId bob = create_account("bob");
  ASSERT_TRUE(alice.valid());
  ASSERT_TRUE(bob.valid());
  EXPECT_NE(alice, bob);

  auto by_name = accounts().find_by_name("aLICE");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->id, alice);
  EXPECT_EQ(by_name->username, "Alice");  // display form as registered
  EXPECT_EQ(by_name->password_hash, "hash-of-Alice");
  EXPECT_EQ(by_name->zone, "lobby");
  EXPECT_EQ(by_name->failed_logins, 0u);
  EXPECT_FALSE(by_name->disabled);
  EXPECT_EQ(by_name->disabled_reason, "");
  EXPECT_EQ(by_name->created_ms, kNow);
  EXPECT_EQ(by_name->last_login_ms, 0);

  auto by_id = accounts().find_by_id(alice);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->username, "Alice");
  EXPECT_EQ(by_id->password_hash, "hash-of-Alice");

  auto other = accounts().find_by_name("BOB");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->id, bob);
  EXPECT_EQ(other->username, "bob");
}

TEST_P(StoreContractTest, DuplicateUsernameInAnyCaseIsAlreadyExists) {
  const PlayerId carol = create_account("Carol");
  EXPECT_EQ(error_of(accounts().create("cAROL", "other-hash", "lobby", kNow + 1)),
            Errc::already_exists);
  EXPECT_EQ(error_of(accounts().create("Carol", "other-hash", "lobby", kNow + 1)),
            Errc::already_exists);

  auto found = accounts().find_by_name("carol");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, carol);
  EXPECT_EQ(found->password_hash, "hash-of-Carol");
  EXPECT_TRUE(create_account("Carol2").valid());  // the store is still usable after the failure
}

TEST_P(StoreContractTest, MissingAccountIsNotFound) {
  create_account("dave");
  EXPECT_EQ(error_of(accounts().find_by_name("nobody")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().find_by_name("dav")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().find_by_id(kUnknownPlayer)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().record_failed_login(kUnknownPlayer, 3)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().record_good_login(kUnknownPlayer, kNow)), Errc::not_found);
  EXPECT_EQ(error_of(accounts().set_disabled(kUnknownPlayer, true, "x")), Errc::not_found);
  EXPECT_EQ(error_of(accounts().set_disabled(kUnknownPlayer, false, "")), Errc::not_found);
}

TEST_P(StoreContractTest, FailedLoginsDisableOnlyOncePastTheMaximum) {
  const PlayerId erin = create_account("erin");
  for (std::uint32_t n = 1; n <= 3; ++n) {
    auto after = accounts().record_failed_login(erin, 3);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->id, erin);
    EXPECT_EQ(after->failed_logins, n);
    EXPECT_FALSE(after->disabled) << "after failure " << n;
  }
  auto fourth = accounts().record_failed_login(erin, 3);
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->failed_logins, 4u);
  EXPECT_TRUE(fourth->disabled);
  EXPECT_EQ(fourth->disabled_reason, "too many failed logins");

  auto stored = accounts().find_by_id(erin);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 4u);
  EXPECT_TRUE(stored->disabled);
  EXPECT_EQ(stored->disabled_reason, "too many failed logins");
}

TEST_P(StoreContractTest, FailedLoginsOnAnOperatorDisabledAccountKeepItsReason) {
  const PlayerId frank = create_account("frank");
  ASSERT_TRUE(accounts().set_disabled(frank, true, "cheating").has_value());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(accounts().record_failed_login(frank, 1).has_value());
  auto stored = accounts().find_by_id(frank);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->disabled);
  EXPECT_EQ(stored->disabled_reason, "cheating");
  EXPECT_EQ(stored->failed_logins, 3u);
}

TEST_P(StoreContractTest, GoodLoginResetsTheCounterAndStampsTheTime) {
  const PlayerId grace = create_account("grace");
  ASSERT_TRUE(accounts().record_failed_login(grace, 3).has_value());
  ASSERT_TRUE(accounts().record_failed_login(grace, 3).has_value());
  ASSERT_TRUE(accounts().record_good_login(grace, kNow + 500).has_value());

  auto stored = accounts().find_by_name("grace");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 0u);
  EXPECT_EQ(stored->last_login_ms, kNow + 500);

  // Counting starts again from zero: three more failures still leave the account enabled.
  for (std::uint32_t n = 1; n <= 3; ++n) {
    auto after = accounts().record_failed_login(grace, 3);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->failed_logins, n);
    EXPECT_FALSE(after->disabled);
  }
}

TEST_P(StoreContractTest, SetDisabledDisablesWithReasonAndEnablingResetsTheCounter) {
  const PlayerId heidi = create_account("heidi");
  ASSERT_TRUE(accounts().record_failed_login(heidi, 10).has_value());
  ASSERT_TRUE(accounts().set_disabled(heidi, true, "chargeback").has_value());
  auto disabled = accounts().find_by_id(heidi);
  ASSERT_TRUE(disabled.has_value());
  EXPECT_TRUE(disabled->disabled);
  EXPECT_EQ(disabled->disabled_reason, "chargeback");
  EXPECT_EQ(disabled->failed_logins, 1u);

  ASSERT_TRUE(accounts().set_disabled(heidi, false, "").has_value());
  auto enabled = accounts().find_by_id(heidi);
  ASSERT_TRUE(enabled.has_value());
  EXPECT_FALSE(enabled->disabled);
  EXPECT_EQ(enabled->disabled_reason, "");
  EXPECT_EQ(enabled->failed_logins, 0u);
}

TEST_P(StoreContractTest, EnablingAnAutoDisabledAccountRestartsTheCount) {
  const PlayerId ivan = create_account("ivan");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(accounts().record_failed_login(ivan, 2).has_value());
  ASSERT_TRUE(accounts().find_by_id(ivan)->disabled);

  ASSERT_TRUE(accounts().set_disabled(ivan, false, "appeal accepted").has_value());
  auto after = accounts().record_failed_login(ivan, 2);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->failed_logins, 1u);
  EXPECT_FALSE(after->disabled);
}

// --- bans -------------------------------------------------------------------------------------

TEST_P(StoreContractTest, ActiveBanIsTheOneInForceWithTheLatestExpiry) {
  const PlayerId judy = create_account("judy");
  const PlayerId other = create_account("other");
  EXPECT_EQ(bans().active(judy, kNow).value(), std::nullopt);

  add_ban(judy, kNow - 1, "expired");
  const std::uint64_t longer = add_ban(judy, kNow + 5000, "longer");
  const std::uint64_t shorter = add_ban(judy, kNow + 1000, "shorter");  // added last, ends first
  EXPECT_NE(longer, shorter);

  auto active = bans().active(judy, kNow);
  ASSERT_TRUE(active.has_value());
  ASSERT_TRUE(active->has_value());
  const Ban& ban = **active;
  EXPECT_EQ(ban.id, longer);
  EXPECT_EQ(ban.player, judy);
  EXPECT_EQ(ban.reason, "longer");
  EXPECT_EQ(ban.created_ms, kNow - 10);
  EXPECT_EQ(ban.expires_ms, kNow + 5000);
  EXPECT_EQ(ban.created_by, "admin");

  // Later on, only the longer ban is left; after it, nothing.
  EXPECT_EQ(bans().active(judy, kNow + 2000).value().value().id, longer);
  EXPECT_EQ(bans().active(judy, kNow + 5000).value(), std::nullopt);  // ends at expires_ms
  EXPECT_EQ(bans().active(other, kNow).value(), std::nullopt);
}

TEST_P(StoreContractTest, PermanentBanWinsOverTemporaryOnes) {
  const PlayerId ken = create_account("ken");
  const std::uint64_t permanent = add_ban(ken, 0, "permanent");
  add_ban(ken, kNow + 100'000'000, "long");  // added after the permanent one
  auto active = bans().active(ken, kNow);
  ASSERT_TRUE(active.has_value());
  ASSERT_TRUE(active->has_value());
  EXPECT_EQ((*active)->id, permanent);
  EXPECT_EQ((*active)->expires_ms, 0);
  EXPECT_EQ(bans().active(ken, kNow + 200'000'000).value().value().id, permanent);
}

TEST_P(StoreContractTest, LiftRemovesEveryBanOfThatPlayerOnly) {
  const PlayerId leo = create_account("leo");
  const PlayerId mia = create_account("mia");
  add_ban(leo, 0, "a");
  add_ban(leo, kNow + 1000, "b");
  add_ban(leo, kNow - 1000, "expired");
  const std::uint64_t kept = add_ban(mia, 0, "c");

  EXPECT_EQ(bans().lift(leo).value(), 3u);
  EXPECT_EQ(bans().active(leo, kNow).value(), std::nullopt);
  EXPECT_EQ(bans().active(mia, kNow).value().value().id, kept);
  EXPECT_EQ(bans().lift(leo).value(), 0u);
}

TEST_P(StoreContractTest, ListActiveReturnsExactlyTheBansInForce) {
  const PlayerId nick = create_account("nick");
  const PlayerId olga = create_account("olga");
  add_ban(nick, kNow - 1, "expired");
  add_ban(nick, kNow, "ends now");
  const std::uint64_t a = add_ban(nick, kNow + 1, "temporary");
  const std::uint64_t b = add_ban(olga, 0, "permanent");
  const std::uint64_t c = add_ban(olga, kNow + 60'000, "temporary");

  auto listed = bans().list_active(kNow);
  ASSERT_TRUE(listed.has_value());
  std::vector<std::uint64_t> ids;
  for (const Ban& ban : *listed) ids.push_back(ban.id);
  std::vector<std::uint64_t> expected{a, b, c};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);  // ordered by id
  // Later, only the permanent one is left.
  EXPECT_EQ(bans().list_active(kNow + 100'000).value().size(), 1u);
}

TEST_P(StoreContractTest, BanOfUnknownPlayerIsNotFound) {
  EXPECT_EQ(error_of(bans().add(make_ban(kUnknownPlayer, 0, "ghost"))), Errc::not_found);
  EXPECT_TRUE(bans().list_active(kNow).value().empty());
}

// --- config -----------------------------------------------------------------------------------

TEST_P(StoreContractTest, UnsetConfigIsNullopt) {
  auto value = config().get(kMaxLoginErrorsKey);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, std::nullopt);
  EXPECT_TRUE(config().all().value().empty());
}

TEST_P(StoreContractTest, ConfigSetOverwritesAndAllIsSortedByKey) {
  ASSERT_TRUE(config().set("zeta", "1").has_value());
  ASSERT_TRUE(config().set(kMaxLoginErrorsKey, "5").has_value());
  ASSERT_TRUE(config().set("alpha", "").has_value());
  ASSERT_TRUE(config().set(kMaxLoginErrorsKey, "7").has_value());

  EXPECT_EQ(config().get(kMaxLoginErrorsKey).value(), "7");
  EXPECT_EQ(config().get("alpha").value(), "");  // empty is a value, not unset
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config().all().value(),
            (Pairs{{"alpha", ""}, {kMaxLoginErrorsKey, "7"}, {"zeta", "1"}}));
}

// --- connections ------------------------------------------------------------------------------

TEST_P(StoreContractTest, ConcurrentFailedLoginsFromTwoConnectionsAreNeverLost) {
  constexpr int kPerThread = 200;
  const PlayerId pat = create_account("pat");
  std::unique_ptr<Store> first = db_->connect();
  std::unique_ptr<Store> second = db_->connect();

  // Each thread records the counter value it got back; together they must be exactly 1..400.
  auto hammer = [pat](Store& store, std::vector<std::uint32_t>& seen, int& errors) {
    for (int i = 0; i < kPerThread; ++i) {
      auto after = store.accounts().record_failed_login(pat, 1'000'000);
      if (after.has_value()) {
        seen.push_back(after->failed_logins);
      } else {
        ++errors;
      }
    }
  };
  std::vector<std::uint32_t> seen_a, seen_b;
  int errors_a = 0, errors_b = 0;
  std::thread a(hammer, std::ref(*first), std::ref(seen_a), std::ref(errors_a));
  std::thread b(hammer, std::ref(*second), std::ref(seen_b), std::ref(errors_b));
  a.join();
  b.join();

  EXPECT_EQ(errors_a + errors_b, 0);
  EXPECT_TRUE(std::is_sorted(seen_a.begin(), seen_a.end()));
  EXPECT_TRUE(std::is_sorted(seen_b.begin(), seen_b.end()));
  std::vector<std::uint32_t> all = seen_a;
  all.insert(all.end(), seen_b.begin(), seen_b.end());
  std::sort(all.begin(), all.end());
  std::vector<std::uint32_t> expected(2 * kPerThread);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::uint32_t>(i + 1);
  EXPECT_EQ(all, expected);

  auto stored = accounts().find_by_id(pat);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->failed_logins, 2u * kPerThread);
  EXPECT_FALSE(stored->disabled);
}

TEST_P(StoreContractTest, WritesOfOneConnectionAreSeenByAnother) {
  std::unique_ptr<Store> second = db_->connect();
  const PlayerId quinn = create_account("quinn");
  ASSERT_TRUE(second->accounts().record_failed_login(quinn, 10).has_value());
  EXPECT_EQ(accounts().find_by_id(quinn).value().failed_logins, 1u);
  EXPECT_EQ(error_of(second->accounts().create("QUINN", "h", "lobby", kNow)), Errc::already_exists);
}

TEST_P(StoreContractTest, DataSurvivesClosingAndReconnecting) {
  const PlayerId rita = create_account("Rita");
  ASSERT_TRUE(accounts().record_failed_login(rita, 10).has_value());
  const std::uint64_t ban = add_ban(rita, 0, "spam");
  ASSERT_TRUE(config().set("motd", "hello").has_value());
  store_.reset();

  store_ = db_->connect();
  auto found = accounts().find_by_name("rita");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, rita);
  EXPECT_EQ(found->failed_logins, 1u);
  EXPECT_EQ(bans().active(rita, kNow).value().value().id, ban);
  EXPECT_EQ(config().get("motd").value(), "hello");
  EXPECT_EQ(error_of(accounts().create("RITA", "h", "lobby", kNow)), Errc::already_exists);
}

std::string backend_name(const testing::TestParamInfo<Backend>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, testing::ValuesIn(backends()), backend_name);

// --- SQLite only ------------------------------------------------------------------------------

// Runs one statement on a raw connection and returns the first column of the first row.
std::string sqlite_query(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) out = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  return out;
}

TEST(SqliteStoreTest, CreatesParentDirectoriesAndAWalFileWithASchemaVersion) {
  TempDir dir;
  const fs::path file = dir.path() / "nested" / "deeper" / "store.db";
  {
    auto store = open_store(sqlite_options(file));
    ASSERT_TRUE(store->accounts().create("sam", "h", "lobby", kNow).has_value());
  }
  ASSERT_TRUE(fs::exists(file));

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite_query(raw, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sqlite_query(raw, "PRAGMA user_version"), "1");
  EXPECT_EQ(sqlite_query(raw, "SELECT username_key FROM accounts"), "sam");
  sqlite3_close_v2(raw);

  auto reopened = open_store(sqlite_options(file));  // existing schema: opens without migrating
  EXPECT_EQ(reopened->accounts().find_by_name("SAM").value().username, "sam");
}

TEST(SqliteStoreTest, RefusesADatabaseWithANewerSchema) {
  TempDir dir;
  const fs::path file = dir.path() / "store.db";
  open_store(sqlite_options(file)).reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close_v2(raw);
  EXPECT_THROW(open_store(sqlite_options(file)), std::runtime_error);
}

TEST(SqliteStoreTest, WriteBlockedPastTheBusyTimeoutIsUnavailable) {
  TempDir dir;
  const fs::path file = dir.path() / "store.db";
  auto store = open_store(sqlite_options(file, /*busy_timeout_ms=*/50));
  const PlayerId tom = store->accounts().create("tom", "h", "lobby", kNow).value();

  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(error_of(store->accounts().record_failed_login(tom, 10)), Errc::unavailable);
  EXPECT_EQ(error_of(store->accounts().create("uma", "h", "lobby", kNow)), Errc::unavailable);
  EXPECT_EQ(store->accounts().find_by_id(tom).value().failed_logins, 0u);  // WAL: reads go on
  ASSERT_EQ(sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close_v2(locker);

  EXPECT_EQ(store->accounts().record_failed_login(tom, 10).value().failed_logins, 1u);
}

TEST(SqliteStoreTest, OpenStoreRejectsBadOptions) {
  TempDir dir;
  StoreOptions unknown = sqlite_options(dir.path() / "store.db");
  unknown.kind = "oracle";
  EXPECT_THROW(open_store(unknown), std::runtime_error);
  EXPECT_THROW(open_store(sqlite_options("")), std::runtime_error);
  EXPECT_THROW(open_store(sqlite_options(dir.path())), std::runtime_error);  // a directory
}

}  // namespace
}  // namespace sb::store
