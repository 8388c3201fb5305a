#include "agg/trending.h"

#include <algorithm>

namespace eddy {

CategoryWindows::CategoryWindows(std::vector<int64_t> window_minutes)
    : windows_(std::move(window_minutes)),
      longest_(windows_.empty() ? 1 : *std::max_element(windows_.begin(), windows_.end())),
      totals_(windows_.size()) {}

void CategoryWindows::AddRange(int64_t lo, int64_t hi, int sign, Sums* out) const {
  if (lo > hi) return;
  for (auto it = buckets_.lower_bound(lo); it != buckets_.end() && it->first <= hi; ++it) {
    for (const auto& [cat, cell] : it->second) {
      Cell& c = (*out)[cat];
      c.weight += sign * cell.weight;
      c.count += sign * cell.count;
    }
  }
}

void CategoryWindows::AdvanceTo(int64_t minute) {
  if (minute <= cur_) return;
  if (cur_ == INT64_MIN) {
    cur_ = minute;
    return;
  }
  for (size_t w = 0; w < windows_.size(); ++w) {
    const int64_t old_start = cur_ - windows_[w] + 1, new_start = minute - windows_[w] + 1;
    // Buckets in [old_start, min(new_start - 1, cur)] leave the window.
    Sums& t = totals_[w];
    AddRange(old_start, std::min(new_start - 1, cur_), -1, &t);
    absl::erase_if(t, [](const auto& kv) { return kv.second.count == 0; });
  }
  cur_ = minute;
  const int64_t keep_from = cur_ - longest_ - kSlackMinutes + 1;
  buckets_.erase(buckets_.begin(), buckets_.lower_bound(keep_from));
}

void CategoryWindows::Apply(CategoryId category, int64_t minute, int64_t weight) {
  AdvanceTo(minute);
  if (minute < cur_ - longest_ - kSlackMinutes + 1) return;
  Cell& b = buckets_[minute][category];
  b.weight += weight;
  ++b.count;
  for (size_t w = 0; w < windows_.size(); ++w) {
    if (minute >= cur_ - windows_[w] + 1) {
      Cell& t = totals_[w][category];
      t.weight += weight;
      ++t.count;
    }
  }
}

void CategoryWindows::AddWindow(size_t w, int64_t g, Sums* out) const {
  if (cur_ == INT64_MIN) return;
  const int64_t W = windows_[w];
  for (const auto& [cat, cell] : totals_[w]) {
    Cell& c = (*out)[cat];
    c.weight += cell.weight;
    c.count += cell.count;
  }
  // totals_ cover [cur - W + 1, cur]; the answer covers [g - W + 1, g].
  if (g >= cur_) {
    AddRange(cur_ - W + 1, g - W, -1, out);  // nothing exists in (cur, g]
  } else {
    AddRange(std::max(g + 1, cur_ - W + 1), cur_, -1, out);  // in the totals, after g
    AddRange(g - W + 1, std::min(cur_ - W, g), +1, out);     // in the answer, before them
  }
}

void CategoryWindows::AddMinutes(CategoryId category, int64_t g, int64_t n,
                                 std::vector<int64_t>* counts) const {
  for (auto it = buckets_.lower_bound(g - n + 1); it != buckets_.end() && it->first <= g; ++it) {
    auto c = it->second.find(category);
    if (c != it->second.end()) (*counts)[it->first - (g - n + 1)] += c->second.count;
  }
}

size_t CategoryWindows::tracked_categories() const {
  size_t n = 0;
  for (const Sums& t : totals_) n = std::max(n, t.size());
  return n;
}

}  // namespace eddy
