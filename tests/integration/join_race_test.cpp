// Join race over real sockets: 10,000 clients send JoinRoom for the same 400-seat relay room at
// the same moment; exactly the free seats are given out and every other join answers ROOM_FULL.
// Repeated for several rooms.
//
// A process may hold at most 20,000 open files (hard limit) and 10,000 client sockets plus
// 10,000 server sockets would not fit in one, so the node runs as a child process: the real
// `switchboard` binary (path from CMake: SB_SWITCHBOARD_BIN) on free loopback ports with a fresh
// temporary data directory. The clients (sb::client::Client) all run on one io_context in the
// test thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"

#ifndef SB_SWITCHBOARD_BIN
#error "SB_SWITCHBOARD_BIN (path of the switchboard binary) must be defined by the build"
#endif

extern char** environ;

namespace sb::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kJoiners = 10'000;
constexpr std::uint32_t kCapacity = 400;  // players, the creator included
constexpr int kRounds = 3;
constexpr int kConnectConcurrency = 500;  // connects + registrations in flight at once
constexpr const char* kPassword = "password-1";

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (as apps/switchboard/main.cpp does); returns
/// the resulting soft limit.
rlim_t raise_nofile() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

/// `n` distinct free loopback ports: bound to port 0 together (so they differ), read, closed.
std::vector<std::uint16_t> free_ports(int n) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    fds.push_back(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      break;
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

/// True if GET /healthz on 127.0.0.1:port answers 200 (blocking, short timeouts).
bool healthz(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[256];
      std::string got;
      for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
        if (got.find("\r\n") != std::string::npos) break;
      }
      ok = got.rfind("HTTP/1.1 200", 0) == 0 || got.rfind("HTTP/1.0 200", 0) == 0;
    }
  }
  ::close(fd);
  return ok;
}

/// The switchboard binary as a child process, its output in <dir>/server.log.
class ServerProcess {
 public:
  ~ServerProcess() { stop(); }

  /// Spawns the server and waits up to `limit` for /healthz. On failure `error` says why (and the
  /// child, if any, is stopped).
  bool start(const std::filesystem::path& dir, std::chrono::seconds limit, std::string& error) {
    const auto ports = free_ports(3);
    if (ports.size() != 3) {
      error = "cannot pick free ports";
      return false;
    }
    tcp_port_ = ports[0];
    const std::uint16_t ws_port = ports[1];
    admin_port_ = ports[2];
    log_ = dir / "server.log";
    std::vector<std::string> args = {
        SB_SWITCHBOARD_BIN,
        "--set", "node.name=joinrace",
        "--set", "node.data_dir=" + (dir / "data").string(),
        "--set", "node.shards=2",
        "--set", "node.log_level=warn",
        "--set", "listen.tcp_port=" + std::to_string(tcp_port_),
        "--set", "listen.ws_port=" + std::to_string(ws_port),
        "--set", "listen.admin_port=" + std::to_string(admin_port_),
        "--set", "listen.backlog=16384",
        "--set", "auth.argon2_ops=1",
        "--set", "auth.argon2_mem_kib=8",
        "--set", "auth.address_rate=0",
        "--set", "auth.account_rate=0",
        "--set", "auth.workers=2",
        "--set", "auth.max_queue=65536",
        "--set", "session.max_connections=19000",
        // The test thread serves 10,000 clients: give it slack before anyone is called dead.
        "--set", "session.heartbeat_timeout_ms=120000",
        "--set", "session.login_timeout_ms=120000",
    };
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    // The child gets default signal dispositions and an empty mask (the server blocks and
    // sigwaits SIGINT/SIGTERM itself).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      error = std::string("posix_spawn ") + SB_SWITCHBOARD_BIN + ": " + std::strerror(rc);
      return false;
    }
    pid_ = pid;

    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error = "switchboard exited during start-up (status " + std::to_string(status) + "): " + log_tail();
        return false;
      }
      if (healthz(admin_port_)) return true;
      std::this_thread::sleep_for(50ms);
    }
    error = "switchboard did not answer /healthz within " + std::to_string(limit.count()) + " s: " + log_tail();
    stop();
    return false;
  }

  /// SIGTERM, then SIGKILL if it has not exited after `grace`. Returns the wait status (or -1).
  int stop(std::chrono::seconds grace = 15s) {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  std::string log_tail(std::size_t max = 4000) const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > max) s = "..." + s.substr(s.size() - max);
    return s.empty() ? "(empty log)" : s;
  }

  std::uint16_t tcp_port() const noexcept { return tcp_port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t tcp_port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::filesystem::path log_;
};

