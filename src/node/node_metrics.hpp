#pragma once
// The node's metrics, registered once and updated by every shard through references.
#include <array>
#include <string>

#include "core/error.hpp"
#include "metrics/metrics.hpp"
#include "session/session_fsm.hpp"

namespace sb::node {

struct NodeMetrics {
  explicit NodeMetrics(metrics::Registry& r);

  metrics::Gauge& sessions(session::State s) { return *sessions_by_state[static_cast<std::size_t>(s)]; }
  metrics::Counter& error(Errc e) { return *errors_by_code[index(e)]; }
  metrics::Counter& login(Errc e) { return *logins_by_outcome[index(e)]; }
  /// Array slot of a code; anything out of range (e.g. a number from another node's reply) is
  /// counted as internal instead of indexing past the array.
  static std::size_t index(Errc e) noexcept {
    const auto i = static_cast<std::size_t>(e);
    return i < kCodes ? i : static_cast<std::size_t>(Errc::internal);
  }
  static constexpr std::size_t kCodes = 26;

  metrics::Registry& registry;
  std::array<metrics::Gauge*, 6> sessions_by_state{};
  metrics::Gauge& sessions_detached;
  metrics::Gauge& connections;
  metrics::Gauge& rooms;
  std::array<metrics::Counter*, kCodes> errors_by_code{};
  std::array<metrics::Counter*, kCodes> logins_by_outcome{};
  metrics::Counter& frames_in;
  metrics::Counter& frames_out;
  metrics::Counter& bytes_in;
  metrics::Counter& bytes_out;
  metrics::Counter& slow_consumer_disconnects;
  metrics::Counter& closes_protocol;
  metrics::Counter& connections_accepted;
  metrics::Counter& connections_refused;
  metrics::Counter& resumes;
  metrics::Counter& chat_messages;
  metrics::Counter& broadcast_deliveries;
  metrics::Counter& game_messages;
  metrics::Counter& game_messages_limited;
  metrics::Counter& rooms_created;
  metrics::Counter& rooms_ended;
  metrics::Counter& room_ticks;
  metrics::Counter& publish_failures;
  metrics::Counter& kv_failures;
};

}  // namespace sb::node
