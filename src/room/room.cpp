#include "room/room.hpp"

#include <algorithm>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "internal.pb.h"

namespace sb::room {

namespace {

/// Counts handler callbacks in progress so that queued kicks and the end are applied once the
/// outermost one has returned.
class Depth {
 public:
  explicit Depth(int& d) : d_(d) { ++d_; }
  ~Depth() { --d_; }
  Depth(const Depth&) = delete;
  Depth& operator=(const Depth&) = delete;

 private:
  int& d_;
};

}  // namespace

Room::Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock)
    : spec_(std::move(spec)), handler_(std::move(handler)), clock_(clock) {
  members_.reserve(std::min<std::uint32_t>(spec_.capacity, 16));
  {
    Depth d(depth_);
    handler_->on_create(ctx_);
  }
  settle();
}

const Member* Room::find(PlayerId p) const noexcept {
  for (const auto& m : members_) {
    if (m.player == p) return &m;
  }
  return nullptr;
}

void Room::fill_member(proto::Member& out, const Member& m) {
  out.set_player_id(m.player.value);
  out.set_name(m.name);
  out.set_connected(m.connected);
  out.set_spectator(m.spectator);
}

Status Room::join(PlayerId player, std::string name, bool spectator, Refusal* refusal_out) {
  if (find(player)) return {};
  if (ended_) return fail(Errc::bad_state);
  Member m{player, std::move(name), true, spectator};
  if (spectator) {
    if (spectators() >= spec_.max_spectators) return fail(Errc::room_full);
  } else {
    if (full()) return fail(Errc::room_full);
    if (locked_) return fail(Errc::room_locked);
    std::optional<Refusal> no;
    {
      Depth d(depth_);
      no = handler_->on_join_request(ctx_, m);
    }
    if (no) {
      const Errc code = no->code == Errc::ok ? Errc::refused : no->code;
      if (refusal_out) *refusal_out = std::move(*no);
      settle();
      return fail(code);
    }
    ++players_;
  }
  members_.push_back(m);
  proto::RoomEvent ev;
  fill_member(*ev.mutable_member_joined(), m);
  broadcast(std::move(ev));
  {
    Depth d(depth_);
    handler_->on_join(ctx_, m);
  }
  settle();
  return {};
}

void Room::remove(PlayerId player, LeaveReason reason, bool tell_handler) {
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.player == player; });
  if (it == members_.end()) return;
  Member m = std::move(*it);
  members_.erase(it);
  if (!m.spectator) --players_;
  proto::RoomEvent ev;
  fill_member(*ev.mutable_member_left(), m);
  broadcast(std::move(ev));
  if (tell_handler) {
    Depth d(depth_);
    handler_->on_leave(ctx_, m, reason);
  }
}

void Room::leave(PlayerId player, LeaveReason reason) {
  remove(player, reason, true);
  settle();
}

void Room::set_connected(PlayerId player, bool connected) {
  for (auto& m : members_) {
    if (m.player != player) continue;
    if (m.connected == connected) return;
    m.connected = connected;
    const Member copy = m;
    if (spec_.presence_events) {
      proto::RoomEvent ev;
      fill_member(connected ? *ev.mutable_member_reconnected() : *ev.mutable_member_disconnected(), copy);
      broadcast(std::move(ev));
    }
    {
      Depth d(depth_);
      handler_->on_presence(ctx_, copy, connected);
    }
    settle();
    return;
  }
}

void Room::switch_connection(PlayerId player) {
  const Member* m = find(player);
  if (!m || !m->connected) return;
  const Member copy = *m;
  {
    Depth d(depth_);
    handler_->on_switch(ctx_, copy);
  }
  settle();
}

Status Room::chat(PlayerId player, std::string_view text, std::uint64_t tag) {
  const Member* m = find(player);
  if (!m) return fail(Errc::not_found);
  const Member copy = *m;
  Status st;
  {
    Depth d(depth_);
    st = handler_->on_chat(ctx_, copy, text, tag);
  }
  settle();
  return st;
}

Status Room::message(PlayerId player, std::string_view data) {
  const Member* m = find(player);
  if (!m) return fail(Errc::not_found);
  if (m->spectator || ended_) return fail(Errc::bad_state);
  const Member copy = *m;
  Status st;
  {
    Depth d(depth_);
    st = handler_->on_message(ctx_, copy, data);
  }
  settle();
  return st;
}

