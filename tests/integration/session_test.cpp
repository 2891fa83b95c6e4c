// Sessions over real sockets: register, log in, the four reconnect cases of seed 001, resume
// tokens, lockout, bans, rate limits, WebSocket, metrics and graceful shutdown.
#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness.hpp"

namespace sb::test {
namespace {

using client::Client;

bool is_chat(const proto::ServerFrame& f, const std::string& text) {
  return f.has_room_event() && f.room_event().has_chat() && f.room_event().chat().text() == text;
}

std::string http_get(std::uint16_t port, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return res.body();
}

class SessionTest : public NodeTest {};

TEST_F(SessionTest, RegisterEntersLobbyAndChatReachesEveryMember) {
  start();
  auto& alice = registered("alice");
  ASSERT_TRUE(in_room(alice));
  auto& bob = registered("bob");
  ASSERT_TRUE(in_room(bob));
  ASSERT_EQ(alice.room_id(), bob.room_id()) << "both belong in the one lobby of the zone";
  ASSERT_TRUE(run(alice.chat("hello bob", 42)));
  auto got = wait_push(bob, [](auto& f) { return is_chat(f, "hello bob"); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->room_event().chat().from_name(), "alice");
  EXPECT_EQ(got->room_event().chat().tag(), 42u);
  EXPECT_TRUE(wait_push(alice, [](auto& f) { return is_chat(f, "hello bob"); })) << "sender sees its own line";
  auto members = run(bob.members());
  ASSERT_TRUE(members);
  EXPECT_EQ(members->members_size(), 2);
}

TEST_F(SessionTest, OfflinePlayerGetsNewSession) {
  start();
  {
    auto& c = registered("carol");
    ASSERT_TRUE(run(c.logout()));
  }
  auto& c2 = make_client();
  ASSERT_TRUE(run(c2.connect()));
  auto ok = run(c2.login("carol", "password-1"));
  ASSERT_TRUE(ok) << c2.last_error_message();
  EXPECT_EQ(ok->kind(), proto::NEW_SESSION);
  EXPECT_TRUE(in_room(c2));
}

TEST_F(SessionTest, LoginElsewhereClosesTheOldConnectionAndTakesOver) {
  start();
  auto& old_conn = registered("dave");
  ASSERT_TRUE(in_room(old_conn));
  auto& new_conn = make_client();
  ASSERT_TRUE(run(new_conn.connect()));
  auto ok = run(new_conn.login("dave", "password-1"));
  ASSERT_TRUE(ok) << new_conn.last_error_message();
  EXPECT_EQ(ok->kind(), proto::TOOK_OVER);
  ASSERT_TRUE(pump_until([&] { return old_conn.last_close().has_value() && !old_conn.connected(); }));
  EXPECT_EQ(old_conn.last_close()->reason(), proto::CLOSE_LOGGED_IN_ELSEWHERE);
  EXPECT_TRUE(in_room(new_conn));
  ASSERT_TRUE(run(new_conn.chat("still here")));
  EXPECT_TRUE(wait_push(new_conn, [](auto& f) { return is_chat(f, "still here"); }));
}

TEST_F(SessionTest, DroppedClientReattachesToHeldSessionWithToken) {
  config_.lobby.presence_events = true;
  start();
  auto& watcher = registered("watcher");
  ASSERT_TRUE(in_room(watcher));
  auto& eve = registered("eve");
  ASSERT_TRUE(in_room(eve));
  const auto token = eve.resume_token();
  eve.drop();
  ASSERT_TRUE(wait_push(watcher, [](auto& f) { return f.has_room_event() && f.room_event().has_member_disconnected(); }));
  auto& back = make_client();
  ASSERT_TRUE(run(back.connect()));
  back.set_resume_state(token, eve.last_seq());
  auto ok = run(back.resume());
  ASSERT_TRUE(ok) << back.last_error_message();
  EXPECT_EQ(ok->kind(), proto::REATTACHED);
  EXPECT_NE(ok->resume_token(), token) << "a resume replaces the token";
  EXPECT_TRUE(wait_push(watcher, [](auto& f) { return f.has_room_event() && f.room_event().has_member_reconnected(); }));
  // The old token is now useless.
  back.drop();
  auto& again = make_client();
  ASSERT_TRUE(run(again.connect()));
  again.set_resume_state(token, 0);
  auto refused = run(again.resume());
  ASSERT_FALSE(refused);
  EXPECT_EQ(to_errc(refused.error()), Errc::token_invalid);
}

TEST_F(SessionTest, ReturningPlayerInRoomReceivesEveryMissedEventInOrder) {
  config_.lobby.presence_events = true;
  start();
  auto& bob = registered("bob2");
  ASSERT_TRUE(in_room(bob));
  auto& alice = registered("alice2");
  ASSERT_TRUE(in_room(alice));
  // Drain alice's pushes so last_seq is current, then drop her.
  while (run(alice.next_push(200ms))) {
  }
  const std::uint64_t seen = alice.last_seq();
  const auto token = alice.resume_token();
  alice.drop();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(run(bob.chat("missed " + std::to_string(i))));
  auto& back = make_client();
  ASSERT_TRUE(run(back.connect()));
  back.set_resume_state(token, seen);
  ASSERT_TRUE(run(back.resume()));
  std::vector<proto::RoomEvent> replay;
  while (auto p = run(back.next_push(1s))) {
    ASSERT_FALSE(p->has_room_joined()) << "within the log window the room replays, no snapshot";
    if (p->has_room_event()) replay.push_back(p->room_event());
  }
  // disconnected, 5 chats, reconnected (presence events on): consecutive seqs after what she saw.
  ASSERT_GE(replay.size(), 7u);
  for (std::size_t i = 0; i < replay.size(); ++i) EXPECT_EQ(replay[i].seq(), seen + 1 + i);
  int chats = 0;
  for (const auto& e : replay) {
    if (e.has_chat()) {
      EXPECT_EQ(e.chat().text(), "missed " + std::to_string(chats++));
    }
  }
  EXPECT_EQ(chats, 5);
}

TEST_F(SessionTest, ReplayOlderThanTheLogFallsBackToSnapshot) {
  config_.lobby.log_size = 4;
  start();
  auto& bob = registered("bob3");
  ASSERT_TRUE(in_room(bob));
  auto& alice = registered("alice3");
  ASSERT_TRUE(in_room(alice));
  while (run(alice.next_push(200ms))) {
  }
  const auto token = alice.resume_token();
  const auto seen = alice.last_seq();
  alice.drop();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(run(bob.chat("lost " + std::to_string(i))));
  auto& back = make_client();
  ASSERT_TRUE(run(back.connect()));
  back.set_resume_state(token, seen);
  ASSERT_TRUE(run(back.resume()));
  auto snap = wait_push(back, [](auto& f) { return f.has_room_joined(); });
  ASSERT_TRUE(snap);
  EXPECT_TRUE(snap->room_joined().replay_truncated());
  EXPECT_GE(snap->room_joined().seq(), seen + 10);
}

TEST_F(SessionTest, HeldSessionExpiresAfterGraceAndLeavesTheRoom) {
  config_.session.session_grace_ms = 300;
  start();
  auto& bob = registered("bob4");
  ASSERT_TRUE(in_room(bob));
  auto& frank = registered("frank");
  ASSERT_TRUE(in_room(frank));
  const auto token = frank.resume_token();
  frank.drop();
  ASSERT_TRUE(wait_push(bob, [](auto& f) { return f.has_room_event() && f.room_event().has_member_left(); }, 5s));
  auto& back = make_client();
  ASSERT_TRUE(run(back.connect()));
  back.set_resume_state(token, 0);
  auto r = run(back.resume());
  ASSERT_FALSE(r);
  EXPECT_EQ(to_errc(r.error()), Errc::session_expired);
}

TEST_F(SessionTest, ForgedTokenIsRefused) {
  start();
  auto& g = registered("grace");
  std::string token = g.resume_token();
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  g.drop();
  auto& c = make_client();
  ASSERT_TRUE(run(c.connect()));
  c.set_resume_state(token, 0);
  auto r = run(c.resume());
  ASSERT_FALSE(r);
  EXPECT_EQ(to_errc(r.error()), Errc::token_invalid);
}

TEST_F(SessionTest, BadPasswordsDisableTheAccountPastTheClusterMaximum) {
  start();
  { auto& h = registered("heidi"); ASSERT_TRUE(run(h.logout())); }
  ASSERT_TRUE(node_->set_cluster_config("max_login_errors", "3"));
  auto& c = make_client();
  ASSERT_TRUE(run(c.connect()));
  for (int i = 0; i < 3; ++i) {
    auto r = run(c.login("heidi", "wrong-password"));
    ASSERT_FALSE(r);
    EXPECT_EQ(to_errc(r.error()), Errc::bad_credentials) << "attempt " << i;
  }
  auto fourth = run(c.login("heidi", "wrong-password"));
  ASSERT_FALSE(fourth);
  EXPECT_EQ(to_errc(fourth.error()), Errc::account_disabled);
  auto right = run(c.login("heidi", "password-1"));
  ASSERT_FALSE(right);
  EXPECT_EQ(to_errc(right.error()), Errc::account_disabled);
}

TEST_F(SessionTest, GoodLoginResetsTheBadPasswordCounter) {
  start();
  { auto& h = registered("ivan"); ASSERT_TRUE(run(h.logout())); }
  ASSERT_TRUE(node_->set_cluster_config("max_login_errors", "2"));
  for (int round = 0; round < 3; ++round) {
    auto& c = make_client();
    ASSERT_TRUE(run(c.connect()));
    ASSERT_FALSE(run(c.login("ivan", "nope-nope")));
    ASSERT_FALSE(run(c.login("ivan", "nope-nope")));
    auto ok = run(c.login("ivan", "password-1"));
    ASSERT_TRUE(ok) << "round " << round << ": " << c.last_error_message();
    ASSERT_TRUE(run(c.logout()));
  }
}

TEST_F(SessionTest, BanClosesTheLiveSessionAndRefusesLogin) {
  start();
  auto& j = registered("judy");
  ASSERT_TRUE(in_room(j));
  auto res = node_->ban("judy", "griefing", std::chrono::seconds(3600), "test");
  ASSERT_EQ(res.code, Errc::ok) << res.message;
  ASSERT_TRUE(pump_until([&] { return j.last_close().has_value(); }));
  EXPECT_EQ(j.last_close()->reason(), proto::CLOSE_BANNED);
  auto& c = make_client();
  ASSERT_TRUE(run(c.connect()));
  auto r = run(c.login("judy", "password-1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(to_errc(r.error()), Errc::banned);
  EXPECT_NE(c.last_error_message().find("griefing"), std::string::npos);
  EXPECT_GT(c.last_error().retry_after_ms(), 3'000'000u);
  ASSERT_EQ(node_->unban("judy").code, Errc::ok);
  EXPECT_TRUE(run(c.login("judy", "password-1")));
}

TEST_F(SessionTest, RateLimitAnswersBeforeHashing) {
  config_.auth.address_rate = 0.01;
  config_.auth.address_burst = 3;
  start();
  auto& c = make_client();
  ASSERT_TRUE(run(c.connect()));
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = run(c.login("nobody", "whatever-pass"));
    ASSERT_FALSE(r);
    if (to_errc(r.error()) == Errc::rate_limited) {
      ++limited;
      EXPECT_GT(c.last_error().retry_after_ms(), 0u);
    }
  }
  EXPECT_EQ(limited, 3);
}

TEST_F(SessionTest, WebSocketClientChatsWithTcpClient) {
  start();
  auto& tcp = registered("kate");
  ASSERT_TRUE(in_room(tcp));
  auto& ws = make_client(client::ClientOptions::Transport::websocket);
  ASSERT_TRUE(run(ws.connect()));
  ASSERT_TRUE(run(ws.register_account("leo", "password-1")));
  ASSERT_TRUE(in_room(ws));
  ASSERT_TRUE(run(ws.chat("over websocket")));
  EXPECT_TRUE(wait_push(tcp, [](auto& f) { return is_chat(f, "over websocket"); }));
  ASSERT_TRUE(run(tcp.chat("over tcp")));
  EXPECT_TRUE(wait_push(ws, [](auto& f) { return is_chat(f, "over tcp"); }));
}

TEST_F(SessionTest, MetricsEndpointReportsSessionsAndLogins) {
  start();
  auto& m = registered("mallory");
  ASSERT_TRUE(in_room(m));
  const std::string text = http_get(node_->admin_port(), "/metrics");
  EXPECT_NE(text.find("sb_sessions{state=\"in_lobby\"} 1"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("sb_logins_total{outcome=\"ok\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sb_event_loop_lag_seconds_bucket"), std::string::npos);
}

TEST_F(SessionTest, ShutdownTellsConnectedClients) {
  start();
  auto& n = registered("nina");
  ASSERT_TRUE(in_room(n));
  std::thread stopper([this] { node_->stop(std::chrono::seconds(2)); });
  const bool told = pump_until([&] { return n.last_close().has_value(); }, 5s);
  stopper.join();
  ASSERT_TRUE(told);
  EXPECT_EQ(n.last_close()->reason(), proto::CLOSE_SERVER_SHUTDOWN);
}

TEST_F(SessionTest, AccountsSurviveARestartOfTheNode) {
  start();
  { auto& o = registered("oscar"); ASSERT_TRUE(run(o.logout())); }
  destroy_clients();
  node_->stop(std::chrono::milliseconds(200));
  node_.reset();
  start();
  auto& c = make_client();
  ASSERT_TRUE(run(c.connect()));
  EXPECT_TRUE(run(c.login("oscar", "password-1")));
}

}  // namespace
}  // namespace sb::test
