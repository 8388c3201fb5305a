#pragma once
// Popularity (SPEC §3.4): per item, Σ weight · 2^(−age / half-life), globally and per
// category (an event counts for the category it carries).
//
// One shard's share: sums in rebased exponent form against one reference time for the
// whole shard (decay.h), so a read scales them all by one factor and their order is the
// order of the current scores. The shard keeps its `top_keep` best items in a candidate
// set maintained exactly, as an indexed min-heap: sums only grow between rebases (weights
// are ≥ 0) and a rebase scales every sum by the same power of two, so an item outside the
// set can only pass the set's minimum (the heap's root) through an event of its own, which
// is where it is checked; a member's event sifts it down. O(log top_keep) per event at
// worst. The engine merges shards' tops with a threshold test (Top() reports the bound
// for everything not returned) and falls back to a full scan when the bound is not met.
//
// Memory: `max_items` items; past it, about the lowest-scoring eighth (never the top set)
// is forgotten, with each forgotten item's per-category sums, by a sweep spread over the
// next new items: the eighth's cutoff is estimated from up to kSweepSample scores (every
// k-th slot), then each new item moves the sweep on by kSweepSlots slots per max_items
// slots in the table, forgetting the items there at or below the cutoff. So no apply
// stalls for a pass over every item, and a sweep ends within max_items / kSweepSlots new
// items: a shard holds at most item_bound() = max_items + max_items / kSweepSlots + 1. (Were
// a sweep to forget fewer than came meanwhile — the scores under its cutoff all grew past
// it — the next new item past that bound ends it, and a fresh one, at once: a pass.)
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/decay.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "util/serial.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class Popularity {
 public:
  using Scored = std::pair<ItemId, double>;

  Popularity(int64_t half_life_ms, uint32_t top_keep, uint64_t max_items);

  void Apply(ItemId item, CategoryId category, EventTime time, double weight);
  // Starts loading what Apply(item, category, ...) touches into cache (a hint only).
  void Prefetch(ItemId item, CategoryId category) const {
    items_.prefetch(item);
    if (!category.valid()) return;
    if (auto c = categories_.find(category); c != categories_.end()) c->second.prefetch(item);
  }

  // This shard's best `k` items at `now` (all items when category is invalid, else that
  // category's), best first, appended to `out`; returns the bound on the score of every
  // item not returned (0 when none is left out). The global ranking looks only at the
  // candidate set unless `exhaustive`.
  double Top(CategoryId category, uint32_t k, int64_t now_ms, bool exhaustive,
             std::vector<Scored>* out) const;
  // Among this shard's candidate set (the `candidates` best items overall), the best `k`
  // whose latest category is one of `categories`, best first, appended to `out`. Cheap
  // (one pass over the candidate set, no per-category scan): for candidate generation.
  void TopAmongCandidates(const std::vector<CategoryId>& categories, uint32_t k,
                          int64_t now_ms, std::vector<Scored>* out) const;
  // This shard's score at `now` of each of `items` (0 if unknown), in the same order.
  void ScoresOf(CategoryId category, const std::vector<ItemId>& items, int64_t now_ms,
                std::vector<double>* out) const;

  // Checkpoint: the entry slots, free list, candidate heap and per-category sums verbatim
  // (bit-exact doubles), so a restored shard answers exactly as before.
  // Format 2 adds each entry's category time; format 3 the eviction sweep under way. Load
  // reads formats 1 and 2 too (category times unknown: the item's next event with a
  // category sets it; no sweep under way).
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r, uint32_t version = 3);

  size_t items() const { return items_.size(); }
  // Marks every item and category held.
  void MarkIds(IdMarks& marks) const {
    for (const auto& [item, slot] : items_) {
      marks.Mark(item);
      if (entries_[slot].category.valid()) marks.Mark(entries_[slot].category);
    }
    for (const auto& [category, members] : categories_) {
      marks.Mark(category);
      for (const auto& m : members) marks.Mark(m.first);
    }
  }
  size_t category_entries() const { return category_entries_; }
  uint64_t evicted_items() const { return evicted_; }
  size_t bytes() const;
  // Whether an eviction sweep is under way (between the cap being passed and the sweep's end).
  bool sweeping() const { return sweep_pos_ != kNoSweep; }
  // The most items a shard holds: the cap, plus what may come while a sweep crosses the table.
  uint64_t item_bound() const { return max_items_ + max_items_ / kSweepSlots + 1; }

  static constexpr uint32_t kSweepSlots = 32;    // slots a new item moves a sweep on
  static constexpr uint32_t kSweepSample = 2048;  // scores sampled for a sweep's cutoff

 private:
  static constexpr uint32_t kNotInHeap = UINT32_MAX;
  static constexpr uint32_t kNoSweep = UINT32_MAX;
  // A free slot is all defaults (no item); a live one has its item.
  struct Entry {
    ItemId item;
    // Of the item's newest event (by event time) with one; at the same millisecond the
    // later applied. By event time, not apply order: the order in which a shard applies
    // its partitions' events depends on how they interleaved, the answer must not.
    CategoryId category;
    double sum = 0;
    uint32_t heap_pos = kNotInHeap;
    // The first category the item got a sum in (the others, if any, in more_categories_):
    // what forgetting the item erases. Not saved: Load rebuilds it from the sums.
    CategoryId sum_category;
    int64_t category_ms = INT64_MIN;
  };
  using CategoryMap = absl::flat_hash_map<ItemId, double>;

  static bool Better(const Scored& a, const Scored& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  }
  // Heap order: the root is the worst member.
  bool Worse(uint32_t a, uint32_t b) const {
    return Better({entries_[b].item, entries_[b].sum}, {entries_[a].item, entries_[a].sum});
  }
  void Rebase(int64_t t_ms);
  void Offer(uint32_t slot);
  void SiftDown(uint32_t pos);
  void SiftUp(uint32_t pos);
  void Place(uint32_t pos, uint32_t slot) {
    heap_[pos] = slot;
    entries_[slot].heap_pos = pos;
  }
  // Records that the item in `slot` has a sum in `category` now (a new one).
  void NoteCategory(uint32_t slot, CategoryId category);
  // Starts a sweep: the cutoff from a sample of the scores outside the candidate set.
  void StartSweep();
  // Moves the sweep `slots` slots on, forgetting the items there at or below the cutoff.
  void Sweep(uint32_t slots);
  // Forgets the item in `slot`, with its per-category sums.
  void Forget(uint32_t slot);
  double Scale(int64_t now_ms) const { return decay_.ScoreFactor(ref_ms_, now_ms); }

  DecayScale decay_;
  uint32_t top_keep_;
  uint64_t max_items_;
  bool has_ref_ = false;
  int64_t ref_ms_ = 0;
  absl::flat_hash_map<ItemId, uint32_t> items_;  // -> slot in entries_
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;  // slots of evicted items
  absl::flat_hash_map<CategoryId, CategoryMap> categories_;
  size_t category_entries_ = 0;
  // Items with sums in more than one category: the categories past Entry::sum_category.
  absl::flat_hash_map<ItemId, std::vector<CategoryId>> more_categories_;
  size_t more_category_entries_ = 0;
  std::vector<uint32_t> heap_;  // the candidate set: slots, min-heap by score
  uint64_t evicted_ = 0;
  // The sweep under way: the next slot it looks at (kNoSweep: none), and the score at or
  // below which it forgets an item (rebased with the sums).
  uint32_t sweep_pos_ = kNoSweep;
  double sweep_cutoff_ = 0;
};


