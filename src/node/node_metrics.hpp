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
  metrics::Counter& error(Errc e) { return *errors_by_code[static_cast<std::size_t>(e)]; }
  metrics::Counter& login(Errc e) { return *logins_by_outcome[static_cast<std::size_t>(e)]; }

  metrics::Registry& registry;
  std::array<metrics::Gauge*, 6> sessions_by_state{};
  metrics::Gauge& sessions_detached;
  metrics::Gauge& connections;
  metrics::Gauge& rooms;
  std::array<metrics::Counter*, 24> errors_by_code{};
  std::array<metrics::Counter*, 24> logins_by_outcome{};
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
};

}  // namespace sb::node
