// NATS backbone benchmark (not a test): over one nats-server on loopback, in one run,
//  1. raw libnats: one connection publishes 64-byte messages, another's async subscription
//     counts them (what nats-bench does; Debian ships no nats-bench);
//  2. the Backbone: one NatsBackbone instance publishes the same messages, another's
//     subscription receives them on an executor thread (how nodes use it);
//  3. request/reply round trips between two instances, with and without send-asap;
//  4. KV watch propagation: a put on one instance seen by a watch on another, p50/p99;
//  5. threads for 1,000 subscriptions with and without libnats's global delivery pool.
// Usage: nats_backbone_bench [--url nats://host:port] [--count N]. Without --url it starts its
// own nats-server (JetStream, free port, temporary store). Figures: docs/benchmarks.md.
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "../tests/fakes/nats_server.hpp"
#include "../tests/fakes/queue_executor.hpp"
#include "backbone/nats_backbone.hpp"

namespace {

using namespace std::chrono_literals;
using sb::backbone::Backbone;
using sb::backbone::NatsOptions;
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string payload64() { return std::string(64, 'x'); }

// ---- 1. raw libnats

std::atomic<std::int64_t> raw_received{0};
void raw_on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void*) {
  raw_received.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

void raw(const std::string& url, int count, bool send_asap) {
  natsConnection *pub = nullptr, *sub_conn = nullptr;
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetSendAsap(o, send_asap);
  if (natsConnection_Connect(&pub, o) != NATS_OK ||
      natsConnection_Connect(&sub_conn, o) != NATS_OK) {
    std::printf("raw: cannot connect\n");
    return;
  }
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(&sub, sub_conn, "bench.raw", raw_on_msg, nullptr);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(sub_conn);
  const std::string data = payload64();
  raw_received = 0;
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    natsConnection_Publish(pub, "bench.raw", data.data(), static_cast<int>(data.size()));
  }
  natsConnection_Flush(pub);
  const double pub_s = seconds_since(start);
  const auto deadline = Clock::now() + 30s;
  while (raw_received.load() < count && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  const double all_s = seconds_since(start);
  std::printf("raw libnats (asap=%d): publish %9.0f msg/s, received %lld/%d at %9.0f msg/s\n",
              send_asap, count / pub_s, static_cast<long long>(raw_received.load()), count,
              static_cast<double>(raw_received.load()) / all_s);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub_conn);
  natsOptions_Destroy(o);
}

// ---- 2. backbone to backbone

NatsOptions options(const std::string& url, bool send_asap, bool global) {
  NatsOptions o;
  o.servers = {url};
  o.bucket = "bench";
  o.name = "bench";
  o.send_asap = send_asap;
  o.global_delivery = global;
  return o;
}

void backbone_throughput(const std::string& url, int count, bool send_asap) {
  auto a = sb::backbone::make_nats_backbone(options(url, send_asap, true));
  auto b = sb::backbone::make_nats_backbone(options(url, send_asap, true));
  auto ex = std::make_shared<sb::test::QueueExecutor>();
  auto received = std::make_shared<std::atomic<std::int64_t>>(0);
  (void)a->subscribe("bench.bb", "", ex, [received](sb::backbone::Message) { ++*received; });
  std::this_thread::sleep_for(100ms);  // the subscription reaches the server
  const std::string data = payload64();
  const auto start = Clock::now();
  int failed = 0;
  for (int i = 0; i < count; ++i) failed += b->publish("bench.bb", data) ? 0 : 1;
  const double pub_s = seconds_since(start);
  const auto deadline = Clock::now() + 30s;
  std::int64_t last = -1;
  while (received->load() < count && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    if (received->load() == last) break;  // stalled: slow-consumer drops
    last = received->load();
  }
  const double all_s = seconds_since(start);
  std::printf("backbone   (asap=%d): publish %9.0f msg/s, received %lld/%d at %9.0f msg/s%s\n",
              send_asap, count / pub_s, static_cast<long long>(received->load()), count,
              static_cast<double>(received->load()) / all_s, failed ? " (publish failures)" : "");
  ex->stop();
}

// ---- 3. request/reply latency

void percentiles(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  std::printf("%-34s: n=%zu p50 %7.0f us  p99 %7.0f us  max %7.0f us\n", what, us.size(), at(0.5),
              at(0.99), us.back());
}

void request_latency(const std::string& url, bool send_asap) {
  auto a = sb::backbone::make_nats_backbone(options(url, send_asap, true));
  auto b = sb::backbone::make_nats_backbone(options(url, send_asap, true));
  auto service = std::make_shared<sb::test::QueueExecutor>();
  auto caller = std::make_shared<sb::test::QueueExecutor>();
  Backbone* pa = a.get();
  (void)a->subscribe("bench.rpc", "svc", service,
                     [pa](sb::backbone::Message m) { (void)pa->publish(m.reply_to, m.payload); });
  std::this_thread::sleep_for(100ms);
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    std::promise<void> done;
    const auto t0 = Clock::now();
    b->request("bench.rpc", payload64(), 2s, caller,
               [&done](sb::Result<sb::backbone::Message>) { done.set_value(); });
    done.get_future().wait();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  percentiles(send_asap ? "request round trip, send_asap on" : "request round trip, send_asap off",
              us);
  service->stop();
  caller->stop();
}

// ---- 4. KV watch propagation

