#pragma once
// Co-view (SPEC §3.7): for each item, how often other items were touched by the same user
// close in time. The shard that owns the user computes the pairs (RecentItems gives the
// user's latest distinct items); this class counts them, A→B and B→A.
//
// Hot path: a touch makes up to 2N pair increments, each a random access into a large
// table, so increments are buffered (8 bytes each) and folded in batches: the buffer is
// radix-sorted by (item, neighbour), equal pairs collapse into one increment, and each
// item's run is folded into its neighbour table with one lookup of the item (prefetched a
// few runs ahead); the table is open addressing (linear probing, load ≤ 7/8) of 12-byte
// counters, so a pair costs about one cache line.
// Flush() folds the buffer; reads call it first, so answers are exact and fresh.
//
// Bounded per item: at most 2 x max_neighbours counters; when a merge goes past that, the
// list is cut back to the max_neighbours best (by count) and the largest count cut
// becomes the item's `floor`: a neighbour that returns later may have had up to floor
// pairs before, so it starts with error = floor. Each counter reports count = pairs seen
// since it was (re)created + error, an upper bound, and count − error, a lower bound.
// Counts are exact (error 0) while an item has at most 2 x max_neighbours distinct
// neighbours, and every neighbour with more than `floor` pairs is kept — the top
// max_neighbours always are. At most `max_items` items; past it the least recently
// updated eighth is forgotten in one pass.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/ids.h"
#include "util/serial.h"

namespace eddy {

class CoView {
 public:
  struct Neighbour {
    ItemId item;
    uint64_t count = 0;  // upper bound of the pairs (exact when error is 0)
    uint64_t error = 0;
  };
  // Neighbours summed by item (over seed items, over shards): counts and errors add up.
  using NeighbourSums = absl::flat_hash_map<ItemId, Neighbour>;
  static void AddTo(NeighbourSums& sums, const Neighbour& n) {
    Neighbour& s = sums[n.item];
    s.item = n.item;
    s.count += n.count;
    s.error += n.error;
  }

  static constexpr size_t kBufferPairs = 1 << 14;

  CoView(uint32_t max_neighbours, uint64_t max_items);

  // Adds 1 to a→b and to b→a (buffered; folded by Flush or when the buffer fills).
  void AddPair(ItemId a, ItemId b) {
    buffer_.push_back((uint64_t{a.value()} << 32) | b.value());
    buffer_.push_back((uint64_t{b.value()} << 32) | a.value());
    if (buffer_.size() >= kBufferPairs) Flush();
  }
  void Flush();
  // Appends the item's counters to `out` (unordered). Call Flush() first.
  void Neighbours(ItemId item, std::vector<Neighbour>* out) const;

  // Checkpoint: every item's counters, floor and recency (call Flush() first: the buffer
  // is not saved). Load replaces the state.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t items() const { return items_.size(); }
  size_t counters() const { return counters_; }
  size_t slots() const { return slots_; }
  uint64_t evicted_items() const { return evicted_; }
  uint64_t pruned() const { return pruned_; }
  size_t bytes() const;

 private:
  struct Counter {
    uint32_t id;
    uint32_t count;  // pairs since created, plus the error it started with; 0 = empty slot
    uint32_t error;
  };
  struct List {
    std::vector<Counter> slots;  // open addressing, size a power of two (or 0)
    uint32_t size = 0;           // occupied slots
    uint32_t floor = 0;          // largest count ever cut from this list
    uint64_t last_seq = 0;
  };

  void Merge(List& list, const uint64_t* pairs, size_t n);
  // Keeps the max_neighbours best counters; the floor rises to the largest count cut.
  void Cut(List& list);
  void Rehash(List& list, size_t capacity);
  static Counter* Slot(List& list, uint32_t id);
  void EvictOldest();

  uint32_t max_neighbours_;
  uint64_t max_items_;
  uint64_t seq_ = 0;
  size_t counters_ = 0;
  size_t slots_ = 0;  // allocated counter slots, for bytes()
  uint64_t evicted_ = 0;
  uint64_t pruned_ = 0;
  std::vector<uint64_t> buffer_, scratch_;
  std::vector<Counter> cut_scratch_;
  std::vector<size_t> runs_;
  absl::flat_hash_map<ItemId, List> items_;
};

}  // namespace eddy
