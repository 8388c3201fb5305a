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
// Flush() folds the buffer; a read folds first the pending pairs of the items it reads
// (FlushItems: a scan of the buffer, not a fold of all of it), so answers are exact and
// fresh, and a read never pays for folding the whole buffer.
//
// Bounded per item: at most 2 x max_neighbours counters; when a merge goes past that, the
// list is cut back to the max_neighbours best (by count) and the largest count cut
// becomes the item's `floor`: a neighbour that returns later may have had up to floor
// pairs before, so it starts with error = floor. Each counter reports count = pairs seen
// since it was (re)created + error, an upper bound, and count − error, a lower bound.
// Counts are exact (error 0) while an item has at most 2 x max_neighbours distinct
// neighbours, and every neighbour with more than `floor` pairs is kept — the top
// max_neighbours always are. At most `max_items` items, kept in least recently updated
// order (LruMap); past it the least recently updated item is forgotten, one per new item.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/lru_map.h"
#include "eddy/ids.h"
#include "util/serial.h"
#include "agg/recent.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class CoView {
 public:
  struct Neighbour {
    ItemId item;
    uint64_t count = 0;  // upper bound of the pairs (exact when error is 0)
    uint64_t error = 0;
  };
  // Neighbours summed by item (over seed items, over shards; see AddNeighbours).
  using NeighbourSums = absl::flat_hash_map<ItemId, Neighbour>;

  static constexpr size_t kBufferPairs = 1 << 14;

  CoView(uint32_t max_neighbours, uint64_t max_items);

  // Adds 1 to a→b and to b→a (buffered; folded by Flush or when the buffer fills).
  void AddPair(ItemId a, ItemId b) {
    buffer_.push_back((uint64_t{a.value()} << 32) | b.value());
    buffer_.push_back((uint64_t{b.value()} << 32) | a.value());
    if (buffer_.size() >= kBufferPairs) Flush();
  }
  void Flush();
  // Folds the pending pairs of these items only (their lists are then up to date, as
  // after Flush(); the rest stays buffered). A scan of the buffer; for reads.
  void FlushItems(std::span<const ItemId> items);
  // Pairs not folded yet.
  size_t pending() const { return buffer_.size(); }
  // Appends the item's counters to `out` (unordered). Call Flush() or FlushItems() first.
  void Neighbours(ItemId item, std::vector<Neighbour>* out) const;
  // Adds the item's list to a sum over lists kept relative to the floors (see
  // CoViewState::Partial): per neighbour (count − floor) and (error − floor), modulo 2^64,
  // and the list's floor to `floor`. Call Flush() or FlushItems() first.
  void AddNeighbours(ItemId item, NeighbourSums* sums, uint64_t* floor) const;
  // How many counters the item's list holds (call Flush() or FlushItems() first): to size
  // a sum ahead.
  size_t NeighbourCount(ItemId item) const {
    const List* list = items_.Find(item);
    return list == nullptr ? 0 : list->size;
  }

  // Checkpoint: every item's counters, floor and recency (call Flush() first: the buffer
  // is not saved). Load replaces the state.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t items() const { return items_.size(); }
  // Marks every item held (call Flush() first: the buffer holds items too).
  void MarkIds(IdMarks& marks) const {
    items_.ForEach([&](ItemId item, const List& list) {
      marks.Mark(item);
      for (const Counter& c : list.slots) {
        if (c.count != 0) marks.Mark(ItemId(c.id));
      }
    });
  }
  size_t counters() const { return counters_; }
  size_t slots() const { return slots_; }
  uint64_t evicted_items() const { return items_.evicted(); }
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

  // Folds sorted pairs (runs of one item) into their lists.
  void Fold(const std::vector<uint64_t>& pairs);
  void Merge(List& list, const uint64_t* pairs, size_t n);
  // Keeps the max_neighbours best counters; the floor rises to the largest count cut.
  void Cut(List& list);
  void Rehash(List& list, size_t capacity);
  static Counter* Slot(List& list, uint32_t id);

  uint32_t max_neighbours_;
  uint64_t seq_ = 0;
  size_t counters_ = 0;
  size_t slots_ = 0;  // allocated counter slots, for bytes()
  uint64_t pruned_ = 0;
  std::vector<uint64_t> buffer_, scratch_, item_scratch_;
  std::vector<uint32_t> item_ids_;  // FlushItems' items, sorted
  std::vector<Counter> cut_scratch_;
  std::vector<size_t> runs_;
  LruMap<ItemId, List> items_;  // least recently folded first
};


