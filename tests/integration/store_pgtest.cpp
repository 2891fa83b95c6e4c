// Nodes on store.kind = "postgres" against a real PostgreSQL server started by the test
// (tests/support/pg_server.hpp): an account registered through one node logs in through
// another sharing the database (each node with its own in-process backbone), and logins answer
// UNAVAILABLE while the database is down and succeed again after, without restarting the node.
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "support/pg_server.hpp"

namespace sb::test {
namespace {

// The contract and node tests of this binary share one server; a test that stops it has its own.
PgServer& shared_server() {
  static PgServer server;
  return server;
}

class PgNodeTest : public NodeTest {
 protected:
  /// Points config_ (and so start()) at a fresh database on `server`.
  void use_database(PgServer& server) {
    database_ = server.create_database();
    config_.store = "postgres";
    config_.postgres.conninfo = server.conninfo(database_);
    config_.postgres.statement_timeout_ms = 1000;
    config_.postgres.connect_timeout_ms = 500;
  }

  /// A client of `node` (make_client() talks to node_).
  client::Client& client_of(node::Node& node) {
    client::ClientOptions o;
    o.port = node.tcp_port();
    o.queue_pushes = true;
    o.request_timeout = 10s;
    clients_.push_back(std::make_unique<client::Client>(io_.get_executor(), o));
    return *clients_.back();
  }