Status Room::request_lock(PlayerId player, bool locked) {
  if (!spec_.owner.valid() || player != spec_.owner || !find(player)) return fail(Errc::bad_state);
  if (ended_) return fail(Errc::bad_state);
  set_locked(locked);
  return {};
}

void Room::set_locked(bool locked) {
  if (locked_ == locked) return;
  locked_ = locked;
  proto::RoomEvent ev;
  ev.mutable_locked()->set_locked(locked);
  broadcast(std::move(ev));
}

void Room::advance(TimePoint now) {
  // Timers armed during this call wait for the next one (the shell re-arms at next_deadline()):
  // a handler that keeps arming 0 ms timers cannot hold the shard in this loop.
  const TimerId armed_before = next_timer_;
  while (!ended_) {
    // The earliest due item: a timer or the tick (timers first on a tie, in arming order).
    auto t = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->id > armed_before) continue;
      if (t == timers_.end() || it->due < t->due || (it->due == t->due && it->id < t->id)) t = it;
    }
    const bool timer_due = t != timers_.end() && t->due <= now;
    const bool tick_due = tick_hz_ > 0 && next_tick_ <= now;
    if (!timer_due && !tick_due) break;
    if (timer_due && (!tick_due || t->due <= next_tick_)) {
      const std::uint64_t tag = t->tag;
      timers_.erase(t);
      Depth d(depth_);
      handler_->on_timer(ctx_, tag);
    } else {
      const auto period = std::chrono::nanoseconds(1'000'000'000 / tick_hz_);
      next_tick_ += period;
      // Far behind (a stalled loop): resume from now rather than firing a burst of ticks.
      if (now >= next_tick_ + 2 * period) next_tick_ = now + period;
      ++ticks_;
      Depth d(depth_);
      handler_->on_tick(ctx_);
    }
    settle();
  }
}

std::optional<TimePoint> Room::next_deadline() const noexcept {
  if (ended_) return std::nullopt;
  std::optional<TimePoint> best;
  if (tick_hz_ > 0) best = next_tick_;
  for (const auto& t : timers_) {
    if (!best || t.due < *best) best = t.due;
  }
  return best;
}

