// libFuzzer target for the game-message decoders and handlers: poker (Action) and ctf (Input),
// both behind room::Room, with a manual clock.
//
// Two rooms are built once (poker: four players, the first hand dealt; ctf: four players, the
// match running) and saved; every input starts from a Room::load of those bytes, so an input
// replays alone. Input layout: the whole input is first sent as one game message (from the
// player to act in poker, from player 1 in ctf), then read again as records
//   [ctl][len][len bytes]...   ctl bits 0-1: sender (player 1..4); bit 7: the poker player to
//   act instead; bits 2-3: before the message, advance the clock by 0, 50 ms, 700 ms or 5 s;
// a truncated last record carries what is left. After every message and advance the harness
// checks: seq strictly increases, targeted events go to members, poker chips are conserved
// (PokerHandler::chips_conserved()) and seats match the players, ctf's players are the room's,
// membership is unchanged (ctf may kick a player for cheating; a room that ended is empty),
// next_deadline() is not in the past; at the end Room::save -> load -> save gives equal bytes.
// A broken invariant aborts, which libFuzzer reports as a crash.
// Also built as game_input_fuzz_replay_test (SB_FUZZ_REPLAY, GoogleTest, any compiler), which
// runs the seed corpus (corpus_game/) and fixed-seed random inputs through the same harness.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "games/ctf/ctf_room.hpp"
#include "games/poker/poker_room.hpp"
#include "room/room.hpp"
#include "room/room_types.hpp"

