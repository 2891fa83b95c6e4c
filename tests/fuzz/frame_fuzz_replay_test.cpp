// Runs the frame_fuzz harness (LLVMFuzzerTestOneInput) as an ordinary unit test, under any
// compiler: the checked-in seed corpus plus a few hundred pseudo-random inputs from a fixed seed.
// The harness aborts on a broken invariant, which fails this test.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "wire/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace sb::wire {
namespace {

int run(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// Cuts `stream` into chunks, each preceded by a random chunk-size byte (the harness's layout).
std::string pack(unsigned char config, const std::string& stream, std::mt19937& rng) {
  std::string out(1, static_cast<char>(config));
  std::size_t i = 0;
  while (i < stream.size()) {
    const auto b = static_cast<unsigned char>(rng() & 0xFF);
    const std::size_t n = (b & 0x80) ? static_cast<std::size_t>(b & 0x7f) * 64 + 64 : std::size_t{b} + 1;
    out += static_cast<char>(b);
    out += stream.substr(i, n);
    i += n;
  }
  return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

proto::ClientFrame random_client(std::mt19937& rng) {
  proto::ClientFrame f;
  f.set_request_id(static_cast<std::uint32_t>(rng()));
  switch (rng() % 4) {
    case 0: f.mutable_hello()->set_client_name(std::string(rng() % 40, 'h')); break;
    case 1: f.mutable_login()->set_username(std::string(rng() % 24, 'u')); break;
    case 2: f.mutable_chat()->set_text(std::string(rng() % 600, 'c')); break;
    default: f.mutable_ping()->set_client_time_ms(rng()); break;
  }
  return f;
}

// A stream of mostly valid frames with the occasional garbage payload, zero-length frame,
// oversized header or truncation.
std::string random_stream(std::mt19937& rng) {
  std::string s;
  const int frames = static_cast<int>(rng() % 12);
  for (int i = 0; i < frames; ++i) {
    switch (rng() % 8) {
      case 0: s += frame_from_payload(random_bytes(rng, rng() % 64))->bytes; break;
      case 1: s += frame_from_payload("")->bytes; break;
      case 2: {
        unsigned char h[kHeaderBytes];
        write_length(h, static_cast<std::uint32_t>(rng()));
        s.append(reinterpret_cast<const char*>(h), kHeaderBytes);
        break;
      }
      default: s += encode(random_client(rng))->bytes; break;
    }
  }
  if (!s.empty() && rng() % 4 == 0) s.resize(rng() % s.size());
  return s;
}

TEST(FrameFuzzReplayTest, SeedCorpus) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SB_FUZZ_CORPUS_DIR)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(run(input), 0);
    ++files;
  }
  EXPECT_GE(files, 5u) << "seed corpus missing from " << SB_FUZZ_CORPUS_DIR;
}

TEST(FrameFuzzReplayTest, RandomBytes) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 300; ++i) {
    const std::string input = random_bytes(rng, rng() % 2048);
    EXPECT_EQ(run(input), 0) << "input #" << i;
  }
}

TEST(FrameFuzzReplayTest, RandomFrameStreams) {
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    const auto config = static_cast<unsigned char>(rng() & 0xFF);
    const std::string input = pack(config, random_stream(rng), rng);
    EXPECT_EQ(run(input), 0) << "input #" << i;
  }
}

TEST(FrameFuzzReplayTest, EdgeInputs) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  EXPECT_EQ(run(std::string(1, '\x05')), 0);
  EXPECT_EQ(run(std::string("\x05\x03\x00\x00\x00\x00", 6)), 0);
  EXPECT_EQ(run(std::string(70000, '\xff')), 0);
}

}  // namespace
}  // namespace sb::wire