/// Where the temporary data directory goes: $TMPDIR if set, else /dev/shm when usable, else the
/// system temp directory. The store syncs every commit (SQLite synchronous=FULL); 10,000
/// registrations cost ~35 s of fsyncs on a disk and ~5 s on tmpfs. Durability is not under test.
std::filesystem::path scratch_root() {
  if (const char* t = std::getenv("TMPDIR"); t && *t) return std::filesystem::temp_directory_path();
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

bool is(const boost::system::error_code& ec, Errc e) {
  return ec.category() == switchboard_category() && ec.value() == static_cast<int>(e);
}

class JoinRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlim_t nofile = raise_nofile();
    ASSERT_GE(nofile, static_cast<rlim_t>(kJoiners + 1000))
        << "RLIMIT_NOFILE soft limit too low for " << kJoiners << " client sockets";
    std::random_device rd;
    dir_ = scratch_root() / ("sb-join-race-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_ / "data");
    std::string error;
    bool started = false;
    // A port picked free may be taken again before the child binds it: try a few times.
    for (int attempt = 0; attempt < 3 && !started; ++attempt) {
      started = server_.start(dir_, 20s, error);
      if (!started) std::fprintf(stderr, "join_race: start attempt %d failed: %s\n", attempt + 1, error.c_str());
    }
    ASSERT_TRUE(started) << "cannot start " << SB_SWITCHBOARD_BIN << ": " << error;
  }

  void TearDown() override {
    // After a clean run every spawned operation has completed: close the clients and let their
    // coroutines finish. After a failure some completion handlers may still reference the test
    // body's (gone) locals, so io_ must not run again: the clients are destroyed with io_ idle,
    // which client.hpp allows, and their suspended coroutines go with io_ without running.
    if (!HasFailure()) {
      for (auto& c : clients_) c->close();
      io_.restart();
      const auto until = Clock::now() + 5s;
      while (Clock::now() < until && io_.run_for(100ms) > 0) {
      }
    }
    clients_.clear();
    io_.stop();
    if (HasFailure()) std::fprintf(stderr, "join_race: server log: %s\n", server_.log_tail().c_str());
    const int status = server_.stop();
    if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      ADD_FAILURE() << "switchboard did not exit cleanly on SIGTERM (wait status " << status << ")";
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  client::Client& make_client() {
    client::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server_.tcp_port();
    o.queue_pushes = false;     // pushes are not needed: saves memory
    o.send_heartbeats = true;   // cheap (one Ping per client per interval) and keeps sessions alive
    o.connect_timeout = 30s;
    o.request_timeout = 60s;
    clients_.push_back(std::make_unique<client::Client>(io_.get_executor(), o));
    return *clients_.back();
  }

  /// Runs io_ until `pred` holds or `limit` passes; returns pred().
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!pred() && Clock::now() < deadline) {
      io_.run_for(20ms);
      if (io_.stopped()) {
        io_.restart();
        if (!pred()) std::this_thread::sleep_for(1ms);
      }
    }
    return pred();
  }

  /// Connects and registers every client in `cs` with at most kConnectConcurrency in flight.
  /// Returns the number that failed (the first few failures are reported).
  int connect_all(const std::vector<client::Client*>& cs, const std::string& prefix) {
    std::size_t next = 0;
    int done = 0, failed = 0, reported = 0;
    auto report = [&](const std::string& what) {
      ++failed;
      if (++reported <= 5) ADD_FAILURE() << what;
    };
    auto worker = [&]() -> asio::awaitable<void> {
      while (next < cs.size()) {
        const std::size_t i = next++;
        client::Client& c = *cs[i];
        const std::string name = prefix + std::to_string(i);
        if (auto st = co_await c.connect(); !st) {
          report(name + ": connect: " + st.error().message() + " (" + c.last_failure().message() + ")");
        } else if (auto ok = co_await c.register_account(name, kPassword); !ok) {
          report(name + ": register: " + ok.error().message() + " " + c.last_error_message());
        }
        ++done;
      }
    };
    const int workers = static_cast<int>(std::min<std::size_t>(kConnectConcurrency, cs.size()));
    int workers_done = 0;
    for (int w = 0; w < workers; ++w) {
      asio::co_spawn(io_, worker(), [&](std::exception_ptr e) {
        ++workers_done;
        if (e) report("connect worker threw");
      });
    }
    if (!pump_until([&] { return workers_done == workers; }, 300s)) {
      ADD_FAILURE() << "connect/register did not finish: " << done << " of " << cs.size();
      return static_cast<int>(cs.size()) - done + failed;
    }
    return failed;
  }

  std::filesystem::path dir_;
  ServerProcess server_;
  asio::io_context io_;
  std::vector<std::unique_ptr<client::Client>> clients_;
};

