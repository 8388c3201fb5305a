#pragma once
// A log-linear latency histogram (the HdrHistogram idea; Debian packages no C/C++
// HdrHistogram): values are bucketed by power of two, each power split into 64 linear
// sub-buckets, so a reported percentile is within 1/64 (1.6 %) of the true value. Values
// are integers (we record nanoseconds) up to 2^63. Memory: 64 x 64 counters.
// Thread-safety: none; merge per-thread histograms with Add().

#include <array>
#include <cstdint>

namespace eddy::load {

class Histogram {
 public:
  void Record(uint64_t value);
  void Add(const Histogram& other);
  void Reset() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // The value at percentile p in [0, 100]: the smallest recorded bucket whose cumulative
  // count reaches p% of all values, reported as that bucket's upper edge (clamped to max).
  uint64_t Percentile(double p) const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static int Index(uint64_t v);
  static uint64_t UpperEdge(int index);

  std::array<uint64_t, 64 * kSub> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
  unsigned __int128 sum_ = 0;
};

}  // namespace eddy::load