namespace {

using namespace std::chrono_literals;
using sb::PlayerId;
using sb::room::Room;

[[noreturn]] void violated(const char* what, int line) {
  std::fprintf(stderr, "game_input_fuzz: invariant violated at line %d: %s\n", line, what);
  std::abort();
}

#define SB_FUZZ_CHECK(cond)                 \
  do {                                      \
    if (!(cond)) violated(#cond, __LINE__); \
  } while (false)

constexpr std::uint64_t kPlayers = 4;

/// One saved room to start every input from.
struct Start {
  sb::room::RoomType type;
  sb::room::RoomSpec spec;
  std::string saved;
  bool is_poker = false;
};

std::unique_ptr<sb::room::RoomHandler> make(const Start& s) {
  std::string error;
  auto h = s.type.make(s.spec, error);
  if (!h) {
    std::fprintf(stderr, "game_input_fuzz: %s refused its params: %s\n", s.type.name.c_str(), error.c_str());
    std::abort();
  }
  return std::move(*h);
}

Start build(sb::room::RoomType type, std::uint32_t capacity, sb::room::Params params, bool is_poker,
            std::chrono::milliseconds warm_up) {
  Start s;
  s.type = std::move(type);
  s.spec.id = sb::RoomId{is_poker ? 1u : 2u};
  s.spec.type = s.type.name;
  s.spec.zone = "fuzz";
  s.spec.capacity = capacity;
  s.spec.max_spectators = s.type.max_spectators;
  s.spec.log_size = s.type.log_size;
  s.spec.presence_events = s.type.presence_events;
  s.spec.params = std::move(params);
  s.is_poker = is_poker;
  sb::ManualClock clock;
  Room room(s.spec, make(s), clock);
  for (std::uint64_t i = 1; i <= kPlayers; ++i) SB_FUZZ_CHECK(room.join(PlayerId{i}, "p" + std::to_string(i)));
  clock.advance(warm_up);
  room.advance(clock.now());
  (void)room.take_broadcasts();
  s.saved = room.save();
  return s;
}

struct Starts {
  Start poker;
  Start ctf;
};

// Built on first use and kept for the process: libFuzzer calls the entry point millions of times.
const Starts& starts() {
  static const Starts s{
      // The first hand is dealt after 500 ms; actions time out after 1 s.
      build(sb::poker::make_poker_type(), 6,
            {{"seed", "42"}, {"action_timeout_ms", "1000"}, {"next_hand_delay_ms", "500"}}, true, 600ms),
      // The match starts at once (no countdown); 2 s in, the respawn grace is over.
      build(sb::ctf::make_ctf_type(), 8, {{"seed", "7"}, {"start_delay_ms", "0"}}, false, 2s),
  };
  return s;
}

const sb::poker::PokerHandler& poker_of(const Room& r) {
  return static_cast<const sb::poker::PokerHandler&>(r.handler());
}
const sb::ctf::CtfHandler& ctf_of(const Room& r) { return static_cast<const sb::ctf::CtfHandler&>(r.handler()); }

/// One input against one room, checking the invariants after every step.
class Run {
 public:
  Run(const Start& start, std::string_view input) : start_(start), input_(input) {
    auto loaded = Room::load(start.saved, make(start), clock_);
    SB_FUZZ_CHECK(loaded);
    room_ = std::move(*loaded);
    last_seq_ = room_->seq();
    for (const auto& m : room_->members()) members_.insert(m.player);
    SB_FUZZ_CHECK(members_.size() == kPlayers);
  }

  void go() {
    deliver(std::nullopt, input_);
    std::size_t i = 0;
    while (i + 2 <= input_.size()) {
      const auto ctl = static_cast<unsigned char>(input_[i]);
      const std::size_t len = static_cast<unsigned char>(input_[i + 1]);
      i += 2;
      const std::size_t n = std::min(len, input_.size() - i);
      const std::string_view msg = input_.substr(i, n);
      i += n;
      static constexpr std::chrono::milliseconds kSteps[] = {0ms, 50ms, 700ms, 5000ms};
      const auto step = kSteps[(ctl >> 2) & 3];
      if (step.count() > 0) advance(step);
      std::optional<PlayerId> sender = PlayerId{1 + (ctl & 3u)};
      if (ctl & 0x80) sender.reset();
      deliver(sender, msg);
    }
    advance(2s);
    // The state any input leads to round-trips.
    const std::string saved = room_->save();
    auto again = Room::load(saved, make(start_), clock_);
    SB_FUZZ_CHECK(again);
    SB_FUZZ_CHECK((*again)->save() == saved);
  }

 private:
  /// `sender`, or (nullopt) the poker player to act / player 1.
  void deliver(std::optional<PlayerId> sender, std::string_view msg) {
    if (!sender) {
      sender = PlayerId{1};
      if (start_.is_poker) {
        if (auto who = poker_of(*room_).table().to_act()) sender = *who;
      }
    }
    const auto st = room_->message(*sender, msg);
    if (!st) {
      const auto e = sb::to_errc(st.error());
      // Refused by the room (a player who was kicked, a room that ended) or by the game.
      SB_FUZZ_CHECK(e == sb::Errc::invalid_argument || e == sb::Errc::bad_state || e == sb::Errc::not_found);
      if (e == sb::Errc::not_found) SB_FUZZ_CHECK(!members_.count(*sender));
    }
    check();
  }

  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    room_->advance(clock_.now());
    if (const auto next = room_->next_deadline()) SB_FUZZ_CHECK(*next > clock_.now());
    check();
  }

  void check() {
    const Room& r = *room_;
    std::set<PlayerId> before = members_;
    for (const auto& rm : room_->take_removals()) {
      // Poker never removes anyone by itself; ctf kicks cheaters and empties the room at the end.
      SB_FUZZ_CHECK(!start_.is_poker);
      SB_FUZZ_CHECK(rm.reason == sb::room::LeaveReason::kicked || rm.reason == sb::room::LeaveReason::ended);
      SB_FUZZ_CHECK(members_.erase(rm.player) == 1);
    }
    std::set<PlayerId> now;
    std::uint32_t players = 0;
    for (const auto& m : r.members()) {
      now.insert(m.player);
      players += m.spectator ? 0 : 1;
    }
    SB_FUZZ_CHECK(now == members_);
    SB_FUZZ_CHECK(players == r.size());
    for (const auto& b : room_->take_broadcasts()) {
      SB_FUZZ_CHECK(b.seq > last_seq_);
      last_seq_ = b.seq;
      SB_FUZZ_CHECK(!b.to.valid() || before.count(b.to));
    }
    SB_FUZZ_CHECK(last_seq_ == r.seq());
    if (r.ended()) {
      SB_FUZZ_CHECK(r.members().empty());
      SB_FUZZ_CHECK(!r.next_deadline());
    } else if (const auto next = r.next_deadline()) {
      SB_FUZZ_CHECK(*next >= clock_.now());
    }
    if (start_.is_poker) {
      const auto& h = poker_of(r);
      SB_FUZZ_CHECK(h.chips_conserved());
      SB_FUZZ_CHECK(static_cast<std::uint32_t>(h.table().seated_count()) == r.size());
    } else if (!r.ended()) {
      std::set<PlayerId> in_game;
      for (const auto& p : ctf_of(r).game().players()) in_game.insert(p.id);
      SB_FUZZ_CHECK(in_game == members_);
    }
  }

  const Start& start_;
  std::string_view input_;
  sb::ManualClock clock_;
  std::unique_ptr<Room> room_;
  std::set<PlayerId> members_;
  std::uint64_t last_seq_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Run(starts().poker, input).go();
  Run(starts().ctf, input).go();
  return 0;
}

#ifdef SB_FUZZ_REPLAY
// ------------------------------------------------------------------ replay as a GoogleTest test
// The checked-in seed corpus plus fixed-seed inputs: random bytes, and record streams of valid
// Actions and Inputs mixed with garbage. The harness aborts on a broken invariant, which fails
// the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace {

int run(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::string record(unsigned char ctl, const std::string& msg) {
  std::string out{static_cast<char>(ctl), static_cast<char>(std::min<std::size_t>(msg.size(), 255))};
  return out + msg.substr(0, 255);
}

std::string a_message(std::mt19937& rng, std::uint32_t& seq) {
  switch (rng() % 3) {
    case 0: {
      sb::poker::wire::Action a;
      a.set_kind(static_cast<sb::poker::wire::Action::Kind>(rng() % 7));
      a.set_amount(rng() % 3 ? rng() % 200 : rng());
      a.set_hand_id(rng() % 4 ? 1 + rng() % 3 : rng());
      return a.SerializeAsString();
    }
    case 1: {
      sb::ctf::wire::Input in;
      in.set_seq(rng() % 8 ? ++seq : static_cast<std::uint32_t>(rng()));
      in.set_dir_x(static_cast<std::int32_t>(rng() % 2001) - 1000);
      in.set_dir_y(static_cast<std::int32_t>(rng() % 2001) - 1000);
      if (rng() % 3 == 0) {
        in.set_has_claim(true);
        in.set_claimed_x(static_cast<std::int32_t>(rng() % 10'000));
        in.set_claimed_y(static_cast<std::int32_t>(rng() % 6'000));
      }
      return in.SerializeAsString();
    }
    default: return random_bytes(rng, rng() % 40);
  }
}

TEST(GameInputFuzzReplayTest, SeedCorpus) {
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

TEST(GameInputFuzzReplayTest, RandomBytes) {
  std::mt19937 rng(20240602);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(run(random_bytes(rng, rng() % 1024)), 0) << "input #" << i;
}

TEST(GameInputFuzzReplayTest, RecordStreams) {
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    std::string input;
    std::uint32_t seq = 0;
    const int records = static_cast<int>(rng() % 60);
    for (int k = 0; k < records; ++k) {
      const auto ctl = static_cast<unsigned char>((rng() & 0x83) | ((rng() % 4) << 2));
      input += record(ctl, a_message(rng, seq));
    }
    EXPECT_EQ(run(input), 0) << "input #" << i;
  }
}

TEST(GameInputFuzzReplayTest, EdgeInputs) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  EXPECT_EQ(run(std::string(1, '\x08')), 0);
  EXPECT_EQ(run(std::string(60 * 1024, '\xff')), 0);
  EXPECT_EQ(run(std::string(60 * 1024, '\x0c')), 0);  // 4k 14-byte records, each after a 5 s advance
}

}  // namespace
#endif  // SB_FUZZ_REPLAY
