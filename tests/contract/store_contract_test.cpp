// Store contract on SQLite (the suite is in store_contract.cpp), and SQLite-only behaviour:
// files, WAL, the schema version, locking.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "contract/store_contract.hpp"
#include "store/store.hpp"

namespace sb::store::contract {
namespace {

StoreOptions sqlite_options(const fs::path& file, int busy_timeout_ms = 5000) {
  StoreOptions options;
  options.kind = "sqlite";
  options.sqlite_path = file.string();
  options.busy_timeout_ms = busy_timeout_ms;
  return options;
}

class SqliteTestDatabase final : public TestDatabase {
 public:
  std::unique_ptr<Store> connect() override {
    return open_store(sqlite_options(dir_.path() / "store.db"));
  }

 private:
  TempDir dir_;
};

std::vector<Backend> backends() {
  return {
      {"sqlite", [] { return std::unique_ptr<TestDatabase>(new SqliteTestDatabase); }},
  };
}

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
}  // namespace sb::store::contract