void watch_propagation(const std::string& url) {
  auto a = sb::backbone::make_nats_backbone(options(url, true, true));
  auto b = sb::backbone::make_nats_backbone(options(url, true, true));
  auto ex = std::make_shared<sb::test::QueueExecutor>();
  auto lat = std::make_shared<std::vector<double>>();
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto failed = std::make_shared<std::atomic<int>>(0);  // puts that did not succeed
  auto watch = a->kv_watch("prop.", false, ex, [lat, seen](sb::backbone::KvEvent e) {
    const std::int64_t sent = std::stoll(e.entry.value);
    lat->push_back(static_cast<double>(now_ns() - sent) / 1000.0);
    ++*seen;
  });
  if (!watch) {
    std::printf("kv put -> watch: kv_watch failed: %s\n", watch.error().message().c_str());
    return;
  }
  constexpr int kPuts = 1000;
  for (int i = 0; i < kPuts; ++i) {
    b->kv_put("prop.k" + std::to_string(i % 10), std::to_string(now_ns()), {}, ex,
              [failed](sb::Result<std::uint64_t> r) {
                if (!r) ++*failed;
              });
    std::this_thread::sleep_for(1ms);
  }
  const auto deadline = Clock::now() + 10s;
  while (seen->load() + failed->load() < kPuts && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ex->stop();
  percentiles("kv put -> watch on other instance", *lat);
  if (failed->load() != 0) std::printf("  (%d of %d puts failed)\n", failed->load(), kPuts);
}

// ---- 4b. asynchronous KV throughput: 20,000 calls in flight from one thread

template <class Start>
void kv_throughput(const char* what, Start start) {
  auto ex = std::make_shared<sb::test::QueueExecutor>();
  auto done = std::make_shared<std::atomic<int>>(0);
  auto failed = std::make_shared<std::atomic<int>>(0);
  constexpr int kOps = 20'000;
  const auto t0 = Clock::now();
  for (int i = 0; i < kOps; ++i) {
    start(i, ex, [done, failed](bool ok) {
      if (!ok) ++*failed;
      ++*done;
    });
  }
  while (done->load() < kOps) std::this_thread::sleep_for(1ms);
  std::printf("%-34s: %7.0f ops/s (%d failed)\n", what, kOps / seconds_since(t0), failed->load());
  ex->stop();
}

void kv_throughput(const std::string& url, int history) {
  NatsOptions o = options(url, true, true);
  o.bucket = "tp" + std::to_string(history);
  o.history = history;
  auto a = sb::backbone::make_nats_backbone(o);
  Backbone* bb = a.get();
  std::printf("bucket with History %d:\n", history);
  kv_throughput("async kv_put (pipelined)", [bb](int i, auto ex, auto note) {
    bb->kv_put("tp.k" + std::to_string(i % 100), payload64(), {}, ex,
               [note](sb::Result<std::uint64_t> r) { note(r.has_value()); });
  });
  kv_throughput("async kv_get (pipelined)", [bb](int i, auto ex, auto note) {
    bb->kv_get("tp.k" + std::to_string(i % 100), ex,
               [note](sb::Result<sb::backbone::KvEntry> r) { note(r.has_value()); });
  });
  kv_throughput("async kv_delete (worker pool)", [bb](int i, auto ex, auto note) {
    bb->kv_delete("tp.k" + std::to_string(i % 100), 0, ex, [note](sb::Status r) {
      note(r || r.error() == sb::make_error_code(sb::Errc::not_found));
    });
  });
}

// The ceiling for a pipelined design: raw libnats asynchronous JetStream publishes into the
// bucket's stream, one connection, acknowledgements awaited at the end.
void raw_js_async(const std::string& url) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return;
  jsCtx* js = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;
  natsConnection_JetStream(&js, nc, &jo);
  constexpr int kOps = 20'000;
  const std::string data = payload64();
  const auto start = Clock::now();
  for (int i = 0; i < kOps; ++i) {
    const std::string subject = "$KV.bench.tp.r" + std::to_string(i % 100);
    js_PublishAsync(js, subject.c_str(), data.data(), static_cast<int>(data.size()), nullptr);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30'000;
  const natsStatus s = js_PublishAsyncComplete(js, &po);
  std::printf("raw js_PublishAsync (pipelined)  : %7.0f ops/s (%s)\n", kOps / seconds_since(start),
              natsStatus_GetText(s));
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// ---- 5. delivery threads

int threads_now() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

void subscription_threads(const std::string& url, bool global) {
  const int before = threads_now();
  auto a = sb::backbone::make_nats_backbone(options(url, true, global));
  auto ex = std::make_shared<sb::test::QueueExecutor>();
  const int with_backbone = threads_now();
  for (int i = 0; i < 1000; ++i) {
    (void)a->subscribe("bench.many." + std::to_string(i), "", ex, [](sb::backbone::Message) {});
  }
  std::printf("1,000 subscriptions, global delivery %-3s: %4d threads (backbone alone %d)\n",
              global ? "on" : "off", threads_now() - before, with_backbone - before);
  ex->stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int count = 500'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--url") == 0) url = argv[i + 1];
    if (std::strcmp(argv[i], "--count") == 0) count = std::atoi(argv[i + 1]);
  }
  sb::test::NatsServer server;
  if (url.empty()) {
    if (std::string error = server.start(); !error.empty()) {
      std::fprintf(stderr, "cannot start nats-server: %s\n", error.c_str());
      return 1;
    }
    url = server.url();
  }
  std::printf("nats-server at %s, %d messages of 64 bytes\n", url.c_str(), count);
  raw(url, count, false);
  raw(url, count, true);
  backbone_throughput(url, count, true);
  backbone_throughput(url, count, false);
  raw(url, count, false);
  request_latency(url, true);
  request_latency(url, false);
  watch_propagation(url);
  kv_throughput(url, 1);
  kv_throughput(url, 64);
  raw_js_async(url);
  subscription_threads(url, true);
  subscription_threads(url, false);
  return 0;
}
