// The client's framing and request discipline against a fake server: an acceptor on 127.0.0.1:0 in
// this test that answers with canned frames. Each test runs a server script and a client script as
// two coroutines on one io_context and checks what both recorded. Real sockets, bounded run time.
#include "client.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "wire/frame.hpp"

namespace sb::client {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::use_awaitable;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

// ------------------------------------------------------------------ fake server helpers

/// Reads one length-prefixed ClientFrame; nullopt on EOF or a bad frame.
awaitable<std::optional<proto::ClientFrame>> read_frame(tcp::socket* s) {
  std::array<unsigned char, 4> header{};
  auto [ec, n] = co_await asio::async_read(*s, asio::buffer(header), kTuple);
  if (ec) co_return std::nullopt;
  std::string body(wire::read_length(header.data()), '\0');
  auto [ec2, n2] = co_await asio::async_read(*s, asio::buffer(body), kTuple);
  if (ec2) co_return std::nullopt;
  auto frame = wire::decode_client(body);
  if (!frame) co_return std::nullopt;
  co_return std::move(*frame);
}

awaitable<void> write_frame(tcp::socket* s, proto::ServerFrame frame) {
  auto encoded = wire::encode(frame);
  co_await asio::async_write(*s, asio::buffer(encoded->bytes), kTuple);
}

proto::ServerFrame hello_ok(std::uint32_t id, std::uint32_t heartbeat_ms = 0) {
  proto::ServerFrame f;
  f.set_request_id(id);
  auto* ok = f.mutable_hello_ok();
  ok->set_version(1);
  ok->set_server("fake");
  ok->set_max_frame_bytes(65536);
  ok->set_heartbeat_interval_ms(heartbeat_ms);
  ok->set_heartbeat_timeout_ms(heartbeat_ms * 3);
  return f;
}

proto::ServerFrame login_ok(std::uint32_t id, std::string token, proto::LoginKind kind) {
  proto::ServerFrame f;
  f.set_request_id(id);
  auto* ok = f.mutable_login_ok();
  ok->set_player_id(42);
  ok->set_username("alice");
  ok->set_kind(kind);
  ok->set_resume_token(std::move(token));
  ok->set_session_grace_ms(30000);
  return f;
}

proto::ServerFrame ok_frame(std::uint32_t id) {
  proto::ServerFrame f;
  f.set_request_id(id);
  f.mutable_ok();
  return f;
}

proto::ServerFrame error_frame(std::uint32_t id, proto::ErrorCode code, std::string message) {
  proto::ServerFrame f;
  f.set_request_id(id);
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_message(std::move(message));
  return f;
}

proto::ServerFrame room_joined(std::uint64_t room, std::uint64_t seq) {
  proto::ServerFrame f;
  auto* j = f.mutable_room_joined();
  j->set_room_id(room);
  j->set_room_type("lobby");
  j->set_seq(seq);
  return f;
}

proto::ServerFrame chat_event(std::uint64_t room, std::uint64_t seq, std::string text) {
  proto::ServerFrame f;
  auto* ev = f.mutable_room_event();
  ev->set_room_id(room);
  ev->set_seq(seq);
  ev->mutable_chat()->set_from_name("bob");
  ev->mutable_chat()->set_text(std::move(text));
  return f;
}

proto::ServerFrame closing(proto::CloseReason reason) {
  proto::ServerFrame f;
  f.mutable_closing()->set_reason(reason);
  f.mutable_closing()->set_message("bye");
  return f;
}

/// Accepts one connection and answers its Hello.
awaitable<std::optional<tcp::socket>> accept_and_hello(tcp::acceptor* acceptor,
                                                       std::uint32_t heartbeat_ms = 0) {
  auto [ec, socket] = co_await acceptor->async_accept(kTuple);
  if (ec) co_return std::nullopt;
  auto hello = co_await read_frame(&socket);
  if (!hello || !hello->has_hello() || hello->request_id() == 0) co_return std::nullopt;
  co_await write_frame(&socket, hello_ok(hello->request_id(), heartbeat_ms));
  co_return std::move(socket);
}

/// Polls `done` every 2 ms for up to 3 s (the client runs in the same thread meanwhile).
template <class Pred>
awaitable<bool> eventually(Pred done) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < 1500; ++i) {
    if (done()) co_return true;
    t.expires_after(2ms);
    co_await t.async_wait(use_awaitable);
  }
  co_return done();
}

