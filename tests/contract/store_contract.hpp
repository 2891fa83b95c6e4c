#pragma once
// Store contract: the behaviour every Store implementation must have (src/store/store.hpp).
//
// The suite (store_contract.cpp) is compiled into one test binary per backend, which
// instantiates it with INSTANTIATE_TEST_SUITE_P(..., StoreContractTest, ...) over its Backend:
// store_contract_test.cpp (SQLite, label contract) and store_contract_pgtest.cpp (a real
// PostgreSQL server, label pg). A backend creates a fresh, empty database per test and can open
// any number of connections (Store objects) to it; the first connection creates the schema.
// Backend-only behaviour (files, locking, migrations, restarts) is tested in those files.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include "store/store.hpp"

namespace sb::store::contract {

namespace fs = std::filesystem;

inline constexpr UnixMillis kNow = 1'700'000'000'000;
inline constexpr PlayerId kUnknownPlayer{987'654'321};

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

// One scratch database for one test; destroyed (dropped) at teardown.
class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  /// A new connection to this database.
  virtual std::unique_ptr<Store> connect() = 0;
};

struct Backend {
  const char* name;
  std::unique_ptr<TestDatabase> (*create)();
};

inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

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

inline Errc error_of(const auto& result) {
  return result.has_value() ? Errc::ok : to_errc(result.error());
}

inline std::string backend_name(const testing::TestParamInfo<Backend>& param) {
  return param.param.name;
}

}  // namespace sb::store::contract
