#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sb::config {
namespace {

// Runs `fn` and returns the runtime_error message it throws ("" if it does not throw).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

// A TOML file in the temp directory, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("sb_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++) + ".toml");
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  static inline int next_ = 0;
  std::filesystem::path path_;
};

// Calls load() with the given arguments (argv[0] is added).
bool load_args(std::vector<std::string> args, Config& out) {
  args.insert(args.begin(), "switchboard");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return load(static_cast<int>(args.size()), argv.data(), out);
}

TEST(ConfigTest, DefaultsAreSane) {
  const Config c;
  EXPECT_EQ(c.node_name, "node-1");
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.tcp_port, 7700);
  EXPECT_EQ(c.session.max_frame_bytes, 64u * 1024);
  EXPECT_EQ(c.lobby.capacity, 400u);
  EXPECT_EQ(c.lobby.default_zone, "default");
  EXPECT_EQ(c.backbone, "inproc");
  EXPECT_EQ(c.store, "sqlite");
  // The defaults pass validation.
  EXPECT_NO_THROW(parse_toml(""));
  const Config parsed = parse_toml("");
  EXPECT_EQ(parsed.listen.ws_port, c.listen.ws_port);
  EXPECT_EQ(parsed.auth.token_ttl_s, c.auth.token_ttl_s);
}

TEST(ConfigTest, TomlSectionsOverrideDefaults) {
  const Config c = parse_toml(R"(
[node]
name = "edge-2"
shards = 4
log_level = "debug"

[listen]
host = "0.0.0.0"
tcp_port = 0
ws_port = 9001

[session]
max_frame_bytes = 4096
send_queue_bytes = 65536
heartbeat_interval_ms = 1000
heartbeat_timeout_ms = 5000

[auth]
address_rate = 2
account_burst = 1.5

[lobby]
capacity = 50
default_zone = "eu"
log_size = 8

[store]
sqlite_path = "/tmp/x.db"
)");
  EXPECT_EQ(c.node_name, "edge-2");
  EXPECT_EQ(c.shards, 4u);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.tcp_port, 0);
  EXPECT_EQ(c.listen.ws_port, 9001);
  EXPECT_EQ(c.listen.admin_port, 7702) << "untouched keys keep their default";
  EXPECT_EQ(c.session.max_frame_bytes, 4096u);
  EXPECT_EQ(c.session.send_queue_bytes, 65536u);
  EXPECT_EQ(c.session.heartbeat_interval_ms, 1000u);
  EXPECT_EQ(c.session.heartbeat_timeout_ms, 5000u);
  EXPECT_DOUBLE_EQ(c.auth.address_rate, 2.0) << "an integer is accepted for a float key";
  EXPECT_DOUBLE_EQ(c.auth.account_burst, 1.5);
  EXPECT_EQ(c.lobby.capacity, 50u);
  EXPECT_EQ(c.lobby.default_zone, "eu");
  EXPECT_EQ(c.lobby.log_size, 8u);
  EXPECT_EQ(c.sqlite_path, "/tmp/x.db");
}

TEST(ConfigTest, ParseStartsFromTheGivenBase) {
  Config base;
  base.node_name = "from-base";
  const Config c = parse_toml("[lobby]\ncapacity = 9\n", base);
  EXPECT_EQ(c.node_name, "from-base");
  EXPECT_EQ(c.lobby.capacity, 9u);
}

TEST(ConfigTest, UnknownKeyIsAnErrorNamingTheKey) {
  const auto msg = error_of([] { parse_toml("[session]\nmax_fram_bytes = 1000\n"); });
  EXPECT_NE(msg.find("session.max_fram_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown"), std::string::npos) << msg;
  const auto msg2 = error_of([] { parse_toml("[sesion]\nmax_frame_bytes = 1000\n"); });
  EXPECT_NE(msg2.find("sesion.max_frame_bytes"), std::string::npos) << msg2;
}

