// The backbone contract suite (backbone_contract_suite.hpp) on the in-process backbone, and what
// only the in-process implementation promises (its options and documented choices). The same
// suite runs on NATS in backbone_contract_natstest.cpp.
#include "contract/backbone_contract_suite.hpp"

namespace sb::backbone {
namespace {

std::vector<BackboneFactory> backbone_factories() {
  return {
      {"inproc", [] { return make_inproc_backbone(); }, true},
  };
}

INSTANTIATE_TEST_SUITE_P(All, BackboneContractTest, ::testing::ValuesIn(backbone_factories()),
                         [](const auto& param_info) { return param_info.param.name; });

// ---- what only the in-process backbone promises

TEST(InprocBackboneTest, QueueGroupBackPressureReturnsUnavailable) {
  InprocOptions options;
  options.max_pending_per_member = 2;
  auto bb = make_inproc_backbone(options);
  auto ex = std::make_shared<QueueExecutor>();
  auto plain_ex = std::make_shared<QueueExecutor>();
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto members = std::make_shared<Messages>(), plain = std::make_shared<Messages>();
  auto blocked = [gate, members](Message m) {
    gate.wait();
    members->add(std::move(m));
  };
  ASSERT_TRUE(bb->subscribe("t.bp", "g", ex, blocked));
  ASSERT_TRUE(bb->subscribe("t.bp", "g", ex, blocked));
  ASSERT_TRUE(bb->subscribe("t.bp", "", plain_ex, record_to(plain)));

  // The first handler blocks the executor: each member holds 2 pending, then the group is full.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(code(bb->publish("t.bp", std::to_string(i))), "ok") << i;
  EXPECT_EQ(code(bb->publish("t.bp", "4")), "unavailable");
  EXPECT_TRUE(plain->wait_size(5));  // plain subscribers still get every message

  release.set_value();
  ASSERT_TRUE(members->wait_size(4));
  ASSERT_TRUE(ex->drain());
  auto got = payloads(members->items());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, numbered(4));                      // "4" was dropped for the group
  EXPECT_EQ(code(bb->publish("t.bp", "5")), "ok");  // handled messages free the slots
  ASSERT_TRUE(members->wait_size(5));
  ex->stop();
  plain_ex->stop();
}

TEST(InprocBackboneTest, ExpiredKeyIsInvisibleBeforeTheSweep) {
  InprocOptions options;
  options.sweep_interval = std::chrono::hours(1);
  auto bb = make_inproc_backbone(options);
  auto ex = std::make_shared<QueueExecutor>();
  auto events = std::make_shared<Events>();
  ASSERT_TRUE(bb->kv_watch("lazy.", false, ex, record_to(events)));
  ASSERT_TRUE(kv_put_sync(*bb, "lazy.a", "v", 30ms));
  ASSERT_TRUE(kv_put_sync(*bb, "lazy.b", "v"));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(kv_list_sync(*bb, "lazy.")->size(), 1u);
  EXPECT_EQ(code(kv_get_sync(*bb, "lazy.a")), "not_found");
  ASSERT_TRUE(events->wait_size(3));
  EXPECT_EQ(events->items()[2].op, KvOp::expired);
  ex->stop();
  bb.reset();  // must not wait for the hour-long sweep interval
}

TEST(InprocBackboneTest, RequestGoesToOneSubscriberPreferringAQueueGroup) {
  auto bb = make_inproc_backbone();
  auto ex = std::make_shared<QueueExecutor>();
  auto first = std::make_shared<Messages>(), second = std::make_shared<Messages>();
  auto member = std::make_shared<Messages>();
  ASSERT_TRUE(bb->subscribe("t.svc", "", ex, record_to(first)));
  ASSERT_TRUE(bb->subscribe("t.svc", "", ex, record_to(second)));
  auto member_id = bb->subscribe("t.svc", "workers", ex, record_to(member));
  ASSERT_TRUE(member_id);
  auto replies = std::make_shared<Replies>();
  for (int i = 0; i < 3; ++i) bb->request("t.svc", "x", 5s, ex, record_to(replies));
  ASSERT_TRUE(member->wait_size(3));
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(first->size() + second->size(), 0u);

  bb->unsubscribe(*member_id);  // no group left: the oldest plain subscriber
  bb->request("t.svc", "y", 5s, ex, record_to(replies));
  ASSERT_TRUE(first->wait_size(1));
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(second->size(), 0u);
  ex->stop();
}

TEST(InprocBackboneTest, DestructionAbandonsOutstandingRequests) {
  auto bb = make_inproc_backbone();
  auto ex = std::make_shared<QueueExecutor>();
  auto silent = std::make_shared<Messages>();
  auto replies = std::make_shared<Replies>();
  ASSERT_TRUE(bb->subscribe("t.silent", "", ex, record_to(silent)));
  bb->request("t.silent", "x", 10s, ex, record_to(replies));
  ASSERT_TRUE(silent->wait_size(1));
  bb.reset();
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(replies->size(), 0u);
  ex->stop();
}

TEST(InprocBackboneTest, UnsubscribeAlsoDropsEventsAlreadyQueued) {
  auto bb = make_inproc_backbone();
  auto ex = std::make_shared<QueueExecutor>();
  std::promise<void> release;
  ex->post([gate = release.get_future().share()] { gate.wait(); });
  auto got = std::make_shared<Messages>();
  auto id = bb->subscribe("t.q", "", ex, record_to(got));
  ASSERT_TRUE(id);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bb->publish("t.q", "x"));
  bb->unsubscribe(*id);
  release.set_value();
  ASSERT_TRUE(ex->drain());
  EXPECT_EQ(got->size(), 0u);
  ex->stop();
}

}  // namespace
}  // namespace sb::backbone
