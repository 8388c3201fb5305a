#pragma once
// Engagement (SPEC §3.3): per item, the count of events of each type, all-time and in each
// window (minute buckets, as WindowedSums; key = item and type).
//
// Memory: one array of counts per item, at most `max_items` items kept in least recently
// seen order (LruMap; by the minute of each item's newest event, then by when the item
// reached that minute); past it the least recently seen item is forgotten, one per new item
// (its all-time counts restart from zero if it comes back), with its cells in the windows'
// buckets — the minutes between its first and last event, which the item keeps — so an
// eviction costs those buckets, not a pass over every item and cell. Plus the windows'
// buckets. Thread-safety: none (one shard).

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/lru_map.h"
#include "agg/windowed_sums.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class Engagement {
 public:
  using Counts = std::array<int64_t, kEventTypeCount>;

  Engagement(std::vector<int64_t> window_minutes, uint64_t max_items)
      : windows_(window_minutes.size()), items_(max_items), sums_(std::move(window_minutes)) {}

  // Item facts kept beside the counts (one table per item on the shard): the category and
  // unit price of the item's latest event (by event time) that carried them.
  struct Facts {
    CategoryId category;
    int64_t category_ms = INT64_MIN;
    int64_t price_micros = 0;
    int64_t price_ms = INT64_MIN;  // INT64_MIN: no price seen
  };

  void Apply(ItemId item, EventType type, int64_t minute) { Apply(item, type, minute, nullptr); }
  // The same, also remembering `ev`'s category and price when it is the item's newest.
  // (Two events of one item at the same millisecond: the later applied wins.)
  void Apply(ItemId item, EventType type, int64_t minute, const Event* ev) {
    // The recency is by the minute of the item's newest event: an item moves to the most
    // recent end only when that minute moves on (so a busy item relinks once a minute, not
    // once an event).
    Entry* found = items_.Find(item);
    bool added = false;
    if (found == nullptr || minute > found->last_minute) {
      found = &items_.Touch(
          item, [this](ItemId gone, const Entry& g) { EraseCells(gone, g); }, &added);
      found->last_seq = ++seq_;
    }
    Entry& e = *found;
    ++e.counts[static_cast<size_t>(type)];
    if (added) {
      e.first_minute = e.last_minute = minute;
    } else {
      e.first_minute = std::min(e.first_minute, minute);
      e.last_minute = std::max(e.last_minute, minute);
    }
    if (ev != nullptr) {
      Facts& f = e.facts;
      const int64_t t = ev->time.millis();
      if (ev->category.valid() && t >= f.category_ms) {
        f.category = ev->category;
        f.category_ms = t;
      }
      if (ev->has_price() && t >= f.price_ms) {
        f.price_micros = ev->price_micros;
        f.price_ms = t;
      }
    }
    sums_.Apply(Key(item, type), minute, 0);
  }
  void AdvanceTo(int64_t minute) { sums_.AdvanceTo(minute); }
  // Starts loading what Apply(item, type, minute) touches into cache (a hint only): the
  // item's index slot and its cells; then (stage 1) its entry. (Not its neighbours in the
  // recency order: a relink is once a minute.)
  void Prefetch(ItemId item, EventType type, int64_t minute) const {
    items_.Prefetch(item);
    sums_.Prefetch(Key(item, type), minute);
  }
  void PrefetchDeeper(ItemId item, int stage) const {
    if (stage == 1) items_.PrefetchValue(item);
  }

  // This shard's facts about `item` (nullptr if it never saw the item).
  const Facts* FactsOf(ItemId item) const {
    const Entry* e = items_.Find(item);
    return e == nullptr ? nullptr : &e->facts;
  }

  // Adds this shard's counts of `item` (all-time, and per window at global minute g).
  void Add(ItemId item, int64_t g, Counts* all_time, std::vector<Counts>* per_window) const {
    const Entry* e = items_.Find(item);
    if (e == nullptr) return;  // never seen here: nothing in any window either
    for (int t = 0; t < kEventTypeCount; ++t) {
      (*all_time)[t] += e->counts[t];
      for (size_t w = 0; w < windows_; ++w) {
        (*per_window)[w][t] += sums_.WindowOf(w, g, Key(item, static_cast<EventType>(t))).count;
      }
    }
  }

  // Checkpoint: all-time counts with their recency and minutes (least recent first), then
  // the windowed sums. Format 2 added each item's first and last minute; Load reads
  // format 1 too (finding them in the buckets: exact but for an item with no cell left).
  void Save(SerialWriter& w) const {
    w.U64(seq_);
    w.U64(items_.evicted());
    w.U64(items_.size());
    items_.ForEach([&](ItemId item, const Entry& e) {
      w.U64(item.value());
      for (int64_t c : e.counts) w.I64(c);
      w.U64(e.last_seq);
      w.U64(e.facts.category.value());
      w.I64(e.facts.category_ms);
      w.I64(e.facts.price_micros);
      w.I64(e.facts.price_ms);
      w.I64(e.first_minute);
      w.I64(e.last_minute);
    });
    sums_.Save(w);
  }
  bool Load(SerialReader& r, uint32_t version = 2) {
    items_.Clear();
    seq_ = r.U64();
    if (seq_ >= kMaxLruRecency) return false;
    const uint64_t evicted = r.U64();
    const uint64_t n = r.Count(kEventTypeCount + (version >= 2 ? 8 : 6));
    if (n > items_.max_keys()) return false;
    // Read whole, then linked in recency order (earlier checkpoints are in table order).
    std::vector<std::pair<ItemId, Entry>> entries(n);
    for (auto& [item, e] : entries) {
      if (!r.ok()) return false;
      item = ReadItemId(r);
      for (int64_t& c : e.counts) c = r.I64();
      e.last_seq = r.U64();
      e.facts.category = ReadCategoryId(r);
      e.facts.category_ms = r.I64();
      e.facts.price_micros = r.I64();
      e.facts.price_ms = r.I64();
      if (version >= 2) {
        e.first_minute = r.I64();
        e.last_minute = r.I64();
        if (e.first_minute > e.last_minute) return false;  // every item has had an event
      }
      // The recency orders the items: between 1 and the state's own count, as Apply gives it.
      if (e.last_seq == 0 || e.last_seq > seq_) return false;
    }
    if (!r.ok() || !items_.AppendByRecency(entries, [](const Entry& e) { return e.last_seq; })) {
      return false;  // cut short, or a repeated item
    }
    items_.set_evicted(evicted);
    // The window keys pack an item with an event type (Key): the item is translated.
    if (!r.ok() || !sums_.Load(r, [](SerialReader& sr, uint64_t key) {
          return (uint64_t{sr.Translate(Interners::kItems, static_cast<uint32_t>(key >> 8))} << 8) | (key & 0xFF);
        })) {
      return false;
    }
    // Every cell must be of an item held, of a type it counted (an eviction erases only
    // those), and (format 2) within the item's minutes; format 1 finds the minutes here.
    bool consistent = true;
    const auto entry_of = [&](uint64_t key) -> Entry* {
      Entry* e = items_.Find(ItemId(static_cast<uint32_t>(key >> 8)));
      const uint64_t type = key & 0xFF;
      if (e == nullptr || type >= kEventTypeCount || e->counts[type] == 0) consistent = false;
      return consistent ? e : nullptr;
    };
    sums_.ForEachTotalKey([&](uint64_t key) { entry_of(key); });
    sums_.ForEachCell([&](int64_t minute, uint64_t key) {
      Entry* e = entry_of(key);
      if (e == nullptr) return;
      if (version < 2) {
        e->first_minute = std::min(e->first_minute, minute);
        e->last_minute = std::max(e->last_minute, minute);
      } else if (minute < e->first_minute || minute > e->last_minute) {
        consistent = false;
      }
    });
    return consistent;
  }

  size_t items() const { return items_.size(); }
  // Marks every item and category held (the windows hold only items of items_).
  void MarkIds(IdMarks& marks) const {
    items_.ForEach([&](ItemId item, const Entry& e) {
      marks.Mark(item);
      if (e.facts.category.valid()) marks.Mark(e.facts.category);
    });
  }
  size_t tracked_window_keys() const { return sums_.tracked_keys(); }
  uint64_t evicted_items() const { return items_.evicted(); }
  size_t bytes() const { return items_.bytes() + sums_.bytes(); }

 private:
  struct Entry {
    Counts counts{};
    uint64_t last_seq = 0;
    Facts facts;
    // The minutes of the item's first and last event since it was (re)created: where its
    // cells in the buckets can be (none when first > last).
    int64_t first_minute = INT64_MAX;
    int64_t last_minute = INT64_MIN;
  };

  // An evicted item's cells go from every minute bucket and window total too: they are
  // invisible once the item is gone (reads start from items_), and without this the
  // windows would hold every item seen in the last day, cap or not.
  void EraseCells(ItemId item, const Entry& e) {
    std::array<uint64_t, kEventTypeCount> keys;
    size_t n = 0;
    for (int t = 0; t < kEventTypeCount; ++t) {
      if (e.counts[t] != 0) keys[n++] = Key(item, static_cast<EventType>(t));
    }
    sums_.EraseKeys(std::span<const uint64_t>(keys.data(), n), e.first_minute, e.last_minute);
  }

  static uint64_t Key(ItemId item, EventType type) {
    return (uint64_t{item.value()} << 8) | static_cast<uint64_t>(type);
  }

  size_t windows_;
  uint64_t seq_ = 0;
  LruMap<ItemId, Entry> items_;
  WindowedSums<uint64_t> sums_;
};


