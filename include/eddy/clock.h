#pragma once
// The engine's source of wall-clock time, injected so tests control time.
// Thread-safety: Now() may be called from any thread.

#include <atomic>

#include "eddy/event.h"

namespace eddy {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual EventTime Now() const = 0;
  // The process-wide real clock.
  static Clock* System();
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(EventTime start) : ms_(start.millis()) {}
  EventTime Now() const override { return EventTime(ms_.load(std::memory_order_relaxed)); }
  void Set(EventTime t) { ms_.store(t.millis(), std::memory_order_relaxed); }
  void Advance(int64_t ms) { ms_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace eddy