void Room::set_tick_hz(std::uint32_t hz) {
  hz = std::min<std::uint32_t>(hz, 1000);
  if (hz == tick_hz_) return;
  tick_hz_ = hz;
  if (hz > 0) next_tick_ = clock_.now() + std::chrono::nanoseconds(1'000'000'000 / hz);
}

TimerId Room::set_timer(std::chrono::milliseconds delay, std::uint64_t tag) {
  const TimerId id = ++next_timer_;
  timers_.push_back({clock_.now() + delay, id, tag});
  return id;
}

void Room::cancel_timer(TimerId id) {
  timers_.erase(std::remove_if(timers_.begin(), timers_.end(), [&](const Timer& t) { return t.id == id; }),
                timers_.end());
}

void Room::kick(PlayerId player, std::string message) { kicks_.push_back({player, std::move(message)}); }

void Room::end(std::string results) {
  if (!end_results_) end_results_ = std::move(results);
}

void Room::settle() {
  if (depth_ > 0) return;
  while (!kicks_.empty()) {
    auto batch = std::move(kicks_);
    kicks_.clear();
    for (auto& k : batch) {
      if (!find(k.player)) continue;
      removals_.push_back({k.player, LeaveReason::kicked, k.message});
      remove(k.player, LeaveReason::kicked, true);
    }
  }
  if (end_results_ && !ended_) {
    ended_ = true;
    proto::RoomEvent ev;
    ev.mutable_ended()->set_results(std::move(*end_results_));
    end_results_.reset();
    broadcast(std::move(ev));
    for (const auto& m : members_) removals_.push_back({m.player, LeaveReason::ended, "the room has ended"});
    members_.clear();
    players_ = 0;
    timers_.clear();
    tick_hz_ = 0;
  }
}

void Room::emit(proto::RoomEvent event, PlayerId to) {
  event.set_room_id(spec_.id.value);
  event.set_seq(++seq_);
  event.set_server_time_ms(static_cast<std::uint64_t>(clock_.unix_ms()));
  proto::ServerFrame frame;
  *frame.mutable_room_event() = std::move(event);
  Broadcast b{seq_, wire::encode(frame), to};
  if (spec_.log_size > 0) {
    log_.push_back(b);
    while (log_.size() > spec_.log_size) log_.pop_front();
  }
  outbox_.push_back(std::move(b));
}

void Room::broadcast(proto::RoomEvent event) { emit(std::move(event), PlayerId{}); }

void Room::send_to(PlayerId player, proto::RoomEvent event) {
  if (!player.valid() || !find(player)) return;
  emit(std::move(event), player);
}

void Room::broadcast_game(std::string data) {
  proto::RoomEvent ev;
  ev.set_game(std::move(data));
  broadcast(std::move(ev));
}

void Room::send_game(PlayerId player, std::string data) {
  proto::RoomEvent ev;
  ev.set_game(std::move(data));
  send_to(player, std::move(ev));
}

std::vector<Broadcast> Room::take_broadcasts() {
  std::vector<Broadcast> out;
  out.swap(outbox_);
  return out;
}

void Room::take_broadcasts(std::vector<Broadcast>& out) {
  out.clear();
  out.swap(outbox_);
}

std::vector<Removal> Room::take_removals() {
  std::vector<Removal> out;
  out.swap(removals_);
  return out;
}

wire::FramePtr Room::snapshot(PlayerId viewer, bool truncated) const {
  proto::ServerFrame frame;
  auto* j = frame.mutable_room_joined();
  j->set_room_id(spec_.id.value);
  j->set_room_type(spec_.type);
  j->set_zone(spec_.zone);
  j->set_capacity(spec_.capacity);
  j->set_seq(seq_);
  j->set_replay_truncated(truncated);
  j->set_locked(locked_);
  for (const auto& m : members_) {
    fill_member(*j->add_members(), m);
    if (m.player == viewer) j->set_spectator(m.spectator);
  }
  j->set_game_state(game_view(viewer));
  return wire::encode(frame);
}

std::vector<wire::FramePtr> Room::catch_up(PlayerId viewer, std::uint64_t last_seq) const {
  std::vector<wire::FramePtr> out;
  if (last_seq == 0 || last_seq > seq_) {
    out.push_back(snapshot(viewer, false));
    return out;
  }
  if (last_seq == seq_) return out;
  // The log must hold every event after last_seq, i.e. start at or before last_seq + 1.
  if (log_.empty() || log_.front().seq > last_seq + 1) {
    out.push_back(snapshot(viewer, true));
    return out;
  }
  for (const auto& b : log_) {
    if (b.seq > last_seq && (!b.to.valid() || b.to == viewer)) out.push_back(b.frame);
  }
  return out;
}

proto::Members Room::members_proto() const {
  proto::Members out;
  out.set_room_id(spec_.id.value);
  for (const auto& m : members_) fill_member(*out.add_members(), m);
  return out;
}

proto::RoomInfo Room::info() const {
  proto::RoomInfo i;
  i.set_room_id(spec_.id.value);
  i.set_room_type(spec_.type);
  i.set_zone(spec_.zone);
  i.set_players(players_);
  i.set_capacity(spec_.capacity);
  i.set_locked(locked_);
  i.set_spectators(spectators());
  return i;
}

std::string Room::save() const {
  proto::internal::RoomSnapshot s;
  s.set_room_id(spec_.id.value);
  s.set_type(spec_.type);
  s.set_zone(spec_.zone);
  s.set_capacity(spec_.capacity);
  s.set_max_spectators(spec_.max_spectators);
  s.set_log_size(spec_.log_size);
  s.set_presence_events(spec_.presence_events);
  s.set_close_when_empty(spec_.close_when_empty);
  s.set_owner(spec_.owner.value);
  for (const auto& [k, v] : spec_.params) (*s.mutable_params())[k] = v;
  s.set_seq(seq_);
  s.set_locked(locked_);
  s.set_ended(ended_);
  for (const auto& m : members_) {
    auto* sm = s.add_members();
    sm->set_player_id(m.player.value);
    sm->set_name(m.name);
    sm->set_connected(m.connected);
    sm->set_spectator(m.spectator);
  }
  for (const auto& b : log_) {
    auto* e = s.add_events();
    e->set_seq(b.seq);
    e->set_frame(std::string(b.frame->payload()));
    e->set_to(b.to.value);
  }
  const TimePoint now = clock_.now();
  for (const auto& t : timers_) {
    auto* st = s.add_timers();
    st->set_id(t.id);
    st->set_tag(t.tag);
    st->set_due_in_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(t.due - now).count());
  }
  s.set_next_timer_id(next_timer_);
  s.set_tick_hz(tick_hz_);
  s.set_next_tick_in_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick_ - now).count());
  s.set_ticks(ticks_);
  s.set_handler_state(handler_->snapshot());
  std::string out;
  // Deterministic so that two equal rooms save to equal bytes (maps are serialized sorted).
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    s.SerializeToCodedStream(&cos);
  }
  return out;
}

