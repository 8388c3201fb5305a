#pragma once
// LatencyHistogram: a fixed-bucket histogram of durations for the metrics endpoint, cheap
// enough for hot paths: Observe is a short bucket search and two relaxed atomic adds, no
// lock, no allocation. Buckets are fixed (25 µs .. 10 s, 1-2.5-5 steps): the Prometheus
// defaults extended downwards, as eddy's latencies are mostly well below 1 ms.
//
// Thread-safety: Observe from any thread; Snapshot from any thread (each counter is read
// atomically, the set of them is not one instant — fine for a scrape).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "eddy/engine.h"

namespace eddy {

// Steady-clock nanoseconds (for durations measured across threads).
inline int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class LatencyHistogram {
 public:
  // Upper bounds of the finite buckets, in nanoseconds.
  static constexpr std::array<int64_t, 18> kBoundsNs = {
      25'000,      50'000,      100'000,     250'000,     500'000,       1'000'000,
      2'500'000,   5'000'000,   10'000'000,  25'000'000,  50'000'000,    100'000'000,
      250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

  void Observe(std::chrono::nanoseconds d) { ObserveNs(d.count()); }
  void ObserveNs(int64_t ns) {
    if (ns < 0) ns = 0;
    size_t b = 0;
    while (b < kBoundsNs.size() && ns > kBoundsNs[b]) ++b;
    counts_[b].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }

  // Adds this histogram's counts into `out` (sized on first use): several histograms (one
  // per thread, say) sum into one snapshot.
  void AddTo(HistogramSnapshot* out) const {
    if (out->upper_bounds_seconds.empty()) {
      for (int64_t ns : kBoundsNs) out->upper_bounds_seconds.push_back(static_cast<double>(ns) / 1e9);
      out->cumulative.assign(kBoundsNs.size(), 0);
    }
    uint64_t running = 0;
    for (size_t b = 0; b < kBoundsNs.size(); ++b) {
      running += counts_[b].load(std::memory_order_relaxed);
      out->cumulative[b] += running;
    }
    running += counts_[kBoundsNs.size()].load(std::memory_order_relaxed);
    out->count += running;
    out->sum_seconds += static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  }
  HistogramSnapshot Snapshot() const {
    HistogramSnapshot s;
    AddTo(&s);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size() + 1> counts_{};  // the last: +Inf
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace eddy
