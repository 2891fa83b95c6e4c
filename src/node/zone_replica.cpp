#include "node/zone_replica.hpp"

#include "internal.pb.h"
#include "node/room_host.hpp"

namespace sb::node {

namespace pi = proto::internal;

ZoneReplica::ZoneReplica(ShardEnv& env) : env_(env) {}

void ZoneReplica::watch(const std::string& zone, std::function<void()> ready) {
  const auto now = env_.svc.clock.now();
  auto it = watches_.find(zone);
  if (it != watches_.end()) {
    it->second.last_used = now;
    if (!ready) return;
    if (it->second.ready) return ready();
    it->second.waiting.push_back(std::move(ready));
    return;
  }
  // Watch first (its initial entries and every later change are queued to this shard in order),
  // then list: the listing's completion says the replica has the zone; the watch events that
  // follow replay changes made since the watch began, so the replica converges.
  const std::string prefix = std::string(room::kZonePrefix) + zone + ".";
  auto sub = env_.svc.backbone.kv_watch(prefix, true, env_.executor, [this](backbone::KvEvent ev) { on_event(ev); });
  if (!sub) {
    // Backbone trouble: lists show this shard's own rooms only; retried at the next use.
    env_.svc.metrics.kv_failures.inc();
    if (ready) ready();
    return;
  }
  Watch& w = watches_[zone];
  w.sub = *sub;
  w.last_used = now;
  if (ready) w.waiting.push_back(std::move(ready));
  env_.svc.backbone.kv_list(prefix, env_.executor, [this, zone](Result<std::vector<backbone::KvEntry>> entries) {
    on_listed(zone, std::move(entries));
  });
}

void ZoneReplica::on_listed(const std::string& zone, Result<std::vector<backbone::KvEntry>> entries) {
  if (entries) {
    for (const auto& e : *entries) on_event(backbone::KvEvent{backbone::KvOp::put, e});
  } else {
    env_.svc.metrics.kv_failures.inc();  // the watch's initial entries still fill the replica
  }
  auto it = watches_.find(zone);
  if (it == watches_.end()) return;  // forgotten meanwhile
  it->second.ready = true;
  auto waiting = std::move(it->second.waiting);
  it->second.waiting.clear();
  for (auto& fn : waiting) fn();
}

void ZoneReplica::forget_idle(TimePoint now, const std::function<std::unordered_set<std::string>()>& zones_in_use) {
  if (now < next_gc_) return;
  next_gc_ = now + std::chrono::minutes(1);
  const auto in_use = zones_in_use();
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (in_use.count(it->first) || now - it->second.last_used < std::chrono::minutes(10) ||
        !it->second.waiting.empty()) {
      ++it;
      continue;
    }
    env_.svc.backbone.unsubscribe(it->second.sub);
    for (const auto& e : dir_.list(it->first)) {
      if (!env_.parts.host->hosts(e.room)) dir_.remove(e.room);
    }
    it = watches_.erase(it);
  }
}

void ZoneReplica::on_event(const backbone::KvEvent& ev) {
  if (ev.op != backbone::KvOp::put) {
    const auto dot = ev.entry.key.rfind('.');
    if (dot == std::string::npos) return;
    const RoomId id{std::strtoull(ev.entry.key.c_str() + dot + 1, nullptr, 10)};
    if (!env_.parts.host->hosts(id)) dir_.remove(id);
    return;
  }
  pi::ZoneRoom z;
  if (!z.ParseFromString(ev.entry.value)) return;
  if (z.node() == env_.cfg.node_name && z.shard() == env_.index) return;  // own rooms are applied directly
  dir_.upsert({RoomId{z.room_id()}, z.room_type(), z.zone(), z.count(), z.capacity(), z.locked(), z.spectators()});
}

void ZoneReplica::unsubscribe_all() {
  for (auto& [zone, w] : watches_) env_.svc.backbone.unsubscribe(w.sub);
  watches_.clear();
}

}  // namespace sb::node
