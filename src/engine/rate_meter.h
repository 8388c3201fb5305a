#pragma once
// RateMeter: counts per wall-clock second over the last 16 seconds; one writer, any
// number of readers (for status pages). Readers may see a second being reset; the figure
// is a rate for operators, not an exact count.

#include <atomic>
#include <cstdint>

namespace eddy {

class RateMeter {
 public:
  // Writer only.
  void Add(int64_t now_sec, uint64_t n);
  // Sum over the `seconds` whole seconds before `now_sec` (at most 15).
  uint64_t SumBefore(int64_t now_sec, int seconds) const;

 private:
  static constexpr int kSlots = 16;
  std::atomic<int64_t> sec_[kSlots] = {};
  std::atomic<uint64_t> count_[kSlots] = {};
};

}  // namespace eddy
