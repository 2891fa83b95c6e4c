#include "wire/frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sb::wire {
namespace {

std::span<const unsigned char> bytes_of(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string header(std::uint32_t n) {
  std::string h(kHeaderBytes, '\0');
  write_length(reinterpret_cast<unsigned char*>(h.data()), n);
  return h;
}

std::vector<std::string> drain(FrameDecoder& d) {
  std::vector<std::string> out;
  std::string payload;
  while (d.next(payload)) out.push_back(payload);
  return out;
}

proto::ClientFrame sample_client(std::uint32_t request_id) {
  proto::ClientFrame f;
  f.set_request_id(request_id);
  auto* login = f.mutable_login();
  login->set_username("alice");
  login->set_password("correct horse battery staple");
  login->set_zone("eu");
  login->set_last_seq(42);
  return f;
}

proto::ServerFrame sample_server() {
  proto::ServerFrame f;
  auto* e = f.mutable_room_event();
  e->set_room_id(7);
  e->set_seq(9);
  e->set_server_time_ms(1'700'000'000'123);
  auto* c = e->mutable_chat();
  c->set_from_player_id(3);
  c->set_from_name("bob");
  c->set_text("hello, room");
  c->set_tag(99);
  return f;
}

TEST(FrameTest, LengthIsBigEndian) {
  unsigned char p[4];
  write_length(p, 0x01020304u);
  EXPECT_EQ(p[0], 0x01);
  EXPECT_EQ(p[1], 0x02);
  EXPECT_EQ(p[2], 0x03);
  EXPECT_EQ(p[3], 0x04);
  EXPECT_EQ(read_length(p), 0x01020304u);
  const unsigned char q[4] = {0xFF, 0x00, 0x00, 0x80};
  EXPECT_EQ(read_length(q), 0xFF000080u);
}

TEST(FrameTest, EncodePrefixesPayloadWithItsLength) {
  const auto msg = sample_client(5);
  const auto frame = encode(msg);
  const std::string expected = msg.SerializeAsString();
  ASSERT_EQ(frame->size(), kHeaderBytes + expected.size());
  EXPECT_EQ(read_length(reinterpret_cast<const unsigned char*>(frame->bytes.data())), expected.size());
  EXPECT_EQ(frame->payload(), expected);
}

TEST(FrameTest, FrameFromPayloadMatchesEncode) {
  const auto msg = sample_server();
  const auto a = encode(msg);
  const auto b = frame_from_payload(msg.SerializeAsString());
  EXPECT_EQ(a->bytes, b->bytes);
}

TEST(FrameTest, FrameFromLongPayloadUsesAllFourLengthBytes) {
  const std::string payload(0x010203, 'x');
  const auto f = frame_from_payload(payload);
  EXPECT_EQ(f->bytes.substr(0, 4), std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ(f->payload(), payload);
}

TEST(FrameTest, ClientFrameRoundTripsThroughDecoder) {
  const auto msg = sample_client(17);
  const auto frame = encode(msg);
  FrameDecoder d;
  ASSERT_TRUE(d.feed(bytes_of(frame->bytes)));
  auto payloads = drain(d);
  ASSERT_EQ(payloads.size(), 1u);
  auto decoded = decode_client(payloads[0]);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->request_id(), 17u);
  ASSERT_EQ(decoded->body_case(), proto::ClientFrame::kLogin);
  EXPECT_EQ(decoded->login().username(), "alice");
  EXPECT_EQ(decoded->login().password(), "correct horse battery staple");
  EXPECT_EQ(decoded->login().zone(), "eu");
  EXPECT_EQ(decoded->login().last_seq(), 42u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameTest, ServerFrameRoundTripsThroughDecoder) {
  const auto frame = encode(sample_server());
  FrameDecoder d;
  ASSERT_TRUE(d.feed(bytes_of(frame->bytes)));
  auto payloads = drain(d);
  ASSERT_EQ(payloads.size(), 1u);
  auto decoded = decode_server(payloads[0]);
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_EQ(decoded->body_case(), proto::ServerFrame::kRoomEvent);
  const auto& e = decoded->room_event();
  EXPECT_EQ(e.room_id(), 7u);
  EXPECT_EQ(e.seq(), 9u);
  EXPECT_EQ(e.server_time_ms(), 1'700'000'000'123u);
  ASSERT_EQ(e.body_case(), proto::RoomEvent::kChat);
  EXPECT_EQ(e.chat().from_name(), "bob");
  EXPECT_EQ(e.chat().text(), "hello, room");
  EXPECT_EQ(e.chat().tag(), 99u);
}

TEST(FrameTest, FramesSplitAtEveryByteBoundaryDecode) {
  // Two frames back to back, cut into two feeds at every possible point.
  const std::string stream = encode(sample_client(1))->bytes + encode(sample_client(2))->bytes;
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder d;
    std::vector<std::string> got;
    ASSERT_TRUE(d.feed(bytes_of(std::string_view(stream).substr(0, cut)))) << cut;
    for (auto& p : drain(d)) got.push_back(p);
    ASSERT_TRUE(d.feed(bytes_of(std::string_view(stream).substr(cut)))) << cut;
    for (auto& p : drain(d)) got.push_back(p);
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    auto a = decode_client(got[0]);
    auto b = decode_client(got[1]);
    ASSERT_TRUE(a && b) << cut;
    EXPECT_EQ(a->request_id(), 1u);
    EXPECT_EQ(b->request_id(), 2u);
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_FALSE(d.failed());
  }
}

TEST(FrameTest, OneByteAtATimeDecodes) {
  const std::string stream = encode(sample_server())->bytes;
  FrameDecoder d;
  std::vector<std::string> got;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    ASSERT_TRUE(d.feed(bytes_of(std::string_view(stream).substr(i, 1))));
    auto part = drain(d);
    if (i + 1 < stream.size()) {
      EXPECT_TRUE(part.empty()) << "complete too early at byte " << i;
    }
    for (auto& p : part) got.push_back(p);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(decode_server(got[0]));
}

TEST(FrameTest, ManyFramesInOneFeedComeOutInOrder) {
  std::string stream;
  for (std::uint32_t i = 1; i <= 100; ++i) stream += encode(sample_client(i))->bytes;
  FrameDecoder d;
  ASSERT_TRUE(d.feed(bytes_of(stream)));
  auto got = drain(d);
  ASSERT_EQ(got.size(), 100u);
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto f = decode_client(got[i]);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->request_id(), i + 1);
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameTest, IncompleteFrameWaitsForMoreBytes) {
  const std::string stream = encode(sample_client(3))->bytes;
  FrameDecoder d;
  ASSERT_TRUE(d.feed(bytes_of(std::string_view(stream).substr(0, stream.size() - 1))));
  std::string payload;
  EXPECT_FALSE(d.next(payload));
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.buffered(), stream.size() - 1);
}

