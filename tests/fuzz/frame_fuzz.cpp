// libFuzzer target for the TCP frame decoder and the ClientFrame/ServerFrame payload decoders.
//
// Input layout: byte 0 picks the decoder's max_frame; then the input alternates one "chunk size"
// byte with that many stream bytes, so the fuzzer controls both the byte stream and how it is
// cut into reads. Every chunk is fed to a FrameDecoder and every complete payload is run through
// decode_client and decode_server. The harness checks the decoder against a whole-buffer
// reference parse of the same stream (same payloads, in order; fails exactly when the stream
// declares an oversized frame), the buffering bound, and that decoded messages re-serialize
// stably. A broken invariant aborts, which libFuzzer reports as a crash.
// Also linked into frame_fuzz_replay_test (GoogleTest, any compiler) with no fuzzer runtime.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/frame.hpp"

namespace {

using sb::wire::FrameDecoder;
using sb::wire::kHeaderBytes;

[[noreturn]] void violated(const char* what, int line) {
  std::fprintf(stderr, "frame_fuzz: invariant violated at line %d: %s\n", line, what);
  std::abort();
}

#define SB_FUZZ_CHECK(cond)                    \
  do {                                         \
    if (!(cond)) violated(#cond, __LINE__);    \
  } while (false)

constexpr std::size_t kMaxFrames[] = {0, 1, 16, 300, 4096, sb::wire::kDefaultMaxFrame};

// Chunk size from one byte: 1..128 in steps of 1, then 64..8128 in steps of 64.
std::size_t chunk_size(unsigned char b) {
  return (b & 0x80) ? static_cast<std::size_t>(b & 0x7f) * 64 + 64 : static_cast<std::size_t>(b) + 1;
}

struct Reference {
  std::vector<std::string> payloads;
  bool oversized = false;
};

// Big-endian u32 at `pos`, written out here rather than taken from the code under test.
std::uint32_t length_at(std::string_view stream, std::size_t pos) {
  std::uint32_t n = 0;
  for (std::size_t k = 0; k < kHeaderBytes; ++k) n = (n << 8) | static_cast<unsigned char>(stream[pos + k]);
  return n;
}

// The simplest correct reading of the whole stream at once.
Reference reference_parse(std::string_view stream, std::size_t max_frame) {
  Reference ref;
  std::size_t pos = 0;
  while (stream.size() - pos >= kHeaderBytes) {
    const std::uint32_t n = length_at(stream, pos);
    if (n > max_frame) {
      ref.oversized = true;
      break;
    }
    if (stream.size() - pos - kHeaderBytes < n) break;
    ref.payloads.emplace_back(stream.substr(pos + kHeaderBytes, n));
    pos += kHeaderBytes + n;
  }
  return ref;
}

template <class Message>
void check_decoded(const std::string& payload, const sb::Result<Message>& decoded) {
  if (!decoded) {
    // malformed_frame exactly when the payload does not parse; unknown_message when it parses
    // without a body.
    const auto e = sb::to_errc(decoded.error());
    Message plain;
    const bool parses = plain.ParseFromString(payload);
    SB_FUZZ_CHECK(e == (parses ? sb::Errc::unknown_message : sb::Errc::malformed_frame));
    SB_FUZZ_CHECK(!parses || plain.body_case() == Message::BODY_NOT_SET);
    return;
  }
  SB_FUZZ_CHECK(decoded->body_case() != Message::BODY_NOT_SET);
  // A parsed message re-serializes to bytes that parse back to the same serialization.
  const std::string once = decoded->SerializeAsString();
  Message again;
  SB_FUZZ_CHECK(again.ParseFromString(once));
  SB_FUZZ_CHECK(again.SerializeAsString() == once);
}

void check_payload(const std::string& payload, std::size_t max_frame) {
  SB_FUZZ_CHECK(payload.size() <= max_frame);
  check_decoded(payload, sb::wire::decode_client(payload));
  check_decoded(payload, sb::wire::decode_server(payload));
  // Framing the payload again and decoding it in one go gives it back.
  const auto frame = sb::wire::frame_from_payload(payload);
  SB_FUZZ_CHECK(frame->payload() == payload);
  SB_FUZZ_CHECK(length_at(frame->bytes, 0) == payload.size());
  FrameDecoder single(max_frame);
  SB_FUZZ_CHECK(single.feed(std::span<const unsigned char>(
      reinterpret_cast<const unsigned char*>(frame->bytes.data()), frame->bytes.size())));
  std::string back;
  SB_FUZZ_CHECK(single.next(back));
  SB_FUZZ_CHECK(back == payload);
  SB_FUZZ_CHECK(!single.next(back));
  SB_FUZZ_CHECK(single.buffered() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Random payloads often carry invalid UTF-8 in string fields; protobuf logs each one.
  google::protobuf::LogSilencer quiet;

  const std::size_t max_frame = kMaxFrames[data[0] % std::size(kMaxFrames)];
  FrameDecoder decoder(max_frame);
  std::string stream;        // every byte offered while the decoder was still healthy
  std::size_t consumed = 0;  // bytes of `stream` handed out as frames
  std::vector<std::string> got;
  std::string payload;

  std::size_t i = 1;
  while (i < size) {
    const std::size_t want = chunk_size(data[i++]);
    const std::size_t n = std::min(want, size - i);
    const std::span<const unsigned char> chunk(data + i, n);
    i += n;

    const bool was_failed = decoder.failed();
    if (!was_failed) stream.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    const auto st = decoder.feed(chunk);
    if (was_failed) {
      SB_FUZZ_CHECK(!st);  // a failed decoder stays failed
    } else {
      // feed() refuses exactly when the next frame's header is complete and too large.
      const bool front_too_large =
          stream.size() - consumed >= kHeaderBytes && length_at(stream, consumed) > max_frame;
      SB_FUZZ_CHECK(st.has_value() != front_too_large);
    }
    if (!st) {
      SB_FUZZ_CHECK(sb::to_errc(st.error()) == sb::Errc::frame_too_large);
      SB_FUZZ_CHECK(decoder.failed());
    }
    // Before draining, the buffer holds at most one partial frame plus this chunk.
    SB_FUZZ_CHECK(decoder.buffered() <= max_frame + kHeaderBytes + n);

    while (decoder.next(payload)) {
      SB_FUZZ_CHECK(!decoder.failed());
      check_payload(payload, max_frame);
      consumed += kHeaderBytes + payload.size();
      got.push_back(payload);
    }
    // After draining, what is left is less than one frame whose header has been checked.
    if (!decoder.failed()) SB_FUZZ_CHECK(decoder.buffered() < kHeaderBytes + max_frame);
  }

  // The incremental decoder agrees with a whole-buffer reading of the same bytes: the same
  // payloads in order, and it has failed exactly when the stream declares an oversized frame.
  const Reference ref = reference_parse(stream, max_frame);
  SB_FUZZ_CHECK(got == ref.payloads);
  SB_FUZZ_CHECK(decoder.failed() == ref.oversized);
  return 0;
}
