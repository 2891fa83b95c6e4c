#pragma once
// Node configuration: a TOML file plus command-line overrides, into one plain struct.
//
// Precedence: built-in defaults < TOML file (--config) < `--set section.key=value` overrides <
// the named shortcut flags (--tcp-port, --shards, ...). Unknown keys are errors (a typo must not
// silently fall back to a default). Every key is documented in docs/configuration.md.
// Loading throws std::runtime_error with a readable message: configuration is start-up, not data
// plane. The struct is copied into the Node; nothing reads configuration globally.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sb::config {

struct ListenConfig {
  std::string host = "127.0.0.1";
  std::uint16_t tcp_port = 7700;   // 0 = pick a free port
  std::uint16_t ws_port = 7701;    // 0 = pick a free port
  std::uint16_t admin_port = 7702; // Prometheus /metrics and the admin API; 0 = pick
  std::string admin_host;          // address of the admin port; empty = same as `host`
  int backlog = 4096;
};

struct SessionConfig {
  std::uint32_t max_frame_bytes = 64 * 1024;
  std::uint32_t send_queue_bytes = 1024 * 1024;  // per connection; above this: slow consumer
  std::uint32_t heartbeat_interval_ms = 10'000;  // advertised to clients
  std::uint32_t heartbeat_timeout_ms = 30'000;   // close after this long without any frame
  std::uint32_t idle_timeout_ms = 1'800'000;     // close after this long without a non-ping request
  std::uint32_t login_timeout_ms = 30'000;       // a visitor must log in within this
  std::uint32_t session_grace_ms = 30'000;       // a dropped session is held this long
  std::uint32_t max_errors = 20;                 // protocol errors before the connection is closed
  std::uint32_t max_connections = 19'000;        // per node; above this new connections are refused
  double game_rate = 60;    // GameMessages per second per connection (token bucket); 0 = no limit
  double game_burst = 120;
};

struct AuthConfig {
  std::uint32_t workers = 1;
  std::uint32_t max_queue = 4096;
  int worker_nice = 10;
  std::uint64_t argon2_ops = 2;
  std::uint32_t argon2_mem_kib = 19 * 1024;
  double address_rate = 10;      // logins/registrations per second per source address; 0 = off
  double address_burst = 50;
  double account_rate = 0.5;     // logins per second per account; 0 = off
  double account_burst = 5;
  std::uint32_t password_min = 8;
  std::uint32_t password_max = 128;
  std::uint32_t token_ttl_s = 86'400;
  std::string token_secret_hex;  // 64 hex chars; empty = read/create <data_dir>/token.secret
};

struct LobbyConfig {
  std::uint32_t capacity = 400;
  std::string default_zone = "default";
  std::uint32_t log_size = 256;            // events kept per room for replay
  std::uint32_t count_push_ms = 100;       // zone directory coalescing interval
  std::uint32_t chat_max_bytes = 500;
  bool presence_events = false;            // member_disconnected/reconnected events in lobbies
};

/// [nats]: the NATS backbone (node.backbone = "nats").
struct NatsConfig {
  std::vector<std::string> servers;          // "nats://127.0.0.1:4222", ...; required for nats
  std::string kv_bucket = "switchboard";     // JetStream key-value bucket (created if missing)
  std::uint32_t kv_replicas = 1;             // 3 on a three-server NATS cluster (R3)
  std::uint32_t connect_timeout_ms = 2'000;  // first connection at start-up
  std::uint32_t op_timeout_ms = 2'000;       // each key-value operation and request default
  std::uint32_t reconnect_wait_ms = 250;     // between reconnect attempts
};

/// [postgres]: the PostgreSQL store (store.kind = "postgres").
struct PostgresConfig {
  std::string conninfo;                      // libpq connection string; required for postgres
  std::uint32_t pool_size = 4;               // connections per node
  std::uint32_t statement_timeout_ms = 2'000;
  std::uint32_t connect_timeout_ms = 2'000;  // per connection attempt
  std::uint32_t max_retries = 3;             // transient errors (connection lost, serialization)
};

/// [membership]: the live view of the cluster's nodes.
struct MembershipConfig {
  std::uint32_t heartbeat_ms = 1'000;        // each node announces itself this often
  std::uint32_t timeout_ms = 3'000;          // a node silent this long is out of the view
};

struct Config {
  std::string node_name = "node-1";
  std::string data_dir = "./data";
  std::uint32_t shards = 0;                // 0 = one per core
  std::string log_level = "info";
  std::vector<std::string> roles = {"edge", "host", "gateway", "matchmaker"};
  std::string backbone = "inproc";         // "inproc" (one node) | "nats"
  std::string store = "sqlite";            // "sqlite" (one node) | "postgres"
  std::string sqlite_path;                 // empty = <data_dir>/switchboard.db
  std::string admin_token;                 // bearer token for admin POST/PUT/DELETE; empty = off
  ListenConfig listen;
  SessionConfig session;
  AuthConfig auth;
  LobbyConfig lobby;
  NatsConfig nats;
  PostgresConfig postgres;
  MembershipConfig membership;
};

/// Parses TOML text into a Config on top of `base`. Throws std::runtime_error on a syntax error,
/// an unknown key or a value of the wrong type or range.
Config parse_toml(const std::string& text, Config base = {});

/// Applies one `section.key=value` override (value in TOML syntax, bare strings allowed).
void apply_override(Config& config, const std::string& assignment);

/// Full command line: --config FILE, --set k=v (repeatable), and shortcut flags. Returns false
/// if the caller should exit (e.g. --help printed). Throws std::runtime_error on errors.
bool load(int argc, char** argv, Config& out);

}  // namespace sb::config