TEST(FrameTest, OversizedHeaderRejectedBeforeBodyArrives) {
  FrameDecoder d(1024);
  const auto st = d.feed(bytes_of(header(1025)));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), make_error_code(Errc::frame_too_large));
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.buffered(), 0u);
  std::string payload;
  EXPECT_FALSE(d.next(payload));
}

TEST(FrameTest, OversizedHeaderSplitAcrossFeedsIsRejected) {
  FrameDecoder d(1024);
  const std::string h = header(0xFFFFFFFFu);
  ASSERT_TRUE(d.feed(bytes_of(std::string_view(h).substr(0, 3))));
  EXPECT_FALSE(d.failed());
  EXPECT_FALSE(d.feed(bytes_of(std::string_view(h).substr(3))));
  EXPECT_TRUE(d.failed());
}

TEST(FrameTest, OversizedHeaderAfterAConsumedFrameIsRejected) {
  FrameDecoder d(1024);
  const std::string good = encode(sample_client(1))->bytes;
  ASSERT_TRUE(d.feed(bytes_of(good)));
  ASSERT_EQ(drain(d).size(), 1u);
  EXPECT_FALSE(d.feed(bytes_of(header(4096))));
  EXPECT_TRUE(d.failed());
}

TEST(FrameTest, OversizedHeaderBehindAGoodFrameFailsTheDecoder) {
  // A good frame and an oversized header arrive in one read: the good frame is delivered, then
  // the decoder fails instead of waiting for the body.
  FrameDecoder d(1024);
  const std::string stream = encode(sample_client(1))->bytes + header(2048);
  const auto st = d.feed(bytes_of(stream));
  std::string payload;
  if (st) {
    ASSERT_TRUE(d.next(payload));
    EXPECT_TRUE(decode_client(payload));
    EXPECT_FALSE(d.next(payload));
  }
  EXPECT_TRUE(d.failed());
}