struct Fixture {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};

  ClientOptions options() {
    ClientOptions o;
    o.port = acceptor.local_endpoint().port();
    o.client_name = "client_test";
    o.random_seed = 1;
    return o;
  }
  void run() { io.run_for(10s); }
};

// ------------------------------------------------------------------ request/response matching

struct MatchRecord {
  std::uint32_t login_id = 0;
  bool login_ok = false;
  std::string player;
  std::uint64_t room = 0, seq = 0;
  bool members_ok = false, ping_ok = false;
  std::uint64_t members_room = 0;
  std::uint64_t pong_client_time = 0;
};

awaitable<void> serve_match(tcp::acceptor* acceptor) {
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  auto login = co_await read_frame(&*socket);
  if (!login || !login->has_login()) co_return;
  // An answer nobody asked for, then the lobby snapshot, then the real answer.
  co_await write_frame(&*socket, ok_frame(login->request_id() + 1000));
  co_await write_frame(&*socket, room_joined(7, 5));
  co_await write_frame(&*socket, login_ok(login->request_id(), "tok-1", proto::NEW_SESSION));
  // Members and ping arrive together (ping skips the queue); answer them in reverse order.
  std::uint32_t members_id = 0, ping_id = 0;
  std::uint64_t ping_time = 0;
  for (int i = 0; i < 2; ++i) {
    auto f = co_await read_frame(&*socket);
    if (!f) co_return;
    if (f->has_members()) members_id = f->request_id();
    if (f->has_ping()) {
      ping_id = f->request_id();
      ping_time = f->ping().client_time_ms();
    }
  }
  proto::ServerFrame pong;
  pong.set_request_id(ping_id);
  pong.mutable_pong()->set_client_time_ms(ping_time);
  co_await write_frame(&*socket, pong);
  proto::ServerFrame members;
  members.set_request_id(members_id);
  members.mutable_members()->set_room_id(7);
  auto* m = members.mutable_members()->add_members();
  m->set_player_id(42);
  m->set_name("alice");
  co_await write_frame(&*socket, members);
  co_await read_frame(&*socket);  // until the client closes
}

awaitable<void> drive_match(Client* client, MatchRecord* rec, asio::io_context* io) {
  auto st = co_await client->connect();
  EXPECT_TRUE(st) << st.error().message();
  auto login = co_await client->login("alice", "password1");
  rec->login_ok = login.has_value();
  if (login) rec->player = login->username();
  rec->room = client->room_id();
  rec->seq = client->last_seq();
  auto [members, pong] = co_await (client->members() && client->ping());
  rec->members_ok = members.has_value();
  if (members) rec->members_room = members->room_id();
  rec->ping_ok = pong.has_value();
  if (pong) rec->pong_client_time = pong->client_time_ms();
  client->close();
  io->stop();
}

