// Bad input over raw sockets: malformed and oversized frames, wrong state, BUSY, floods, slow
// readers and silent clients. The node must answer or close with a reason and never crash.
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "harness.hpp"

namespace sb::test {
namespace {

class BadInputTest : public NodeTest {
 protected:
  std::uint64_t metric(const std::string& line_prefix) {
    // Reads a counter from the node's registry text.
    const std::string text = node_->render_metrics();
    const auto pos = text.find("\n" + line_prefix + " ");
    if (pos == std::string::npos) return 0;
    return std::stoull(text.substr(pos + line_prefix.size() + 2));
  }
};

TEST_F(BadInputTest, GarbagePayloadGetsMalformedErrorAndConnectionStaysUsable) {
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  std::string junk = "\xff\xff\xff\xff\x0f garbage";
  std::string frame(4, '\0');
  wire::write_length(reinterpret_cast<unsigned char*>(frame.data()), static_cast<std::uint32_t>(junk.size()));
  c.write(frame + junk);
  auto err = c.read();
  ASSERT_TRUE(err && err->has_error());
  EXPECT_EQ(err->error().code(), proto::MALFORMED_FRAME);
  proto::ClientFrame ping;
  ping.set_request_id(7);
  ping.mutable_ping();
  c.send(ping);
  auto pong = c.read();
  ASSERT_TRUE(pong && pong->has_pong());
  EXPECT_EQ(pong->request_id(), 7u);
  EXPECT_GE(metric("sb_errors_total{code=\"malformed_frame\"}"), 1u);
}

TEST_F(BadInputTest, OversizedFrameClosesBeforeTheBodyIsSent) {
  config_.session.max_frame_bytes = 1024;
  config_.session.send_queue_bytes = 4096;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  std::string header(4, '\0');
  wire::write_length(reinterpret_cast<unsigned char*>(header.data()), 10'000'000);
  c.write(header);  // only the header: the server must not wait for 10 MB
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_GE(metric("sb_errors_total{code=\"frame_too_large\"}"), 1u);
}

/// A Ping payload of exactly `size` bytes: padded with unknown length-delimited fields (number
/// 1000), which a ClientFrame decoder skips.
std::string padded_ping(std::uint32_t rid, std::size_t size) {
  proto::ClientFrame f;
  f.set_request_id(rid);
  f.mutable_ping();
  const std::string base = f.SerializeAsString();
  auto field = [](std::size_t n) {
    std::string out = "\xc2\x3e";  // key: field 1000, wire type 2 (varint 8002)
    for (std::size_t v = n;; v >>= 7) {
      if (v < 0x80) {
        out.push_back(static_cast<char>(v));
        break;
      }
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    }
    return out + std::string(n, 'p');
  };
  // One field reaches every size but a few just past a varint length boundary; an empty field
  // (3 bytes) in front covers those.
  for (const std::string& prefix : {std::string(), field(0)}) {
    for (std::size_t n = 0; base.size() + prefix.size() + n <= size; ++n) {
      std::string payload = base + prefix + field(n);
      if (payload.size() == size) return payload;
    }
  }
  ADD_FAILURE() << "cannot pad a ping to " << size << " bytes";
  return base;
}

std::string tcp_frame(const std::string& payload) {
  std::string out(wire::kHeaderBytes, '\0');
  wire::write_length(reinterpret_cast<unsigned char*>(out.data()), static_cast<std::uint32_t>(payload.size()));
  return out + payload;
}

// protocol.md §1.3 at the boundary: a payload of exactly max_frame_bytes is read and answered,
// one byte more is refused with FRAME_TOO_LARGE and Closing, and the connection closes.
TEST_F(BadInputTest, TcpFrameOfExactlyTheMaximumIsAcceptedAndOneByteMoreIsRefused) {
  constexpr std::uint32_t kMax = 1024;
  config_.session.max_frame_bytes = kMax;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  auto hello = c.read_until([](auto& f) { return f.has_hello_ok(); });
  ASSERT_TRUE(hello);
  ASSERT_EQ(hello->hello_ok().max_frame_bytes(), kMax);

  const std::string exact = padded_ping(7, kMax);
  ASSERT_EQ(exact.size(), kMax);
  ASSERT_TRUE(wire::decode_client(exact)) << "the padded ping is a valid ClientFrame";
  c.write(tcp_frame(exact));
  auto pong = c.read();
  ASSERT_TRUE(pong && pong->has_pong()) << (pong ? pong->DebugString() : "closed");
  EXPECT_EQ(pong->request_id(), 7u);
  EXPECT_EQ(metric("sb_errors_total{code=\"frame_too_large\"}"), 0u);

  c.write(tcp_frame(padded_ping(8, kMax + 1)));
  auto err = c.read();
  ASSERT_TRUE(err && err->has_error()) << (err ? err->DebugString() : "closed without an Error");
  EXPECT_EQ(err->request_id(), 0u);
  EXPECT_EQ(err->error().code(), proto::FRAME_TOO_LARGE);
  EXPECT_EQ(err->error().message(), "frame larger than 1024 bytes");
  auto bye = c.read();
  ASSERT_TRUE(bye && bye->has_closing()) << (bye ? bye->DebugString() : "closed without Closing");
  EXPECT_EQ(bye->closing().reason(), proto::CLOSE_FRAME_TOO_LARGE);
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(metric("sb_errors_total{code=\"frame_too_large\"}"), 1u);
}

// The same boundary on WebSocket: one binary message of exactly max_frame_bytes is answered, one
// byte more ends the connection with a Close frame of status 1009 and no Error or Closing.
TEST_F(BadInputTest, WebSocketMessageOfExactlyTheMaximumIsAcceptedAndOneByteMoreIsRefused) {
  namespace websocket = boost::beast::websocket;
  constexpr std::uint32_t kMax = 1024;
  config_.session.max_frame_bytes = kMax;
  start();
  asio::io_context io;
  websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), node_->ws_port()});
  timeval tv{5, 0};
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ws.handshake("127.0.0.1", "/");
  ws.binary(true);
  ws.auto_fragment(false);
  boost::beast::flat_buffer buf;
  auto read = [&]() -> std::optional<proto::ServerFrame> {
    buf.clear();
    boost::system::error_code ec;
    ws.read(buf, ec);
    if (ec) return std::nullopt;
    auto f = wire::decode_server(boost::beast::buffers_to_string(buf.data()));
    if (!f) return std::nullopt;
    return *f;
  };
  proto::ClientFrame hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_min_version(1);
  hello.mutable_hello()->set_max_version(1);
  ws.write(asio::buffer(hello.SerializeAsString()));
  auto ok = read();
  ASSERT_TRUE(ok && ok->has_hello_ok());
  ASSERT_EQ(ok->hello_ok().max_frame_bytes(), kMax);

  const std::string exact = padded_ping(7, kMax);
  ASSERT_EQ(exact.size(), kMax);
  ws.write(asio::buffer(exact));
  auto pong = read();
  ASSERT_TRUE(pong && pong->has_pong()) << (pong ? pong->DebugString() : "closed");
  EXPECT_EQ(pong->request_id(), 7u);

  ws.write(asio::buffer(padded_ping(8, kMax + 1)));
  buf.clear();
  boost::system::error_code ec;
  ws.read(buf, ec);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message() << "; got " << buf.size() << " bytes";
  EXPECT_EQ(buf.size(), 0u) << "no Error or Closing before the Close frame";
  EXPECT_EQ(ws.reason().code, websocket::close_code::too_big);
}

