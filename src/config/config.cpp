#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <functional>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

namespace sb::config {
namespace {

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  throw std::runtime_error("config: " + key + ": " + what);
}

template <class T>
void read_int(const toml::node& node, const std::string& key, T& out) {
  // value<int64_t>() alone would also take `true` and integral floats such as 2.0.
  auto v = node.value<std::int64_t>();
  if (!node.is_integer() || !v) bad(key, "expected an integer");
  // Negative values are compared as signed: a cast to unsigned would make -5 "too large".
  if (*v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      (*v > 0 &&
       static_cast<std::uint64_t>(*v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
    bad(key, "out of range");
  out = static_cast<T>(*v);
}

void read(const toml::node& node, const std::string& key, std::string& out) {
  auto v = node.value<std::string>();
  if (!v) bad(key, "expected a string");
  out = *v;
}
void read(const toml::node& node, const std::string& key, double& out) {
  auto v = node.value<double>();
  if (!v) bad(key, "expected a number");
  if (*v < 0) bad(key, "must not be negative");
  out = *v;
}
void read(const toml::node& node, const std::string& key, bool& out) {
  auto v = node.value_exact<bool>();
  if (!v) bad(key, "expected true or false");
  out = *v;
}
void read(const toml::node& node, const std::string& key, std::vector<std::string>& out) {
  const auto* arr = node.as_array();
  if (!arr) bad(key, "expected an array of strings");
  std::vector<std::string> v;
  for (const auto& item : *arr) {
    auto str = item.value<std::string>();
    if (!item.is_string() || !str) bad(key, "expected an array of strings");
    v.push_back(*str);
  }
  out = std::move(v);
}
void read(const toml::node& node, const std::string& key, std::uint16_t& out) { read_int(node, key, out); }
void read(const toml::node& node, const std::string& key, std::uint32_t& out) { read_int(node, key, out); }
void read(const toml::node& node, const std::string& key, std::uint64_t& out) { read_int(node, key, out); }
void read(const toml::node& node, const std::string& key, int& out) { read_int(node, key, out); }

// One table of "key -> setter" per section keeps the key list in one place.
using Setter = std::function<void(Config&, const toml::node&, const std::string&)>;
#define SB_KEY(path, member) \
  {path, [](Config& c, const toml::node& n, const std::string& k) { read(n, k, c.member); }}

const std::vector<std::pair<std::string, Setter>>& keys() {
  static const std::vector<std::pair<std::string, Setter>> table = {
      SB_KEY("node.name", node_name),
      SB_KEY("node.data_dir", data_dir),
      SB_KEY("node.shards", shards),
      SB_KEY("node.log_level", log_level),
      SB_KEY("node.backbone", backbone),
      SB_KEY("node.roles", roles),
      SB_KEY("node.admin_token", admin_token),
      SB_KEY("store.kind", store),
      SB_KEY("store.sqlite_path", sqlite_path),
      SB_KEY("listen.host", listen.host),
      SB_KEY("listen.tcp_port", listen.tcp_port),
      SB_KEY("listen.ws_port", listen.ws_port),
      SB_KEY("listen.admin_port", listen.admin_port),
      SB_KEY("listen.admin_host", listen.admin_host),
      SB_KEY("listen.backlog", listen.backlog),
      SB_KEY("session.max_frame_bytes", session.max_frame_bytes),
      SB_KEY("session.send_queue_bytes", session.send_queue_bytes),
      SB_KEY("session.heartbeat_interval_ms", session.heartbeat_interval_ms),
      SB_KEY("session.heartbeat_timeout_ms", session.heartbeat_timeout_ms),
      SB_KEY("session.idle_timeout_ms", session.idle_timeout_ms),
      SB_KEY("session.login_timeout_ms", session.login_timeout_ms),
      SB_KEY("session.session_grace_ms", session.session_grace_ms),
      SB_KEY("session.max_errors", session.max_errors),
      SB_KEY("session.max_connections", session.max_connections),
      SB_KEY("session.game_rate", session.game_rate),
      SB_KEY("session.game_burst", session.game_burst),
      SB_KEY("auth.workers", auth.workers),
      SB_KEY("auth.max_queue", auth.max_queue),
      SB_KEY("auth.worker_nice", auth.worker_nice),
      SB_KEY("auth.argon2_ops", auth.argon2_ops),
      SB_KEY("auth.argon2_mem_kib", auth.argon2_mem_kib),
      SB_KEY("auth.address_rate", auth.address_rate),
      SB_KEY("auth.address_burst", auth.address_burst),
      SB_KEY("auth.account_rate", auth.account_rate),
      SB_KEY("auth.account_burst", auth.account_burst),
      SB_KEY("auth.password_min", auth.password_min),
      SB_KEY("auth.password_max", auth.password_max),
      SB_KEY("auth.token_ttl_s", auth.token_ttl_s),
      SB_KEY("auth.token_secret_hex", auth.token_secret_hex),
      SB_KEY("lobby.capacity", lobby.capacity),
      SB_KEY("lobby.default_zone", lobby.default_zone),
      SB_KEY("lobby.log_size", lobby.log_size),
      SB_KEY("lobby.count_push_ms", lobby.count_push_ms),
      SB_KEY("lobby.chat_max_bytes", lobby.chat_max_bytes),
      SB_KEY("lobby.presence_events", lobby.presence_events),
      SB_KEY("nats.servers", nats.servers),
      SB_KEY("nats.kv_bucket", nats.kv_bucket),
      SB_KEY("nats.kv_replicas", nats.kv_replicas),
      SB_KEY("nats.connect_timeout_ms", nats.connect_timeout_ms),
      SB_KEY("nats.op_timeout_ms", nats.op_timeout_ms),
      SB_KEY("nats.reconnect_wait_ms", nats.reconnect_wait_ms),
      SB_KEY("postgres.conninfo", postgres.conninfo),
      SB_KEY("postgres.pool_size", postgres.pool_size),
      SB_KEY("postgres.statement_timeout_ms", postgres.statement_timeout_ms),
      SB_KEY("postgres.connect_timeout_ms", postgres.connect_timeout_ms),
      SB_KEY("postgres.max_retries", postgres.max_retries),
      SB_KEY("membership.heartbeat_ms", membership.heartbeat_ms),
      SB_KEY("membership.timeout_ms", membership.timeout_ms),
  };
  return table;
}
#undef SB_KEY

void apply(Config& config, const std::string& key, const toml::node& node) {
  for (const auto& [k, setter] : keys()) {
    if (k == key) {
      setter(config, node, key);
      return;
    }
  }
  bad(key, "unknown key");
}

void validate(const Config& c) {
  if (c.session.max_frame_bytes < 256) bad("session.max_frame_bytes", "must be at least 256");
  if (c.session.send_queue_bytes < c.session.max_frame_bytes)
    bad("session.send_queue_bytes", "must be at least max_frame_bytes");
  if (c.lobby.capacity == 0) bad("lobby.capacity", "must be positive");
  if (c.auth.workers == 0) bad("auth.workers", "must be positive");
  if (c.auth.argon2_mem_kib < 8) bad("auth.argon2_mem_kib", "must be at least 8");
  if (c.auth.argon2_ops < 1) bad("auth.argon2_ops", "must be at least 1");
  if (c.backbone != "inproc" && c.backbone != "nats") bad("node.backbone", "\"inproc\" or \"nats\"");
  if (c.store != "sqlite" && c.store != "postgres") bad("store.kind", "\"sqlite\" or \"postgres\"");
  if (c.backbone == "nats" && c.nats.servers.empty())
    bad("nats.servers", "required with node.backbone = \"nats\" (e.g. [\"nats://127.0.0.1:4222\"])");
  for (const auto& url : c.nats.servers) {
    if (!url.starts_with("nats://") && !url.starts_with("tls://"))
      bad("nats.servers", "\"" + url + "\" is not a nats:// or tls:// URL");
  }
  if (c.nats.kv_replicas < 1 || c.nats.kv_replicas > 5) bad("nats.kv_replicas", "1..5");
  if (c.nats.op_timeout_ms == 0) bad("nats.op_timeout_ms", "must be positive");
  if (c.store == "postgres" && c.postgres.conninfo.empty())
    bad("postgres.conninfo", "required with store.kind = \"postgres\" (a libpq connection string)");
  if (c.postgres.pool_size == 0 || c.postgres.pool_size > 256) bad("postgres.pool_size", "1..256");
  if (c.postgres.statement_timeout_ms == 0) bad("postgres.statement_timeout_ms", "must be positive");
  // A cluster shares its accounts and bans: every node must see the same database, which one
  // node's SQLite file cannot be.
  if (c.backbone == "nats" && c.store == "sqlite")
    bad("store.kind", "a cluster (node.backbone = \"nats\") needs store.kind = \"postgres\": "
                      "a SQLite file belongs to one node");
  if (c.membership.heartbeat_ms == 0) bad("membership.heartbeat_ms", "must be positive");
  if (c.membership.timeout_ms <= c.membership.heartbeat_ms)
    bad("membership.timeout_ms", "must exceed membership.heartbeat_ms");
  static const char* known_roles[] = {"edge", "host", "gateway", "matchmaker"};
  if (c.roles.empty()) bad("node.roles", "at least one of edge, host, gateway, matchmaker");
  for (const auto& r : c.roles) {
    if (std::find(std::begin(known_roles), std::end(known_roles), r) == std::end(known_roles))
      bad("node.roles", "unknown role \"" + r + "\" (edge, host, gateway, matchmaker)");
  }
  if (c.shards > 64) bad("node.shards", "at most 64");
  auto token_ok = [](const std::string& v, bool dots) {
    if (v.empty() || v.size() > 32) return false;
    for (char ch : v) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && !(dots && ch == '.')) return false;
    }
    return true;
  };
  if (!token_ok(c.node_name, false)) bad("node.name", "1..32 chars of [A-Za-z0-9_-]");
  if (!token_ok(c.lobby.default_zone, false)) bad("lobby.default_zone", "1..32 chars of [A-Za-z0-9_-]");
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(levels), std::end(levels), c.log_level) == std::end(levels))
    bad("node.log_level", "one of trace, debug, info, warn, error, critical, off");
  if (c.listen.tcp_port != 0 && c.listen.tcp_port == c.listen.ws_port)
    bad("listen.ws_port", "must differ from listen.tcp_port");
  if (c.lobby.count_push_ms == 0) bad("lobby.count_push_ms", "must be positive");
  if (c.lobby.log_size == 0) bad("lobby.log_size", "must be positive");
  if (c.auth.password_min > c.auth.password_max) bad("auth.password_min", "must not exceed auth.password_max");
  if (c.session.heartbeat_interval_ms >= c.session.heartbeat_timeout_ms)
    bad("session.heartbeat_interval_ms", "must be below session.heartbeat_timeout_ms");
}

