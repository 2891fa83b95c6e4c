#include "cluster/membership_view.hpp"

#include <utility>

#include "membership.pb.h"

namespace sb::cluster {

namespace pm = proto::membership;

std::string encode_announce(const Member& m, bool want_view) {
  pm::MembershipMessage msg;
  auto* a = msg.mutable_announce();
  a->set_protocol(kMembershipProtocol);
  a->set_node(m.node);
  a->set_started_unix_ms(m.started_unix_ms);
  a->set_seq(m.seq);
  for (const auto& r : m.roles) a->add_roles(r);
  a->set_tcp_address(m.tcp_address);
  a->set_ws_address(m.ws_address);
  a->set_admin_address(m.admin_address);
  a->set_version(m.version);
  a->set_heartbeat_ms(m.heartbeat_ms);
  auto* l = a->mutable_load();
  l->set_sessions(m.load.sessions);
  l->set_connections(m.load.connections);
  l->set_rooms(m.load.rooms);
  l->set_players_in_rooms(m.load.players_in_rooms);
  l->set_cpu_percent(m.load.cpu_percent);
  l->set_loop_lag_p99_ms(m.load.loop_lag_p99_ms);
  a->set_want_view(want_view);
  return msg.SerializeAsString();
}

std::string encode_leave(const std::string& node, UnixMillis started_unix_ms) {
  pm::MembershipMessage msg;
  auto* l = msg.mutable_leave();
  l->set_protocol(kMembershipProtocol);
  l->set_node(node);
  l->set_started_unix_ms(started_unix_ms);
  return msg.SerializeAsString();
}

MembershipView::MembershipView(std::string self, std::chrono::milliseconds timeout)
    : self_(std::move(self)), timeout_(timeout) {}

Event MembershipView::on_message(std::string_view payload, TimePoint now) {
  pm::MembershipMessage msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    ++counters_.malformed;
    return {Change::malformed, {}, false};
  }
  if (msg.has_announce()) {
    const auto& a = msg.announce();
    if (a.protocol() == 0 || a.node().empty() || a.started_unix_ms() <= 0) {
      ++counters_.malformed;
      return {Change::malformed, a.node(), false};
    }
    Member m;
    m.node = a.node();
    m.started_unix_ms = a.started_unix_ms();
    m.seq = a.seq();
    m.roles.assign(a.roles().begin(), a.roles().end());
    m.tcp_address = a.tcp_address();
    m.ws_address = a.ws_address();
    m.admin_address = a.admin_address();
    m.version = a.version();
    m.heartbeat_ms = a.heartbeat_ms();
    m.load.sessions = a.load().sessions();
    m.load.connections = a.load().connections();
    m.load.rooms = a.load().rooms();
    m.load.players_in_rooms = a.load().players_in_rooms();
    m.load.cpu_percent = a.load().cpu_percent();
    m.load.loop_lag_p99_ms = a.load().loop_lag_p99_ms();
    return on_announce(std::move(m), a.want_view(), now);
  }
  if (msg.has_leave()) {
    const auto& l = msg.leave();
    if (l.protocol() == 0 || l.node().empty() || l.started_unix_ms() <= 0) {
      ++counters_.malformed;
      return {Change::malformed, l.node(), false};
    }
    return on_leave(l.node(), l.started_unix_ms(), now);
  }
  ++counters_.malformed;  // no kind set (or a kind this version does not know)
  return {Change::malformed, {}, false};
}

Event MembershipView::stale(std::string node) {
  ++counters_.stale;
  return {Change::stale, std::move(node), false};
}

Event MembershipView::on_announce(Member m, bool want_view, TimePoint now) {
  if (m.node == self_) {
    // Our own announce coming back over the bus: the local entry is already current.
    if (m.started_unix_ms == self_started_) return {Change::none, std::move(m.node), false};
    ++counters_.conflicts;
    return {Change::conflict, std::move(m.node), false};
  }
  if (auto d = departed_.find(m.node); d != departed_.end() && m.started_unix_ms <= d->second.first) {
    return stale(std::move(m.node));
  }
  m.last_heard = now;
  m.self = false;
  Event ev{Change::joined, m.node, want_view};
  auto it = members_.find(m.node);
  if (it == members_.end()) {
    ++counters_.joins;
    members_.emplace(m.node, std::move(m));
    return ev;
  }
  Member& cur = it->second;
  if (m.started_unix_ms < cur.started_unix_ms ||
      (m.started_unix_ms == cur.started_unix_ms && m.seq <= cur.seq)) {
    return stale(std::move(m.node));
  }
  if (m.started_unix_ms > cur.started_unix_ms) {
    ++counters_.restarts;
    ev.change = Change::restarted;
  } else {
    ev.change = Change::refreshed;
  }
  cur = std::move(m);
  return ev;
}

Event MembershipView::on_leave(const std::string& node, UnixMillis started_unix_ms, TimePoint now) {
  if (node == self_) return {Change::none, node, false};
  auto it = members_.find(node);
  if (it == members_.end() || it->second.started_unix_ms != started_unix_ms) {
    // Unknown node or another incarnation: remember the leave anyway, in case its announce is
    // still on its way, but do not touch a newer incarnation.
    if (it == members_.end()) departed_[node] = {started_unix_ms, now + timeout_};
    return stale(node);
  }
  members_.erase(it);
  departed_[node] = {started_unix_ms, now + timeout_};
  ++counters_.leaves;
  return {Change::left, node, false};
}

std::vector<std::string> MembershipView::expire(TimePoint now) {
  std::vector<std::string> gone;
  for (auto it = members_.begin(); it != members_.end();) {
    if (!it->second.self && it->second.last_heard + timeout_ <= now) {
      gone.push_back(it->first);
      it = members_.erase(it);
      ++counters_.expiries;
    } else {
      ++it;
    }
  }
  for (auto it = departed_.begin(); it != departed_.end();) {
    it = it->second.second <= now ? departed_.erase(it) : std::next(it);
  }
  return gone;
}

std::optional<TimePoint> MembershipView::next_expiry() const {
  std::optional<TimePoint> next;
  for (const auto& [name, m] : members_) {
    if (m.self) continue;
    const TimePoint t = m.last_heard + timeout_;
    if (!next || t < *next) next = t;
  }
  return next;
}

void MembershipView::set_self(Member m, TimePoint now) {
  m.node = self_;
  m.self = true;
  m.last_heard = now;
  self_started_ = m.started_unix_ms;
  members_.insert_or_assign(self_, std::move(m));
}

std::vector<Member> MembershipView::members() const {
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [name, m] : members_) out.push_back(m);
  return out;
}

const Member* MembershipView::find(std::string_view node) const {
  auto it = members_.find(node);
  return it == members_.end() ? nullptr : &it->second;
}

}  // namespace sb::cluster