TEST_F(BadInputTest, RequestBeforeHelloIsRefusedAndClosed) {
  start();
  RawConn c(node_->tcp_port());
  c.send(login_frame(1, "x", "y"));
  auto err = c.read();
  ASSERT_TRUE(err && err->has_error());
  EXPECT_EQ(err->error().code(), proto::BAD_STATE);
  auto bye = c.read();
  ASSERT_TRUE(bye && bye->has_closing());
  EXPECT_EQ(bye->closing().reason(), proto::CLOSE_PROTOCOL_ERROR);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(BadInputTest, UnsupportedVersionIsRefused) {
  start();
  RawConn c(node_->tcp_port());
  proto::ClientFrame f;
  f.set_request_id(1);
  f.mutable_hello()->set_min_version(7);
  f.mutable_hello()->set_max_version(9);
  c.send(f);
  auto err = c.read();
  ASSERT_TRUE(err && err->has_error());
  EXPECT_EQ(err->error().code(), proto::UNSUPPORTED_VERSION);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(BadInputTest, VisitorCannotChat) {
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  c.send(chat_frame(2, "hi"));
  auto err = c.read();
  ASSERT_TRUE(err && err->has_error());
  EXPECT_EQ(err->request_id(), 2u);
  EXPECT_EQ(err->error().code(), proto::BAD_STATE);
}

TEST_F(BadInputTest, SecondRequestInFlightGetsBusy) {
  // Real argon2 parameters make the login slow enough that the second request overlaps it.
  config_.auth.argon2_ops = 2;
  config_.auth.argon2_mem_kib = 19 * 1024;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  proto::ClientFrame reg;
  reg.set_request_id(10);
  reg.mutable_register_account()->set_username("busybee");
  reg.mutable_register_account()->set_password("password-1");
  c.write(wire::encode(reg)->bytes + wire::encode(login_frame(11, "busybee", "password-1"))->bytes);
  bool busy = false, registered = false;
  for (int i = 0; i < 6 && !(busy && registered); ++i) {
    auto f = c.read();
    ASSERT_TRUE(f);
    if (f->request_id() == 11 && f->has_error()) busy = f->error().code() == proto::BUSY;
    if (f->request_id() == 10) registered = f->has_login_ok();
  }
  EXPECT_TRUE(busy);
  EXPECT_TRUE(registered);
}

TEST_F(BadInputTest, FloodOfBadFramesEndsInProtocolClose) {
  config_.session.max_errors = 5;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  std::string flood;
  for (int i = 0; i < 50; ++i) flood += wire::frame_from_payload("\x07\x07\x07")->bytes;
  c.write(flood);
  auto bye = c.read_until([](auto& f) { return f.has_closing(); });
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->closing().reason(), proto::CLOSE_PROTOCOL_ERROR);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(BadInputTest, SilentClientIsClosedByHeartbeatTimeout) {
  config_.session.heartbeat_timeout_ms = 400;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  ASSERT_TRUE(c.read_until([](auto& f) { return f.has_hello_ok(); }));
  auto bye = c.read_until([](auto& f) { return f.has_closing(); });
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->closing().reason(), proto::CLOSE_HEARTBEAT_TIMEOUT);
}

TEST_F(BadInputTest, VisitorWhoNeverLogsInIsClosed) {
  config_.session.login_timeout_ms = 300;
  start();
  RawConn c(node_->tcp_port());
  c.send_hello();
  auto bye = c.read_until([](auto& f) { return f.has_closing(); });
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->closing().reason(), proto::CLOSE_LOGIN_TIMEOUT);
}

