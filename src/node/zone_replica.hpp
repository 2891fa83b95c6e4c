#pragma once
// ZoneReplica: this shard's copy of the zone directory (room lists and counts, seed 003).
//
// Hosts push their rooms' counts into the backbone KV ("zone.<zone>.<room>", RoomHost); every
// shard watches the zones its players are in or list and applies the changes to a local
// room::ZoneDirectory, so ListRooms is answered here without asking any host. The rooms this
// shard hosts are applied directly by RoomHost (set_own/remove_own) and the watch skips them.
// A zone is followed from its first use: a watch, then a listing whose completion marks the zone
// ready (the first answer for a zone waits for it, so it is complete). Zones nobody here looked
// at for 10 minutes are forgotten (their remote rooms are dropped).
// Threading: the shard thread only. Owns the directory and the watches.
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "node/shard_env.hpp"
#include "room/zone_directory.hpp"

namespace sb::node {

class ZoneReplica {
 public:
  explicit ZoneReplica(ShardEnv& env);

  /// Follows `zone` (watch + initial listing) if not yet, and marks it used. `ready` (optional)
  /// runs once the zone's first listing is in: at once when it already is, else later on this
  /// thread; also if the backbone fails (the list then shows what is known).
  void watch(const std::string& zone, std::function<void()> ready = {});
  /// Once a minute: stops following zones not in `in_use()` (asked only then) and unused for a while.
  void forget_idle(TimePoint now, const std::function<std::unordered_set<std::string>()>& in_use);
  const room::ZoneDirectory& directory() const noexcept { return dir_; }

  /// A room hosted here changed / closed.
  void set_own(const room::ZoneEntry& e) { dir_.upsert(e); }
  void remove_own(RoomId room) { dir_.remove(room); }
  /// Shutdown: ends every watch.
  void unsubscribe_all();

 private:
  struct Watch {
    backbone::SubscriptionId sub;
    TimePoint last_used;
    bool ready = false;
    std::vector<std::function<void()>> waiting;
  };
  void on_event(const backbone::KvEvent& ev);
  void on_listed(const std::string& zone, Result<std::vector<backbone::KvEntry>> entries);

  ShardEnv& env_;
  room::ZoneDirectory dir_;
  std::unordered_map<std::string, Watch> watches_;
  TimePoint next_gc_{};
};

}  // namespace sb::node