// The co-view state (SPEC §3.7). Pairs are made on the shard of the user, from the user's
// recent items *before* this touch: so it reads `recent` and must be applied before it.
// A partial of a global answer, see Partial.
class CoViewState final : public State, public CoView {
 public:
  CoViewState(const Options& o, const CapShare& share, const RecentItems& recent)
      : CoView(o.coview.max_neighbours, share.Of(o.coview.max_items)),
        options_(o.coview),
        recent_(recent),
        window_ms_(o.coview.window_minutes * 60'000) {}
  std::string_view Name() const override { return "coview"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (!ev.item.valid() || !ev.user.valid() || info.weight <= 0 || info.filtered) return;
    // Pair the touch with the user's N latest distinct other items touched within T.
    const std::vector<RecentItems::Entry>* items = recent_.Find(ev.user);
    if (items == nullptr) return;
    const int64_t from = ev.time.millis() - window_ms_;
    uint32_t taken = 0;
    for (auto r = items->rbegin(); r != items->rend() && taken < options_.recent_items; ++r) {
      if (r->item == ev.item) continue;
      ++taken;
      if (r->time.millis() >= from) AddPair(r->item, ev.item);
    }
  }
  void Idle() override { Flush(); }
  void SaveTo(SerialWriter& w) override {
    Flush();
    Save(w);
  }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks& marks) override {
    Flush();
    MarkIds(marks);
  }
  StateMemory Memory() const override { return {items(), bytes(), evicted_items()}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "recent_items", options_.recent_items);
    Setting(out, "window_minutes", options_.window_minutes);
    Setting(out, "max_neighbours", options_.max_neighbours);
    Setting(out, "max_items", options_.max_items);
  }

  // Neighbours of one item (or summed over several items) from some shards. A list that
  // cut a neighbour may still have seen up to its floor pairs of it, so a sum over lists
  // keeps its bounds only if a list that lacks a neighbour counts its floor as count and
  // error: count(n) = Σ over lists (holds n ? count_l(n) : floor_l) = F + Σ over the lists
  // holding n of (count_l(n) − floor_l), with F = Σ floor_l (the same for error). So a
  // partial keeps, per neighbour, those differences (modulo 2^64), and F: two partials
  // merge by plain addition, in any order, and Bounds() gives count (an upper bound) and
  // error (count − error is a lower bound).
  struct Partial {
    NeighbourSums sums;  // per neighbour: Σ (count − floor), Σ (error − floor)
    uint64_t floor = 0;  // F
    Neighbour Bounds(const Neighbour& d) const {
      return {d.item, floor + d.count, floor + d.error};
    }
  };
  // Adds one item's list on this shard to a partial (call Flush() or FlushItems() first).
  void AddTo(Partial& p, ItemId item) const { AddNeighbours(item, &p.sums, &p.floor); }
  static void Merge(Partial& into, const Partial& part) {
    into.sums.reserve(into.sums.size() + part.sums.size());  // one rehash at most
    for (const auto& [item, d] : part.sums) {
      Neighbour& n = into.sums[item];
      n.item = item;
      n.count += d.count;
      n.error += d.error;
    }
    into.floor += part.floor;
  }

 private:
  const CoViewOptions options_;
  const RecentItems& recent_;
  const int64_t window_ms_;
};

}  // namespace eddy
