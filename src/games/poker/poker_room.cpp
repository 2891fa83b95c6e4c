#include "games/poker/poker_room.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace sb::poker {

namespace {

// Timer tags: the low bits say which timer, the rest carry the ToAct generation so that a timer
// left over from an earlier turn is recognised and ignored.
constexpr std::uint64_t kTagNextHand = 1;
constexpr std::uint64_t kTagAction = 2;
constexpr std::uint64_t kTagBits = 2;

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, out);
  return r.ec == std::errc{} && r.ptr == end;
}

std::uint64_t mix_seed(std::uint64_t room_id) {
  // Spread small room ids apart so neighbouring rooms do not deal related decks.
  SplitMix64 m(room_id ^ 0x706f6b6572ULL);  // "poker"
  return m.next();
}

}  // namespace

std::string deterministic_bytes(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&cos);
  }
  return out;
}

Result<PokerParams> parse_poker_params(const room::Params& params, std::string& error) {
  PokerParams p;
  for (const auto& [key, value] : params) {
    std::uint64_t v = 0;
    if (!parse_u64(value, v)) {
      error = key + ": not an unsigned integer";
      return fail(Errc::invalid_argument);
    }
    if (key == "small_blind") {
      p.small_blind = v;
    } else if (key == "big_blind") {
      p.big_blind = v;
    } else if (key == "buy_in") {
      p.buy_in = v;
    } else if (key == "action_timeout_ms") {
      p.action_timeout_ms = v;
    } else if (key == "next_hand_delay_ms") {
      p.next_hand_delay_ms = v;
    } else if (key == "seed") {
      p.seed = v;
    } else {
      error = key + ": unknown parameter";
      return fail(Errc::invalid_argument);
    }
  }
  // Bounds keep every product below overflow (stacks stay far under 2^64 with 10 seats).
  constexpr Chips kMaxChips = Chips{1} << 40;
  if (p.small_blind < 1 || p.small_blind > kMaxChips) {
    error = "small_blind: must be 1.." + std::to_string(kMaxChips);
  } else if (p.big_blind < p.small_blind || p.big_blind > kMaxChips) {
    error = "big_blind: must be >= small_blind";
  } else if (p.buy_in < 10 * p.big_blind || p.buy_in > kMaxChips) {
    error = "buy_in: must be >= 10 * big_blind";
  } else if (p.action_timeout_ms < 100 || p.action_timeout_ms > 120000) {
    error = "action_timeout_ms: must be 100..120000";
  } else if (p.next_hand_delay_ms > 60000) {
    error = "next_hand_delay_ms: must be 0..60000";
  } else {
    return p;
  }
  return fail(Errc::invalid_argument);
}

PokerHandler::PokerHandler(const PokerParams& params, int max_seats, std::uint64_t seed)
    : params_(params), table_(TableConfig{max_seats, params.small_blind, params.big_blind, params.buy_in}, seed) {}

bool PokerHandler::disconnected(PlayerId p) const noexcept {
  return std::binary_search(disconnected_.begin(), disconnected_.end(), p);
}

void PokerHandler::reject(room::RoomContext& room, PlayerId p, std::string reason) {
  wire::PokerEvent ev;
  auto* r = ev.mutable_action_rejected();
  r->set_hand_id(table_.hand_id());
  r->set_reason(std::move(reason));
  room.send_game(p, deterministic_bytes(ev));
}

void PokerHandler::on_join(room::RoomContext& room, const room::Member& m) {
  if (m.spectator) return;
  // The room's capacity equals the seat count, so a seat is free unless the player is seated.
  (void)table_.sit(m.player, params_.buy_in);
  pump(room);
}

void PokerHandler::on_leave(room::RoomContext& room, const room::Member& m, room::LeaveReason) {
  auto it = std::lower_bound(disconnected_.begin(), disconnected_.end(), m.player);
  if (it != disconnected_.end() && *it == m.player) disconnected_.erase(it);
  if (m.spectator) return;
  table_.leave(m.player);
  pump(room);
}

void PokerHandler::on_presence(room::RoomContext& room, const room::Member& m, bool connected) {
  auto it = std::lower_bound(disconnected_.begin(), disconnected_.end(), m.player);
  const bool listed = it != disconnected_.end() && *it == m.player;
  if (connected && listed) disconnected_.erase(it);
  if (!connected && !listed && !m.spectator) disconnected_.insert(it, m.player);
  pump(room);
}

Status PokerHandler::on_message(room::RoomContext& room, const room::Member& m, std::string_view data) {
  wire::Action action;
  if (!action.ParseFromArray(data.data(), static_cast<int>(data.size()))) return fail(Errc::invalid_argument);
  if (!table_.hand_in_progress() || action.hand_id() != table_.hand_id()) {
    reject(room, m.player, "stale hand_id: the current hand is " + std::to_string(table_.hand_id()));
    return {};
  }
  if (auto why = table_.act(m.player, action.kind(), action.amount())) {
    reject(room, m.player, std::move(*why));
    return {};
  }
  pump(room);
  return {};
}

void PokerHandler::on_timer(room::RoomContext& room, std::uint64_t tag) {
  const std::uint64_t kind = tag & ((std::uint64_t{1} << kTagBits) - 1);
  if (kind == kTagNextHand) {
    next_hand_timer_ = 0;
    if (table_.can_start() && static_cast<int>(disconnected_.size()) < table_.seated_count()) {
      (void)table_.start_hand();
    }
  } else if (kind == kTagAction) {
    if ((tag >> kTagBits) != generation_) return;  // a turn that is already over
    action_timer_ = 0;
    table_.act_default();
  }
  pump(room);
}

