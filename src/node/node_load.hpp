#pragma once
// NodeLoadSampler: the load figures a node puts in its membership announce, read from what the
// node already measures — the session and room gauges of NodeMetrics, the shards' event-loop lag
// histograms (p99 over the interval since the previous sample, from bucket differences) — and the
// process CPU time from /proc/self/stat (percent of one core over the same interval).
// Threading: sample() from one thread at a time (the membership thread); it only reads atomics.
#include <chrono>
#include <cstdint>
#include <vector>

#include "cluster/membership_view.hpp"
#include "node/node_metrics.hpp"

namespace sb::node {

class NodeLoadSampler {
 public:
  NodeLoadSampler(NodeMetrics& metrics, std::uint32_t shards);
  cluster::NodeLoad sample();

 private:
  NodeMetrics& metrics_;
  std::vector<metrics::Histogram*> lag_;
  std::vector<std::uint64_t> lag_prev_;  // bucket counts at the previous sample, all shards added up
  double cpu_prev_s_ = -1;
  std::chrono::steady_clock::time_point wall_prev_{};
};

}  // namespace sb::node
