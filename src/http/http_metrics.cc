#include "http/http_metrics.h"

#include <algorithm>

namespace eddy {

HttpMetrics::HttpMetrics(int threads, size_t routes) : routes_(routes) {
  for (int t = 0; t < threads; ++t) {
    threads_.push_back(std::make_unique<LatencyHistogram[]>(routes * kSlots));
  }
}

void HttpMetrics::CountRejections(const std::vector<Rejection>& rejected) {
  if (rejected.empty()) return;
  MutexLock lock(&mu_);
  for (const Rejection& r : rejected) {
    auto it = std::find_if(rejections_.begin(), rejections_.end(),
                           [&](const auto& e) { return e.first == r.reason; });
    if (it == rejections_.end()) {
      rejections_.emplace_back(r.reason, 1);
    } else {
      ++it->second;
    }
  }
}

std::vector<HttpMetrics::Series> HttpMetrics::Requests() const {
  std::vector<Series> out;
  for (size_t route = 0; route < routes_; ++route) {
    for (size_t slot = 0; slot < kSlots; ++slot) {
      HistogramSnapshot sum;
      for (const auto& t : threads_) t[route * kSlots + slot].AddTo(&sum);
      if (sum.count == 0) continue;
      out.push_back({static_cast<uint16_t>(route),
                     slot < kCodes.size() ? std::to_string(kCodes[slot]) : "other",
                     std::move(sum)});
    }
  }
  return out;
}

std::vector<std::pair<std::string, uint64_t>> HttpMetrics::Rejections() const {
  MutexLock lock(&mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [reason, n] : rejections_) out.emplace_back(std::string(reason), n);
  return out;
}

}  // namespace eddy
