#pragma once
// CategoryWindows: one shard's weighted event sums and event counts per category per
// minute (SPEC §3.1 trending, §3.2 velocity), with a running total per configured window.
//
// Time is event time in whole minutes. Minute buckets are kept for the longest window
// plus kSlackMinutes; `cur` is the newest minute this shard has seen (or been advanced to).
// totals_[w] always equals the sum of the buckets in [cur - W + 1, cur], so a read at the
// engine's global minute g (which may differ from cur by a few minutes either way) costs
// the buckets between the two ranges, not the whole window. Sums of weights are exact:
// weights are fixed-point integers (millionths).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/ids.h"

namespace eddy {

class CategoryWindows {
 public:
  struct Cell {
    int64_t weight = 0;  // millionths
    int64_t count = 0;
  };
  using Sums = absl::flat_hash_map<CategoryId, Cell>;

  // How far a read's minute may trail this shard's newest minute and stay exact.
  static constexpr int64_t kSlackMinutes = 15;

  explicit CategoryWindows(std::vector<int64_t> window_minutes);

  // Counts one event. Events older than every window (plus slack) are not kept; they could
  // never show in an answer.
  void Apply(CategoryId category, int64_t minute, int64_t weight);
  // Moves `cur` forward (never back), expiring what left each window.
  void AdvanceTo(int64_t minute);

  // Adds this shard's sums for window `w` at global minute `g` to `out`.
  void AddWindow(size_t w, int64_t g, Sums* out) const;
  // Adds this shard's cells of one minute to `out`.
  void AddBucket(int64_t minute, Sums* out) const { AddRange(minute, minute, +1, out); }
  // Adds this shard's per-minute counts of `category` for minutes [g - n + 1, g] to
  // counts[0..n) (oldest first).
  void AddMinutes(CategoryId category, int64_t g, int64_t n, std::vector<int64_t>* counts) const;

  int64_t cur() const { return cur_; }
  size_t buckets() const { return buckets_.size(); }
  size_t tracked_categories() const;

 private:
  using Bucket = absl::flat_hash_map<CategoryId, Cell>;
  // Adds sign x (buckets with minute in [lo, hi]) to `out`.
  void AddRange(int64_t lo, int64_t hi, int sign, Sums* out) const;

  std::vector<int64_t> windows_;
  int64_t longest_;
  std::map<int64_t, Bucket> buckets_;  // by minute, sparse
  std::vector<Sums> totals_;           // per window, over [cur - W + 1, cur]
  int64_t cur_ = INT64_MIN;
};

}  // namespace eddy
