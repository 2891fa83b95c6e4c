#include "wire/frame.hpp"

#include <cstring>

namespace sb::wire {

std::uint32_t read_length(const unsigned char* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void write_length(unsigned char* p, std::uint32_t n) noexcept {
  p[0] = static_cast<unsigned char>(n >> 24);
  p[1] = static_cast<unsigned char>(n >> 16);
  p[2] = static_cast<unsigned char>(n >> 8);
  p[3] = static_cast<unsigned char>(n);
}

FramePtr encode(const google::protobuf::MessageLite& message) {
  auto frame = std::make_shared<Frame>();
  const std::size_t n = message.ByteSizeLong();
  frame->bytes.resize(kHeaderBytes + n);
  auto* p = reinterpret_cast<unsigned char*>(frame->bytes.data());
  write_length(p, static_cast<std::uint32_t>(n));
  message.SerializeWithCachedSizesToArray(p + kHeaderBytes);
  return frame;
}

FramePtr frame_from_payload(std::string_view payload) {
  auto frame = std::make_shared<Frame>();
  frame->bytes.resize(kHeaderBytes + payload.size());
  write_length(reinterpret_cast<unsigned char*>(frame->bytes.data()),
               static_cast<std::uint32_t>(payload.size()));
  std::memcpy(frame->bytes.data() + kHeaderBytes, payload.data(), payload.size());
  return frame;
}

Result<proto::ClientFrame> decode_client(std::string_view payload) {
  proto::ClientFrame frame;
  if (!frame.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return fail(Errc::malformed_frame);
  }
  if (frame.body_case() == proto::ClientFrame::BODY_NOT_SET) return fail(Errc::unknown_message);
  return frame;
}

Result<proto::ServerFrame> decode_server(std::string_view payload) {
  proto::ServerFrame frame;
  if (!frame.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return fail(Errc::malformed_frame);
  }
  if (frame.body_case() == proto::ServerFrame::BODY_NOT_SET) return fail(Errc::unknown_message);
  return frame;
}

Status FrameDecoder::feed(std::span<const unsigned char> bytes) {
  if (failed_) return fail(Errc::frame_too_large);
  // Compact consumed bytes before appending so the buffer never grows past one frame plus input.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (buffer_.size() >= kHeaderBytes) {
    const auto n = read_length(reinterpret_cast<const unsigned char*>(buffer_.data()));
    if (n > max_frame_) {
      failed_ = true;
      buffer_.clear();
      return fail(Errc::frame_too_large);
    }
  }
  return {};
}

bool FrameDecoder::next(std::string& out) {
  if (failed_) return false;
  const std::size_t avail = buffer_.size() - pos_;
  if (avail < kHeaderBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + pos_);
  const std::uint32_t n = read_length(p);
  if (n > max_frame_) {
    // Same as feed(): a failed decoder keeps none of the oversized frame's body.
    failed_ = true;
    buffer_.clear();
    pos_ = 0;
    return false;
  }
  if (avail < kHeaderBytes + n) return false;
  out.assign(buffer_.data() + pos_ + kHeaderBytes, n);
  pos_ += kHeaderBytes + n;
  return true;
}

}  // namespace sb::wire