TEST(ConfigTest, KeyOutsideASectionIsAnError) {
  const auto msg = error_of([] { parse_toml("capacity = 3\n"); });
  EXPECT_NE(msg.find("capacity"), std::string::npos) << msg;
}

TEST(ConfigTest, SyntaxErrorIsARuntimeError) {
  const auto msg = error_of([] { parse_toml("[listen\ntcp_port = 1\n"); });
  EXPECT_FALSE(msg.empty());
}

TEST(ConfigTest, WrongTypeIsAnError) {
  EXPECT_NE(error_of([] { parse_toml("[listen]\ntcp_port = \"80\"\n"); }).find("listen.tcp_port"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[node]\nname = 3\n"); }).find("node.name"), std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[auth]\naddress_rate = \"fast\"\n"); }).find("auth.address_rate"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[lobby]\ncapacity = 2.5\n"); }).find("lobby.capacity"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[session]\nmax_errors = [1, 2]\n"); }).find("session.max_errors"),
            std::string::npos);
}

TEST(ConfigTest, BooleanIsNotAnInteger) {
  // toml++'s value<int64_t>() would convert `true` to 1; a boolean is the wrong type here.
  const auto msg = error_of([] { parse_toml("[lobby]\ncapacity = true\n"); });
  EXPECT_NE(msg.find("lobby.capacity"), std::string::npos) << msg;
}

TEST(ConfigTest, OutOfRangeIsAnError) {
  EXPECT_NE(error_of([] { parse_toml("[listen]\ntcp_port = 70000\n"); }).find("listen.tcp_port"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[lobby]\ncapacity = -1\n"); }).find("lobby.capacity"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[lobby]\ncapacity = 4294967296\n"); }).find("lobby.capacity"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[auth]\naccount_rate = -0.5\n"); }).find("auth.account_rate"),
            std::string::npos);
}

TEST(ConfigTest, NegativeValueForASignedKeyIsAccepted) {
  // worker_nice is a signed int: a negative nice value (higher priority) is in range.
  const Config c = parse_toml("[auth]\nworker_nice = -5\n");
  EXPECT_EQ(c.auth.worker_nice, -5);
}

TEST(ConfigTest, ValidationErrors) {
  EXPECT_NE(error_of([] { parse_toml("[lobby]\ncapacity = 0\n"); }).find("lobby.capacity"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_toml("[session]\nmax_frame_bytes = 8192\nsend_queue_bytes = 4096\n");
            }).find("session.send_queue_bytes"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[session]\nmax_frame_bytes = 100\n"); }).find("session.max_frame_bytes"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[auth]\nworkers = 0\n"); }).find("auth.workers"), std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[node]\nbackbone = \"zmq\"\n"); }).find("node.backbone"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[store]\nkind = \"pg\"\n"); }).find("store.kind"), std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[node]\nshards = 65\n"); }).find("node.shards"), std::string::npos);
  // Equal sizes are fine.
  EXPECT_NO_THROW(parse_toml("[session]\nmax_frame_bytes = 4096\nsend_queue_bytes = 4096\n"));
}

TEST(ConfigTest, OverrideWithNumbers) {
  Config c;
  apply_override(c, "listen.tcp_port=9000");
  apply_override(c, "auth.account_rate=0.25");
  apply_override(c, "lobby.capacity=12");
  EXPECT_EQ(c.listen.tcp_port, 9000);
  EXPECT_DOUBLE_EQ(c.auth.account_rate, 0.25);
  EXPECT_EQ(c.lobby.capacity, 12u);
}

