// A real node's membership: GET /v1/nodes over a real socket, the load it announces, and the
// leave it publishes when it stops.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "cluster/membership.hpp"
#include "fakes/queue_executor.hpp"
#include "harness.hpp"
#include "membership.pb.h"
#include "node/node_load.hpp"

namespace sb::test {
namespace {

// ---- the load a node announces

TEST(NodeLoadSamplerTest, ReadsTheNodeGaugesAndTheLagOfTheLastIntervalOnly) {
  metrics::Registry registry;
  node::NodeMetrics metrics(registry);
  node::NodeLoadSampler sampler(metrics, 2);
  metrics.sessions(session::State::in_lobby).set(5);
  metrics.sessions(session::State::in_room).set(3);
  metrics.sessions(session::State::awaiting_hello).set(4);  // not logged in: not a session
  metrics.sessions_detached.set(2);
  metrics.connections.set(12);
  metrics.rooms.set(7);
  auto lag = [&](int shard) -> metrics::Histogram& {
    return registry.histogram("sb_event_loop_lag_seconds", "", {}, {{"shard", std::to_string(shard)}});
  };
  for (int i = 0; i < 99; ++i) lag(0).observe(0.0003);  // (0.1, 0.5] ms
  lag(1).observe(0.2);                                   // (100, 250] ms: the 100th of 100
  auto l = sampler.sample();
  EXPECT_EQ(l.sessions, 10u);
  EXPECT_EQ(l.connections, 12u);
  EXPECT_EQ(l.rooms, 7u);
  EXPECT_EQ(l.players_in_rooms, 3u);
  EXPECT_FLOAT_EQ(l.loop_lag_p99_ms, 0.5f);  // 99 of 100 probes were at most 0.5 ms
  for (int i = 0; i < 10; ++i) lag(1).observe(0.04);
  l = sampler.sample();
  EXPECT_FLOAT_EQ(l.loop_lag_p99_ms, 50.f);  // only the 10 new probes count
  EXPECT_GE(l.cpu_percent, 0.f);
  l = sampler.sample();
  EXPECT_FLOAT_EQ(l.loop_lag_p99_ms, 0.f);   // no probe since the last sample
}

// ---- a real node: GET /v1/nodes

std::string http_get(std::uint16_t port, const std::string& target) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string out;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  const auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? out : out.substr(body + 4);
}

boost::json::array nodes_of(std::uint16_t admin_port) {
  auto v = boost::json::parse(http_get(admin_port, "/v1/nodes"));
  return v.as_object().at("nodes").as_array();
}

class NodesEndpointTest : public NodeTest {};

TEST_F(NodesEndpointTest, ListsItselfAndEveryNodeAnnouncingOnItsBackbone) {
  config_.node_name = "alpha";
  config_.roles = {"edge", "gateway"};
  start();
  auto nodes = nodes_of(node_->admin_port());
  ASSERT_EQ(nodes.size(), 1u);
  const auto& self = nodes[0].as_object();
  EXPECT_EQ(self.at("node").as_string(), "alpha");
  EXPECT_TRUE(self.at("self").as_bool());
  EXPECT_EQ(self.at("tcp").as_string(), "127.0.0.1:" + std::to_string(node_->tcp_port()));
  EXPECT_EQ(self.at("ws").as_string(), "127.0.0.1:" + std::to_string(node_->ws_port()));
  EXPECT_EQ(self.at("admin").as_string(), "127.0.0.1:" + std::to_string(node_->admin_port()));
  EXPECT_EQ(self.at("roles").as_array().size(), 2u);
  EXPECT_EQ(self.at("roles").as_array()[1].as_string(), "gateway");
  EXPECT_TRUE(self.at("load").as_object().contains("players_in_rooms"));

  // A session on the node shows in its load at the next heartbeat.
  auto& c = registered("loadcheck");
  (void)c;
  EXPECT_TRUE(wait_for([&] {
    auto n = nodes_of(node_->admin_port());
    return n[0].as_object().at("load").as_object().at("sessions").as_int64() == 1;
  }));

  // The shards' lag probes reach the announce: any probe puts p99 at >= 0.1 ms (the first bucket
  // bound), so zero would mean the sampler reads histograms that no shard feeds.
  EXPECT_TRUE(wait_for([&] {
    auto n = nodes_of(node_->admin_port());
    return n[0].as_object().at("load").as_object().at("loop_lag_p99_ms").as_double() > 0;
  }));

  // Another node announcing on the node's backbone appears; its leave removes it.
  cluster::Member other;
  other.node = "beta";
  other.started_unix_ms = 1234;
  other.seq = 1;
  other.roles = {"host"};
  other.tcp_address = "10.0.0.2:7700";
  ASSERT_TRUE(node_->backbone().publish(std::string(cluster::kMembershipSubject), cluster::encode_announce(other, false)));
  EXPECT_TRUE(wait_for([&] { return nodes_of(node_->admin_port()).size() == 2; }));
  auto two = nodes_of(node_->admin_port());
  EXPECT_EQ(two[1].as_object().at("node").as_string(), "beta");
  EXPECT_EQ(two[1].as_object().at("tcp").as_string(), "10.0.0.2:7700");
  EXPECT_FALSE(two[1].as_object().at("self").as_bool());
  ASSERT_TRUE(node_->backbone().publish(std::string(cluster::kMembershipSubject), cluster::encode_leave("beta", 1234)));
  EXPECT_TRUE(wait_for([&] { return nodes_of(node_->admin_port()).size() == 1; }));
}

TEST_F(NodesEndpointTest, AStoppingNodePublishesItsLeave) {
  start();
  auto rx = std::make_shared<QueueExecutor>();
  auto leaves = std::make_shared<std::atomic<int>>(0);
  auto sub = node_->backbone().subscribe(std::string(cluster::kMembershipSubject), {}, rx,
                                         [leaves](backbone::Message m) {
                                           proto::membership::MembershipMessage msg;
                                           if (msg.ParseFromString(m.payload) && msg.has_leave() &&
                                               msg.leave().node() == "it") {
                                             ++*leaves;
                                           }
                                         });
  ASSERT_TRUE(sub);
  node_->stop(std::chrono::milliseconds(200));
  EXPECT_TRUE(wait_for([&] { return leaves->load() == 1; }));
  node_->backbone().unsubscribe(*sub);
  rx->stop();
}

}  // namespace
}  // namespace sb::test
