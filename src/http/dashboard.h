#pragma once
// The live dashboard (GET /, served from the binary) and its feed: while at least one
// page listens on GET /v1/dashboard/stream, a thread takes a snapshot of eddy every
// `period` (500 ms) — events/s by type, trending categories and the velocity of the top
// three, revenue windows, the funnel, the newest alerts, shard lag and freshness — and
// hands the same JSON to every listener (a Server-Sent Event `snapshot`).
//
// Thread-safety: Subscribe/Unsubscribe from any thread; a listener is called on the feed's
// thread, under its lock: it must only hand the text over (post it to its connection).

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/engine.h"

namespace eddy {

// The page (HTML and its script, Chart.js inlined), embedded at build time.
std::string_view DashboardPage();

class DashboardFeed {
 public:
  using Listener = std::function<void(std::shared_ptr<const std::string>)>;
  explicit DashboardFeed(Engine& engine, std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~DashboardFeed();

  // 0 once Stop was called.
  uint64_t Subscribe(Listener listener);
  void Unsubscribe(uint64_t handle);
  // Ends the thread; no listener is called afterwards.
  void Stop();

  // One snapshot as JSON, the rates computed against the previous one (feed thread, tests).
  std::string Snapshot();

 private:
  void Run();

  Engine& engine_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  uint64_t next_ = 1;
  std::vector<std::pair<uint64_t, Listener>> listeners_;
  std::thread thread_;
  // The previous snapshot's counters (Snapshot's caller only).
  std::chrono::steady_clock::time_point last_at_{};
  std::vector<uint64_t> last_by_type_;
  HistogramSnapshot last_freshness_;
  double freshness_p50_ = 0, freshness_p99_ = 0;
};

}  // namespace eddy
