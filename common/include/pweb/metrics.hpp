#pragma once
// Counters and latency histograms that hot paths update without locks, and the
// Prometheus text exposition (format 0.0.4) that /metrics renders them in.
// Components keep these inside their own stats; the node turns them into text.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pweb::metrics {

// A counter with one writing thread: a relaxed load and store, no locked instruction.
class LocalCounter {
 public:
  void inc(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A counter that any thread may bump.
class SharedCounter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Upper bounds of the latency buckets, seconds: 25 us to 10 s, roughly x2.5 apart.
inline constexpr std::array<double, 14> kLatencyBounds = {
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005,    0.01,    0.025,  0.05,    0.1,    1.0,   10.0};

// What a histogram held at one moment; summable across workers.
struct HistogramData {
  std::array<std::uint64_t, kLatencyBounds.size() + 1> buckets{};  // last = +Inf, not cumulative
  std::uint64_t sum_ns = 0;
  std::uint64_t count = 0;

  HistogramData& operator+=(const HistogramData& o) noexcept {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
    sum_ns += o.sum_ns;
    count += o.count;
    return *this;
  }
};

// A latency histogram. `Counter` is LocalCounter for one writing thread,
// SharedCounter for many.
template <typename Counter>
class BasicHistogram {
 public:
  // `n` observations of the same duration (a batch answered together).
  void observe(std::chrono::nanoseconds d, std::uint64_t n = 1) noexcept {
    const auto ns = d.count() < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(d.count());
    const double s = static_cast<double>(ns) * 1e-9;
    std::size_t i = 0;
    while (i < kLatencyBounds.size() && s > kLatencyBounds[i]) ++i;
    buckets_[i].inc(n);
    sum_ns_.inc(ns * n);
    count_.inc(n);
  }
  [[nodiscard]] HistogramData data() const noexcept {
    HistogramData d;
    // Read while writers run: buckets, sum and count may be an observation apart.
    d.count = count_.get();
    for (std::size_t i = 0; i < buckets_.size(); ++i) d.buckets[i] = buckets_[i].get();
    d.sum_ns = sum_ns_.get();
    return d;
  }

 private:
  std::array<Counter, kLatencyBounds.size() + 1> buckets_{};
  Counter sum_ns_;
  Counter count_;
};
using LocalHistogram = BasicHistogram<LocalCounter>;
using SharedHistogram = BasicHistogram<SharedCounter>;

using Label = std::pair<std::string_view, std::string_view>;

// Builds a Prometheus text exposition. Each family is declared once (HELP and
// TYPE), then its samples follow. Label values are escaped; names are the
// caller's constants.
class TextWriter {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  // A histogram family's samples: _bucket (cumulative, with le), _sum, _count.
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const HistogramData& data);

  [[nodiscard]] const std::string& text() const noexcept { return out_; }

 private:
  void labels(std::initializer_list<Label> labels, std::string_view le = {});
  std::string out_;
};

}  // namespace pweb::metrics
