#include "games/ctf/ctf_bot.hpp"

#include <algorithm>
#include <cmath>

namespace sb::ctf {

namespace {

constexpr double kTurnCos = 0.966;     // cos(15°): a smaller turn is not worth an Input
constexpr double kArrived = 60.0;      // closer than this to the target: stand still
constexpr std::int32_t kCornerMargin = 80;  // detour waypoints sit this far off a wall corner
constexpr double kEvadeRange = 500.0;  // a carrier veers from enemies closer than this

double dist(Vec a, Vec b) noexcept { return std::hypot(double(a.x) - b.x, double(a.y) - b.y); }

}  // namespace

CtfBot::CtfBot(PlayerId me, std::uint64_t seed) : me_(me), rng_(seed ^ (me.value * 0xD1B54A32D192ED03ull)) {}

double CtfBot::uniform() noexcept {
  std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

const CtfBot::Seen* CtfBot::find(PlayerId p) const noexcept {
  for (const auto& s : players_) {
    if (s.id == p) return &s;
  }
  return nullptr;
}

void CtfBot::read_players(const google::protobuf::RepeatedPtrField<wire::PlayerState>& players) {
  players_.clear();
  for (const auto& p : players) {
    players_.push_back({PlayerId{p.player_id()}, team_index(p.team()), {p.x(), p.y()}, p.carrying(), p.respawn_ms() > 0});
    if (p.player_id() == me_.value) team_ = team_index(p.team());
  }
}

void CtfBot::read_flags(const google::protobuf::RepeatedPtrField<wire::FlagState>& flags) {
  for (const auto& f : flags) {
    const int t = team_index(f.team());
    if (t < 0) continue;
    flags_[static_cast<std::size_t>(t)] = {{f.x(), f.y()}, PlayerId{f.carrier()}, f.at_base()};
  }
}

void CtfBot::on_view(const wire::GameView& view) {
  if (view.has_map()) map_ = Map::from_proto(view.map());
  if (view.tick_hz() > 0) tick_hz_ = view.tick_hz();
  phase_ = view.phase();
  read_players(view.players());
  read_flags(view.flags());
  if (view.your_team() != wire::TEAM_NONE) team_ = team_index(view.your_team());
}

void CtfBot::on_event(const wire::CtfEvent& event) {
  switch (event.body_case()) {
    case wire::CtfEvent::kState:
      phase_ = wire::RUNNING;
      read_players(event.state().players());
      read_flags(event.state().flags());
      fresh_ = true;
      ++ticks_since_send_;
      break;
    case wire::CtfEvent::kStarted:
      phase_ = wire::RUNNING;
      read_players(event.started().players());
      break;
    case wire::CtfEvent::kCountdown:
      phase_ = wire::COUNTDOWN;
      break;
    case wire::CtfEvent::kEnded:
      phase_ = wire::ENDED;
      break;
    default:
      break;  // flag and tag events are reflected in the next State
  }
}

bool CtfBot::in_enemy_half(Vec p) const noexcept {
  return team_ == 0 ? 2 * std::int64_t{p.x} > map_.width : 2 * std::int64_t{p.x} < map_.width;
}

Vec CtfBot::choose_target(const Seen& self) {
  const auto t = static_cast<std::size_t>(team_);
  const auto e = static_cast<std::size_t>(1 - team_);
  const SeenFlag& own = flags_[t];
  const SeenFlag& theirs = flags_[e];
  const Vec home = map_.bases[t];
  const int towards = team_ == 0 ? 1 : -1;  // from our base towards the middle
  const Vec guard{home.x + towards * 800 + offset_.x, home.y + offset_.y};
  if (self.carrying) {
    // Tags only happen in the defenders' half: first get out of it by the emptier corridor.
    if (in_enemy_half(self.pos)) return {map_.width / 2 - towards * 800, escape_y_};
    return home;
  }
  // Our flag lying on the ground: whoever is near (or a defender) brings it back.
  if (!own.at_base && !own.carrier.valid() && (!attacker_ || dist(self.pos, own.pos) < 2000)) return own.pos;
  // Our flag carried off: chase while the carrier is still in our half (only there can we tag).
  if (own.carrier.valid()) {
    const Seen* c = find(own.carrier);
    if (c && !in_enemy_half(c->pos) && (!attacker_ || dist(self.pos, c->pos) < 2000)) return c->pos;
  }
  if (!attacker_) return guard;
  if (theirs.carrier.valid()) return own.at_base ? guard : own.pos;  // a team-mate has it: cover home
  return theirs.pos;
}

bool CtfBot::segment_clear(Vec a, Vec b) const noexcept {
  // Does the segment meet the open interior of any wall grown by the avatar's half-size? Sliding
  // along a wall face is allowed (that is what the server's collision does).
  const double r = map_.player_radius;
  const double ax = a.x, ay = a.y, dx = double(b.x) - a.x, dy = double(b.y) - a.y;
  for (const auto& w : map_.walls) {
    double t0 = 0.0, t1 = 1.0;
    const double lo[2] = {w.x0 - r, w.y0 - r};
    const double hi[2] = {w.x1 + r, w.y1 + r};
    const double o[2] = {ax, ay};
    const double d[2] = {dx, dy};
    bool hit = true;
    for (int k = 0; k < 2 && hit; ++k) {
      if (std::abs(d[k]) < 1e-9) {
        hit = o[k] > lo[k] && o[k] < hi[k];
      } else {
        double ta = (lo[k] - o[k]) / d[k];
        double tb = (hi[k] - o[k]) / d[k];
        if (ta > tb) std::swap(ta, tb);
        t0 = std::max(t0, ta);
        t1 = std::min(t1, tb);
        hit = t0 < t1;
      }
    }
    if (hit) return false;
  }
  return true;
}

Vec CtfBot::steer(Vec from, Vec target) const {
  const double d = dist(from, target);
  if (d < kArrived) return {};
  Vec aim = target;
  if (!segment_clear(from, target)) {
    // Go round: the corner (of any wall, just outside it) reachable in a straight line that
    // makes the shortest two-leg path; re-decided every State, so it chains corners as needed.
    const std::int32_t m = map_.player_radius + kCornerMargin;
    double best = 1e18;
    bool found = false;
    for (const auto& w : map_.walls) {
      const Vec corners[4] = {{w.x0 - m, w.y0 - m}, {w.x1 + m, w.y0 - m}, {w.x0 - m, w.y1 + m}, {w.x1 + m, w.y1 + m}};
      for (const Vec c : corners) {
        if (map_.blocked(c) || dist(from, c) < kArrived || !segment_clear(from, c)) continue;
        const double cost = dist(from, c) + dist(c, target) + (segment_clear(c, target) ? 0.0 : 2000.0);
        if (cost < best) {
          best = cost;
          aim = c;
          found = true;
        }
      }
    }
    if (!found) aim = target;
  }
  double ux = (double(aim.x) - from.x);
  double uy = (double(aim.y) - from.y);
  const double len = std::hypot(ux, uy);
  if (len < 1e-9) return {};
  ux /= len;
  uy /= len;
  // Truncation toward zero keeps the magnitude at or below 1000: never a clamp violation.
  return {static_cast<std::int32_t>(ux * 1000.0), static_cast<std::int32_t>(uy * 1000.0)};
}

Vec CtfBot::evade(const Seen& self, Vec dir) const {
  // A carrier in the enemy half veers away from the nearest enemy that could tag it.
  const Seen* near = nullptr;
  double best = kEvadeRange;
  for (const auto& p : players_) {
    if (p.team == team_ || p.down) continue;
    const double dd = dist(self.pos, p.pos);
    if (dd < best) {
      best = dd;
      near = &p;
    }
  }
  if (!near || best < 1.0) return dir;
  const double ax = (double(self.pos.x) - near->pos.x) / best;
  const double ay = (double(self.pos.y) - near->pos.y) / best;
  double vx = dir.x / 1000.0 + 0.9 * ax;
  double vy = dir.y / 1000.0 + 0.9 * ay;
  const double len = std::hypot(vx, vy);
  if (len < 1e-6) return dir;
  vx /= len;
  vy /= len;
  const Vec next{self.pos.x + static_cast<std::int32_t>(vx * 200.0), self.pos.y + static_cast<std::int32_t>(vy * 200.0)};
  if (map_.blocked(next)) return dir;  // never evade into a wall
  return {static_cast<std::int32_t>(vx * 1000.0), static_cast<std::int32_t>(vy * 1000.0)};
}

std::optional<wire::Input> CtfBot::next_input() {
  if (!fresh_ || phase_ != wire::RUNNING || team_ < 0) return std::nullopt;
  fresh_ = false;
  const Seen* self = find(me_);
  if (!self) return std::nullopt;
  if (redraw_in_ == 0) {
    // Re-drawn every 3-6 s so that teams keep a mix of roles and bots do not march in lockstep.
    attacker_ = uniform() < 0.65;
    offset_ = {static_cast<std::int32_t>(uniform() * 600.0 - 300.0), static_cast<std::int32_t>(uniform() * 1600.0 - 800.0)};
    redraw_in_ = tick_hz_ * 3 + static_cast<std::uint32_t>(uniform() * tick_hz_ * 3);
  }
  --redraw_in_;
  if (self->carrying && !carrying_) {
    // Just took the flag: leave by the corridor (top or bottom) with fewer enemies near it.
    int top = 0;
    int bottom = 0;
    for (const auto& p : players_) {
      if (p.team != team_ && !p.down) (p.pos.y < map_.height / 2 ? top : bottom)++;
    }
    escape_y_ = top < bottom || (top == bottom && uniform() < 0.5) ? 1200 : map_.height - 1200;
  }
  carrying_ = self->carrying;
  Vec dir{};
  if (!self->down) {
    dir = steer(self->pos, choose_target(*self));
    if (self->carrying && in_enemy_half(self->pos)) dir = evade(*self, dir);
  }

  const bool was_zero = last_dir_ == Vec{};
  const bool is_zero = dir == Vec{};
  bool turned = was_zero != is_zero;
  if (!was_zero && !is_zero) {
    const double dot = (double(dir.x) * last_dir_.x + double(dir.y) * last_dir_.y) /
                       (std::hypot(double(dir.x), double(dir.y)) * std::hypot(double(last_dir_.x), double(last_dir_.y)));
    turned = dot < kTurnCos;
  }
  const std::uint32_t heartbeat = std::max<std::uint32_t>(1, tick_hz_ / 4);  // 250 ms
  const std::uint32_t min_gap = std::max<std::uint32_t>(1, tick_hz_ / 10);   // 100 ms
  if (ticks_since_send_ < heartbeat && !(turned && ticks_since_send_ >= min_gap)) return std::nullopt;

  ticks_since_send_ = 0;
  last_dir_ = dir;
  wire::Input in;
  in.set_seq(++seq_);
  in.set_dir_x(dir.x);
  in.set_dir_y(dir.y);
  in.set_has_claim(true);
  in.set_claimed_x(self->pos.x);
  in.set_claimed_y(self->pos.y);
  return in;
}

}  // namespace sb::ctf
