#include "pweb/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

namespace pweb::metrics {
namespace {

using namespace std::chrono_literals;

TEST(LocalCounter, AddsUp) {
  LocalCounter c;
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.get(), 42u);
}

TEST(Histogram, BucketsByUpperBoundInclusive) {
  LocalHistogram h;
  h.observe(25us);    // exactly the first bound: first bucket (le is "<=")
  h.observe(26us);    // one past: second bucket
  h.observe(20s);     // above every bound: +Inf
  h.observe(-5ns);    // a clock going backwards counts as zero
  h.observe(1ms, 3);  // a batch of three
  const auto d = h.data();
  EXPECT_EQ(d.count, 7u);
  EXPECT_EQ(d.buckets[0], 2u);
  EXPECT_EQ(d.buckets[1], 1u);
  EXPECT_EQ(d.buckets[5], 3u);  // le 0.001
  EXPECT_EQ(d.buckets.back(), 1u);
  EXPECT_EQ(d.sum_ns, 25'000u + 26'000u + 20'000'000'000u + 3'000'000u);
}

TEST(Histogram, DataSums) {
  SharedHistogram a, b;
  a.observe(1ms);
  b.observe(1ms);
  b.observe(2s);
  auto d = a.data();
  d += b.data();
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(d.buckets[5], 2u);
}

TEST(TextWriter, FamilyAndSamples) {
  TextWriter w;
  w.family("pweb_x_things_total", "counter", "Things\\counted\nhere");
  w.sample("pweb_x_things_total", {}, std::uint64_t{7});
  w.sample("pweb_x_things_total", {{"kind", "a\"b\\c\nd"}, {"z", "1"}}, std::uint64_t{0});
  w.sample("pweb_x_ratio", {}, 0.25);
  EXPECT_EQ(w.text(),
            "# HELP pweb_x_things_total Things\\\\counted\\nhere\n"
            "# TYPE pweb_x_things_total counter\n"
            "pweb_x_things_total 7\n"
            "pweb_x_things_total{kind=\"a\\\"b\\\\c\\nd\",z=\"1\"} 0\n"
            "pweb_x_ratio 0.25\n");
}

TEST(TextWriter, HistogramIsCumulativeAndEndsWithInf) {
  LocalHistogram h;
  h.observe(10us);
  h.observe(2ms);
  h.observe(30s);
  TextWriter w;
  w.histogram("pweb_x_latency_seconds", {{"t", "udp"}}, h.data());
  const std::string& t = w.text();
  EXPECT_NE(t.find("pweb_x_latency_seconds_bucket{t=\"udp\",le=\"2.5e-05\"} 1\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("pweb_x_latency_seconds_bucket{t=\"udp\",le=\"0.0025\"} 2\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("pweb_x_latency_seconds_bucket{t=\"udp\",le=\"10\"} 2\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("pweb_x_latency_seconds_bucket{t=\"udp\",le=\"+Inf\"} 3\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("pweb_x_latency_seconds_count{t=\"udp\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("pweb_x_latency_seconds_sum{t=\"udp\"} 30.00201\n"), std::string::npos) << t;
}

TEST(TextWriter, SpecialValues) {
  TextWriter w;
  w.sample("a", {}, std::numeric_limits<double>::infinity());
  w.sample("b", {}, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(w.text(), "a +Inf\nb NaN\n");
}

}  // namespace
}  // namespace pweb::metrics
