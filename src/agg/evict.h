#pragma once
// The caps' eviction policy shared by the aggregates: when a map of tracked keys passes its
// cap, forget the least recently used eighth in one pass (nth_element over a per-entry
// sequence number), so the cost is amortised O(1) per insertion with no per-key list.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace eddy {

// Erases the eighth (at least one) of `map`'s entries with the smallest `seq_of(value)`,
// calling `on_evict(value)` for each; returns how many were erased.
template <typename Map, typename SeqOf, typename OnEvict>
size_t EvictLeastRecentEighth(Map& map, SeqOf seq_of, OnEvict on_evict) {
  if (map.empty()) return 0;
  std::vector<uint64_t> seqs;
  seqs.reserve(map.size());
  for (const auto& kv : map) seqs.push_back(seq_of(kv.second));
  const size_t drop = std::max<size_t>(1, map.size() / 8);
  std::nth_element(seqs.begin(), seqs.begin() + (drop - 1), seqs.end());
  const uint64_t cutoff = seqs[drop - 1];
  return absl::erase_if(map, [&](const auto& kv) {
    if (seq_of(kv.second) > cutoff) return false;
    on_evict(kv.second);
    return true;
  });
}

}  // namespace eddy
