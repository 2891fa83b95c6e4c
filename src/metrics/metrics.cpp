#include "metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

namespace sb::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double v) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

double Histogram::sum() const noexcept {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

double Histogram::quantile(double q) const noexcept {
  const std::uint64_t total = count();
  if (total == 0) return 0;
  const auto target = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    seen += bucket(i);
    if (seen >= std::max<std::uint64_t>(target, 1)) return bounds_[i];
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

void* Registry::find(const std::string& name, const Labels& labels) const {
  for (const auto& e : entries_) {
    if (e.name == name && e.labels == labels) return e.cell;
  }
  return nullptr;
}

Counter& Registry::counter(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mutex_);
  if (void* c = find(name, labels)) return *static_cast<Counter*>(c);
  auto& c = counters_.emplace_back();
  entries_.push_back({name, help, Kind::counter, std::move(labels), &c});
  return c;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mutex_);
  if (void* g = find(name, labels)) return *static_cast<Gauge*>(g);
  auto& g = gauges_.emplace_back();
  entries_.push_back({name, help, Kind::gauge, std::move(labels), &g});
  return g;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, Labels labels) {
  std::lock_guard lock(mutex_);
  if (void* h = find(name, labels)) return *static_cast<Histogram*>(h);
  auto& h = histograms_.emplace_back(std::move(bounds));
  entries_.push_back({name, help, Kind::histogram, std::move(labels), &h});
  return h;
}

namespace {

std::string label_text(const Labels& labels, const std::string& extra_key = {},
                       const std::string& extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return {};
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_key.empty()) add(extra_key, extra_value);
  out += '}';
  return out;
}

// Shortest text that reads back as the same double, laid out like the Prometheus Go client
// (strconv 'g', -1: fixed for exponents -4..5): le="0.1" and le="0.0001", not
// le="0.10000000000000001", so that queries naming a bucket bound match.
std::string number(double v) {
  char buf[64];
  const double a = std::fabs(v);
  const auto format = a == 0 || (a >= 1e-4 && a < 1e6) ? std::chars_format::fixed
                                                         : std::chars_format::scientific;
  const auto r = std::to_chars(buf, buf + sizeof buf, v, format);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  std::set<std::string> described;
  // Group entries by name in registration order of first appearance.
  std::vector<std::string> names;
  for (const auto& e : entries_) {
    if (std::find(names.begin(), names.end(), e.name) == names.end()) names.push_back(e.name);
  }
  for (const auto& name : names) {
    for (const auto& e : entries_) {
      if (e.name != name) continue;
      if (described.insert(name).second) {
        const char* type = e.kind == Kind::counter ? "counter" : e.kind == Kind::gauge ? "gauge" : "histogram";
        out += "# HELP " + name + " " + e.help + "\n# TYPE " + name + " " + type + "\n";
      }
      switch (e.kind) {
        case Kind::counter:
          out += name + label_text(e.labels) + " " + std::to_string(static_cast<Counter*>(e.cell)->value()) + "\n";
          break;
        case Kind::gauge:
          out += name + label_text(e.labels) + " " + std::to_string(static_cast<Gauge*>(e.cell)->value()) + "\n";
          break;
        case Kind::histogram: {
          const auto* h = static_cast<Histogram*>(e.cell);
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i < h->bounds().size(); ++i) {
            cumulative += h->bucket(i);
            out += name + "_bucket" + label_text(e.labels, "le", number(h->bounds()[i])) + " " +
                   std::to_string(cumulative) + "\n";
          }
          cumulative += h->bucket(h->bounds().size());
          out += name + "_bucket" + label_text(e.labels, "le", "+Inf") + " " + std::to_string(cumulative) + "\n";
          out += name + "_sum" + label_text(e.labels) + " " + number(h->sum()) + "\n";
          out += name + "_count" + label_text(e.labels) + " " + std::to_string(h->count()) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

std::vector<double> latency_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace sb::metrics