// The popularity state (SPEC §3.4). A partial of a global answer: an item's decayed
// scores (at one read time) add over shards.
class PopularityState final : public State, public Popularity {
 public:
  PopularityState(const Options& o, const CapShare& share)
      : Popularity(o.popularity.half_life_minutes * 60'000, o.popularity.candidates,
                   share.Of(o.popularity.max_items)),
        options_(o.popularity) {}
  std::string_view Name() const override { return "popularity"; }
  uint32_t FormatVersion() const override { return 3; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (ev.item.valid() && info.weight > 0 && !info.filtered) {
      Apply(ev.item, ev.category, ev.time, info.weight);
    }
  }
  bool Prefetches() const override { return true; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.item.valid()) Popularity::Prefetch(ev.item, ev.category);
  }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t version) override { return Load(r, version); }
  void VisitIds(IdMarks& marks) override { MarkIds(marks); }
  StateMemory Memory() const override { return {items(), bytes(), evicted_items()}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "half_life_minutes", options_.half_life_minutes);
    Setting(out, "candidates", options_.candidates);
    Setting(out, "max_items", options_.max_items);
  }

  // Scores of a list of items, in its order (ScoresOf at one read time).
  using Partial = std::vector<double>;
  static void Merge(Partial& into, const Partial& part) {
    if (into.size() < part.size()) into.resize(part.size(), 0.0);
    for (size_t i = 0; i < part.size(); ++i) into[i] += part[i];
  }

 private:
  const PopularityOptions options_;
};

}  // namespace eddy
