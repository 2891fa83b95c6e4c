#include "games/ctf/ctf_room.hpp"

#include <algorithm>
#include <charconv>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace sb::ctf {

namespace {

/// Reads a decimal `key` in [lo, hi] into `out` if present. False (with `error`) if malformed.
template <class T>
bool read_param(const room::Params& params, const char* key, T lo, T hi, T& out, std::string& error) {
  auto it = params.find(key);
  if (it == params.end()) return true;
  const std::string& v = it->second;
  T value{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc() || end != v.data() + v.size() || value < lo || value > hi) {
    error = std::string(key) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
    return false;
  }
  out = value;
  return true;
}

std::string encode(const google::protobuf::MessageLite& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

}  // namespace

Result<CtfParams> parse_params(const room::Params& params, std::uint32_t capacity, std::uint64_t room_id,
                               std::string& error) {
  static constexpr const char* kKnown[] = {"min_players", "start_delay_ms", "score_limit", "time_limit_s",
                                           "tick_hz",     "seed",           "max_violations"};
  for (const auto& [k, v] : params) {
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
      error = "unknown ctf parameter '" + k + "'";
      return fail(Errc::invalid_argument);
    }
  }
  CtfParams p;
  // splitmix-style mix so that neighbouring room ids get unrelated spawn sequences.
  p.seed = (room_id + 1) * 0x9E3779B97F4A7C15ull;
  const std::uint32_t max_min = std::max<std::uint32_t>(capacity, 1);
  if (!read_param<std::uint32_t>(params, "min_players", 1, max_min, p.min_players, error) ||
      !read_param<std::uint32_t>(params, "start_delay_ms", 0, 60'000, p.start_delay_ms, error) ||
      !read_param<std::uint32_t>(params, "score_limit", 1, 20, p.score_limit, error) ||
      !read_param<std::uint32_t>(params, "time_limit_s", 10, 3600, p.time_limit_s, error) ||
      !read_param<std::uint32_t>(params, "tick_hz", 5, 60, p.tick_hz, error) ||
      !read_param<std::uint64_t>(params, "seed", 0, UINT64_MAX, p.seed, error) ||
      !read_param<std::uint32_t>(params, "max_violations", 1, 100'000, p.max_violations, error)) {
    return fail(Errc::invalid_argument);
  }
  if (p.min_players > capacity) {
    error = "min_players exceeds the room capacity";
    return fail(Errc::invalid_argument);
  }
  return p;
}

Rules rules_for(const CtfParams& params) {
  Rules r;
  r.tick_hz = params.tick_hz;
  r.score_limit = params.score_limit;
  r.time_limit_s = params.time_limit_s;
  r.max_violations = params.max_violations;
  return r;
}

CtfHandler::CtfHandler(CtfParams params) : params_(params), game_(rules_for(params), params.seed) {}

void CtfHandler::flush(room::RoomContext& room, Effects& fx) {
  for (auto& o : fx.events) {
    if (o.to.valid()) {
      room.send_game(o.to, encode(o.event));
    } else {
      room.broadcast_game(encode(o.event));
    }
  }
  for (PlayerId p : fx.kick) room.kick(p, "cheating");
  fx = {};
}

void CtfHandler::maybe_start(room::RoomContext& room, Effects& fx) {
  const auto phase = game_.phase();
  if (phase != wire::WAITING && phase != wire::COUNTDOWN) return;
  if (game_.players().size() < params_.min_players) return;
  if (room.full() || params_.start_delay_ms == 0) {
    game_.start(fx);
  } else {
    game_.begin_countdown(static_cast<std::uint32_t>(
                              (std::uint64_t{params_.start_delay_ms} * params_.tick_hz + 999) / 1000),
                          fx);
  }
  room.set_tick_hz(params_.tick_hz);
}

void CtfHandler::on_join(room::RoomContext& room, const room::Member& m) {
  if (m.spectator) return;
  game_.add_player(m.player);
  Effects fx;
  maybe_start(room, fx);
  flush(room, fx);
}

void CtfHandler::on_leave(room::RoomContext& room, const room::Member& m, room::LeaveReason) {
  if (m.spectator) return;
  Effects fx;
  game_.remove_player(m.player, fx);
  if (game_.phase() == wire::COUNTDOWN && game_.players().size() < params_.min_players) {
    game_.cancel_countdown();
    room.set_tick_hz(0);
    // Tell the room: a Countdown of 0 ms means "cancelled, waiting for players again".
    wire::CtfEvent ev;
    ev.mutable_countdown()->set_start_in_ms(0);
    room.broadcast_game(ev.SerializeAsString());
  }
  flush(room, fx);
}

void CtfHandler::on_presence(room::RoomContext&, const room::Member& m, bool connected) {
  game_.set_connected(m.player, connected);
}

void CtfHandler::on_switch(room::RoomContext&, const room::Member& m) { game_.switch_connection(m.player); }

Status CtfHandler::on_message(room::RoomContext& room, const room::Member& m, std::string_view data) {
  Effects fx;
  wire::Input in;
  Status st;
  if (!in.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    game_.violation(m.player, fx);
    st = fail(Errc::invalid_argument);
  } else {
    st = game_.submit(m.player, in, fx);
  }
  flush(room, fx);
  return st;
}

void CtfHandler::on_tick(room::RoomContext& room) {
  Effects fx;
  game_.step(fx);
  flush(room, fx);
  if (game_.phase() == wire::ENDED) {
    room.set_tick_hz(0);
    room.end(encode(game_.results()));
  }
}

std::string CtfHandler::view(const room::RoomContext&, PlayerId viewer) const {
  wire::GameView v;
  game_.fill_view(v, viewer);
  v.set_min_players(params_.min_players);
  return encode(v);
}

std::string CtfHandler::snapshot() const {
  wire::CtfSnapshot s;
  s.set_min_players(params_.min_players);
  s.set_start_delay_ms(params_.start_delay_ms);
  s.set_score_limit(params_.score_limit);
  s.set_time_limit_s(params_.time_limit_s);
  s.set_tick_hz(params_.tick_hz);
  s.set_seed(params_.seed);
  s.set_max_violations(params_.max_violations);
  game_.save(s);
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    s.SerializeToCodedStream(&cos);
  }
  return out;
}

Status CtfHandler::restore(std::string_view state) {
  wire::CtfSnapshot s;
  if (!s.ParseFromArray(state.data(), static_cast<int>(state.size()))) return fail(Errc::invalid_argument);
  CtfParams p;
  p.min_players = s.min_players();
  p.start_delay_ms = s.start_delay_ms();
  p.score_limit = s.score_limit();
  p.time_limit_s = s.time_limit_s();
  p.tick_hz = s.tick_hz();
  p.seed = s.seed();
  p.max_violations = s.max_violations();
  if (p.min_players < 1 || p.tick_hz < 5 || p.tick_hz > 60 || p.score_limit < 1 || p.time_limit_s < 10) {
    return fail(Errc::invalid_argument);
  }
  CtfGame game(rules_for(p), p.seed);
  if (auto st = game.load(s); !st) return st;
  params_ = p;
  game_ = std::move(game);
  return {};
}

room::RoomType make_ctf_type() {
  room::RoomType t;
  t.name = "ctf";
  t.make = [](const room::RoomSpec& spec, std::string& error) -> Result<std::unique_ptr<room::RoomHandler>> {
    auto p = parse_params(spec.params, spec.capacity, spec.id.value, error);
    if (!p) return p.error();
    return std::unique_ptr<room::RoomHandler>(std::make_unique<CtfHandler>(*p));
  };
  t.default_capacity = 16;
  t.min_capacity = 2;
  t.max_capacity = 64;
  t.max_spectators = 32;
  t.log_size = 128;
  t.presence_events = true;
  return t;
}

}  // namespace sb::ctf
