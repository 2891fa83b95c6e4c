// Membership over a real backbone: several membership shells ("nodes") on one in-process
// backbone — join, clean stop, silence, restart, garbage. (A real node: nodes_endpoint_test.cpp.)
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backbone/backbone.hpp"
#include "cluster/membership.hpp"
#include "fakes/queue_executor.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;

using cluster::Membership;
using cluster::MembershipOptions;

MembershipOptions options(const std::string& name, std::chrono::milliseconds heartbeat,
                          std::chrono::milliseconds timeout, UnixMillis started = 0) {
  MembershipOptions o;
  o.node = name;
  o.roles = {"edge", "host"};
  o.tcp_address = "127.0.0.1:1";
  o.ws_address = "127.0.0.1:2";
  o.admin_address = "127.0.0.1:3";
  o.heartbeat = heartbeat;
  o.timeout = timeout;
  o.started_unix_ms = started;
  return o;
}

std::vector<std::string> names(const Membership& m) {
  std::vector<std::string> out;
  for (const auto& e : m.view()) out.push_back(e.node);
  return out;
}

class MembershipClusterTest : public ::testing::Test {
 protected:
  Membership& add(MembershipOptions o) {
    auto load = [n = nodes_.size()] {
      cluster::NodeLoad l;
      l.sessions = static_cast<std::uint32_t>(10 + n);
      return l;
    };
    nodes_.push_back(std::make_unique<Membership>(*backbone_, registry_, clock_, std::move(o), load));
    EXPECT_TRUE(nodes_.back()->start());
    return *nodes_.back();
  }

  void TearDown() override {
    for (auto& n : nodes_) n->stop();
  }

  std::unique_ptr<backbone::Backbone> backbone_ = backbone::make_inproc_backbone();
  metrics::Registry registry_;
  SystemClock clock_;
  std::vector<std::unique_ptr<Membership>> nodes_;
};

const std::vector<std::string> kAbc{"a", "b", "c"};

TEST_F(MembershipClusterTest, AJoiningNodeLearnsTheViewWithoutWaitingForAHeartbeat) {
  // Heartbeats far longer than the wait: only the join's view request can explain the views.
  auto& a = add(options("a", 60s, 120s));
  auto& b = add(options("b", 60s, 120s));
  ASSERT_TRUE(wait_for([&] { return names(a) == std::vector<std::string>{"a", "b"}; }));
  auto& c = add(options("c", 60s, 120s));
  EXPECT_TRUE(wait_for([&] { return names(c) == kAbc; })) << testing::PrintToString(names(c));
  EXPECT_TRUE(wait_for([&] { return names(a) == kAbc && names(b) == kAbc; }));
  // What c knows of a is what a announced: roles, addresses, load from a's LoadFn.
  for (const auto& m : c.view()) {
    if (m.node != "a") continue;
    EXPECT_EQ(m.roles, (std::vector<std::string>{"edge", "host"}));
    EXPECT_EQ(m.tcp_address, "127.0.0.1:1");
    EXPECT_EQ(m.version, cluster::build_version());
    EXPECT_EQ(m.load.sessions, 10u);
    EXPECT_FALSE(m.self);
  }
}

TEST_F(MembershipClusterTest, ACleanStopLeavesEveryViewAtOnce) {
  // A timeout of two minutes: b can only be gone within the wait because its leave arrived.
  auto& a = add(options("a", 60s, 120s));
  auto& b = add(options("b", 60s, 120s));
  auto& c = add(options("c", 60s, 120s));
  ASSERT_TRUE(wait_for([&] { return names(a) == kAbc && names(b) == kAbc && names(c) == kAbc; }));
  b.stop();
  const std::vector<std::string> ac{"a", "c"};
  EXPECT_TRUE(wait_for([&] { return names(a) == ac && names(c) == ac; }));
  EXPECT_EQ(a.counters().leaves, 1u);
  EXPECT_EQ(a.counters().expiries, 0u);
}

TEST_F(MembershipClusterTest, ASilentNodeIsRemovedAfterTheTimeout) {
  // 15 heartbeats per timeout: a busy machine delaying a few announces does not drop anyone.
  auto& a = add(options("a", 100ms, 1500ms));
  auto& b = add(options("b", 100ms, 1500ms));
  auto& c = add(options("c", 100ms, 1500ms));
  ASSERT_TRUE(wait_for([&] { return names(a) == kAbc && names(b) == kAbc && names(c) == kAbc; }));
  // Heartbeats keep everyone in for longer than a timeout.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(names(a), kAbc);
  EXPECT_EQ(a.counters().expiries, 0u);
  c.stop_silently();  // as kill -9: no leave
  const std::vector<std::string> ab{"a", "b"};
  EXPECT_TRUE(wait_for([&] { return names(a) == ab && names(b) == ab; }, 10s));
  EXPECT_EQ(a.counters().expiries, 1u);
  EXPECT_EQ(b.counters().expiries, 1u);
  EXPECT_EQ(a.counters().leaves, 0u);
}

TEST_F(MembershipClusterTest, ARestartedNodeReplacesItsOldSelfAtOnce) {
  auto& a = add(options("a", 60s, 120s));
  auto& b1 = add(options("b", 60s, 120s, 1'000));
  ASSERT_TRUE(wait_for([&] { return names(a) == std::vector<std::string>{"a", "b"}; }));
  b1.stop_silently();
  add(options("b", 60s, 120s, 2'000));
  EXPECT_TRUE(wait_for([&] {
    auto v = a.view();
    return v.size() == 2 && v[1].started_unix_ms == 2'000;
  }));
  EXPECT_EQ(a.counters().restarts, 1u);
}

TEST_F(MembershipClusterTest, GarbageOnTheSubjectIsCountedAndChangesNothing) {
  auto& a = add(options("a", 60s, 120s));
  auto& b = add(options("b", 60s, 120s));
  ASSERT_TRUE(wait_for([&] { return names(a) == std::vector<std::string>{"a", "b"}; }));
  ASSERT_TRUE(backbone_->publish(std::string(cluster::kMembershipSubject), "\x08\xff\xff\xff not protobuf"));
  EXPECT_TRUE(wait_for([&] { return a.counters().malformed == 1 && b.counters().malformed == 1; }));
  EXPECT_EQ(names(a), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sb::test