  std::string database_;
};

TEST_F(PgNodeTest, AnAccountRegisteredThroughOneNodeLogsInThroughAnother) {
  use_database(shared_server());
  start();
  auto& alice = registered("Alice");
  const std::uint64_t alice_id = alice.player_id();
  ASSERT_NE(alice_id, 0u);

  config::Config other = config_;
  other.node_name = "it2";
  const auto other_dir = temp_dir();
  other.data_dir = other_dir.string();
  other.sqlite_path.clear();
  auto second = std::make_unique<node::Node>(other, room_types_);
  second->start();

  auto& c = client_of(*second);
  ASSERT_TRUE(run(c.connect()));
  auto wrong = run(c.login("alice", "not-the-password"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(to_errc(wrong.error()), Errc::bad_credentials);
  auto ok = run(c.login("ALICE", "password-1"));
  ASSERT_TRUE(ok) << c.last_error_message();
  EXPECT_EQ(ok->player_id(), alice_id);
  EXPECT_EQ(ok->username(), "Alice");

  // The name is taken for every node of the cluster.
  auto& d = client_of(*second);
  ASSERT_TRUE(run(d.connect()));
  auto taken = run(d.register_account("alice", "password-2"));
  ASSERT_FALSE(taken);
  EXPECT_EQ(to_errc(taken.error()), Errc::already_exists);

  destroy_clients();
  second->stop(std::chrono::milliseconds(200));
  second.reset();
  std::error_code ignored;
  std::filesystem::remove_all(other_dir, ignored);
}

TEST_F(PgNodeTest, LoginsAnswerUnavailableWhileTheDatabaseIsDownAndSucceedAfter) {
  constexpr int kClients = 6;
  PgServer server;  // its own server: this test stops it
  use_database(server);
  start();
  for (int i = 0; i < kClients; ++i) {
    auto& c = registered("player" + std::to_string(i));
    ASSERT_TRUE(run(c.logout()));
  }

  server.stop_immediate();
  std::vector<client::Client*> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(&make_client());
    ASSERT_TRUE(run(clients.back()->connect()));
  }
  for (int i = 0; i < kClients; ++i) {
    auto r = run(clients[i]->login("player" + std::to_string(i), "password-1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(to_errc(r.error()), Errc::unavailable) << clients[i]->last_error_message();
    EXPECT_EQ(clients[i]->last_error_message(), "service unavailable, try again later");
  }
  // Registration too, and the connection stays usable: the same client retries below.
  auto reg = run(clients[0]->register_account("newcomer", "password-1"));
  ASSERT_FALSE(reg);
  EXPECT_EQ(to_errc(reg.error()), Errc::unavailable);

  server.start();
  // The same node and connections: each store connection comes back by itself.
  for (int i = 0; i < kClients; ++i) {
    Result<proto::LoginOk> ok = fail(Errc::unavailable);
    for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
      ok = run(clients[i]->login("player" + std::to_string(i), "password-1"));
      if (!ok) {
        ASSERT_EQ(to_errc(ok.error()), Errc::unavailable) << clients[i]->last_error_message();
        pump_until([] { return false; }, 100ms);
      }
    }
    ASSERT_TRUE(ok) << "player" << i << ": " << clients[i]->last_error_message();
  }
}

// What one client of the login load saw.
struct LoadCounts {
  int answered = 0;     // BAD_CREDENTIALS: the store was read and written
  int unavailable = 0;  // UNAVAILABLE: the store could not be reached
  int other = 0;        // anything else (a timeout, a crash, a wrong code)
  std::string last_other;
  bool done = false;
};

// Logs in with a wrong password again and again until *stop: each attempt reads the account and
// counts a bad password, so it needs the database.
asio::awaitable<void> wrong_password_loop(client::Client* c, std::string name, const bool* stop,
                                          LoadCounts* counts) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (!*stop) {
    auto r = co_await c->login(name, "wrong-password");
    const Errc code = r ? Errc::ok : to_errc(r.error());
    if (code == Errc::bad_credentials) {
      ++counts->answered;
    } else if (code == Errc::unavailable) {
      ++counts->unavailable;
    } else {
      ++counts->other;
      counts->last_other = r ? std::string("logged in") : r.error().message();
    }
    pause.expires_after(5ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
  counts->done = true;
}

TEST_F(PgNodeTest, ALoginLoadRidesThroughADatabaseRestart) {
  constexpr int kClients = 8;
  PgServer server;  // its own server: this test restarts it
  use_database(server);
  config_.auth.workers = 2;
  config_.postgres.pool_size = 2;
  start();
  ASSERT_TRUE(node_->set_cluster_config("max_login_errors", "1000000000"));
  for (int i = 0; i < kClients; ++i) {
    auto& c = registered("load" + std::to_string(i));
    ASSERT_TRUE(run(c.logout()));
  }
  bool stop = false;
  std::vector<LoadCounts> counts(kClients);
  std::vector<client::Client*> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(&make_client());
    ASSERT_TRUE(run(clients.back()->connect()));
    asio::co_spawn(io_, wrong_password_loop(clients.back(), "load" + std::to_string(i), &stop, &counts[i]),
                   asio::detached);
  }
  auto total = [&](int LoadCounts::*field) {
    int n = 0;
    for (const auto& c : counts) n += c.*field;
    return n;
  };
  ASSERT_TRUE(pump_until([&] { return total(&LoadCounts::answered) >= 4 * kClients; }, 20s));

  server.stop_immediate();
  const int unavailable_before = total(&LoadCounts::unavailable);
  ASSERT_TRUE(pump_until([&] { return total(&LoadCounts::unavailable) >= unavailable_before + 2 * kClients; }, 20s))
      << "logins while the database is down must answer UNAVAILABLE";

  server.start();
  std::vector<int> answered_before;
  for (const auto& c : counts) answered_before.push_back(c.answered);
  EXPECT_TRUE(pump_until(
      [&] {
        for (int i = 0; i < kClients; ++i) {
          if (counts[i].answered == answered_before[i]) return false;
        }
        return true;
      },
      30s))
      << "every client's logins reach the database again, on the same node and connections";

  stop = true;
  EXPECT_TRUE(pump_until([&] {
    for (const auto& c : counts) {
      if (!c.done) return false;
    }
    return true;
  }, 20s));
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(counts[i].other, 0) << "client " << i << ": " << counts[i].last_other;
  }
  // The account still logs in with its password, and its bad-password count survived.
  auto ok = run(clients[0]->login("load0", "password-1"));
  EXPECT_TRUE(ok) << clients[0]->last_error_message();
}

}  // namespace
}  // namespace sb::test
