// sb-bots: load generator for a Switchboard cluster.
//
// Each bot connects (TCP or WebSocket), says Hello, logs in or registers, sits in the lobby and
// chats at --chat-rate messages per second with Poisson timing; receivers measure delivery latency
// from the sender's CLOCK_MONOTONIC tag. A live line goes to stderr each second and a JSON summary
// to --json at the end (schema in run_modes.hpp). One io_context thread per process; above ~15,000
// bots (the machine allows 20,000 open files per process) the bots are spread over --procs child
// processes, which are this binary re-executed with the hidden --child flags.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fmt/format.h>
#include <map>
#include <string>

#include "run_modes.hpp"

namespace {

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
rlim_t raise_nofile() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  using sb::bots::LoginMode;
  sb::bots::RunConfig config;
  auto& fleet = config.fleet;
  auto& client = fleet.client;
  client.client_name = "sb-bots/0.1";
  client.auto_reconnect = true;

  CLI::App app{"sb-bots: Switchboard load generator"};
  bool ws = false;
  int procs = 0;
  bool child = false;
  std::int64_t connect_timeout_ms = client.connect_timeout.count();
  std::int64_t request_timeout_ms = client.request_timeout.count();
  std::int64_t backoff_base_ms = client.backoff_base.count();
  std::int64_t backoff_cap_ms = client.backoff_cap.count();
  std::uint64_t first_index = 0;
  std::uint64_t count = 0;
  const std::map<std::string, LoginMode> modes{{"register-or-login", LoginMode::register_or_login},
                                               {"register", LoginMode::register_only},
                                               {"login", LoginMode::login_only}};

  app.add_option("--host", client.host, "server address")->capture_default_str();
  app.add_option("--port", client.port, "server port")->required();
  app.add_flag("--ws", ws, "use WebSocket instead of TCP");
  app.add_option("--bots", config.total_bots, "number of bots")->capture_default_str();
  app.add_option("--duration", config.duration_s, "run time in seconds")->capture_default_str();
  app.add_option("--chat-rate", fleet.chat_rate, "chat messages per bot per second (0 = none)")
      ->capture_default_str();
  app.add_option("--ramp", fleet.ramp, "new connections per second")->capture_default_str();
  app.add_option("--prefix", fleet.prefix, "usernames are PREFIX<i>")->capture_default_str();
  app.add_option("--password", fleet.password, "password of every bot")->capture_default_str();
  app.add_option("--zone", fleet.zone, "lobby zone (empty = server default)");
  app.add_option("--mode", config.mode_name, "register-or-login | register | login")
      ->check(CLI::IsMember({"register-or-login", "register", "login"}))
      ->capture_default_str();
  app.add_option("--procs", procs, "bot processes (default ceil(bots / 15000))");
  app.add_option("--drop-at", config.drop_at_s,
                 "seconds after all bots are logged in at which every bot drops its connection "
                 "and resumes with its token");
  app.add_option("--json", config.json_path, "final JSON summary file ('-' = stdout)");
  app.add_option("--text-bytes", fleet.text_bytes, "chat text size in bytes")->capture_default_str();
  app.add_flag("--quiet", config.quiet, "no live line");
  app.add_option("--source-ips", fleet.source_ips,
                 "spread connections over source addresses 127.0.0.1..127.0.0.N (more than ~28k "
                 "connections to one server port need N > 1)")
      ->capture_default_str();
  app.add_option("--connect-timeout-ms", connect_timeout_ms)->capture_default_str();
  app.add_option("--request-timeout-ms", request_timeout_ms)->capture_default_str();
  app.add_option("--backoff-base-ms", backoff_base_ms, "reconnect backoff base")->capture_default_str();
  app.add_option("--backoff-cap-ms", backoff_cap_ms, "reconnect backoff cap")->capture_default_str();
  app.add_option("--seed", fleet.seed, "random seed (0 = random)");
  std::vector<std::string> game_params;
  app.add_option("--scenario", fleet.scenario, "lobby (chat) | poker | ctf")
      ->check(CLI::IsMember({"lobby", "poker", "ctf"}))
      ->capture_default_str();
  app.add_option("--game-zone", fleet.game_zone, "zone of the game rooms (empty = the bot's zone)");
  app.add_option("--game-param", game_params, "KEY=VALUE parameter for new game rooms (repeatable)");
  app.add_flag("--join-after-all-in", fleet.join_after_all_in,
               "game bots join games only once every bot of the process is logged in");
  // Hidden: how the parent starts its children.
  app.add_flag("--child", child)->group("");
  app.add_option("--first-index", first_index)->group("");
  app.add_option("--count", count)->group("");
  CLI11_PARSE(app, argc, argv);

  if (ws) client.transport = sb::client::ClientOptions::Transport::websocket;
  client.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
  client.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  client.backoff_base = std::chrono::milliseconds(backoff_base_ms);
  client.backoff_cap = std::chrono::milliseconds(backoff_cap_ms);
  fleet.mode = modes.at(config.mode_name);
  for (const auto& kv : game_params) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fmt::print(stderr, "sb-bots: --game-param wants KEY=VALUE, got '{}'\n", kv);
      return 2;
    }
    fleet.game_params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (fleet.chat_rate < 0 || fleet.ramp <= 0 || config.duration_s <= 0 || fleet.source_ips < 1 ||
      fleet.source_ips > 254) {
    fmt::print(stderr, "sb-bots: --chat-rate >= 0, --ramp > 0, --duration > 0, 1 <= --source-ips <= 254\n");
    return 2;
  }
  config.procs = procs > 0 ? procs
                           : static_cast<int>(std::max<std::uint64_t>(1, (config.total_bots + 14999) / 15000));
  if (static_cast<std::uint64_t>(config.procs) > std::max<std::uint64_t>(1, config.total_bots)) {
    config.procs = static_cast<int>(std::max<std::uint64_t>(1, config.total_bots));
  }

  std::signal(SIGPIPE, SIG_IGN);
  const rlim_t files = raise_nofile();

  try {
    if (child) {
      fleet.first_index = first_index;
      fleet.count = count;
      return sb::bots::run_child(config);
    }
    if (config.procs > 1) return sb::bots::run_parent(config);
    fleet.first_index = 0;
    fleet.count = config.total_bots;
    if (files != 0 && config.total_bots + 64 > files) {
      fmt::print(stderr, "sb-bots: warning: {} bots but only {} open files allowed; use --procs\n",
                 config.total_bots, static_cast<unsigned long long>(files));
    }
    return sb::bots::run_single(config);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sb-bots: {}\n", e.what());
    return 1;
  }
}
