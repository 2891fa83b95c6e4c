// Benchmark: the store work of one password login, without the hashing, on SQLite and on
// PostgreSQL (a throw-away local server, tests/support/pg_server.hpp, fsync on), same machine,
// same run. One login = find_by_name + config get (max_login_errors) + bans.active +
// record_good_login, as auth_service.cpp does. Reports per-login latency p50/p99 on one thread,
// and logins/s with T threads each holding a Store from one factory (PostgreSQL: a pool of T).
// Usage: store_latency [logins=2000] [threads=2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"
#include "support/pg_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using sb::store::Store;
using sb::store::StoreFactory;

constexpr sb::UnixMillis kNow = 1'700'000'000'000;
constexpr int kAccounts = 200;

bool one_login(Store& s, int i) {
  auto a = s.accounts().find_by_name("user" + std::to_string(i % kAccounts));
  if (!a) return false;
  if (!s.config().get(sb::store::kMaxLoginErrorsKey)) return false;
  if (!s.bans().active(a->id, kNow)) return false;
  return s.accounts().record_good_login(a->id, kNow + i).has_value();
}

double percentile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

void run(const char* name, const sb::store::StoreOptions& options, int logins, int threads) {
  StoreFactory factory = sb::store::make_store_factory(options);
  {
    auto s = factory();
    for (int i = 0; i < kAccounts; ++i) {
      (void)s->accounts().create("user" + std::to_string(i), "hash", "lobby", kNow);
    }
  }
  // One thread: latency per login.
  std::vector<double> us;
  {
    auto s = factory();
    for (int i = 0; i < logins; ++i) {
      const auto t0 = Clock::now();
      if (!one_login(*s, i)) {
        std::fprintf(stderr, "%s: login %d failed\n", name, i);
        std::exit(1);
      }
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  // T threads: throughput.
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&factory, logins, threads, t] {
      auto s = factory();
      for (int i = t; i < logins; i += threads) (void)one_login(*s, i);
    });
  }
  for (auto& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double sum = 0;
  for (double u : us) sum += u;
  const double mean = us.empty() ? 0 : sum / static_cast<double>(us.size());
  std::printf("%-8s one thread: login store work mean %.0f us, p50 %.0f us, p99 %.0f us; "
              "%d threads: %.0f logins/s\n",
              name, mean, percentile(us, 0.5), percentile(us, 0.99), threads, logins / seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const int logins = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  std::string dir = "/tmp/sb-store-latency-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return 1;

  sb::store::StoreOptions sqlite;
  sqlite.kind = "sqlite";
  sqlite.sqlite_path = dir + "/store.db";
  run("sqlite", sqlite, logins, threads);

  sb::test::PgServer server(/*durable=*/true);
  sb::store::StoreOptions pg;
  pg.kind = "postgres";
  pg.postgres.conninfo = server.conninfo(server.create_database());
  pg.postgres.pool_size = static_cast<std::uint32_t>(threads);
  run("postgres", pg, logins, threads);

  std::system(("rm -rf " + dir).c_str());
  return 0;
}