TEST_F(BadInputTest, SlowReaderIsDisconnectedAndOthersKeepGoing) {
  config_.session.max_frame_bytes = 1024;
  config_.session.send_queue_bytes = 8192;
  start();
  // The slow reader logs in, then never reads again; a tiny receive buffer makes it back up fast.
  RawConn slow(node_->tcp_port(), 2048);
  slow.send_hello();
  ASSERT_TRUE(slow.read_until([](auto& f) { return f.has_hello_ok(); }));
  proto::ClientFrame reg;
  reg.set_request_id(2);
  reg.mutable_register_account()->set_username("sloth");
  reg.mutable_register_account()->set_password("password-1");
  slow.send(reg);
  ASSERT_TRUE(slow.read_until([](auto& f) { return f.has_room_joined(); }));
  auto& talker = registered("talker");
  ASSERT_TRUE(in_room(talker));
  const std::string line(400, 'z');
  bool disconnected = false;
  for (int i = 0; i < 20000 && !disconnected; ++i) {
    ASSERT_TRUE(run(talker.chat(line))) << "the talker is never affected: " << talker.last_error_message();
    if (i % 50 == 0) disconnected = metric("sb_send_queue_disconnects_total") >= 1;
  }
  EXPECT_TRUE(disconnected);
  EXPECT_TRUE(slow.closed_by_server());
}

}  // namespace
}  // namespace sb::test