TEST(FrameTest, FailedDecoderKeepsNoBodyBytes) {
  // The oversized header is found by next() (a good frame was in front of it); body bytes that
  // came in the same read must not stay buffered.
  FrameDecoder d(1024);
  const std::string stream = encode(sample_client(1))->bytes + header(4096) + std::string(500, 'b');
  ASSERT_TRUE(d.feed(bytes_of(stream)));
  EXPECT_EQ(drain(d).size(), 1u);
  ASSERT_TRUE(d.failed());
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_FALSE(d.feed(bytes_of(std::string(10, 'c'))));
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameTest, FrameOfExactlyMaxSizeIsAccepted) {
  FrameDecoder d(300);
  const std::string payload(300, 'a');
  ASSERT_TRUE(d.feed(bytes_of(frame_from_payload(payload)->bytes)));
  auto got = drain(d);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], payload);
  EXPECT_FALSE(d.failed());
}

TEST(FrameTest, DecoderStaysFailedAfterOversizedHeader) {
  FrameDecoder d(16);
  ASSERT_FALSE(d.feed(bytes_of(header(17))));
  const std::string good = frame_from_payload("abc")->bytes;
  const auto st = d.feed(bytes_of(good));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), make_error_code(Errc::frame_too_large));
  std::string payload;
  EXPECT_FALSE(d.next(payload));
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameTest, ZeroLengthPayloadIsAFrame) {
  FrameDecoder d;
  const std::string stream = header(0) + frame_from_payload("xy")->bytes;
  ASSERT_TRUE(d.feed(bytes_of(stream)));
  auto got = drain(d);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "");
  EXPECT_EQ(got[1], "xy");
}

TEST(FrameTest, EmptyPayloadIsUnknownMessage) {
  auto c = decode_client("");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(Errc::unknown_message));
  auto s = decode_server("");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), make_error_code(Errc::unknown_message));
}

TEST(FrameTest, ParseableFrameWithoutBodyIsUnknownMessage) {
  proto::ClientFrame f;
  f.set_request_id(12);  // parses, but carries no body
  auto c = decode_client(f.SerializeAsString());
  ASSERT_FALSE(c);
  EXPECT_EQ(to_errc(c.error()), Errc::unknown_message);

  proto::ServerFrame s;
  s.set_request_id(12);
  auto r = decode_server(s.SerializeAsString());
  ASSERT_FALSE(r);
  EXPECT_EQ(to_errc(r.error()), Errc::unknown_message);
}

TEST(FrameTest, GarbagePayloadIsMalformed) {
  // 0xFF... is an invalid varint tag: field number overflow / truncated varint.
  const std::string garbage("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 11);
  auto c = decode_client(garbage);
  ASSERT_FALSE(c);
  EXPECT_EQ(to_errc(c.error()), Errc::malformed_frame);
  auto s = decode_server(garbage);
  ASSERT_FALSE(s);
  EXPECT_EQ(to_errc(s.error()), Errc::malformed_frame);
}

TEST(FrameTest, TruncatedMessageIsMalformed) {
  const std::string full = sample_client(4).SerializeAsString();
  auto c = decode_client(std::string_view(full).substr(0, full.size() - 3));
  ASSERT_FALSE(c);
  EXPECT_EQ(to_errc(c.error()), Errc::malformed_frame);
}

TEST(FrameTest, ServerPayloadIsNotMistakenForAClientBody) {
  // A ServerFrame's room_event (field 31) is unknown to ClientFrame: it parses as an unknown
  // field and leaves no client body.
  auto c = decode_client(sample_server().SerializeAsString());
  ASSERT_FALSE(c);
  EXPECT_EQ(to_errc(c.error()), Errc::unknown_message);
}

}  // namespace
}  // namespace sb::wire
