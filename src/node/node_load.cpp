#include "node/node_load.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace sb::node {

namespace {

// utime + stime of this process in seconds (fields 14 and 15 of /proc/self/stat); -1 if unreadable.
double process_cpu_seconds() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const auto close = line.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::uint32_t clamp_u32(std::int64_t v) { return v < 0 ? 0u : static_cast<std::uint32_t>(v); }

}  // namespace

NodeLoadSampler::NodeLoadSampler(NodeMetrics& metrics, std::uint32_t shards) : metrics_(metrics) {
  // The shards register sb_event_loop_lag_seconds{shard=i}; the registry hands back the same cells.
  for (std::uint32_t i = 0; i < shards; ++i) {
    lag_.push_back(&metrics_.registry.histogram(
        "sb_event_loop_lag_seconds", "Delay of a 100 ms timer on each shard's event loop",
        {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, {{"shard", std::to_string(i)}}));
  }
}

cluster::NodeLoad NodeLoadSampler::sample() {
  using session::State;
  cluster::NodeLoad l;
  l.sessions = clamp_u32(metrics_.sessions(State::authenticated).value() + metrics_.sessions(State::in_lobby).value() +
                         metrics_.sessions(State::in_room).value() + metrics_.sessions_detached.value());
  l.connections = clamp_u32(metrics_.connections.value());
  l.rooms = clamp_u32(metrics_.rooms.value());
  l.players_in_rooms = clamp_u32(metrics_.sessions(State::in_room).value());

  const auto wall = std::chrono::steady_clock::now();
  const double cpu = process_cpu_seconds();
  if (cpu_prev_s_ >= 0 && cpu >= 0 && wall > wall_prev_) {
    const double dt = std::chrono::duration<double>(wall - wall_prev_).count();
    l.cpu_percent = static_cast<float>(100.0 * (cpu - cpu_prev_s_) / dt);
  }
  cpu_prev_s_ = cpu;
  wall_prev_ = wall;

  // p99 of the lag samples taken since the previous call: the upper bound of the bucket where the
  // 99th percentile falls (the last bound when it falls past it).
  if (!lag_.empty()) {
    const auto& bounds = lag_.front()->bounds();
    std::vector<std::uint64_t> now(bounds.size() + 1, 0);
    for (auto* h : lag_) {
      for (std::size_t b = 0; b < now.size() && b < h->bounds().size() + 1; ++b) now[b] += h->bucket(b);
    }
    if (lag_prev_.size() != now.size()) lag_prev_.assign(now.size(), 0);
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < now.size(); ++b) total += now[b] - lag_prev_[b];
    if (total > 0) {
      const double want = 0.99 * static_cast<double>(total);
      std::uint64_t seen = 0;
      for (std::size_t b = 0; b < now.size(); ++b) {
        seen += now[b] - lag_prev_[b];
        if (static_cast<double>(seen) >= want) {
          l.loop_lag_p99_ms = static_cast<float>(1000.0 * bounds[std::min(b, bounds.size() - 1)]);
          break;
        }
      }
    }
    lag_prev_ = std::move(now);
  }
  return l;
}

}  // namespace sb::node
