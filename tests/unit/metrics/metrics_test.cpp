#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace sb::metrics {
namespace {

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

TEST(MetricsTest, SameNameAndLabelsReturnTheSameCell) {
  Registry r;
  Counter& a = r.counter("sb_frames_total", "Frames.", {{"dir", "in"}});
  Counter& b = r.counter("sb_frames_total", "Frames.", {{"dir", "in"}});
  Counter& c = r.counter("sb_frames_total", "Frames.", {{"dir", "out"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.inc();
  b.inc(2);
  EXPECT_EQ(a.value(), 3u);
  EXPECT_EQ(c.value(), 0u);

  Gauge& g1 = r.gauge("sb_sessions", "Sessions.");
  Gauge& g2 = r.gauge("sb_sessions", "Sessions.");
  EXPECT_EQ(&g1, &g2);

  Histogram& h1 = r.histogram("sb_latency_seconds", "Latency.", {1, 2});
  Histogram& h2 = r.histogram("sb_latency_seconds", "Latency.", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(MetricsTest, CellsStayValidAsMoreAreRegistered) {
  Registry r;
  Counter& first = r.counter("c0", "h");
  first.inc(7);
  for (int i = 1; i < 1000; ++i) r.counter("c" + std::to_string(i), "h").inc();
  EXPECT_EQ(first.value(), 7u);
  EXPECT_EQ(&r.counter("c0", "h"), &first);
}

TEST(MetricsTest, CounterAndGaugeRender) {
  Registry r;
  r.counter("sb_logins_total", "Logins.").inc(5);
  Gauge& g = r.gauge("sb_temperature", "Temperature.");
  g.set(10);
  g.add(-13);
  EXPECT_EQ(g.value(), -3);
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# HELP sb_logins_total Logins.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE sb_logins_total counter")) << text;
  EXPECT_TRUE(has_line(text, "sb_logins_total 5")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE sb_temperature gauge")) << text;
  EXPECT_TRUE(has_line(text, "sb_temperature -3")) << text;
}

TEST(MetricsTest, HelpAndTypeOncePerNameEvenWhenInterleaved) {
  Registry r;
  r.counter("sb_a_total", "A.", {{"k", "1"}}).inc();
  r.gauge("sb_b", "B.");
  r.counter("sb_a_total", "A.", {{"k", "2"}}).inc(2);
  const std::string text = r.render();
  EXPECT_EQ(count_of(text, "# HELP sb_a_total "), 1u) << text;
  EXPECT_EQ(count_of(text, "# TYPE sb_a_total "), 1u) << text;
  EXPECT_EQ(count_of(text, "# TYPE sb_b "), 1u) << text;
  // Samples of one name are contiguous, right after their TYPE line.
  const auto lines = lines_of(text);
  ASSERT_GE(lines.size(), 7u);
  EXPECT_EQ(lines[0], "# HELP sb_a_total A.");
  EXPECT_EQ(lines[1], "# TYPE sb_a_total counter");
  EXPECT_EQ(lines[2], "sb_a_total{k=\"1\"} 1");
  EXPECT_EQ(lines[3], "sb_a_total{k=\"2\"} 2");
  EXPECT_EQ(lines[4], "# HELP sb_b B.");
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry r;
  r.counter("sb_x_total", "X.", {{"path", "a\"b\\c\nd"}, {"z", "plain"}}).inc();
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(sb_x_total{path="a\"b\\c\nd",z="plain"} 1)")) << text;
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  Registry r;
  Histogram& h = r.histogram("sb_rtt_seconds", "RTT.", {0.1, 0.5, 1}, {{"shard", "0"}});
  h.observe(0.05);
  h.observe(0.1);   // on a bound: counts in that bucket (le)
  h.observe(0.3);
  h.observe(0.75);
  h.observe(2);     // only in +Inf
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum(), 3.2, 1e-6);
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# TYPE sb_rtt_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_bucket{shard="0",le="0.1"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_bucket{shard="0",le="0.5"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_bucket{shard="0",le="1"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_bucket{shard="0",le="+Inf"} 5)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_sum{shard="0"} 3.2)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_rtt_seconds_count{shard="0"} 5)")) << text;
  EXPECT_EQ(count_of(text, "# HELP sb_rtt_seconds "), 1u);
}

TEST(MetricsTest, HistogramWithoutLabelsHasOnlyLe) {
  Registry r;
  r.histogram("sb_h", "H.", {1}).observe(0.5);
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(sb_h_bucket{le="1"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_h_bucket{le="+Inf"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "sb_h_count 1")) << text;
}

TEST(MetricsTest, HistogramSortsItsBounds) {
  Histogram h({1, 0.1, 0.5});
  ASSERT_EQ(h.bounds(), (std::vector<double>{0.1, 0.5, 1}));
  h.observe(0.2);
  EXPECT_EQ(h.bucket(0), 0u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(2), 0u);
  EXPECT_EQ(h.bucket(3), 0u);
}

TEST(MetricsTest, QuantileIsTheBucketBoundCoveringTheFraction) {
  Histogram h({1, 2, 5, 10});
  EXPECT_EQ(h.quantile(0.5), 0) << "empty histogram";
  for (int i = 0; i < 90; ++i) h.observe(0.5);  // bucket le=1
  for (int i = 0; i < 9; ++i) h.observe(4);     // bucket le=5
  h.observe(8);                                 // bucket le=10
  EXPECT_EQ(h.quantile(0.5), 1);
  EXPECT_EQ(h.quantile(0.9), 1);
  EXPECT_EQ(h.quantile(0.95), 5);
  EXPECT_EQ(h.quantile(0.99), 5);
  EXPECT_EQ(h.quantile(1.0), 10);
  EXPECT_EQ(h.quantile(0.0), 1) << "q=0 is the first non-empty bucket";
}

TEST(MetricsTest, QuantileCoversAtLeastTheFraction) {
  Histogram h({1, 2});
  h.observe(0.5);
  h.observe(1.5);
  // Half the observations are <= 1; three quarters needs the next bound.
  EXPECT_EQ(h.quantile(0.5), 1);
  EXPECT_EQ(h.quantile(0.75), 2);
}

TEST(MetricsTest, QuantileBeyondTheLastBoundIsTheLastBound) {
  Histogram h({1, 2});
  h.observe(100);
  EXPECT_EQ(h.quantile(0.5), 2);
}

TEST(MetricsTest, LatencyBoundsAreSortedAndSpanMicrosToSeconds) {
  const auto b = latency_bounds();
  ASSERT_FALSE(b.empty());
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_DOUBLE_EQ(b.front(), 0.0001);
  EXPECT_DOUBLE_EQ(b.back(), 10);
}

TEST(MetricsTest, LatencyBoundsRenderAsShortDecimals) {
  Registry r;
  r.histogram("sb_lat_seconds", "L.", latency_bounds());
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(sb_lat_seconds_bucket{le="0.0001"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_lat_seconds_bucket{le="0.00025"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_lat_seconds_bucket{le="0.0005"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_lat_seconds_bucket{le="2.5"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_lat_seconds_bucket{le="10"} 0)")) << text;
}

TEST(MetricsTest, LargeAndTinyBoundsUseExponents) {
  Registry r;
  r.histogram("sb_bytes", "B.", {100, 1e6, 0.00001});
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(sb_bytes_bucket{le="1e-05"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_bytes_bucket{le="100"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(sb_bytes_bucket{le="1e+06"} 0)")) << text;
  EXPECT_TRUE(has_line(text, "sb_bytes_sum 0")) << text;
}

}  // namespace
}  // namespace sb::metrics
