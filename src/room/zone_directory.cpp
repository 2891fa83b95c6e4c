#include "room/zone_directory.hpp"

#include <vector>

namespace sb::room {

void ZoneDirectory::upsert(const ZoneEntry& e) {
  auto it = rooms_.find(e.room);
  if (it != rooms_.end() && it->second.zone != e.zone) by_zone_[it->second.zone].erase(e.room);
  rooms_[e.room] = e;
  by_zone_[e.zone][e.room] = true;
}

void ZoneDirectory::remove(RoomId room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  auto z = by_zone_.find(it->second.zone);
  if (z != by_zone_.end()) {
    z->second.erase(room);
    if (z->second.empty()) by_zone_.erase(z);
  }
  rooms_.erase(it);
}

void ZoneDirectory::mark_full(RoomId room) {
  auto it = rooms_.find(room);
  if (it != rooms_.end()) it->second.count = it->second.capacity;
}

std::optional<RoomId> ZoneDirectory::pick(const std::string& zone, const std::string& type) const {
  auto z = by_zone_.find(zone);
  if (z == by_zone_.end()) return std::nullopt;
  std::optional<RoomId> best;
  std::uint32_t best_count = 0;
  for (const auto& [id, unused] : z->second) {
    const auto& e = rooms_.at(id);
    if (e.type != type || e.locked || e.count >= e.capacity) continue;
    if (!best || e.count > best_count) {
      best = id;
      best_count = e.count;
    }
  }
  return best;
}

std::vector<ZoneEntry> ZoneDirectory::list(const std::string& zone) const {
  std::vector<ZoneEntry> out;
  auto z = by_zone_.find(zone);
  if (z == by_zone_.end()) return out;
  for (const auto& [id, unused] : z->second) out.push_back(rooms_.at(id));
  return out;
}

std::string zone_key(const std::string& zone, RoomId room) {
  return std::string(kZonePrefix) + zone + "." + std::to_string(room.value);
}

}  // namespace sb::room
