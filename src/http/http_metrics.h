#pragma once
// HttpMetrics: what the HTTP front end records for GET /metrics — each request's duration
// by route and status code (a histogram per pair and I/O thread: each thread writes only
// its own, uncontended), ingest rejections by reason, connections refused.
//
// Thread-safety: Observe(thread, ...) from I/O thread `thread` (relaxed atomics, so a scrape
// from any thread reads them); CountRejections and CountRefused from any thread; the
// snapshots from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/engine.h"
#include "util/histogram.h"
#include "util/mutex.h"

namespace eddy {

class HttpMetrics {
 public:
  // The status codes eddy answers with, each a series; any other is counted as "other".
  static constexpr std::array<unsigned, 12> kCodes = {200, 204, 400, 401, 403, 404,
                                                      405, 413, 415, 429, 500, 503};

  // `threads` I/O threads, `routes` route labels.
  HttpMetrics(int threads, size_t routes);

  void Observe(int thread, uint16_t route, unsigned code, int64_t ns) {
    size_t slot = 0;
    while (slot < kCodes.size() && kCodes[slot] != code) ++slot;
    threads_[static_cast<size_t>(thread)][route * kSlots + slot].ObserveNs(ns);
  }
  void CountRejections(const std::vector<Rejection>& rejected);
  void CountRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }

  struct Series {
    uint16_t route;
    std::string code;  // "200", ..., "other"
    HistogramSnapshot duration;
  };
  // Every route × code pair that saw a request, summed over threads.
  std::vector<Series> Requests() const;
  // Ingest rejections by reason (Rejection::reason), in first-seen order.
  std::vector<std::pair<std::string, uint64_t>> Rejections() const;
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kSlots = kCodes.size() + 1;
  const size_t routes_;
  std::vector<std::unique_ptr<LatencyHistogram[]>> threads_;  // [thread][route * kSlots + slot]
  std::atomic<uint64_t> refused_{0};
  mutable Mutex mu_;
  std::vector<std::pair<std::string_view, uint64_t>> rejections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy
