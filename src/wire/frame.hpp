#pragma once
// Wire framing shared by the server, the clients and the fuzzer.
//
// TCP carries frames as [u32 big-endian length][payload]; WebSocket carries one payload per binary
// message. A payload is one protobuf message (ClientFrame or ServerFrame, proto/switchboard.proto).
// `Frame` holds an encoded payload *with* its 4-byte prefix so TCP writes it as is and WebSocket
// writes `payload()`; broadcasts are encoded once and shared as `FramePtr` between recipients.
// FrameDecoder is an incremental decoder for a byte stream: it checks the declared length against
// the maximum *before* allocating or buffering the body. Pure functions, no I/O, no exceptions.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "switchboard.pb.h"

namespace sb::wire {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderBytes = 4;
inline constexpr std::size_t kDefaultMaxFrame = 64 * 1024;

struct Frame {
  std::string bytes;  // 4-byte big-endian length + payload
  std::string_view payload() const noexcept {
    return std::string_view(bytes).substr(kHeaderBytes);
  }
  std::size_t size() const noexcept { return bytes.size(); }
};
using FramePtr = std::shared_ptr<const Frame>;

/// Reads a big-endian u32 length from 4 bytes.
std::uint32_t read_length(const unsigned char* p) noexcept;
void write_length(unsigned char* p, std::uint32_t n) noexcept;

/// Encodes any protobuf message into a frame (prefix + payload).
FramePtr encode(const google::protobuf::MessageLite& message);
/// Wraps an already-encoded payload into a frame.
FramePtr frame_from_payload(std::string_view payload);

/// Parses a ClientFrame payload: Errc::malformed_frame if it does not parse,
/// Errc::unknown_message if it parses but carries no known body.
Result<proto::ClientFrame> decode_client(std::string_view payload);
/// Parses a ServerFrame payload, same errors.
Result<proto::ServerFrame> decode_server(std::string_view payload);

/// Incremental stream decoder for TCP. Feed bytes; take complete payloads.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame = kDefaultMaxFrame) noexcept : max_frame_(max_frame) {}

  /// Appends bytes. Returns Errc::frame_too_large as soon as a header declares more than the
  /// maximum (nothing of the body is buffered); after an error the decoder stays failed.
  Status feed(std::span<const unsigned char> bytes);

  /// Pops the next complete payload into `out`; false if none is complete yet or a header
  /// declares an oversized frame (then failed() is true and stays true).
  bool next(std::string& out);

  bool failed() const noexcept { return failed_; }
  std::size_t buffered() const noexcept { return buffer_.size() - pos_; }

 private:
  std::size_t max_frame_;
  std::string buffer_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace sb::wire
