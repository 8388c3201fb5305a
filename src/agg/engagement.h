#pragma once
// Engagement (SPEC §3.3): per item, the count of events of each type, all-time and in each
// window (minute buckets, as WindowedSums; key = item and type).
//
// Memory: one array of counts per item ever seen by this shard (all-time counts cannot be
// evicted without lying), plus the windows' buckets. Thread-safety: none (one shard).

#include <array>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/windowed_sums.h"
#include "eddy/event.h"
#include "eddy/ids.h"

namespace eddy {

class Engagement {
 public:
  using Counts = std::array<int64_t, kEventTypeCount>;

  explicit Engagement(std::vector<int64_t> window_minutes)
      : windows_(window_minutes.size()), sums_(std::move(window_minutes)) {}

  void Apply(ItemId item, EventType type, int64_t minute) {
    ++all_time_[item][static_cast<size_t>(type)];
    sums_.Apply(Key(item, type), minute, 0);
  }
  void AdvanceTo(int64_t minute) { sums_.AdvanceTo(minute); }

  // Adds this shard's counts of `item` (all-time, and per window at global minute g).
  void Add(ItemId item, int64_t g, Counts* all_time, std::vector<Counts>* per_window) const {
    auto it = all_time_.find(item);
    if (it == all_time_.end()) return;  // never seen here: nothing in any window either
    for (int t = 0; t < kEventTypeCount; ++t) {
      (*all_time)[t] += it->second[t];
      for (size_t w = 0; w < windows_; ++w) {
        (*per_window)[w][t] += sums_.WindowOf(w, g, Key(item, static_cast<EventType>(t))).count;
      }
    }
  }

  size_t items() const { return all_time_.size(); }

 private:
  static uint64_t Key(ItemId item, EventType type) {
    return (uint64_t{item.value()} << 8) | static_cast<uint64_t>(type);
  }

  size_t windows_;
  absl::flat_hash_map<ItemId, Counts> all_time_;
  WindowedSums<uint64_t> sums_;
};

}  // namespace eddy