TEST(ClientTest, MatchesResponsesByRequestId) {
  Fixture fx;
  Client client(fx.io.get_executor(), fx.options());
  MatchRecord rec;
  asio::co_spawn(fx.io, serve_match(&fx.acceptor), rethrow);
  asio::co_spawn(fx.io, drive_match(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_TRUE(rec.login_ok);
  EXPECT_EQ(rec.player, "alice");
  EXPECT_EQ(rec.room, 7u);
  EXPECT_EQ(rec.seq, 5u);
  EXPECT_TRUE(rec.members_ok);
  EXPECT_EQ(rec.members_room, 7u);
  EXPECT_TRUE(rec.ping_ok);
  EXPECT_GT(rec.pong_client_time, 0u);
  EXPECT_EQ(client.resume_token(), "tok-1");
  EXPECT_EQ(client.state(), State::closed);
}

// ------------------------------------------------------------------ pushes and last_seq

struct PushRecord {
  int handler_calls = 0;
  std::vector<proto::ServerFrame::BodyCase> queued;
  std::uint64_t seq_after_pushes = 0;
  std::uint64_t relogin_last_seq = 99;
  std::string resume_token;
  std::uint64_t resume_last_seq = 99;
  bool resumed = false;
  proto::LoginKind resume_kind = proto::LOGIN_KIND_NONE;
};

awaitable<void> serve_pushes(tcp::acceptor* acceptor, PushRecord* rec) {
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  auto login = co_await read_frame(&*socket);
  if (!login) co_return;
  co_await write_frame(&*socket, login_ok(login->request_id(), "tok-1", proto::NEW_SESSION));
  co_await write_frame(&*socket, room_joined(7, 5));
  co_await write_frame(&*socket, chat_event(7, 6, "hi"));
  co_await write_frame(&*socket, chat_event(7, 7, "there"));
  // The same account logs in again: the client must ask for a replay after seq 7.
  auto relogin = co_await read_frame(&*socket);
  if (!relogin || !relogin->has_login()) co_return;
  rec->relogin_last_seq = relogin->login().last_seq();
  co_await write_frame(&*socket, login_ok(relogin->request_id(), "tok-2", proto::TOOK_OVER));
  auto resume = co_await read_frame(&*socket);
  if (!resume || !resume->has_resume()) co_return;
  rec->resume_token = resume->resume().token();
  rec->resume_last_seq = resume->resume().last_seq();
  co_await write_frame(&*socket, login_ok(resume->request_id(), "tok-3", proto::REATTACHED));
  co_await read_frame(&*socket);
}

awaitable<void> drive_pushes(Client* client, PushRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  (void)co_await client->login("alice", "password1");
  for (int i = 0; i < 3; ++i) {
    auto push = co_await client->next_push(2s);
    if (push) rec->queued.push_back(push->body_case());
  }
  rec->seq_after_pushes = client->last_seq();
  (void)co_await client->login("Alice", "password1");  // same account, other case
  auto resumed = co_await client->resume();
  rec->resumed = resumed.has_value();
  if (resumed) rec->resume_kind = resumed->kind();
  auto none = co_await client->next_push(20ms);
  EXPECT_EQ(none.error(), make_error_code(Errc::timeout));
  client->close();
  io->stop();
}

TEST(ClientTest, PushesUpdateLastSeqAndAreReplayedFrom) {
  Fixture fx;
  auto options = fx.options();
  options.queue_pushes = true;
  Client client(fx.io.get_executor(), options);
  PushRecord rec;
  client.set_push_handler([&rec](const proto::ServerFrame& f) {
    EXPECT_EQ(f.request_id(), 0u);
    ++rec.handler_calls;
  });
  asio::co_spawn(fx.io, serve_pushes(&fx.acceptor, &rec), rethrow);
  asio::co_spawn(fx.io, drive_pushes(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(rec.handler_calls, 3);
  ASSERT_EQ(rec.queued.size(), 3u);
  EXPECT_EQ(rec.queued[0], proto::ServerFrame::kRoomJoined);
  EXPECT_EQ(rec.queued[1], proto::ServerFrame::kRoomEvent);
  EXPECT_EQ(rec.queued[2], proto::ServerFrame::kRoomEvent);
  EXPECT_EQ(rec.seq_after_pushes, 7u);
  EXPECT_EQ(rec.relogin_last_seq, 7u);
  EXPECT_EQ(rec.resume_token, "tok-2");
  EXPECT_EQ(rec.resume_last_seq, 7u);
  EXPECT_TRUE(rec.resumed);
  EXPECT_EQ(rec.resume_kind, proto::REATTACHED);
  EXPECT_EQ(client.resume_token(), "tok-3");
}

// ------------------------------------------------------------------ oversized frames

struct OversizeRecord {
  boost::system::error_code members_error;
  bool connected_after = true;
  bool server_saw_close = false;
};

awaitable<void> serve_oversize(tcp::acceptor* acceptor, OversizeRecord* rec) {
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  auto members = co_await read_frame(&*socket);
  if (!members) co_return;
  // Declares 1025 bytes to a client whose max_frame is 1024, and sends part of the body.
  std::string bytes(4 + 100, 'x');
  wire::write_length(reinterpret_cast<unsigned char*>(bytes.data()), 1025);
  co_await asio::async_write(*socket, asio::buffer(bytes), kTuple);
  auto next = co_await read_frame(&*socket);
  rec->server_saw_close = !next.has_value();
}

awaitable<void> drive_oversize(Client* client, OversizeRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  auto members = co_await client->members();
  rec->members_error = members.has_error() ? members.error() : boost::system::error_code{};
  rec->connected_after = client->connected();
  co_await eventually([rec] { return rec->server_saw_close; });
  io->stop();
}

TEST(ClientTest, RefusesOversizedFrameFromServer) {
  Fixture fx;
  auto options = fx.options();
  options.max_frame = 1024;
  Client client(fx.io.get_executor(), options);
  OversizeRecord rec;
  asio::co_spawn(fx.io, serve_oversize(&fx.acceptor, &rec), rethrow);
  asio::co_spawn(fx.io, drive_oversize(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(rec.members_error, make_error_code(Errc::frame_too_large));
  EXPECT_FALSE(rec.connected_after);
  EXPECT_TRUE(rec.server_saw_close);
  EXPECT_EQ(client.state(), State::closed);
  EXPECT_EQ(client.last_failure(), make_error_code(Errc::frame_too_large));
}

// ------------------------------------------------------------------ one request in flight

struct SerialRecord {
  std::vector<std::string> order;
  int pipelined = 0;  // requests that arrived while another was unanswered
  bool first_ok = false, second_ok = false;
};

awaitable<void> serve_serial(tcp::acceptor* acceptor, SerialRecord* rec) {
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  asio::steady_timer hold(acceptor->get_executor());
  for (int i = 0; i < 2; ++i) {
    auto chat = co_await read_frame(&*socket);
    if (!chat || !chat->has_chat()) co_return;
    rec->order.push_back(chat->chat().text());
    // Hold the answer; anything arriving meanwhile would have been pipelined (the real server
    // answers it with BUSY, and so does this one).
    hold.expires_after(60ms);
    co_await hold.async_wait(use_awaitable);
    if (socket->available() > 0) {
      ++rec->pipelined;
      auto extra = co_await read_frame(&*socket);
      if (extra) co_await write_frame(&*socket, error_frame(extra->request_id(), proto::BUSY, "busy"));
    }
    co_await write_frame(&*socket, ok_frame(chat->request_id()));
  }
  co_await read_frame(&*socket);
}

awaitable<void> drive_serial(Client* client, SerialRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  auto [first, second] = co_await (client->chat("one", 1) && client->chat("two", 2));
  rec->first_ok = first.has_value();
  rec->second_ok = second.has_value();
  client->close();
  io->stop();
}

TEST(ClientTest, SecondRequestWaitsForTheFirstAnswer) {
  Fixture fx;
  Client client(fx.io.get_executor(), fx.options());
  SerialRecord rec;
  asio::co_spawn(fx.io, serve_serial(&fx.acceptor, &rec), rethrow);
  asio::co_spawn(fx.io, drive_serial(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(rec.pipelined, 0);
  EXPECT_EQ(rec.order, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(rec.first_ok);
  EXPECT_TRUE(rec.second_ok);
}

// ------------------------------------------------------------------ errors, timeouts, raw bytes

struct ErrorRecord {
  boost::system::error_code login_error;
  std::string message;
  boost::system::error_code members_error;
  boost::system::error_code resume_error;
  std::string raw;
};

awaitable<void> serve_errors(tcp::acceptor* acceptor, ErrorRecord* rec) {
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  auto login = co_await read_frame(&*socket);
  if (!login) co_return;
  co_await write_frame(&*socket, error_frame(login->request_id(), proto::BAD_CREDENTIALS, "nope"));
  co_await read_frame(&*socket);  // members: never answered
  std::string raw(6, '\0');
  co_await asio::async_read(*socket, asio::buffer(raw), kTuple);
  rec->raw = raw;
  co_await read_frame(&*socket);
}

awaitable<void> drive_errors(Client* client, ErrorRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  auto login = co_await client->login("alice", "wrong-password");
  rec->login_error = login.error();
  rec->message = client->last_error_message();
  auto members = co_await client->members();
  rec->members_error = members.error();
  auto resume = co_await client->resume();  // no token yet
  rec->resume_error = resume.error();
  EXPECT_TRUE(client->send_raw(std::string("\0\0\0\x02hi", 6)));
  asio::steady_timer t(client->get_executor());
  t.expires_after(50ms);
  co_await t.async_wait(use_awaitable);
  client->close();
  io->stop();
}

TEST(ClientTest, ServerErrorsTimeoutsAndRawBytes) {
  Fixture fx;
  auto options = fx.options();
  options.request_timeout = 100ms;
  Client client(fx.io.get_executor(), options);
  ErrorRecord rec;
  asio::co_spawn(fx.io, serve_errors(&fx.acceptor, &rec), rethrow);
  asio::co_spawn(fx.io, drive_errors(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(rec.login_error, make_error_code(Errc::bad_credentials));
  EXPECT_EQ(rec.message, "nope");
  EXPECT_EQ(rec.members_error, make_error_code(Errc::timeout));
  EXPECT_EQ(rec.resume_error, make_error_code(Errc::bad_state));
  EXPECT_EQ(rec.raw, std::string("\0\0\0\x02hi", 6));
}

// ------------------------------------------------------------------ reconnect policy

struct ReconnectRecord {
  int accepted = 0;
  std::string resume_token;
  std::uint64_t resume_last_seq = 0;
  std::vector<State> states;
  int heartbeat_pings = 0;
};

/// First connection: log in, push the lobby at seq 3, then end as `how` says. Second connection
/// (if the client comes back): answer the resume with `resume_answer`.
struct ReconnectScript {
  bool send_closing = false;
  proto::CloseReason reason = proto::CLOSE_NONE;
  proto::ErrorCode resume_answer = proto::ERROR_NONE;
};

awaitable<void> serve_reconnect(tcp::acceptor* acceptor, ReconnectScript script, ReconnectRecord* rec) {
  {
    auto socket = co_await accept_and_hello(acceptor);
    if (!socket) co_return;
    ++rec->accepted;
    auto login = co_await read_frame(&*socket);
    if (!login) co_return;
    co_await write_frame(&*socket, login_ok(login->request_id(), "tok-1", proto::NEW_SESSION));
    co_await write_frame(&*socket, room_joined(9, 3));
    if (script.send_closing) co_await write_frame(&*socket, closing(script.reason));
  }  // the socket closes here without a goodbye
  auto socket = co_await accept_and_hello(acceptor);
  if (!socket) co_return;
  ++rec->accepted;
  auto resume = co_await read_frame(&*socket);
  if (!resume || !resume->has_resume()) co_return;
  rec->resume_token = resume->resume().token();
  rec->resume_last_seq = resume->resume().last_seq();
  if (script.resume_answer == proto::ERROR_NONE) {
    co_await write_frame(&*socket, login_ok(resume->request_id(), "tok-2", proto::REATTACHED));
  } else {
    co_await write_frame(&*socket, error_frame(resume->request_id(), script.resume_answer, "gone"));
  }
  co_await read_frame(&*socket);
}

awaitable<void> drive_reconnect(Client* client, State wanted, ReconnectRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  (void)co_await client->login("alice", "password1");
  // Wait for the loss and what follows it.
  co_await eventually([rec] {
    return std::find(rec->states.begin(), rec->states.end(), State::reconnecting) != rec->states.end() ||
           rec->states.back() == State::closed;
  });
  co_await eventually([client, wanted] { return client->state() == wanted; });
  // Give a wrong reconnect time to show up.
  asio::steady_timer t(client->get_executor());
  t.expires_after(30ms);
  co_await t.async_wait(use_awaitable);
  client->close();
  io->stop();
}

struct ReconnectOutcome {
  ReconnectRecord rec;
  std::string token_after;
  std::optional<proto::Closing> last_close;
  boost::system::error_code last_failure;
  std::uint64_t reconnects = 0;
};

ReconnectOutcome run_reconnect(ReconnectScript script, State wanted) {
  Fixture fx;
  auto options = fx.options();
  options.auto_reconnect = true;
  options.backoff_base = 1ms;
  options.backoff_cap = 5ms;
  Client client(fx.io.get_executor(), options);
  ReconnectOutcome out;
  client.set_state_handler([&out](State s) { out.rec.states.push_back(s); });
  asio::co_spawn(fx.io, serve_reconnect(&fx.acceptor, script, &out.rec), rethrow);
  asio::co_spawn(fx.io, drive_reconnect(&client, wanted, &out.rec, &fx.io), rethrow);
  fx.run();
  out.token_after = client.resume_token();
  out.last_close = client.last_close();
  out.last_failure = client.last_failure();
  out.reconnects = client.reconnects();
  return out;
}

bool contains(const std::vector<State>& states, State s) {
  return std::find(states.begin(), states.end(), s) != states.end();
}

TEST(ClientTest, ReconnectsAndResumesAfterUnexpectedLoss) {
  auto out = run_reconnect(ReconnectScript{}, State::logged_in);
  EXPECT_EQ(out.rec.accepted, 2);
  EXPECT_EQ(out.rec.resume_token, "tok-1");
  EXPECT_EQ(out.rec.resume_last_seq, 3u);
  EXPECT_EQ(out.reconnects, 1u);
  EXPECT_EQ(out.token_after, "tok-2");
  // connecting, connected, logged_in, reconnecting, logged_in, closed (by the test)
  const std::vector<State> expected{State::connecting, State::connected, State::logged_in,
                                    State::reconnecting, State::logged_in, State::closed};
  EXPECT_EQ(out.rec.states, expected);
}

TEST(ClientTest, ReconnectsAfterClosingWithARetryableReason) {
  auto out = run_reconnect(ReconnectScript{true, proto::CLOSE_IDLE_TIMEOUT, proto::ERROR_NONE},
                           State::logged_in);
  EXPECT_EQ(out.rec.accepted, 2);
  EXPECT_EQ(out.reconnects, 1u);
  ASSERT_TRUE(out.last_close);
  EXPECT_EQ(out.last_close->reason(), proto::CLOSE_IDLE_TIMEOUT);
}

TEST(ClientTest, NoReconnectAfterLoggedInElsewhere) {
  auto out = run_reconnect(ReconnectScript{true, proto::CLOSE_LOGGED_IN_ELSEWHERE, proto::ERROR_NONE},
                           State::closed);
  EXPECT_EQ(out.rec.accepted, 1);
  EXPECT_FALSE(contains(out.rec.states, State::reconnecting));
  ASSERT_TRUE(out.last_close);
  EXPECT_EQ(out.last_close->reason(), proto::CLOSE_LOGGED_IN_ELSEWHERE);
  EXPECT_EQ(out.last_close->message(), "bye");
}

TEST(ClientTest, StopsReconnectingWhenTheSessionExpired) {
  auto out = run_reconnect(ReconnectScript{false, proto::CLOSE_NONE, proto::SESSION_EXPIRED},
                           State::closed);
  EXPECT_EQ(out.rec.accepted, 2);
  EXPECT_TRUE(contains(out.rec.states, State::reconnecting));
  EXPECT_EQ(out.rec.states.back(), State::closed);
  EXPECT_EQ(out.reconnects, 0u);
  EXPECT_TRUE(out.token_after.empty());
  EXPECT_EQ(out.last_failure, make_error_code(Errc::session_expired));
}

// ------------------------------------------------------------------ heartbeats

struct HeartbeatRecord {
  int pings = 0;
};

awaitable<void> serve_heartbeat(tcp::acceptor* acceptor, HeartbeatRecord* rec) {
  auto socket = co_await accept_and_hello(acceptor, 20);
  if (!socket) co_return;
  for (;;) {
    auto f = co_await read_frame(&*socket);
    if (!f) co_return;
    if (!f->has_ping()) continue;
    ++rec->pings;
    proto::ServerFrame pong;
    pong.set_request_id(f->request_id());
    pong.mutable_pong()->set_client_time_ms(f->ping().client_time_ms());
    co_await write_frame(&*socket, pong);
  }
}

awaitable<void> drive_heartbeat(Client* client, HeartbeatRecord* rec, asio::io_context* io) {
  (void)co_await client->connect();
  co_await eventually([rec] { return rec->pings >= 3; });
  EXPECT_TRUE(client->connected());  // the Pongs keep the heartbeat timeout away
  client->close();
  io->stop();
}

TEST(ClientTest, SendsPingsAtTheNegotiatedInterval) {
  Fixture fx;
  Client client(fx.io.get_executor(), fx.options());
  HeartbeatRecord rec;
  asio::co_spawn(fx.io, serve_heartbeat(&fx.acceptor, &rec), rethrow);
  asio::co_spawn(fx.io, drive_heartbeat(&client, &rec, &fx.io), rethrow);
  fx.run();
  EXPECT_GE(rec.pings, 3);
}

// ------------------------------------------------------------------ connect failures

awaitable<void> drive_refused(Client* client, boost::system::error_code* out, asio::io_context* io) {
  auto st = co_await client->connect();
  *out = st ? boost::system::error_code{} : st.error();
  io->stop();
}

TEST(ClientTest, ConnectFailureIsUnavailable) {
  Fixture fx;
  auto options = fx.options();
  fx.acceptor.close();  // nothing listens on the port any more
  Client client(fx.io.get_executor(), options);
  boost::system::error_code error;
  asio::co_spawn(fx.io, drive_refused(&client, &error, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(error, make_error_code(Errc::unavailable));
  EXPECT_EQ(client.state(), State::closed);
}

awaitable<void> serve_old_version(tcp::acceptor* acceptor) {
  auto [ec, socket] = co_await acceptor->async_accept(kTuple);
  if (ec) co_return;
  auto hello = co_await read_frame(&socket);
  if (!hello) co_return;
  co_await write_frame(&socket, error_frame(hello->request_id(), proto::UNSUPPORTED_VERSION, "v2 only"));
  co_await write_frame(&socket, closing(proto::CLOSE_UNSUPPORTED_VERSION));
}

TEST(ClientTest, HelloRefusalComesBackAsTheServersCode) {
  Fixture fx;
  Client client(fx.io.get_executor(), fx.options());
  boost::system::error_code error;
  asio::co_spawn(fx.io, serve_old_version(&fx.acceptor), rethrow);
  asio::co_spawn(fx.io, drive_refused(&client, &error, &fx.io), rethrow);
  fx.run();
  EXPECT_EQ(error, make_error_code(Errc::unsupported_version));
  EXPECT_EQ(client.last_error_message(), "v2 only");
}

// ------------------------------------------------------------------ WebSocket transport

awaitable<void> serve_ws(tcp::acceptor* acceptor, int* frames_seen) {
  auto [ec, socket] = co_await acceptor->async_accept(kTuple);
  if (ec) co_return;
  websocket::stream<tcp::socket> ws(std::move(socket));
  auto [aec] = co_await ws.async_accept(kTuple);
  if (aec) co_return;
  ws.binary(true);
  for (;;) {
    boost::beast::flat_buffer buffer;
    auto [rec, n] = co_await ws.async_read(buffer, kTuple);
    if (rec) co_return;
    const auto data = buffer.data();
    auto frame = wire::decode_client(std::string_view(static_cast<const char*>(data.data()), data.size()));
    if (!frame) co_return;  // a length prefix here would not parse as this frame
    ++*frames_seen;
    proto::ServerFrame answer;
    if (frame->has_hello()) answer = hello_ok(frame->request_id());
    if (frame->has_login()) answer = login_ok(frame->request_id(), "tok-ws", proto::NEW_SESSION);
    if (frame->has_chat()) answer = ok_frame(frame->request_id());
    auto encoded = wire::encode(answer);
    const auto payload = encoded->payload();
    co_await ws.async_write(asio::buffer(payload.data(), payload.size()), kTuple);
    if (frame->has_login()) {
      auto push = wire::encode(chat_event(3, 11, "ws"));
      const auto p = push->payload();
      co_await ws.async_write(asio::buffer(p.data(), p.size()), kTuple);
    }
  }
}

awaitable<void> drive_ws(Client* client, bool* ok, asio::io_context* io) {
  auto st = co_await client->connect();
  auto login = co_await client->login("alice", "password1");
  auto chat = co_await client->chat("over websocket", 5);
  *ok = st && login && chat && client->resume_token() == "tok-ws";
  co_await eventually([client] { return client->last_seq() == 11; });
  client->close();
  io->stop();
}

TEST(ClientTest, WebSocketCarriesOneFramePerMessage) {
  Fixture fx;
  auto options = fx.options();
  options.transport = ClientOptions::Transport::websocket;
  Client client(fx.io.get_executor(), options);
  int frames_seen = 0;
  bool ok = false;
  asio::co_spawn(fx.io, serve_ws(&fx.acceptor, &frames_seen), rethrow);
  asio::co_spawn(fx.io, drive_ws(&client, &ok, &fx.io), rethrow);
  fx.run();
  EXPECT_TRUE(ok);
  EXPECT_EQ(frames_seen, 3);
  EXPECT_EQ(client.last_seq(), 11u);
  EXPECT_EQ(client.room_id(), 3u);
}

}  // namespace
}  // namespace sb::client