struct Outcome {
  bool done = false;
  bool ok = false;
  boost::system::error_code error;
  std::string message;
  std::uint64_t room_id = 0;
  std::uint32_t capacity = 0;
};

TEST_F(JoinRaceTest, TenThousandJoinsIntoA400SeatRoomAdmitExactlyTheFreeSeats) {
  const auto t_all = Clock::now();
  client::Client& creator = make_client();
  std::vector<client::Client*> joiners;
  joiners.reserve(kJoiners);
  for (int i = 0; i < kJoiners; ++i) joiners.push_back(&make_client());

  {
    const auto t0 = Clock::now();
    ASSERT_EQ(connect_all({&creator}, "jr_creator"), 0);
    ASSERT_EQ(connect_all(joiners, "jr_"), 0);
    std::fprintf(stderr, "join_race: connected and registered %d clients in %.1f s\n", kJoiners + 1,
                 seconds_since(t0));
  }
  // Everyone lands in a lobby of the default zone (pushed after LoginOk).
  ASSERT_TRUE(pump_until([&] {
    if (creator.room_id() == 0) return false;
    for (auto* c : joiners) if (c->room_id() == 0) return false;
    return true;
  }, 60s)) << "not every client was placed in a lobby";

  // The creator holds one of the kCapacity player seats.
  constexpr int kWinners = static_cast<int>(kCapacity) - 1;
  std::set<std::uint64_t> rooms_used;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto t_round = Clock::now();
    ASSERT_TRUE(server_.alive()) << "switchboard died";

    // 1. A fresh relay room with kCapacity seats; the creator sits in it.
    std::uint64_t room = 0;
    {
      bool finished = false;
      Result<proto::RoomJoined> created = fail(Errc::internal);
      asio::co_spawn(io_, creator.create_room("relay", "", kCapacity),
                     [&](std::exception_ptr e, Result<proto::RoomJoined> r) {
                       finished = true;
                       if (!e) created = std::move(r);
                     });
      ASSERT_TRUE(pump_until([&] { return finished; }, 60s)) << "create_room did not finish";
      ASSERT_TRUE(created) << "create_room: " << created.error().message() << " " << creator.last_error_message();
      room = created->room_id();
      ASSERT_NE(room, 0u);
      ASSERT_EQ(created->room_type(), "relay");
      ASSERT_EQ(created->capacity(), kCapacity);
      ASSERT_EQ(created->members_size(), 1);
      ASSERT_TRUE(rooms_used.insert(room).second) << "room id reused";
    }
    std::vector<std::uint64_t> lobby_before(kJoiners);
    for (int i = 0; i < kJoiners; ++i) lobby_before[i] = joiners[i]->room_id();

    // 2. Every joiner asks for a seat at once: all requests are spawned before the loop runs.
    std::vector<Outcome> out(kJoiners);
    int finished = 0;
    const auto t_join = Clock::now();
    for (int i = 0; i < kJoiners; ++i) {
      asio::co_spawn(io_, joiners[i]->join_room(room),
                     [&, i](std::exception_ptr e, Result<proto::RoomJoined> r) {
                       Outcome& o = out[i];
                       o.done = true;
                       ++finished;
                       if (e) {
                         o.message = "exception";
                       } else if (r) {
                         o.ok = true;
                         o.room_id = r->room_id();
                         o.capacity = r->capacity();
                       } else {
                         o.error = r.error();
                         o.message = joiners[i]->last_error_message();
                       }
                     });
    }
    ASSERT_TRUE(pump_until([&] { return finished == kJoiners; }, 180s))
        << "only " << finished << " of " << kJoiners << " joins finished";
    const double join_s = seconds_since(t_join);

    int ok = 0, full = 0, other = 0;
    std::vector<int> winners;
    for (int i = 0; i < kJoiners; ++i) {
      const Outcome& o = out[i];
      if (o.ok) {
        ++ok;
        winners.push_back(i);
        EXPECT_EQ(o.room_id, room) << "joiner " << i;
        EXPECT_EQ(o.capacity, kCapacity) << "joiner " << i;
      } else if (is(o.error, Errc::room_full)) {
        ++full;
        // A refused joiner stays in its lobby.
        EXPECT_EQ(joiners[i]->room_id(), lobby_before[i]) << "joiner " << i;
      } else {
        if (++other <= 5)
          ADD_FAILURE() << "joiner " << i << ": " << o.error.message() << " (" << o.message << ")";
      }
    }
    EXPECT_EQ(other, 0) << "joins that failed with something other than ROOM_FULL";
    EXPECT_EQ(ok, kWinners) << "seats given out (capacity " << kCapacity << ", the creator holds one)";
    EXPECT_EQ(full, kJoiners - kWinners) << "ROOM_FULL answers";

    // 3. The room's own view: exactly kCapacity players, the creator and the winners.
    {
      bool done = false;
      Result<proto::Members> m = fail(Errc::internal);
      asio::co_spawn(io_, creator.members(), [&](std::exception_ptr e, Result<proto::Members> r) {
        done = true;
        if (!e) m = std::move(r);
      });
      ASSERT_TRUE(pump_until([&] { return done; }, 60s)) << "members did not finish";
      ASSERT_TRUE(m) << "members: " << m.error().message() << " " << creator.last_error_message();
      EXPECT_EQ(m->room_id(), room);
      EXPECT_EQ(m->members_size(), static_cast<int>(kCapacity));
      std::set<std::uint64_t> got, want{creator.player_id()};
      for (const auto& mem : m->members()) {
        EXPECT_FALSE(mem.spectator());
        got.insert(mem.player_id());
      }
      for (int i : winners) want.insert(joiners[i]->player_id());
      EXPECT_EQ(got.size(), static_cast<std::size_t>(m->members_size())) << "duplicate members";
      EXPECT_TRUE(got == want) << "the room's members are not exactly the creator and the winners";
    }
    {
      bool done = false;
      Result<proto::RoomList> l = fail(Errc::internal);
      asio::co_spawn(io_, creator.list_rooms("", "relay"), [&](std::exception_ptr e, Result<proto::RoomList> r) {
        done = true;
        if (!e) l = std::move(r);
      });
      ASSERT_TRUE(pump_until([&] { return done; }, 60s)) << "list_rooms did not finish";
      ASSERT_TRUE(l) << "list_rooms: " << l.error().message();
      bool seen = false;
      for (const auto& info : l->rooms()) {
        if (info.room_id() != room) continue;
        seen = true;
        EXPECT_EQ(info.players(), kCapacity);
        EXPECT_EQ(info.capacity(), kCapacity);
      }
      EXPECT_TRUE(seen) << "room " << room << " missing from list_rooms";
    }

    // 4. Everyone in the room leaves (back to the lobby); the room closes when empty.
    std::vector<client::Client*> leavers;
    for (int i : winners) leavers.push_back(joiners[i]);
    leavers.push_back(&creator);
    int left = 0, leave_failed = 0;
    for (auto* c : leavers) {
      asio::co_spawn(io_, c->leave_room(), [&, c](std::exception_ptr e, Status st) {
        ++left;
        if (e || !st) {
          if (++leave_failed <= 5)
            ADD_FAILURE() << c->username() << ": leave_room: " << (e ? "exception" : st.error().message());
        }
      });
    }
    ASSERT_TRUE(pump_until([&] { return left == static_cast<int>(leavers.size()); }, 120s))
        << "leave_room did not finish";
    ASSERT_EQ(leave_failed, 0);
    ASSERT_TRUE(pump_until([&] {
      for (auto* c : leavers) if (c->room_id() == room || c->room_id() == 0) return false;
      return true;
    }, 60s)) << "not every leaver was put back into a lobby";

    std::fprintf(stderr, "join_race: round %d: room %llu, %d admitted, %d ROOM_FULL, %d other; joins took %.2f s, "
                 "round %.2f s\n", round, static_cast<unsigned long long>(room), ok, full, other, join_s,
                 seconds_since(t_round));
    if (HasFailure()) break;
  }
  std::fprintf(stderr, "join_race: total %.1f s\n", seconds_since(t_all));
}

}  // namespace
}  // namespace sb::test
