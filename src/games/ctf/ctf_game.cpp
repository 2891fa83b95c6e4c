#include "games/ctf/ctf_game.hpp"

#include <algorithm>
#include <cmath>

namespace sb::ctf {

namespace {

std::int64_t sq(std::int64_t v) noexcept { return v * v; }

std::int64_t dist2(Vec a, Vec b) noexcept { return sq(std::int64_t{a.x} - b.x) + sq(std::int64_t{a.y} - b.y); }

/// floor(sqrt(v)) for v >= 0, exact (the double estimate is corrected by at most a step or two).
std::int64_t isqrt(std::int64_t v) noexcept {
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(v)));
  while (r > 0 && r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

/// Clamps a direction to magnitude ≤ 1000 (truncating toward zero, so the result never exceeds
/// it). Returns whether it had to.
bool clamp_dir(std::int32_t& x, std::int32_t& y) noexcept {
  // Components are first bounded so that the squares below cannot overflow.
  std::int64_t cx = std::clamp<std::int64_t>(x, -1'000'000, 1'000'000);
  std::int64_t cy = std::clamp<std::int64_t>(y, -1'000'000, 1'000'000);
  const std::int64_t m2 = sq(cx) + sq(cy);
  if (m2 <= 1'000'000) return false;
  std::int64_t mag = isqrt(m2);
  if (mag * mag < m2) ++mag;  // ceil, so |scaled| ≤ 1000
  x = static_cast<std::int32_t>(cx * 1000 / mag);
  y = static_cast<std::int32_t>(cy * 1000 / mag);
  return true;
}

wire::CtfEvent& push(Effects& fx, PlayerId to = {}) {
  fx.events.push_back({to, {}});
  return fx.events.back().event;
}

}  // namespace

// ---------------------------------------------------------------------------------------- Map

Map Map::standard() {
  Map m;
  m.bases = {Vec{800, 3000}, Vec{9200, 3000}};
  // Point-symmetric about (50,30) so neither side has an advantage; gaps of ≥ 10 units to the
  // edges and between walls keep every region connected for bots.
  m.walls = {
      {4700, 2300, 5300, 3700},  // centre block
      {2500, 1000, 2800, 2200}, {7200, 3800, 7500, 5000},
      {2500, 3800, 2800, 5000}, {7200, 1000, 7500, 2200},
  };
  return m;
}

bool Map::blocked(Vec p) const noexcept {
  const std::int32_t r = player_radius;
  if (p.x < r || p.y < r || p.x > width - r || p.y > height - r) return true;
  for (const auto& w : walls) {
    if (p.x > w.x0 - r && p.x < w.x1 + r && p.y > w.y0 - r && p.y < w.y1 + r) return true;
  }
  return false;
}

Vec Map::move(Vec from, std::int32_t dx, std::int32_t dy) const noexcept {
  const std::int32_t r = player_radius;
  Vec p = from;
  // x first: walls are grown by the avatar's half-size, so the avatar is a point against them.
  p.x = std::clamp(p.x + dx, r, width - r);
  for (const auto& w : walls) {
    if (p.x > w.x0 - r && p.x < w.x1 + r && p.y > w.y0 - r && p.y < w.y1 + r) {
      p.x = dx > 0 ? w.x0 - r : w.x1 + r;
    }
  }
  p.y = std::clamp(p.y + dy, r, height - r);
  for (const auto& w : walls) {
    if (p.x > w.x0 - r && p.x < w.x1 + r && p.y > w.y0 - r && p.y < w.y1 + r) {
      p.y = dy > 0 ? w.y0 - r : w.y1 + r;
    }
  }
  return p;
}

void Map::to_proto(wire::MapInfo& out) const {
  out.set_width(static_cast<std::uint32_t>(width));
  out.set_height(static_cast<std::uint32_t>(height));
  for (const auto& w : walls) {
    auto* r = out.add_walls();
    r->set_x0(w.x0);
    r->set_y0(w.y0);
    r->set_x1(w.x1);
    r->set_y1(w.y1);
  }
  for (int t = 0; t < kTeams; ++t) {
    auto* b = out.add_bases();
    b->set_team(team_wire(t));
    b->set_x(bases[static_cast<std::size_t>(t)].x);
    b->set_y(bases[static_cast<std::size_t>(t)].y);
    b->set_radius(static_cast<std::uint32_t>(base_radius));
  }
  out.set_player_radius(static_cast<std::uint32_t>(player_radius));
  out.set_touch_radius(static_cast<std::uint32_t>(touch_radius));
}

Map Map::from_proto(const wire::MapInfo& in) {
  Map m;
  if (in.width() == 0 || in.height() == 0) return standard();
  m.width = static_cast<std::int32_t>(in.width());
  m.height = static_cast<std::int32_t>(in.height());
  for (const auto& w : in.walls()) m.walls.push_back({w.x0(), w.y0(), w.x1(), w.y1()});
  for (const auto& b : in.bases()) {
    const int t = team_index(b.team());
    if (t < 0) continue;
    m.bases[static_cast<std::size_t>(t)] = {b.x(), b.y()};
    m.base_radius = static_cast<std::int32_t>(b.radius());
  }
  m.player_radius = static_cast<std::int32_t>(in.player_radius());
  m.touch_radius = static_cast<std::int32_t>(in.touch_radius());
  return m;
}

// ----------------------------------------------------------------------------------- CtfGame

CtfGame::CtfGame(Rules rules, std::uint64_t seed, Map map) : rules_(rules), map_(std::move(map)), rng_(seed) {
  for (int t = 0; t < kTeams; ++t) flags_[static_cast<std::size_t>(t)].pos = map_.bases[static_cast<std::size_t>(t)];
}

const Player* CtfGame::find(PlayerId p) const noexcept {
  for (const auto& pl : players_) {
    if (pl.id == p) return &pl;
  }
  return nullptr;
}

Player* CtfGame::find_mut(PlayerId p) noexcept { return const_cast<Player*>(std::as_const(*this).find(p)); }

std::uint32_t CtfGame::team_size(int team) const noexcept {
  return static_cast<std::uint32_t>(
      std::count_if(players_.begin(), players_.end(), [&](const Player& p) { return p.team == team; }));
}

std::uint64_t CtfGame::next_random() noexcept {
  // splitmix64: one word of state, so the snapshot carries it exactly.
  std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint32_t CtfGame::ms_to_ticks(std::uint32_t ms) const noexcept {
  return static_cast<std::uint32_t>((std::uint64_t{ms} * rules_.tick_hz + 999) / 1000);
}

Vec CtfGame::spawn_point(int team) noexcept {
  const Vec base = map_.bases[static_cast<std::size_t>(team)];
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto ox = static_cast<std::int32_t>(next_random() % 601) - 300;
    const auto oy = static_cast<std::int32_t>(next_random() % 1601) - 800;
    const Vec p{base.x + ox, base.y + oy};
    if (!map_.blocked(p)) return p;
  }
  return base;  // a base centre is always open on a valid map
}

std::uint32_t CtfGame::time_left_ms() const noexcept {
  const std::uint64_t limit = std::uint64_t{rules_.time_limit_s} * rules_.tick_hz;
  const std::uint64_t left = match_tick_ >= limit ? 0 : limit - match_tick_;
  return static_cast<std::uint32_t>(left * 1000 / rules_.tick_hz);
}

std::uint32_t CtfGame::countdown_ms() const noexcept {
  return phase_ == wire::COUNTDOWN ? static_cast<std::uint32_t>(std::uint64_t{countdown_ticks_} * 1000 / rules_.tick_hz)
                                   : 0;
}

int CtfGame::add_player(PlayerId p) {
  if (const Player* existing = find(p)) return existing->team;
  const std::uint32_t red = team_size(0);
  const std::uint32_t blue = team_size(1);
  const int team = blue < red ? 1 : 0;
  Player pl;
  pl.id = p;
  pl.team = team;
  pl.pos = spawn_point(team);
  pl.last_input_tick = ticks_;
  players_.push_back(std::move(pl));
  return team;
}

void CtfGame::remove_player(PlayerId p, Effects& fx) {
  Player* pl = find_mut(p);
  if (!pl) return;
  drop_flag(*pl, fx);
  players_.erase(players_.begin() + (pl - players_.data()));
}

void CtfGame::set_connected(PlayerId p, bool connected) {
  Player* pl = find_mut(p);
  if (!pl || pl->connected == connected) return;
  pl->connected = connected;
  pl->dir = {};
  pl->pending.reset();
  if (connected) pl->recv_seq = 0;  // a new client process numbers its inputs from 1 again
}

void CtfGame::switch_connection(PlayerId p) {
  Player* pl = find_mut(p);
  if (!pl) return;
  pl->dir = {};
  pl->pending.reset();
  pl->recv_seq = 0;
}

void CtfGame::violation(PlayerId p, Effects& fx) {
  Player* pl = find_mut(p);
  if (!pl) return;
  ++pl->violations;
  ++violations_;
  if (pl->violations > rules_.max_violations && !pl->kicked) {
    pl->kicked = true;
    fx.kick.push_back(p);
  }
}

Status CtfGame::submit(PlayerId p, const wire::Input& in, Effects& fx) {
  Player* pl = find_mut(p);
  if (!pl) return fail(Errc::not_found);
  if (phase_ == wire::ENDED) return fail(Errc::bad_state);
  if (!pl->connected || in.seq() <= pl->recv_seq) return {};  // stale or reordered: the newer one stands
  pl->recv_seq = in.seq();
  // Floods are only measured while ticking: before the countdown nothing drains the counter.
  if (phase_ == wire::COUNTDOWN || phase_ == wire::RUNNING) {
    if (++pl->inputs_this_tick > rules_.flood_per_tick) violation(p, fx);
  }
  wire::Input kept = in;
  std::int32_t x = in.dir_x();
  std::int32_t y = in.dir_y();
  if (clamp_dir(x, y)) violation(p, fx);
  kept.set_dir_x(x);
  kept.set_dir_y(y);
  // `pl` may not move: violation() touches counters only.
  pl->pending = std::move(kept);
  return {};
}

void CtfGame::begin_countdown(std::uint32_t ticks, Effects& fx) {
  if (phase_ != wire::WAITING) return;
  phase_ = wire::COUNTDOWN;
  countdown_ticks_ = std::max<std::uint32_t>(ticks, 1);
  push(fx).mutable_countdown()->set_start_in_ms(countdown_ms());
}

void CtfGame::cancel_countdown() noexcept {
  if (phase_ != wire::COUNTDOWN) return;
  phase_ = wire::WAITING;
  countdown_ticks_ = 0;
}

void CtfGame::start(Effects& fx) {
  if (phase_ != wire::WAITING && phase_ != wire::COUNTDOWN) return;
  phase_ = wire::RUNNING;
  countdown_ticks_ = 0;
  match_tick_ = 0;
  for (auto& p : players_) {
    p.pos = spawn_point(p.team);
    p.respawn_ticks = 0;
    p.grace_ticks = ms_to_ticks(rules_.claim_grace_ms);
  }
  auto* s = push(fx).mutable_started();
  for (const auto& p : players_) fill_player(*s->add_players(), p);
  s->set_time_limit_ms(rules_.time_limit_s * 1000);
  s->set_score_limit(rules_.score_limit);
}

void CtfGame::apply_inputs(Effects& fx) {
  const std::int64_t step = rules_.speed / static_cast<std::int32_t>(rules_.tick_hz);
  for (auto& p : players_) {
    p.inputs_this_tick = 0;
    if (!p.pending) continue;
    const wire::Input in = std::move(*p.pending);
    p.pending.reset();
    if (in.has_claim() && p.grace_ticks == 0 && p.respawn_ticks == 0) {
      // The client may have moved for as long as since its previous input (its prediction runs
      // ahead of the server by its latency), capped at a second, plus a fixed tolerance.
      const auto elapsed = static_cast<std::int64_t>(
          std::clamp<std::uint64_t>(ticks_ - p.last_input_tick, 1, rules_.tick_hz));
      const std::int64_t allowed = step * elapsed + rules_.claim_tolerance;
      // Bounded first so that the squared distance cannot overflow; such a claim fails anyway.
      const Vec claim{std::clamp(in.claimed_x(), -1'000'000, 1'000'000), std::clamp(in.claimed_y(), -1'000'000, 1'000'000)};
      if (dist2(p.pos, claim) > sq(allowed)) {
        auto* c = push(fx, p.id).mutable_correction();
        c->set_x(p.pos.x);
        c->set_y(p.pos.y);
        c->set_seq(in.seq());
        violation(p.id, fx);
      }
    }
    p.dir = {in.dir_x(), in.dir_y()};
    p.ack_seq = in.seq();
    p.last_input_tick = ticks_;
    ++inputs_applied_;
  }
}

void CtfGame::drop_flag(Player& carrier, Effects& fx) {
  for (int t = 0; t < kTeams; ++t) {
    Flag& f = flags_[static_cast<std::size_t>(t)];
    if (f.carrier != carrier.id) continue;
    f.carrier = {};
    f.at_base = false;
    f.pos = carrier.pos;
    f.return_ticks = std::max<std::uint32_t>(ms_to_ticks(rules_.flag_return_ms), 1);
    auto* d = push(fx).mutable_dropped();
    d->set_flag(team_wire(t));
    d->set_player(carrier.id.value);
    d->set_x(f.pos.x);
    d->set_y(f.pos.y);
  }
}

void CtfGame::return_flag(int team, PlayerId by, Effects& fx) {
  Flag& f = flags_[static_cast<std::size_t>(team)];
  f.carrier = {};
  f.at_base = true;
  f.return_ticks = 0;
  f.pos = map_.bases[static_cast<std::size_t>(team)];
  auto* r = push(fx).mutable_returned();
  r->set_flag(team_wire(team));
  r->set_player(by.value);
}

void CtfGame::resolve_tags(Effects& fx) {
  const std::int64_t reach = sq(map_.touch_radius);
  // While both flags are carried neither side can score (a capture needs its own flag at home),
  // so carriers may then be tagged anywhere: otherwise two carriers hiding at home stall the match.
  const bool standoff = flags_[0].carrier.valid() && flags_[1].carrier.valid();
  for (auto& c : players_) {
    if (c.respawn_ticks > 0) continue;
    const Flag& carried = flags_[static_cast<std::size_t>(1 - c.team)];
    if (carried.carrier != c.id) continue;
    for (auto& d : players_) {
      if (d.team == c.team || d.respawn_ticks > 0) continue;
      // A defender tags only in its own half (red's is x < width/2, blue's x > width/2), except
      // in a standoff.
      const bool home_half = d.team == 0 ? 2 * std::int64_t{d.pos.x} < map_.width
                                         : 2 * std::int64_t{d.pos.x} > map_.width;
      if ((!home_half && !standoff) || dist2(c.pos, d.pos) > reach) continue;
      ++d.tags;
      auto* tg = push(fx).mutable_tagged();
      tg->set_tagger(d.id.value);
      tg->set_victim(c.id.value);
      drop_flag(c, fx);
      c.pos = spawn_point(c.team);
      c.dir = {};
      c.respawn_ticks = std::max<std::uint32_t>(ms_to_ticks(rules_.respawn_ms), 1);
      c.grace_ticks = c.respawn_ticks + ms_to_ticks(rules_.claim_grace_ms);
      break;
    }
  }
}

void CtfGame::resolve_touches(Effects& fx) {
  const std::int64_t reach = sq(map_.touch_radius);
  for (auto& p : players_) {
    if (p.respawn_ticks > 0) continue;
    // A team-mate touching its own dropped flag sends it home.
    Flag& own = flags_[static_cast<std::size_t>(p.team)];
    if (!own.at_base && !own.carrier.valid() && dist2(p.pos, own.pos) <= reach) {
      ++p.returns;
      return_flag(p.team, p.id, fx);
    }
    // Touching the enemy flag (at its base or dropped) takes it.
    const int enemy = 1 - p.team;
    Flag& theirs = flags_[static_cast<std::size_t>(enemy)];
    if (!theirs.carrier.valid() && dist2(p.pos, theirs.pos) <= reach) {
      theirs.carrier = p.id;
      theirs.at_base = false;
      theirs.return_ticks = 0;
      theirs.pos = p.pos;
      ++p.pickups;
      auto* t = push(fx).mutable_taken();
      t->set_flag(team_wire(enemy));
      t->set_player(p.id.value);
    }
    // Carrying it into your own base while your own flag is home scores.
    if (theirs.carrier == p.id && own.at_base &&
        dist2(p.pos, map_.bases[static_cast<std::size_t>(p.team)]) <= sq(map_.base_radius)) {
      ++score_[static_cast<std::size_t>(p.team)];
      ++p.captures;
      auto* c = push(fx).mutable_captured();
      c->set_player(p.id.value);
      c->set_team(team_wire(p.team));
      for (auto s : score_) c->add_score(s);
      return_flag(enemy, {}, fx);
    }
  }
}

void CtfGame::step(Effects& fx) {
  if (phase_ == wire::COUNTDOWN) {
    ++ticks_;
    apply_inputs(fx);  // acks and floods keep working; nobody moves yet
    if (--countdown_ticks_ == 0) start(fx);
    return;
  }
  if (phase_ != wire::RUNNING) return;
  ++ticks_;
  ++match_tick_;
  apply_inputs(fx);
  const std::int64_t step = rules_.speed / static_cast<std::int32_t>(rules_.tick_hz);
  for (auto& p : players_) {
    if (p.grace_ticks > 0) --p.grace_ticks;
    if (p.respawn_ticks > 0) {
      --p.respawn_ticks;
      continue;
    }
    if (!p.connected) continue;
    // |dir| ≤ 1000 and truncation toward zero: the displacement never exceeds `step`.
    const auto dx = static_cast<std::int32_t>(p.dir.x * step / 1000);
    const auto dy = static_cast<std::int32_t>(p.dir.y * step / 1000);
    p.pos = map_.move(p.pos, dx, dy);
  }
  for (int t = 0; t < kTeams; ++t) {
    Flag& f = flags_[static_cast<std::size_t>(t)];
    if (const Player* c = f.carrier.valid() ? find(f.carrier) : nullptr) f.pos = c->pos;
  }
  resolve_tags(fx);
  resolve_touches(fx);
  for (int t = 0; t < kTeams; ++t) {
    Flag& f = flags_[static_cast<std::size_t>(t)];
    if (f.at_base || f.carrier.valid() || f.return_ticks == 0) continue;
    if (--f.return_ticks == 0) return_flag(t, {}, fx);
  }
  fill_state(*push(fx).mutable_state());
  const bool score_hit = std::any_of(score_.begin(), score_.end(), [&](auto s) { return s >= rules_.score_limit; });
  if (score_hit) {
    end(wire::SCORE_LIMIT, fx);
  } else if (time_left_ms() == 0) {
    end(wire::TIME_LIMIT, fx);
  }
}

void CtfGame::end(wire::EndReason reason, Effects& fx) {
  phase_ = wire::ENDED;
  end_reason_ = reason;
  *push(fx).mutable_ended()->mutable_results() = results();
}

wire::Results CtfGame::results() const {
  wire::Results r;
  r.set_winner(score_[0] > score_[1] ? wire::RED : score_[1] > score_[0] ? wire::BLUE : wire::TEAM_NONE);
  for (auto s : score_) r.add_score(s);
  r.set_reason(end_reason_);
  r.set_ticks(match_tick_);
  for (const auto& p : players_) {
    auto* pr = r.add_players();
    pr->set_player_id(p.id.value);
    pr->set_team(team_wire(p.team));
    pr->set_captures(p.captures);
    pr->set_tags(p.tags);
    pr->set_returns(p.returns);
    pr->set_pickups(p.pickups);
  }
  return r;
}

void CtfGame::fill_player(wire::PlayerState& out, const Player& p) const {
  out.set_player_id(p.id.value);
  out.set_team(team_wire(p.team));
  out.set_x(p.pos.x);
  out.set_y(p.pos.y);
  out.set_carrying(flags_[static_cast<std::size_t>(1 - p.team)].carrier == p.id);
  out.set_respawn_ms(static_cast<std::uint32_t>(std::uint64_t{p.respawn_ticks} * 1000 / rules_.tick_hz));
  out.set_ack_seq(p.ack_seq);
  out.set_idle(!p.connected);
}

void CtfGame::fill_flag(wire::FlagState& out, int team) const {
  const Flag& f = flags_[static_cast<std::size_t>(team)];
  out.set_team(team_wire(team));
  out.set_x(f.pos.x);
  out.set_y(f.pos.y);
  out.set_carrier(f.carrier.value);
  out.set_at_base(f.at_base);
  out.set_return_ms(static_cast<std::uint32_t>(std::uint64_t{f.return_ticks} * 1000 / rules_.tick_hz));
}

void CtfGame::fill_state(wire::State& out) const {
  out.set_tick(match_tick_);
  for (const auto& p : players_) fill_player(*out.add_players(), p);
  for (int t = 0; t < kTeams; ++t) fill_flag(*out.add_flags(), t);
  for (auto s : score_) out.add_score(s);
  out.set_time_left_ms(time_left_ms());
}

void CtfGame::fill_view(wire::GameView& out, PlayerId viewer) const {
  out.set_phase(phase_);
  out.set_tick_hz(rules_.tick_hz);
  out.set_score_limit(rules_.score_limit);
  out.set_time_left_ms(time_left_ms());
  out.set_countdown_ms(countdown_ms());
  for (const auto& p : players_) fill_player(*out.add_players(), p);
  for (int t = 0; t < kTeams; ++t) fill_flag(*out.add_flags(), t);
  for (auto s : score_) out.add_score(s);
  map_.to_proto(*out.mutable_map());
  out.mutable_map()->set_speed(static_cast<std::uint32_t>(rules_.speed));
  if (const Player* v = find(viewer)) out.set_your_team(team_wire(v->team));
  out.set_tick(match_tick_);
}

void CtfGame::save(wire::CtfSnapshot& out) const {
  out.set_phase(phase_);
  out.set_countdown_ticks(countdown_ticks_);
  out.set_match_tick(match_tick_);
  out.set_rng(rng_);
  for (const auto& p : players_) {
    auto* s = out.add_players();
    s->set_id(p.id.value);
    s->set_team(team_wire(p.team));
    s->set_x(p.pos.x);
    s->set_y(p.pos.y);
    s->set_dir_x(p.dir.x);
    s->set_dir_y(p.dir.y);
    s->set_respawn_ticks(p.respawn_ticks);
    s->set_grace_ticks(p.grace_ticks);
    s->set_ack_seq(p.ack_seq);
    s->set_recv_seq(p.recv_seq);
    s->set_inputs_this_tick(p.inputs_this_tick);
    s->set_last_input_tick(p.last_input_tick);
    s->set_violations(p.violations);
    s->set_kicked(p.kicked);
    s->set_connected(p.connected);
    if (p.pending) *s->mutable_pending() = *p.pending;
    s->set_captures(p.captures);
    s->set_tags(p.tags);
    s->set_returns(p.returns);
    s->set_pickups(p.pickups);
  }
  for (const auto& f : flags_) {
    auto* s = out.add_flags();
    s->set_x(f.pos.x);
    s->set_y(f.pos.y);
    s->set_carrier(f.carrier.value);
    s->set_at_base(f.at_base);
    s->set_return_ticks(f.return_ticks);
  }
  for (auto s : score_) out.add_score(s);
  out.set_end_reason(end_reason_);
  out.set_ticks(ticks_);
  out.set_inputs_applied(inputs_applied_);
  out.set_violations(violations_);
}

Status CtfGame::load(const wire::CtfSnapshot& in) {
  if (in.flags_size() != kTeams || in.score_size() != kTeams) return fail(Errc::invalid_argument);
  if (in.phase() < wire::WAITING || in.phase() > wire::ENDED) return fail(Errc::invalid_argument);
  std::vector<Player> players;
  for (const auto& s : in.players()) {
    Player p;
    p.id = PlayerId{s.id()};
    p.team = team_index(s.team());
    p.pos = {s.x(), s.y()};
    if (!p.id.valid() || p.team < 0 || map_.blocked(p.pos)) return fail(Errc::invalid_argument);
    p.dir = {s.dir_x(), s.dir_y()};
    if (clamp_dir(p.dir.x, p.dir.y)) return fail(Errc::invalid_argument);
    p.respawn_ticks = s.respawn_ticks();
    p.grace_ticks = s.grace_ticks();
    p.ack_seq = s.ack_seq();
    p.recv_seq = s.recv_seq();
    p.inputs_this_tick = s.inputs_this_tick();
    p.last_input_tick = s.last_input_tick();
    p.violations = s.violations();
    p.kicked = s.kicked();
    p.connected = s.connected();
    if (s.has_pending()) p.pending = s.pending();
    p.captures = s.captures();
    p.tags = s.tags();
    p.returns = s.returns();
    p.pickups = s.pickups();
    players.push_back(std::move(p));
  }
  std::array<Flag, kTeams> flags{};
  for (int t = 0; t < kTeams; ++t) {
    const auto& s = in.flags(t);
    Flag& f = flags[static_cast<std::size_t>(t)];
    f.pos = {s.x(), s.y()};
    f.carrier = PlayerId{s.carrier()};
    f.at_base = s.at_base();
    f.return_ticks = s.return_ticks();
    score_[static_cast<std::size_t>(t)] = in.score(t);
  }
  phase_ = in.phase();
  countdown_ticks_ = in.countdown_ticks();
  match_tick_ = in.match_tick();
  rng_ = in.rng();
  players_ = std::move(players);
  flags_ = flags;
  end_reason_ = in.end_reason();
  ticks_ = in.ticks();
  inputs_applied_ = in.inputs_applied();
  violations_ = in.violations();
  return {};
}

}  // namespace sb::ctf