// parse_toml and apply_override without the final validation: load() validates only the result
// of all layers, so that a later layer may complete an earlier one (a larger max_frame_bytes in
// the file, the matching send_queue_bytes in a --set) whatever the order.
void merge_toml(const std::string& text, Config& config) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config: " << e.description() << " at line " << e.source().begin.line;
    throw std::runtime_error(os.str());
  }
  for (const auto& [section, node] : root) {
    const auto* table = node.as_table();
    if (!table) bad(std::string(section.str()), "expected a [section]");
    for (const auto& [key, value] : *table) {
      apply(config, std::string(section.str()) + "." + std::string(key.str()), value);
    }
  }
}

void merge_override(Config& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos) bad(assignment, "expected section.key=value");
  const std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    // Bare words are taken as strings: --set node.name=edge-2
    std::string quoted = "\"";
    for (char ch : value) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    parsed = toml::parse("v = " + quoted + "\"");
  }
  apply(config, key, *parsed.get("v"));
}

}  // namespace

Config parse_toml(const std::string& text, Config base) {
  merge_toml(text, base);
  validate(base);
  return base;
}

void apply_override(Config& config, const std::string& assignment) {
  merge_override(config, assignment);
  validate(config);
}

bool load(int argc, char** argv, Config& out) {
  CLI::App app{"switchboard: a game-server node"};
  std::string config_file;
  std::vector<std::string> sets;
  std::optional<std::uint16_t> tcp_port, ws_port, admin_port;
  std::optional<std::uint32_t> shards;
  std::optional<std::string> data_dir, node_name, host;
  app.add_option("-c,--config", config_file, "TOML configuration file");
  app.add_option("--set", sets, "Override a key: section.key=value (repeatable)");
  app.add_option("--tcp-port", tcp_port, "listen.tcp_port");
  app.add_option("--ws-port", ws_port, "listen.ws_port");
  app.add_option("--admin-port", admin_port, "listen.admin_port");
  app.add_option("--host", host, "listen.host");
  app.add_option("--shards", shards, "node.shards (0 = one per core)");
  app.add_option("--data-dir", data_dir, "node.data_dir");
  app.add_option("--node", node_name, "node.name");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return false;
  } catch (const CLI::ParseError& e) {
    throw std::runtime_error(std::string("command line: ") + e.what());
  }
  Config config;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) throw std::runtime_error("config: cannot open " + config_file);
    std::stringstream ss;
    ss << in.rdbuf();
    merge_toml(ss.str(), config);
  }
  for (const auto& s : sets) merge_override(config, s);
  if (tcp_port) config.listen.tcp_port = *tcp_port;
  if (ws_port) config.listen.ws_port = *ws_port;
  if (admin_port) config.listen.admin_port = *admin_port;
  if (host) config.listen.host = *host;
  if (shards) config.shards = *shards;
  if (data_dir) config.data_dir = *data_dir;
  if (node_name) config.node_name = *node_name;
  validate(config);
  out = std::move(config);
  return true;
}

}  // namespace sb::config
