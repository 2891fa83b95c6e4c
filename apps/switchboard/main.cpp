// switchboard: one node. Configuration from a TOML file plus command-line overrides
// (docs/configuration.md); with no arguments, a single node with every role, the in-process
// backbone and a SQLite file in ./data. SIGINT/SIGTERM shut it down gracefully.
#include <csignal>
#include <cstdio>
#include <exception>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include "config/config.hpp"
#if SB_WITH_GAMES
#include "games/ctf/ctf_room.hpp"
#include "games/poker/poker_room.hpp"
#endif
#include "node/node.hpp"
#include "room/room_types.hpp"

int main(int argc, char** argv) {
  // Block the shutdown signals in every thread; main waits for them with sigwait().
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  try {
    sb::config::Config config;
    if (!sb::config::load(argc, argv, config)) return 0;
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
    // The games this node hosts (the lobby and the relay room are built in).
    sb::room::RoomTypes games;
#if SB_WITH_GAMES
    games.add(sb::poker::make_poker_type());
    games.add(sb::ctf::make_ctf_type());
#endif
    sb::node::Node node(config, std::move(games));
    node.start();
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received signal {}, shutting down", sig);
    node.stop(std::chrono::seconds(5));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 1;
  }
}
