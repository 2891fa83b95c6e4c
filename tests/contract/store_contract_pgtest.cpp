// Store contract on PostgreSQL (the suite is in store_contract.cpp) against a real server that
// this test starts (tests/support/pg_server.hpp), and PostgreSQL-only behaviour: migrations
// under concurrent start-up, the shared connection pool, and a database that goes away and
// comes back under a live Store object. If the server cannot start, every test here fails.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "contract/store_contract.hpp"
#include "store/pg_migrations.hpp"
#include "store/store.hpp"
#include "support/pg_server.hpp"

namespace sb::store::contract {
namespace {

using namespace std::chrono_literals;
using test::PgServer;

// A call that has not answered after this long is hung. Far above the configured bounds
// (connect 500 ms + statement 1 s) so that a slow machine cannot fail it; a hang would.
constexpr auto kHang = 20s;

StoreOptions pg_options(const std::string& conninfo) {
  StoreOptions options;
  options.kind = "postgres";
  options.postgres.conninfo = conninfo;
  options.postgres.statement_timeout_ms = 1000;
  options.postgres.connect_timeout_ms = 500;
  options.postgres.max_retries = 3;
  options.postgres.pool_size = 2;
  return options;
}

// One server for the contract suite of this process, started on first use.
PgServer& shared_server() {
  static PgServer server;
  return server;
}

class PgTestDatabase final : public TestDatabase {
 public:
  PgTestDatabase() : name_(shared_server().create_database()) {}
  ~PgTestDatabase() override { shared_server().drop_database(name_); }
  std::unique_ptr<Store> connect() override {
    return open_store(pg_options(shared_server().conninfo(name_)));
  }