TEST(ConfigTest, OverrideWithQuotedAndBareStrings) {
  Config c;
  apply_override(c, "node.name=\"quoted-name\"");
  EXPECT_EQ(c.node_name, "quoted-name");
  apply_override(c, "store.sqlite_path=\"/srv/sb db/x.db\"");
  EXPECT_EQ(c.sqlite_path, "/srv/sb db/x.db");
  apply_override(c, "node.name=edge-2");
  EXPECT_EQ(c.node_name, "edge-2");
  apply_override(c, "listen.host=0.0.0.0");
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  apply_override(c, "node.data_dir=/var/lib/sb data");
  EXPECT_EQ(c.data_dir, "/var/lib/sb data");
  apply_override(c, "store.sqlite_path=a\"b\\c");
  EXPECT_EQ(c.sqlite_path, "a\"b\\c") << "quotes and backslashes in a bare string are kept";
  apply_override(c, "node.data_dir=x=y");
  EXPECT_EQ(c.data_dir, "x=y") << "only the first '=' separates key and value";
}

TEST(ConfigTest, OverrideErrors) {
  Config c;
  EXPECT_NE(error_of([&] { apply_override(c, "lobby.capacity"); }).find("lobby.capacity"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(c, "lobby.capacty=3"); }).find("lobby.capacty"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(c, "lobby.capacity=many"); }).find("lobby.capacity"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(c, "lobby.capacity=0"); }).find("lobby.capacity"), std::string::npos);
}

TEST(ConfigTest, LoadWithoutArgumentsGivesDefaults) {
  Config c;
  c.node_name = "garbage";
  ASSERT_TRUE(load_args({}, c));
  EXPECT_EQ(c.node_name, "node-1");
  EXPECT_EQ(c.listen.tcp_port, 7700);
}

TEST(ConfigTest, LoadReadsTheConfigFile) {
  TempFile file("[node]\nname = \"from-file\"\n[lobby]\ncapacity = 33\n");
  Config c;
  ASSERT_TRUE(load_args({"--config", file.path()}, c));
  EXPECT_EQ(c.node_name, "from-file");
  EXPECT_EQ(c.lobby.capacity, 33u);
  Config d;
  ASSERT_TRUE(load_args({"-c", file.path()}, d));
  EXPECT_EQ(d.lobby.capacity, 33u);
}

TEST(ConfigTest, LoadPrecedenceIsFlagThenSetThenFile) {
  TempFile file("[listen]\ntcp_port = 1000\nws_port = 1001\nadmin_port = 1002\n[node]\nname = \"file\"\n");
  Config c;
  ASSERT_TRUE(load_args({"--config", file.path(), "--set", "listen.tcp_port=2000", "--set",
                         "listen.ws_port=2001", "--tcp-port", "3000", "--node", "flag"},
                        c));
  EXPECT_EQ(c.listen.tcp_port, 3000) << "shortcut flag beats --set";
  EXPECT_EQ(c.listen.ws_port, 2001) << "--set beats the file";
  EXPECT_EQ(c.listen.admin_port, 1002) << "the file beats the default";
  EXPECT_EQ(c.node_name, "flag") << "shortcut flag beats the file";
}

TEST(ConfigTest, LoadShortcutFlags) {
  Config c;
  ASSERT_TRUE(load_args({"--tcp-port", "0", "--ws-port", "0", "--admin-port", "0", "--host", "::1",
                         "--shards", "2", "--data-dir", "/tmp/sbdata", "--node", "n7"},
                        c));
  EXPECT_EQ(c.listen.tcp_port, 0);
  EXPECT_EQ(c.listen.ws_port, 0);
  EXPECT_EQ(c.listen.admin_port, 0);
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.shards, 2u);
  EXPECT_EQ(c.data_dir, "/tmp/sbdata");
  EXPECT_EQ(c.node_name, "n7");
}

