// Membership timings with the default heartbeat (1000 ms) and timeout (3000 ms): three membership
// shells on one in-process backbone, then a fourth joining, leaving cleanly, and going silent
// (as kill -9) at a random moment of its heartbeat. Prints, per trial, how long until every
// other node's view agreed. Over NATS add the network delivery of one message.
// Usage: membership_bench [trials=5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "backbone/backbone.hpp"
#include "cluster/membership.hpp"

using namespace std::chrono;
using sb::cluster::Membership;

namespace {

bool sees(const Membership& m, const std::string& node) {
  for (const auto& e : m.view()) {
    if (e.node == node) return true;
  }
  return false;
}

// Milliseconds until pred() holds (polled every 100 µs), or -1 after 10 s.
template <class Pred>
double until(Pred pred) {
  const auto t0 = steady_clock::now();
  while (!pred()) {
    if (steady_clock::now() - t0 > seconds(10)) return -1;
    std::this_thread::sleep_for(microseconds(100));
  }
  return duration<double, std::milli>(steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 5;
  spdlog::set_level(spdlog::level::warn);
  auto backbone = sb::backbone::make_inproc_backbone();
  sb::metrics::Registry registry;
  sb::SystemClock clock;
  auto make = [&](const std::string& name) {
    sb::cluster::MembershipOptions o;
    o.node = name;
    o.roles = {"edge"};
    return std::make_unique<Membership>(*backbone, registry, clock, o, [] { return sb::cluster::NodeLoad{}; });
  };
  std::vector<std::unique_ptr<Membership>> fixed;
  for (const char* n : {"a", "b", "c"}) {
    fixed.push_back(make(n));
    if (!fixed.back()->start()) return 1;
  }
  auto all_see = [&](const std::string& n, bool want) {
    for (auto& m : fixed) {
      if (sees(*m, n) != want) return false;
    }
    return true;
  };
  std::mt19937 rng(42);
  std::printf("trial  join_ms  leave_ms  silent_ms(after kill)  kill_phase_ms\n");
  for (int t = 0; t < trials; ++t) {
    auto d = make("d" + std::to_string(t));
    const std::string name = "d" + std::to_string(t);
    if (!d->start()) return 1;
    const double join = until([&] { return all_see(name, true) && d->view().size() == 4; });
    const auto s0 = steady_clock::now();
    d->stop();
    until([&] { return all_see(name, false); });
    const double leave = duration<double, std::milli>(steady_clock::now() - s0).count();
    // Start it again, let it run for a random part of a heartbeat after a few beats, then silence.
    auto e = make(name + "x");
    if (!e->start()) return 1;
    until([&] { return all_see(name + "x", true); });
    const int phase = std::uniform_int_distribution<int>(0, 999)(rng);
    std::this_thread::sleep_for(milliseconds(2000 + phase));
    e->stop_silently();
    const double silent = until([&] { return all_see(name + "x", false); });
    std::printf("%5d  %7.2f  %8.2f  %21.1f  %13d\n", t, join, leave, silent, phase);
  }
  for (auto& m : fixed) m->stop();
  return 0;
}
