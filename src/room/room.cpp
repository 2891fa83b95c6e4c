#include "room/room.hpp"

#include <algorithm>

namespace sb::room {

Room::Room(RoomSpec spec, std::unique_ptr<RoomHandler> handler, const Clock& clock)
    : spec_(std::move(spec)), handler_(std::move(handler)), clock_(clock) {
  members_.reserve(std::min<std::uint32_t>(spec_.capacity, 64));
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
}

Status Room::join(PlayerId player, std::string name) {
  if (find(player)) return {};
  if (full()) return fail(Errc::room_full);
  Member m{player, std::move(name), true};
  if (auto st = handler_->on_join_request(*this, m); !st) return st;
  members_.push_back(m);
  proto::RoomEvent ev;
  fill_member(*ev.mutable_member_joined(), m);
  broadcast(std::move(ev));
  handler_->on_join(*this, m);
  return {};
}

void Room::leave(PlayerId player, LeaveReason reason) {
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.player == player; });
  if (it == members_.end()) return;
  Member m = std::move(*it);
  members_.erase(it);
  proto::RoomEvent ev;
  fill_member(*ev.mutable_member_left(), m);
  broadcast(std::move(ev));
  handler_->on_leave(*this, m, reason);
}

void Room::set_connected(PlayerId player, bool connected) {
  for (auto& m : members_) {
    if (m.player != player) continue;
    if (m.connected == connected) return;
    m.connected = connected;
    if (spec_.presence_events) {
      proto::RoomEvent ev;
      fill_member(connected ? *ev.mutable_member_reconnected() : *ev.mutable_member_disconnected(), m);
      broadcast(std::move(ev));
    }
    handler_->on_presence(*this, m, connected);
    return;
  }
}

Status Room::chat(PlayerId player, std::string_view text, std::uint64_t tag) {
  const Member* m = find(player);
  if (!m) return fail(Errc::not_found);
  return handler_->on_chat(*this, *m, text, tag);
}

void Room::broadcast(proto::RoomEvent event) {
  event.set_room_id(spec_.id.value);
  event.set_seq(++seq_);
  event.set_server_time_ms(static_cast<std::uint64_t>(clock_.unix_ms()));
  proto::ServerFrame frame;
  *frame.mutable_room_event() = std::move(event);
  Broadcast b{seq_, wire::encode(frame)};
  log_.push_back(b);
  while (log_.size() > spec_.log_size) log_.pop_front();
  outbox_.push_back(std::move(b));
}

std::vector<Broadcast> Room::take_broadcasts() {
  std::vector<Broadcast> out;
  out.swap(outbox_);
  return out;
}

wire::FramePtr Room::snapshot(bool truncated) const {
  proto::ServerFrame frame;
  auto* j = frame.mutable_room_joined();
  j->set_room_id(spec_.id.value);
  j->set_room_type(spec_.type);
  j->set_zone(spec_.zone);
  j->set_capacity(spec_.capacity);
  j->set_seq(seq_);
  j->set_replay_truncated(truncated);
  for (const auto& m : members_) fill_member(*j->add_members(), m);
  return wire::encode(frame);
}

std::vector<wire::FramePtr> Room::catch_up(std::uint64_t last_seq) const {
  std::vector<wire::FramePtr> out;
  if (last_seq == 0 || last_seq > seq_) {
    out.push_back(snapshot(false));
    return out;
  }
  if (last_seq == seq_) return out;
  // The log must hold every event after last_seq, i.e. start at or before last_seq + 1.
  if (log_.empty() || log_.front().seq > last_seq + 1) {
    out.push_back(snapshot(true));
    return out;
  }
  for (const auto& b : log_) {
    if (b.seq > last_seq) out.push_back(b.frame);
  }
  return out;
}

proto::Members Room::members_proto() const {
  proto::Members out;
  out.set_room_id(spec_.id.value);
  for (const auto& m : members_) fill_member(*out.add_members(), m);
  return out;
}

Status LobbyHandler::on_chat(Room& room, const Member& m, std::string_view text, std::uint64_t tag) {
  if (text.empty() || text.size() > max_chat_bytes_) return fail(Errc::invalid_argument);
  proto::RoomEvent ev;
  auto* c = ev.mutable_chat();
  c->set_from_player_id(m.player.value);
  c->set_from_name(m.name);
  c->set_text(std::string(text));
  c->set_tag(tag);
  room.broadcast(std::move(ev));
  return {};
}

}  // namespace sb::room