// The engagement state (SPEC §3.3), with each item's category/price facts. A partial of a
// global answer: an item's counts add over shards (its facts merge by event time, see
// engine/item_facts.h, which needs the category names to break ties).
class EngagementState final : public State, public Engagement {
 public:
  EngagementState(const Options& o, const CapShare& share)
      : Engagement(o.windows.minutes, share.Of(o.engagement.max_items)),
        windows_(o.windows.minutes),
        max_items_(o.engagement.max_items) {}
  std::string_view Name() const override { return "engagement"; }
  uint32_t FormatVersion() const override { return 2; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (ev.item.valid()) Apply(ev.item, ev.type, info.minute, &ev);
  }
  bool Prefetches() const override { return true; }
  void Prefetch(const Event& ev, const ApplyInfo& info) const override {
    if (ev.item.valid()) Engagement::Prefetch(ev.item, ev.type, info.minute);
  }
  void PrefetchDeeper(const Event& ev, int stage) const override {
    if (ev.item.valid()) Engagement::PrefetchDeeper(ev.item, stage);
  }
  void Tick(int64_t minute) override { AdvanceTo(minute); }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t version) override { return Load(r, version); }
  void VisitIds(IdMarks& marks) override { MarkIds(marks); }
  StateMemory Memory() const override { return {items(), bytes(), evicted_items()}; }
  void DescribeSettings(std::string* out) const override {
    for (int64_t m : windows_) Setting(out, "window", m);
    Setting(out, "max_items", max_items_);
  }

  // One item's counts: all-time and per window, by event type.
  struct Partial {
    Counts all_time{};
    std::vector<Counts> per_window;
  };
  static void Merge(Partial& into, const Partial& part) {
    if (into.per_window.size() < part.per_window.size()) into.per_window.resize(part.per_window.size());
    for (int t = 0; t < kEventTypeCount; ++t) {
      into.all_time[t] += part.all_time[t];
      for (size_t w = 0; w < part.per_window.size(); ++w) into.per_window[w][t] += part.per_window[w][t];
    }
  }

 private:
  const std::vector<int64_t> windows_;
  const uint64_t max_items_;
};

}  // namespace eddy
