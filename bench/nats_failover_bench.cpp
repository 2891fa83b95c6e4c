// NATS failover benchmark (not a test): a three-server nats-server cluster with JetStream on
// loopback (started here), one NatsBackbone with an R3 bucket connected to all three; an
// asynchronous kv_put every 20 ms while the server leading the bucket is killed with -9. Prints
// how long writes failed, with which errors, and the slowest completion (nothing may block
// longer than the op timeout). Usage: nats_failover_bench [--seconds N]. docs/benchmarks.md §8.
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../tests/fakes/nats_server.hpp"
#include "../tests/fakes/queue_executor.hpp"
#include "backbone/nats_backbone.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The name of the server leading the bucket's stream, from $JS.API.STREAM.INFO.
std::string stream_leader(const std::string& url, const std::string& stream) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return "";
  natsMsg* reply = nullptr;
  std::string leader;
  const std::string subject = "$JS.API.STREAM.INFO." + stream;
  if (natsConnection_RequestString(&reply, nc, subject.c_str(), "", 2000) == NATS_OK) {
    const std::string json(natsMsg_GetData(reply),
                           static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    const std::string needle = "\"leader\":\"";
    if (auto at = json.find(needle); at != std::string::npos) {
      leader =
          json.substr(at + needle.size(), json.find('"', at + needle.size()) - at - needle.size());
    }
    natsMsg_Destroy(reply);
  }
  natsConnection_Destroy(nc);
  return leader;
}

struct Outcome {
  Clock::time_point start;
  double latency_ms;
  std::string code;
};

}  // namespace

int main(int argc, char** argv) {
  int seconds = 14;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
  }
  const int cluster_ports[3] = {sb::test::NatsServer::free_port(),
                                sb::test::NatsServer::free_port(),
                                sb::test::NatsServer::free_port()};
  std::string routes;
  for (int p : cluster_ports)
    routes += (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(p));
  std::vector<std::unique_ptr<sb::test::NatsServer>> servers;
  std::vector<std::string> urls;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(std::make_unique<sb::test::NatsServer>(std::vector<std::string>{
        "-n", "n" + std::to_string(i + 1), "--cluster_name", "sb", "--cluster",
        "nats://127.0.0.1:" + std::to_string(cluster_ports[i]), "--routes", routes}));
    if (std::string e = servers.back()->start(); !e.empty()) {
      std::fprintf(stderr, "cannot start nats-server n%d: %s\n", i + 1, e.c_str());
      return 1;
    }
    urls.push_back(servers.back()->url());
  }
  sb::backbone::NatsOptions o;
  o.servers = urls;
  o.bucket = "r3";
  o.replicas = 3;
  o.reconnect_wait = 100ms;
  std::unique_ptr<sb::backbone::Backbone> bb;
  const auto formed_by = Clock::now() + 20s;
  const auto t_form = Clock::now();
  while (!bb && Clock::now() < formed_by) {
    try {
      bb = sb::backbone::make_nats_backbone(o);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(200ms);  // the cluster and its JetStream meta leader form
    }
  }
  if (!bb) {
    std::fprintf(stderr, "the cluster did not accept an R3 bucket within 20 s\n");
    return 1;
  }
  std::printf("cluster formed, R3 bucket created after %.0f ms\n",
              ms_between(t_form, Clock::now()));
  const std::string leader = stream_leader(urls[0], "KV_r3");
  const int victim = leader.size() == 2 ? leader[1] - '1' : -1;
  if (victim < 0 || victim > 2) {
    std::fprintf(stderr, "no stream leader found (%s)\n", leader.c_str());
    return 1;
  }

  auto ex = std::make_shared<sb::test::QueueExecutor>();
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  const auto t0 = Clock::now();
  Clock::time_point killed_at;
  bool killed = false;
  for (int i = 0; Clock::now() < t0 + std::chrono::seconds(seconds); ++i) {
    if (!killed && Clock::now() >= t0 + 2s) {
      servers[static_cast<std::size_t>(victim)]->kill9();
      killed_at = Clock::now();
      killed = true;
    }
    const auto start = Clock::now();
    bb->kv_put("fo.k" + std::to_string(i % 10), "v", {}, ex,
               [&mutex, &outcomes, start](sb::Result<std::uint64_t> r) {
                 std::lock_guard lock(mutex);
                 outcomes.push_back(
                     {start, ms_between(start, Clock::now()),
                      std::string(sb::errc_name(r ? sb::Errc::ok : sb::to_errc(r.error())))});
               });
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(3s);  // the last completions (op timeout 2 s)
  ex->stop();
  std::lock_guard lock(mutex);
  std::sort(outcomes.begin(), outcomes.end(),
            [](const Outcome& a, const Outcome& b) { return a.start < b.start; });
  std::map<std::string, int> codes;
  double slowest = 0;
  Clock::time_point first_fail{}, last_fail{};
  for (const Outcome& oc : outcomes) {
    ++codes[oc.code];
    slowest = std::max(slowest, oc.latency_ms);
    if (oc.code != "ok") {
      if (first_fail == Clock::time_point{}) first_fail = oc.start;
      last_fail = oc.start;
    }
  }
  std::printf("killed %s (the bucket's leader) with -9 at t=2 s; %zu puts, one per 20 ms\n",
              leader.c_str(), outcomes.size());
  for (const auto& [c, n] : codes) std::printf("  %-12s %d\n", c.c_str(), n);
  if (first_fail != Clock::time_point{}) {
    std::printf("writes failed from +%.0f ms to +%.0f ms after the kill (window %.0f ms)\n",
                ms_between(killed_at, first_fail), ms_between(killed_at, last_fail),
                ms_between(first_fail, last_fail));
  }
  std::printf("slowest completion %.0f ms (op timeout %lld ms); new leader %s\n", slowest,
              static_cast<long long>(o.op_timeout.count()),
              stream_leader(urls[static_cast<std::size_t>((victim + 1) % 3)], "KV_r3").c_str());
  return 0;
}
