#include "engine/rate_meter.h"

#include <algorithm>

namespace eddy {

void RateMeter::Add(int64_t now_sec, uint64_t n) {
  int slot = static_cast<int>(now_sec % kSlots);
  if (sec_[slot].load(std::memory_order_relaxed) != now_sec) {
    count_[slot].store(0, std::memory_order_relaxed);
    sec_[slot].store(now_sec, std::memory_order_release);
  }
  count_[slot].store(count_[slot].load(std::memory_order_relaxed) + n,
                     std::memory_order_relaxed);
}

uint64_t RateMeter::SumBefore(int64_t now_sec, int seconds) const {
  seconds = std::min(seconds, kSlots - 1);
  uint64_t sum = 0;
  for (int64_t s = now_sec - seconds; s < now_sec; ++s) {
    if (s < 0) continue;
    int slot = static_cast<int>(s % kSlots);
    if (sec_[slot].load(std::memory_order_acquire) == s) {
      sum += count_[slot].load(std::memory_order_relaxed);
    }
  }
  return sum;
}

}  // namespace eddy