Result<std::unique_ptr<Room>> Room::load(std::string_view saved, std::unique_ptr<RoomHandler> handler,
                                         const Clock& clock) {
  proto::internal::RoomSnapshot s;
  if (!s.ParseFromArray(saved.data(), static_cast<int>(saved.size()))) return fail(Errc::invalid_argument);
  if (!handler->restore(s.handler_state())) return fail(Errc::invalid_argument);
  RoomSpec spec;
  spec.id = RoomId{s.room_id()};
  spec.type = s.type();
  spec.zone = s.zone();
  spec.capacity = s.capacity();
  spec.max_spectators = s.max_spectators();
  spec.log_size = s.log_size();
  spec.presence_events = s.presence_events();
  spec.close_when_empty = s.close_when_empty();
  spec.owner = PlayerId{s.owner()};
  for (const auto& [k, v] : s.params()) spec.params[k] = v;
  // Build without on_create (the handler's state is already restored).
  std::unique_ptr<Room> r(new Room(std::move(spec), std::move(handler), clock, Restoring{}));
  r->seq_ = s.seq();
  r->locked_ = s.locked();
  r->ended_ = s.ended();
  for (const auto& sm : s.members()) {
    r->members_.push_back({PlayerId{sm.player_id()}, sm.name(), sm.connected(), sm.spectator()});
    if (!sm.spectator()) ++r->players_;
  }
  for (const auto& e : s.events()) {
    r->log_.push_back({e.seq(), wire::frame_from_payload(e.frame()), PlayerId{e.to()}});
  }
  const TimePoint now = clock.now();
  for (const auto& t : s.timers()) {
    r->timers_.push_back({now + std::chrono::nanoseconds(t.due_in_ns()), t.id(), t.tag()});
  }
  r->next_timer_ = s.next_timer_id();
  r->tick_hz_ = s.tick_hz();
  r->next_tick_ = now + std::chrono::nanoseconds(s.next_tick_in_ns());
  r->ticks_ = s.ticks();
  return r;
}

Room::Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock, Restoring)
    : spec_(std::move(spec)), handler_(std::move(handler)), clock_(clock) {}

std::string Room::game_view(PlayerId viewer) const { return handler_->view(ctx_, viewer); }

Status RoomHandler::on_chat(RoomContext& room, const Member& m, std::string_view text, std::uint64_t tag) {
  proto::RoomEvent ev;
  auto* c = ev.mutable_chat();
  c->set_from_player_id(m.player.value);
  c->set_from_name(m.name);
  c->set_text(std::string(text));
  c->set_tag(tag);
  room.broadcast(std::move(ev));
  return {};
}

Status LobbyHandler::on_chat(RoomContext& room, const Member& m, std::string_view text, std::uint64_t tag) {
  if (text.empty() || text.size() > max_chat_bytes_) return fail(Errc::invalid_argument);
  return RoomHandler::on_chat(room, m, text, tag);
}

Status RelayHandler::on_message(RoomContext& room, const Member& m, std::string_view data) {
  proto::RoomEvent ev;
  auto* r = ev.mutable_relay();
  r->set_from_player_id(m.player.value);
  r->set_data(std::string(data));
  room.broadcast(std::move(ev));
  return {};
}

}  // namespace sb::room
