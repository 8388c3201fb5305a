#pragma once
// EngineClock: the clock a read is computed at (SPEC §3) — the newest event time accepted
// and, in live mode, at least the wall clock. The ingest path raises it before it
// publishes (so before any reply), recovery from the events it replays.
//
// Thread-safety: any thread. Relaxed atomics: the value only grows, and a read that
// misses a concurrent raise sees a clock at most as new as events it could not see
// either (their publish comes after the raise).

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "eddy/clock.h"
#include "eddy/options.h"

namespace eddy {

class EngineClock {
 public:
  EngineClock(ClockMode mode, Clock* clock) : live_(mode == ClockMode::kLive), clock_(clock) {}

  // Raises the newest event time to `ms` (no effect if it is already newer).
  void Observe(int64_t ms) {
    int64_t seen = newest_.load(std::memory_order_relaxed);
    while (ms > seen && !newest_.compare_exchange_weak(seen, ms, std::memory_order_relaxed)) {
    }
  }
  int64_t newest_event_ms() const { return newest_.load(std::memory_order_relaxed); }

  // The engine clock for a read; INT64_MIN when there is no time yet (event clock, no
  // events).
  int64_t NowMs() const {
    int64_t now = newest_.load(std::memory_order_relaxed);
    if (live_) now = std::max(now, clock_->Now().millis());
    return now;
  }
  // The time an answer reports: the clock, or 0 when there is none yet.
  static EventTime AnswerTime(int64_t now_ms) {
    return EventTime(now_ms == INT64_MIN ? 0 : now_ms);
  }

  Clock* wall() const { return clock_; }

 private:
  const bool live_;
  Clock* const clock_;
  std::atomic<int64_t> newest_{INT64_MIN};
};

}  // namespace eddy
