// The one-request-in-flight rule over real sockets (docs/protocol.md §2): a request that arrives
// while another request of the same connection is still being processed is refused with BUSY and
// is not executed, even when the first is answered at once; a request sent after the first's
// answer is executed. The requests here are written in ONE write, so they arrive together.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sb::test {
namespace {

class PipeliningTest : public NodeTest {
 protected:
  /// A raw connection, logged in (registered as `name`) and placed in its lobby.
  std::unique_ptr<RawConn> in_lobby(const std::string& name) {
    auto c = std::make_unique<RawConn>(node_->tcp_port());
    c->send_hello();
    EXPECT_TRUE(c->read_until([](auto& f) { return f.has_hello_ok(); }));
    proto::ClientFrame reg;
    reg.set_request_id(2);
    reg.mutable_register_account()->set_username(name);
    reg.mutable_register_account()->set_password("password-1");
    c->send(reg);
    EXPECT_TRUE(c->read_until([](auto& f) { return f.request_id() == 2 && f.has_login_ok(); }));
    EXPECT_TRUE(c->read_until([](auto& f) { return f.has_room_joined(); }));
    return c;
  }
  static std::string bytes(const proto::ClientFrame& f) { return wire::encode(f)->bytes; }
  static proto::ClientFrame list_rooms(std::uint32_t rid) {
    proto::ClientFrame f;
    f.set_request_id(rid);
    f.mutable_list_rooms()->set_type("relay");
    return f;
  }
  static proto::ClientFrame create_relay(std::uint32_t rid) {
    proto::ClientFrame f;
    f.set_request_id(rid);
    f.mutable_create_room()->set_type("relay");
    return f;
  }
  /// The answers to `rids` (pushes are skipped), in arrival order.
  static std::vector<proto::ServerFrame> answers(RawConn& c, std::set<std::uint32_t> rids) {
    std::vector<proto::ServerFrame> out;
    while (!rids.empty()) {
      auto f = c.read();
      if (!f) break;
      if (rids.erase(f->request_id())) out.push_back(*f);
    }
    return out;
  }
};

TEST_F(PipeliningTest, SecondRequestInTheSameWriteAsAnAnsweredAtOnceFirstGetsBusyAndIsNotExecuted) {
  start();
  auto c = in_lobby("pipe1");
  // ListRooms is answered at once from the shard's replica; CreateRoom would open a room.
  c->write(bytes(list_rooms(20)) + bytes(create_relay(21)));
  auto got = answers(*c, {20, 21});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].request_id(), 20u);
  EXPECT_TRUE(got[0].has_room_list());
  EXPECT_EQ(got[1].request_id(), 21u);
  ASSERT_TRUE(got[1].has_error());
  EXPECT_EQ(got[1].error().code(), proto::BUSY);
  // Not executed: no relay room was opened (a room opened here is listed at once).
  c->send(list_rooms(22));
  auto again = answers(*c, {22});
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(again[0].has_room_list());
  EXPECT_EQ(again[0].room_list().rooms_size(), 0);
}

TEST_F(PipeliningTest, TwoMembersRequestsInOneWriteOnlyTheFirstIsAnswered) {
  start();
  auto c = in_lobby("pipe2");
  proto::ClientFrame m1, m2;
  m1.set_request_id(30);
  m1.mutable_members();
  m2.set_request_id(31);
  m2.mutable_members();
  c->write(bytes(m1) + bytes(m2));
  auto got = answers(*c, {30, 31});
  ASSERT_EQ(got.size(), 2u);
  for (const auto& f : got) {
    if (f.request_id() == 30) {
      EXPECT_TRUE(f.has_members());
    } else {
      ASSERT_TRUE(f.has_error());
      EXPECT_EQ(f.error().code(), proto::BUSY);
    }
  }
}

TEST_F(PipeliningTest, HelloAndRegisterInOneWriteRefusesTheRegistration) {
  start();
  RawConn c(node_->tcp_port());
  proto::ClientFrame hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_min_version(1);
  hello.mutable_hello()->set_max_version(1);
  proto::ClientFrame reg;
  reg.set_request_id(2);
  reg.mutable_register_account()->set_username("pipe3");
  reg.mutable_register_account()->set_password("password-1");
  c.write(bytes(hello) + bytes(reg));
  auto got = answers(c, {1, 2});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].has_hello_ok());
  ASSERT_TRUE(got[1].has_error());
  EXPECT_EQ(got[1].error().code(), proto::BUSY);
  // Not executed: the account does not exist.
  c.send(login_frame(3, "pipe3", "password-1"));
  auto login = answers(c, {3});
  ASSERT_EQ(login.size(), 1u);
  EXPECT_TRUE(login[0].has_error());
}

TEST_F(PipeliningTest, SecondRequestSentAfterTheFirstAnswerIsExecuted) {
  start();
  auto c = in_lobby("pipe4");
  c->send(list_rooms(40));
  auto first = answers(*c, {40});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].has_room_list());
  c->send(create_relay(41));
  auto second = answers(*c, {41});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0].has_room_joined()) << second[0].DebugString();
}

}  // namespace
}  // namespace sb::test