void PokerHandler::pump(room::RoomContext& room) {
  bool new_turn = false;
  for (;;) {
    for (auto& out : table_.take_events()) {
      if (out.event.has_to_act()) {
        ++generation_;
        new_turn = true;
        const bool away = disconnected(PlayerId{out.event.to_act().player_id()});
        const auto now = static_cast<std::uint64_t>(room.unix_ms());
        deadline_ms_ = away ? now : now + params_.action_timeout_ms;
        out.event.mutable_to_act()->set_deadline_ms(deadline_ms_);
      }
      std::string bytes = deterministic_bytes(out.event);
      if (out.to.valid()) {
        room.send_game(out.to, std::move(bytes));
      } else {
        room.broadcast_game(std::move(bytes));
      }
    }
    // A player without a connection cannot answer: act for them now (seed 001).
    const auto who = table_.to_act();
    if (who && disconnected(*who)) {
      table_.act_default();
      continue;
    }
    break;
  }
  if (new_turn || !table_.to_act()) {
    if (action_timer_ != 0) room.cancel_timer(action_timer_);
    action_timer_ = 0;
  }
  if (new_turn && table_.to_act()) {
    action_timer_ = room.set_timer(std::chrono::milliseconds(params_.action_timeout_ms),
                                   (generation_ << kTagBits) | kTagAction);
  }
  arm_next_hand(room);
}

void PokerHandler::arm_next_hand(room::RoomContext& room) {
  if (next_hand_timer_ != 0 || !table_.can_start()) return;
  // Nobody at the table has a connection: pause instead of auto-playing hands for nobody (and
  // with a 0 ms delay, forever); the first player back resumes play (on_presence -> pump).
  if (static_cast<int>(disconnected_.size()) >= table_.seated_count()) return;
  next_hand_timer_ = room.set_timer(std::chrono::milliseconds(params_.next_hand_delay_ms), kTagNextHand);
}

std::string PokerHandler::view(const room::RoomContext&, PlayerId viewer) const {
  wire::TableView v = table_.view(viewer);
  if (v.has_to_act()) v.mutable_to_act()->set_deadline_ms(deadline_ms_);
  return deterministic_bytes(v);
}

std::string PokerHandler::snapshot() const {
  wire::HandlerSnapshot s;
  *s.mutable_table() = table_.snapshot();
  s.set_buy_in(params_.buy_in);
  s.set_action_timeout_ms(params_.action_timeout_ms);
  s.set_next_hand_delay_ms(params_.next_hand_delay_ms);
  for (const PlayerId p : disconnected_) s.add_disconnected(p.value);
  s.set_action_timer(action_timer_);
  s.set_next_hand_timer(next_hand_timer_);
  s.set_generation(generation_);
  s.set_deadline_ms(deadline_ms_);
  return deterministic_bytes(s);
}

Status PokerHandler::restore(std::string_view state) {
  wire::HandlerSnapshot s;
  if (!s.ParseFromArray(state.data(), static_cast<int>(state.size()))) return fail(Errc::invalid_argument);
  auto table = Table::restore(s.table());
  if (!table) return table.error();
  PokerParams p;
  p.small_blind = table->config().small_blind;
  p.big_blind = table->config().big_blind;
  p.buy_in = s.buy_in();
  p.action_timeout_ms = s.action_timeout_ms();
  p.next_hand_delay_ms = s.next_hand_delay_ms();
  p.seed = params_.seed;
  std::vector<PlayerId> away;
  for (const auto id : s.disconnected()) away.push_back(PlayerId{id});
  if (!std::is_sorted(away.begin(), away.end())) return fail(Errc::invalid_argument);
  params_ = p;
  table_ = std::move(*table);
  disconnected_ = std::move(away);
  action_timer_ = s.action_timer();
  next_hand_timer_ = s.next_hand_timer();
  generation_ = s.generation();
  deadline_ms_ = s.deadline_ms();
  return {};
}

room::RoomType make_poker_type() {
  room::RoomType t;
  t.name = kPokerType;
  t.default_capacity = 6;
  t.min_capacity = static_cast<std::uint32_t>(kMinSeats);
  t.max_capacity = static_cast<std::uint32_t>(kMaxSeats);
  t.max_spectators = 16;
  t.log_size = 128;  // ~3 hands of history (38 events a hand): a longer absence gets the TableView snapshot
  t.presence_events = true;
  t.make = [](const room::RoomSpec& spec, std::string& error) -> Result<std::unique_ptr<room::RoomHandler>> {
    auto params = parse_poker_params(spec.params, error);
    if (!params) return params.error();
    if (spec.capacity < static_cast<std::uint32_t>(kMinSeats) || spec.capacity > static_cast<std::uint32_t>(kMaxSeats)) {
      error = "capacity: a poker table seats 2..10 players";
      return fail(Errc::invalid_argument);
    }
    const std::uint64_t seed = params->seed ? *params->seed : mix_seed(spec.id.value);
    return std::unique_ptr<room::RoomHandler>(
        std::make_unique<PokerHandler>(*params, static_cast<int>(spec.capacity), seed));
  };
  return t;
}

}  // namespace sb::poker
