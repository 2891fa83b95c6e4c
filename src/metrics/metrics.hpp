#pragma once
// Metrics: counters, gauges and histograms rendered in the Prometheus text format.
//
// Metrics are registered at start-up (Registry::counter/gauge/histogram, under a mutex) and then
// updated on hot paths through the returned references with relaxed atomics: no lock, no
// allocation. References stay valid for the Registry's lifetime (cells live in std::deque).
// A metric is identified by name + label set; registering the same pair twice returns the same
// cell. render() produces the text exposition (one HELP/TYPE block per name). Thread-safe.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// Cumulative histogram over fixed upper bounds (seconds or any unit; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  /// Smallest bucket bound below which at least fraction `q` of observations fall (approximate).
  double quantile(double q) const noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // size bounds_.size() + 1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       Labels labels = {});
  /// Prometheus text exposition format (version 0.0.4).
  std::string render() const;

 private:
  enum class Kind { counter, gauge, histogram };
  struct Entry {
    std::string name;
    std::string help;
    Kind kind;
    Labels labels;
    void* cell;
  };
  void* find(const std::string& name, const Labels& labels) const;

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
};

/// Default bounds for latencies in seconds: 100 µs .. 10 s.
std::vector<double> latency_bounds();

}  // namespace sb::metrics