TEST(ConfigTest, LoadValidatesTheFinalResultOnly) {
  // Each layer alone would be invalid (max_frame above the default send queue); together they
  // are fine. The order of --set flags must not matter.
  TempFile file("[session]\nmax_frame_bytes = 2000000\nsend_queue_bytes = 4000000\n");
  Config c;
  ASSERT_NO_THROW(load_args({"--set", "session.max_frame_bytes=2000000", "--set",
                             "session.send_queue_bytes=4000000"},
                            c));
  EXPECT_EQ(c.session.max_frame_bytes, 2000000u);
  EXPECT_EQ(c.session.send_queue_bytes, 4000000u);
  Config d;
  TempFile big_frame("[session]\nmax_frame_bytes = 2000000\n");
  ASSERT_NO_THROW(load_args({"--config", big_frame.path(), "--set", "session.send_queue_bytes=4000000"}, d));
  EXPECT_EQ(d.session.send_queue_bytes, 4000000u);
}

TEST(ConfigTest, LoadRejectsAnInvalidFinalResult) {
  Config c;
  c.node_name = "unchanged";
  const auto msg = error_of([&] { load_args({"--set", "session.max_frame_bytes=2000000"}, c); });
  EXPECT_NE(msg.find("session.send_queue_bytes"), std::string::npos) << msg;
  EXPECT_EQ(c.node_name, "unchanged") << "out is written only on success";
}

TEST(ConfigTest, LoadErrors) {
  Config c;
  EXPECT_NE(error_of([&] { load_args({"--config", "/nonexistent/sb.toml"}, c); }).find("/nonexistent/sb.toml"),
            std::string::npos);
  EXPECT_FALSE(error_of([&] { load_args({"--no-such-flag"}, c); }).empty());
  EXPECT_FALSE(error_of([&] { load_args({"--tcp-port", "99999"}, c); }).empty());
  TempFile bad("[lobby]\ncapacityy = 1\n");
  EXPECT_NE(error_of([&] { load_args({"--config", bad.path()}, c); }).find("lobby.capacityy"), std::string::npos);
}


TEST(ConfigTest, RefusesEngineCombinationsThatCannotWork) {
  // nats without servers, a cluster on one node's SQLite file, postgres without a connection
  // string, an unknown role: each names the key to fix.
  EXPECT_NE(error_of([] { parse_toml("[node]\nbackbone = \"nats\"\n[store]\nkind = \"postgres\"\n"
                                     "[postgres]\nconninfo = \"host=/tmp\"\n"); }).find("nats.servers"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[node]\nbackbone = \"nats\"\n[nats]\nservers = [\"nats://127.0.0.1:4222\"]\n"); })
                .find("needs store.kind = \"postgres\""),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[store]\nkind = \"postgres\"\n"); }).find("postgres.conninfo"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[nats]\nservers = [\"127.0.0.1:4222\"]\n"); }).find("nats.servers"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[node]\nroles = [\"edge\", \"proxy\"]\n"); }).find("unknown role"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_toml("[membership]\nheartbeat_ms = 1000\ntimeout_ms = 1000\n"); })
                .find("membership.timeout_ms"),
            std::string::npos);
  // The cluster shape parses.
  auto c = parse_toml(
      "[node]\nbackbone = \"nats\"\nroles = [\"edge\"]\n[store]\nkind = \"postgres\"\n"
      "[nats]\nservers = [\"nats://127.0.0.1:4222\", \"nats://127.0.0.1:4223\"]\nkv_replicas = 3\n"
      "[postgres]\nconninfo = \"host=127.0.0.1 port=5432 dbname=sb\"\npool_size = 8\n");
  EXPECT_EQ(c.nats.servers.size(), 2u);
  EXPECT_EQ(c.nats.kv_replicas, 3u);
  EXPECT_EQ(c.postgres.pool_size, 8u);
  EXPECT_EQ(c.roles, std::vector<std::string>{"edge"});
  // One node may use PostgreSQL with the in-process backbone.
  EXPECT_NO_THROW(parse_toml("[store]\nkind = \"postgres\"\n[postgres]\nconninfo = \"host=/tmp\"\n"));
}
}  // namespace
}  // namespace sb::config
