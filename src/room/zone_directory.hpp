#pragma once
// ZoneDirectory: a shard's local read replica of room counts per zone (seed 003).
//
// Hosts push each room's count (coalesced) into the backbone KV under "zone.<zone>.<room_id>";
// every shard watches the zones its players are in or list and applies the changes here, so
// room lists and counts are answered locally without asking the hosts. A shard applies its own rooms' changes directly.
// pick() returns the fullest room that still has space; it may be stale — the owner's join()
// is the authority and answers ROOM_FULL, after which the caller marks the room full and retries.
// (Auto-join does not use it: the (zone, type) home shard places players exactly; the replica
// serves room lists.)
// Pure; not thread-safe (one per shard).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/ids.hpp"

namespace sb::room {

struct ZoneEntry {
  RoomId room;
  std::string type;
  std::string zone;
  std::uint32_t count = 0;
  std::uint32_t capacity = 0;
  bool locked = false;
  std::uint32_t spectators = 0;
};

class ZoneDirectory {
 public:
  /// Inserts or replaces a room's entry.
  void upsert(const ZoneEntry& e);
  /// Removes a room (no-op if absent).
  void remove(RoomId room);
  /// Marks a room as full (a join was refused) until its next upsert.
  void mark_full(RoomId room);
  /// Fullest unlocked room of `type` in `zone` with count < capacity, ties broken by lowest id.
  std::optional<RoomId> pick(const std::string& zone, const std::string& type) const;
  /// Entries of a zone ordered by room id.
  std::vector<ZoneEntry> list(const std::string& zone) const;
  std::size_t size() const noexcept { return rooms_.size(); }

 private:
  std::unordered_map<RoomId, ZoneEntry> rooms_;
  std::map<std::string, std::map<RoomId, bool>> by_zone_;  // zone -> rooms (ordered)
};

/// KV key for a room's zone entry.
std::string zone_key(const std::string& zone, RoomId room);
inline constexpr const char* kZonePrefix = "zone.";

}  // namespace sb::room