 private:
  std::string name_;
};

std::vector<Backend> backends() {
  return {
      {"postgres", [] { return std::unique_ptr<TestDatabase>(new PgTestDatabase); }},
  };
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, testing::ValuesIn(backends()), backend_name);

// --- PostgreSQL only --------------------------------------------------------------------------

// Runs `call` on another thread; fails the test if it does not answer within kHang.
template <class Call>
auto within_bound(Call call) -> decltype(call()) {
  auto answer = std::async(std::launch::async, call);
  if (answer.wait_for(kHang) != std::future_status::ready) {
    ADD_FAILURE() << "store call hung";
    std::abort();  // cannot join a hung thread: stop here rather than hang the test run
  }
  return answer.get();
}

TEST(PgStoreTest, ConcurrentOpenersOfAFreshDatabaseApplyEachMigrationOnce) {
  constexpr int kOpeners = 8;
  PgServer& server = shared_server();
  const std::string db = server.create_database();
  std::atomic<int> opened{0};
  std::vector<std::string> errors(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto store = open_store(pg_options(server.conninfo(db)));
        if (store->config().set("opener" + std::to_string(i), "yes")) ++opened;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(opened.load(), kOpeners);
  EXPECT_EQ(server.query(db, "SELECT count(*) FROM schema_migrations"),
            std::to_string(kPgMigrationCount));
  EXPECT_EQ(server.query(db, "SELECT string_agg(name, ',' ORDER BY version) FROM schema_migrations"),
            "0001_init");
  server.drop_database(db);
}

TEST(PgStoreTest, RefusesADatabaseWithANewerSchema) {
  PgServer& server = shared_server();
  const std::string db = server.create_database();
  open_store(pg_options(server.conninfo(db))).reset();
  server.query(db, "INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future')");
  EXPECT_THROW(open_store(pg_options(server.conninfo(db))), std::runtime_error);
  server.drop_database(db);
}

TEST(PgStoreTest, AnUnreachableDatabaseIsAStartUpError) {
  PgServer& server = shared_server();
  // Port 1: nothing listens there (connection refused); and a database that does not exist.
  StoreOptions nowhere = pg_options("host=127.0.0.1 port=1 user=postgres dbname=postgres");
  EXPECT_THROW(within_bound([&] { return open_store(nowhere); }), std::runtime_error);
  EXPECT_THROW(open_store(pg_options(server.conninfo("no_such_database"))), std::runtime_error);
  EXPECT_THROW(make_store_factory(nowhere), std::runtime_error);
}

TEST(PgStoreTest, AFactorysStoresShareAPoolOfPoolSizeConnections) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  PgServer& server = shared_server();
  const std::string db = server.create_database();
  StoreOptions options = pg_options(server.conninfo(db));
  options.postgres.pool_size = 2;
  StoreFactory factory = make_store_factory(options);
  const PlayerId pat = factory()->accounts().create("pat", "h", "lobby", kNow).value();

  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto store = factory();  // one Store per thread, as the auth workers do
      for (int n = 0; n < kPerThread; ++n) {
        if (!store->accounts().record_failed_login(pat, 1'000'000)) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(factory()->accounts().find_by_id(pat).value().failed_logins,
            static_cast<std::uint32_t>(kThreads * kPerThread));
  const int connections = std::stoi(server.query(
      db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'switchboard' AND "
          "datname = current_database()"));
  EXPECT_GE(connections, 1);
  EXPECT_LE(connections, 2);  // pool_size, although four threads each had a Store
  factory = nullptr;
  server.drop_database(db);
}

TEST(PgStoreTest, AStatementBlockedPastTheStatementTimeoutIsUnavailableAndKeepsItsConnection) {
  PgServer& server = shared_server();
  const std::string db = server.create_database();
  std::unique_ptr<Store> store = open_store(pg_options(server.conninfo(db)));
  const PlayerId xia = store->accounts().create("xia", "h", "lobby", kNow).value();
  const std::string backends_sql =
      "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity "
      "WHERE application_name = 'switchboard' AND datname = current_database()";
  const std::string before = server.query(db, backends_sql);
  ASSERT_FALSE(before.empty());

  // Another session holds the account's row lock in an open transaction.
  PGconn* locker = PQconnectdb(server.conninfo(db).c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK) << PQerrorMessage(locker);
  PQclear(PQexec(locker, "BEGIN"));
  PGresult* locked = PQexec(locker, ("UPDATE accounts SET zone = 'x' WHERE id = " +
                                     std::to_string(xia.value)).c_str());
  ASSERT_EQ(PQresultStatus(locked), PGRES_COMMAND_OK) << PQerrorMessage(locker);
  PQclear(locked);

  // The server cancels the waiting statement after statement_timeout_ms (set on the session):
  // the answer is UNAVAILABLE and the connection stays (the client-side deadline would drop it).
  EXPECT_EQ(error_of(within_bound([&] { return store->accounts().record_failed_login(xia, 10); })),
            Errc::unavailable);
  PQclear(PQexec(locker, "ROLLBACK"));
  PQfinish(locker);

  EXPECT_EQ(store->accounts().record_failed_login(xia, 10).value().failed_logins, 1u);
  EXPECT_EQ(server.query(db, backends_sql), before) << "the same server session served both calls";
  store.reset();
  server.drop_database(db);
}

TEST(PgStoreTest, ADatabaseThatStopsAnswersUnavailableAndTheSameStoreRecoversAfter) {
  PgServer server;  // its own server: this test stops it
  const std::string db = server.create_database();
  std::unique_ptr<Store> store = open_store(pg_options(server.conninfo(db)));
  const PlayerId uma = store->accounts().create("uma", "h", "lobby", kNow).value();
  ASSERT_TRUE(store->config().set("motd", "before").has_value());

  server.stop_immediate();
  EXPECT_EQ(error_of(within_bound([&] { return store->accounts().find_by_name("uma"); })),
            Errc::unavailable);
  EXPECT_EQ(error_of(within_bound([&] { return store->accounts().record_failed_login(uma, 10); })),
            Errc::unavailable);
  EXPECT_EQ(error_of(within_bound([&] { return store->accounts().create("vic", "h", "z", kNow); })),
            Errc::unavailable);
  EXPECT_EQ(error_of(within_bound([&] { return store->bans().list_active(kNow); })),
            Errc::unavailable);

  server.start();
  // The same Store object, never recreated: it reconnects by itself (after its back-off).
  Result<Account> found = fail(Errc::unavailable);
  for (int i = 0; i < 400 && !found; ++i) {
    found = store->accounts().find_by_name("UMA");
    if (!found) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(found.has_value()) << found.error().message();
  EXPECT_EQ(found->id, uma);
  EXPECT_EQ(store->accounts().record_failed_login(uma, 10).value().failed_logins, 1u);
  EXPECT_EQ(store->config().get("motd").value(), "before");
  EXPECT_TRUE(store->accounts().create("vic", "h", "lobby", kNow).has_value());

  // A restart while the Store sits idle: its first call, a write that must not be retried once
  // sent, goes to a fresh connection because the dead one is noticed before sending.
  server.stop_fast();
  server.start();
  EXPECT_EQ(store->accounts().record_failed_login(uma, 10).value().failed_logins, 2u);
  server.stop_immediate();
  server.start();
  EXPECT_EQ(store->accounts().record_failed_login(uma, 10).value().failed_logins, 3u);
}

TEST(PgStoreTest, AServerThatStopsRespondingAnswersUnavailableWithinTheTimeouts) {
  PgServer server;  // its own server: this test freezes it
  const std::string db = server.create_database();
  std::unique_ptr<Store> store = open_store(pg_options(server.conninfo(db)));
  const PlayerId wes = store->accounts().create("wes", "h", "lobby", kNow).value();

  // The connection stays open but nothing answers: only the client-side deadline can end this.
  server.freeze();
  EXPECT_EQ(error_of(within_bound([&] { return store->accounts().find_by_id(wes); })),
            Errc::unavailable);
  // The dropped connection is re-opened against a server that accepts but never answers.
  EXPECT_EQ(error_of(within_bound([&] {
              std::this_thread::sleep_for(1100ms);  // past the longest connect back-off
              return store->accounts().find_by_id(wes);
            })),
            Errc::unavailable);
  server.thaw();

  Result<Account> found = fail(Errc::unavailable);
  for (int i = 0; i < 400 && !found; ++i) {
    found = store->accounts().find_by_id(wes);
    if (!found) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(found.has_value()) << found.error().message();
  EXPECT_EQ(found->username, "wes");
}

}  // namespace
}  // namespace sb::store::contract
