#pragma once
// MembershipView: one node's live view of the cluster's nodes, as a pure state machine.
//
// Every node announces itself on the backbone subject kMembershipSubject every heartbeat
// (proto/membership.proto); this class turns the announces and leaves it hears into the set of
// live nodes. A node is in the view from its first valid announce until (a) its leave arrives
// (a clean stop: out at once), or (b) `timeout` passes with nothing heard from it (expire(now):
// killed, partitioned or stalled). A node that restarts under the same name announces a larger
// start time: it replaces the old entry at once (Change::restarted) instead of waiting for the
// old one to time out; announces and leaves of an older incarnation, and repeated or older `seq`
// numbers of the current one, are ignored (counted as stale). Undecodable payloads, a missing
// protocol version, an empty node name or a start time <= 0 are counted as malformed and change
// nothing. This node's own entry (set_self) never expires; an announce under our own name with
// another start time is another process using our name: ignored and counted as a conflict.
//
// What it does not do: no timers, no I/O, no Asio. Time comes in as arguments (`now`), so tests
// drive it with a fake clock. The async shell (membership.hpp) owns the subscription and timers.
// Threading: not thread-safe; one thread (the shell's) calls everything.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace sb::cluster {

/// Version carried in every membership message (membership.proto: how it is versioned).
inline constexpr std::uint32_t kMembershipProtocol = 1;
/// The one subject announces and leaves travel on (one subject keeps one sender's order).
inline constexpr std::string_view kMembershipSubject = "sb.members";

struct NodeLoad {
  std::uint32_t sessions = 0;
  std::uint32_t connections = 0;
  std::uint32_t rooms = 0;
  std::uint32_t players_in_rooms = 0;
  float cpu_percent = 0;
  float loop_lag_p99_ms = 0;
};

/// What a node says about itself, plus when this node last heard it.
struct Member {
  std::string node;
  UnixMillis started_unix_ms = 0;
  std::uint64_t seq = 0;
  std::vector<std::string> roles;
  std::string tcp_address;
  std::string ws_address;
  std::string admin_address;
  std::string version;
  std::uint32_t heartbeat_ms = 0;
  NodeLoad load;
  TimePoint last_heard{};  // receiver's monotonic clock
  bool self = false;       // this node's own entry
};

enum class Change { none, joined, refreshed, restarted, left, stale, conflict, malformed };

/// What one message did to the view.
struct Event {
  Change change = Change::none;
  std::string node;
  /// The sender is joining and asks everyone to announce now (answer with your own announce).
  bool view_requested = false;
};

struct MembershipCounters {
  std::uint64_t joins = 0;
  std::uint64_t leaves = 0;
  std::uint64_t expiries = 0;
  std::uint64_t restarts = 0;
  std::uint64_t stale = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t malformed = 0;
};

/// Encodes an announce of `m` (last_heard and self are not sent).
std::string encode_announce(const Member& m, bool want_view);
/// Encodes the leave of the incarnation (`node`, `started_unix_ms`).
std::string encode_leave(const std::string& node, UnixMillis started_unix_ms);

class MembershipView {
 public:
  /// `self` is this node's name; nodes silent for `timeout` leave the view.
  MembershipView(std::string self, std::chrono::milliseconds timeout);

  /// Decodes one message from kMembershipSubject and applies it.
  Event on_message(std::string_view payload, TimePoint now);
  /// Applies a decoded announce (m.last_heard and m.self are overwritten).
  Event on_announce(Member m, bool want_view, TimePoint now);
  /// Applies a leave.
  Event on_leave(const std::string& node, UnixMillis started_unix_ms, TimePoint now);
  /// Removes every other node not heard from for `timeout` by `now` (last_heard + timeout <= now);
  /// returns their names.
  std::vector<std::string> expire(TimePoint now);
  /// When the next expire() would remove someone; nullopt when only this node is in the view.
  std::optional<TimePoint> next_expiry() const;

  /// Sets or updates this node's own entry (never expires, not counted as a join).
  void set_self(Member m, TimePoint now);

  /// The live view, ordered by node name.
  std::vector<Member> members() const;
  const Member* find(std::string_view node) const;
  std::size_t size() const noexcept { return members_.size(); }
  const MembershipCounters& counters() const noexcept { return counters_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

 private:
  Event stale(std::string node);

  std::string self_;
  UnixMillis self_started_ = 0;
  std::chrono::milliseconds timeout_;
  std::map<std::string, Member, std::less<>> members_;
  // Incarnations that left cleanly, kept for `timeout` so that a late announce of theirs (another
  // path through the NATS cluster) cannot bring them back; name -> (start time, forget at).
  std::map<std::string, std::pair<UnixMillis, TimePoint>, std::less<>> departed_;
  MembershipCounters counters_;
};

}  // namespace sb::cluster
