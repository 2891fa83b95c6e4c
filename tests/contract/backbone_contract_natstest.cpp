// The backbone contract suite (backbone_contract_suite.hpp) on the NATS backbone against a real
// nats-server with JetStream, started by this binary on a free loopback port (and stopped at the
// end); every test gets a fresh backbone on a fresh bucket. If nats-server cannot be started,
// every test FAILS. Then what only NATS needs: a clear start-up failure, and a server restart
// (kill -9) while subscribed and watching.
#include <filesystem>
#include <stdexcept>

#include "backbone/nats_backbone.hpp"
#include "contract/backbone_contract_suite.hpp"
#include "fakes/nats_server.hpp"

namespace sb::backbone {
namespace {

using test::NatsServer;

// The binary's shared server, started on first use; "" or why it could not start.
NatsServer& shared_server(std::string& error) {
  static NatsServer server;
  static const std::string started = server.start();
  error = started;
  return server;
}

NatsOptions options_for(const std::string& url, const std::string& bucket) {
  NatsOptions o;
  o.servers = {url};
  o.bucket = bucket;
  o.name = "natstest";
  o.op_timeout = 2s;
  o.connect_timeout = 2s;
  o.reconnect_wait = 50ms;
  return o;
}

std::unique_ptr<Backbone> make_test_backbone() {
  static std::atomic<int> bucket_number{0};
  std::string error;
  NatsServer& server = shared_server(error);
  if (!error.empty()) {
    ADD_FAILURE() << "cannot start nats-server: " << error;
    return nullptr;
  }
  return make_nats_backbone(options_for(server.url(), "c" + std::to_string(++bucket_number)));
}

std::vector<BackboneFactory> backbone_factories() {
  return {
      {"nats", make_test_backbone, false},
  };
}

INSTANTIATE_TEST_SUITE_P(All, BackboneContractTest, ::testing::ValuesIn(backbone_factories()),
                         [](const auto& param_info) { return param_info.param.name; });

// ---- what only the NATS backbone needs

TEST(NatsBackboneTest, StartUpWithoutAServerThrowsAClearError) {
  NatsServer unused;  // only for a free port: nothing listens there
  ASSERT_EQ(unused.start(), "");
  const std::string url = unused.url();
  unused.kill9();
  try {
    auto bb = make_nats_backbone(options_for(url, "nope"));
    FAIL() << "connected to a stopped server";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
  }
}

// The backbone's views of one key-value write: a watch event's entry (for recorders).
std::vector<std::string> keys_of(const std::vector<KvEvent>& events) {
  std::vector<std::string> out;
  for (const KvEvent& e : events) out.push_back(e.entry.key + "=" + e.entry.value);
  return out;
}

TEST(NatsBackboneTest, RecoversFromAServerRestartWhileSubscribedAndWatching) {
  NatsServer server;
  ASSERT_EQ(server.start(), "");
  auto a = make_nats_backbone(options_for(server.url(), "restart"));
  auto b = make_nats_backbone(options_for(server.url(), "restart"));
  auto ex = std::make_shared<QueueExecutor>();
  auto messages = std::make_shared<Messages>();
  auto events = std::make_shared<Events>();
  ASSERT_EQ(code(kv_put_sync(*b, "r.a", "1")), "ok");
  ASSERT_TRUE(a->subscribe("t.restart", "", ex, record_to(messages)));
  ASSERT_TRUE(a->kv_watch("r.", true, ex, record_to(events)));
  ASSERT_TRUE(events->wait_size(1));
  ASSERT_TRUE(wait_for([&] {
    (void)b->publish("t.restart", "before");  // until a's subscription has reached the server
    return messages->size() > 0;
  }));
  ASSERT_EQ(code(kv_put_sync(*b, "r.b", "2")), "ok");
  ASSERT_TRUE(events->wait_size(2));

  auto in_flight = std::make_shared<Replies>();  // a request nobody answers, 30 s timeout
  ASSERT_TRUE(b->subscribe("t.silent", "", ex, [](Message) {}));
  a->request("t.silent", "x", 30s, ex, record_to(in_flight));

  server.kill9();
  // The request in flight ends when the connection is lost, not at its timeout.
  ASSERT_TRUE(in_flight->wait_size(1));
  EXPECT_EQ(code(in_flight->items()[0]), "unavailable");
  // While it is down: KV calls and requests fail with unavailable (not a hang, not a timeout).
  // (A call that started before its connection noticed may end in timeout instead: wait until
  // both have noticed.)
  ASSERT_TRUE(wait_for(
      [&] {
        return code(kv_get_sync(*a, "r.a")) == "unavailable" &&
               code(kv_get_sync(*b, "r.a")) == "unavailable";
      },
      20s));
  auto ops = std::make_shared<Recorder<std::string>>();
  a->kv_put("r.c", "x", {}, ex, [ops](Result<std::uint64_t> r) { ops->add(std::string(code(r))); });
  a->kv_get("r.a", ex, [ops](Result<KvEntry> r) { ops->add(std::string(code(r))); });
  a->request("t.svc", "x", 30s, ex, [ops](Result<Message> r) { ops->add(std::string(code(r))); });
  EXPECT_EQ(code(kv_create_sync(*b, "r.d", "x")), "unavailable");
  EXPECT_EQ(code(kv_list_sync(*b, "r.")), "unavailable");
  ASSERT_TRUE(ops->wait_size(3));
  EXPECT_EQ(ops->items(), (std::vector<std::string>{"unavailable", "unavailable", "unavailable"}));

  // The consumers behind the watch are lost, as when the node reconnects to another server of a
  // cluster that never had them: the backbone must re-create its watches, not wait for them.
  std::filesystem::remove_all(server.store_dir() + "/jetstream/$G/streams/KV_restart/obs");
  ASSERT_EQ(server.start(), "");  // same port, same store directory
  ASSERT_TRUE(wait_for([&] { return code(kv_put_sync(*b, "r.after", "3")) == "ok"; }, 20s));
  ASSERT_TRUE(wait_for(
      [&] {
        (void)b->publish("t.restart", "after");
        return payloads(messages->items()).back() == "after";
      },
      20s));
  ASSERT_TRUE(wait_for([&] { return events->size() >= 3; }, 20s));
  ASSERT_EQ(code(kv_put_sync(*b, "r.b", "4")), "ok");
  ASSERT_TRUE(events->wait_size(4));
  ASSERT_TRUE(ex->drain());
  // The watch resumed where it stopped: no gap, no duplicate.
  EXPECT_EQ(keys_of(events->items()),
            (std::vector<std::string>{"r.a=1", "r.b=2", "r.after=3", "r.b=4"}));
  ex->stop();
}

// Every reconnect starts libnats's own reset of each ordered consumer on a thread of its own,
// while the backbone drops the old subscription and re-creates the watch on a worker. Dropping it
// with natsSubscription_Unsubscribe (which deletes the consumer) read the consumer name that reset
// frees: ASan's heap-use-after-free in ~1 run in 3 of the restart test. Here: several restarts in
// a row, a watch unsubscribed right after each reconnect (racing that reset), and the backbone
// destroyed right after the last restart, mid-re-creation. Under the asan preset a use-after-free
// or a leaked handle fails the binary; in every build the watch must go on delivering.
TEST(NatsBackboneTest, WatchesSurviveRepeatedRestartsUnsubscribesAndDestructionMidReconnect) {
  NatsServer server;
  ASSERT_EQ(server.start(), "");
  auto writer = make_nats_backbone(options_for(server.url(), "churn"));
  auto a = make_nats_backbone(options_for(server.url(), "churn"));
  auto ex = std::make_shared<QueueExecutor>();
  auto events = std::make_shared<Events>();
  ASSERT_EQ(code(kv_put_sync(*writer, "w.0", "0")), "ok");
  ASSERT_TRUE(a->kv_watch("w.", true, ex, record_to(events)));
  ASSERT_TRUE(events->wait_size(1));
  constexpr int kRestarts = 4;
  for (int i = 1; i <= kRestarts; ++i) {
    auto doomed = a->kv_watch("w.", false, ex, [](KvEvent) {});
    ASSERT_TRUE(doomed);
    server.kill9();
    ASSERT_EQ(server.start(), "");
    // Unsubscribe as soon as the connection is back: libnats's reset of that consumer may be
    // running now.
    ASSERT_TRUE(wait_for([&] { return code(kv_get_sync(*a, "w.0")) == "ok"; }, 20s));
    a->unsubscribe(*doomed);
    const std::string key = "w." + std::to_string(i);
    ASSERT_TRUE(wait_for([&] { return code(kv_put_sync(*writer, key, "x")) == "ok"; }, 20s));
    ASSERT_TRUE(wait_for([&] { return events->size() >= static_cast<std::size_t>(i + 1); }, 20s))
        << "the watch stopped after restart " << i;
  }
  // Destroyed right after a reconnect, while its watch is being re-created (and libnats resets the
  // consumer).
  server.kill9();
  ASSERT_EQ(server.start(), "");
  ASSERT_TRUE(wait_for([&] { return code(kv_get_sync(*writer, "w.0")) == "ok"; }, 20s));
  a.reset();
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(events->size(), static_cast<std::size_t>(kRestarts + 1));
  ex->stop();
}

// A watch unsubscribed just before its backbone is destroyed: its subscription used to be handed
// to a worker (to delete the consumer by a round trip), and the destructor dropped that queued
// task uncalled, leaking the natsSubscription (ASan's leak report at exit, under the asan preset).
// Now unsubscribe() releases it at once. In every build: no event after unsubscribe.
TEST(NatsBackboneTest, UnsubscribingAWatchJustBeforeDestructionLeavesNothingBehind) {
  std::string error;
  NatsServer& server = shared_server(error);
  ASSERT_EQ(error, "");
  auto ex = std::make_shared<QueueExecutor>();
  auto events = std::make_shared<Events>();
  for (int i = 0; i < 10; ++i) {
    auto b = make_nats_backbone(options_for(server.url(), "unsub"));
    ASSERT_EQ(code(kv_put_sync(*b, "u.k", std::to_string(i))), "ok");
    auto id = b->kv_watch("u.", false, ex, record_to(events));
    ASSERT_TRUE(id);
    b->unsubscribe(*id);  // and at once destroyed
  }
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(events->size(), 0u);
  ex->stop();
}

}  // namespace
}  // namespace sb::backbone
