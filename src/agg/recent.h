#pragma once
// RecentItems (SPEC §3.6): per user, the last `max_items` distinct items touched, newest
// first. A touch is an event with an item whose type weight is > 0. "Last" is the order in
// which the shard applies the user's events (= acceptance order, SPEC §5); the time kept
// is the event time of the latest touch.
//
// Memory: at most `max_users` users, each at most `max_items` entries of 16 bytes. Past
// `max_users`, the least recently active user is forgotten (LRU).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <utility>
#include <vector>

#include "agg/lru_map.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "util/serial.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class RecentItems {
 public:
  struct Entry {
    ItemId item;
    EventTime time;
  };

  RecentItems(uint32_t max_items, uint64_t max_users);

  void Touch(UserId user, ItemId item, EventTime time);
  // Starts loading the user's index slot into cache (a hint; no effect on state).
  void Prefetch(UserId user) const { users_.Prefetch(user); }
  // Up to k entries, newest first.
  void Get(UserId user, uint32_t k, std::vector<Entry>* out) const;
  // Marks every user and item held.
  void MarkIds(IdMarks& marks) const {
    users_.ForEach([&](UserId user, const std::vector<Entry>& items) {
      marks.Mark(user);
      for (const Entry& e : items) marks.Mark(e.item);
    });
  }
  // The user's entries, oldest first, newest last (nullptr for an unknown user). Valid
  // until the next Touch.
  const std::vector<Entry>* Find(UserId user) const { return users_.Find(user); }

  // Checkpoint: the whole state, users from least to most recently active. Load replaces
  // the state; false on malformed input or more than the caps hold.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t users() const { return users_.size(); }
  uint64_t evicted_users() const { return users_.evicted(); }
  size_t bytes() const { return users_.bytes() + entries_ * sizeof(Entry); }

 private:
  const uint32_t max_items_;
  LruMap<UserId, std::vector<Entry>> users_;
  size_t entries_ = 0;
};


// The recent-items state (SPEC §3.6): a touch is an event with a user and an item whose
// type weight is > 0. Owned by the user's shard: reads go to that shard, nothing merges.
class RecentState final : public State, public RecentItems {
 public:
  RecentState(const Options& o, const CapShare& share)
      : RecentItems(o.recent.max_items, share.Of(o.recent.max_users)), options_(o.recent) {}
  std::string_view Name() const override { return "recent"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (ev.item.valid() && ev.user.valid() && info.weight > 0) Touch(ev.user, ev.item, ev.time);
  }
  bool Prefetches() const override { return true; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.user.valid()) RecentItems::Prefetch(ev.user);
  }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks& marks) override { MarkIds(marks); }
  StateMemory Memory() const override { return {users(), bytes(), evicted_users()}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "max_items", options_.max_items);
    Setting(out, "max_users", options_.max_users);
  }

 private:
  const RecentOptions options_;
};

// The ranker's bought items: per user, the latest distinct items of their purchase events.
// Owned by the user's shard.
class BoughtState final : public State, public RecentItems {
 public:
  BoughtState(const Options& o, const CapShare& share)
      : RecentItems(o.ranking.bought_items, share.Of(o.recent.max_users)),
        bought_items_(o.ranking.bought_items),
        max_users_(o.recent.max_users) {}
  std::string_view Name() const override { return "bought"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo&) override {
    if (ev.type == EventType::kPurchase && ev.item.valid() && ev.user.valid()) {
      Touch(ev.user, ev.item, ev.time);
    }
  }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks& marks) override { MarkIds(marks); }
  StateMemory Memory() const override { return {users(), bytes(), evicted_users()}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "bought_items", bought_items_);
    Setting(out, "max_users", max_users_);
  }

 private:
  const uint32_t bought_items_;
  const uint64_t max_users_;
};

}  // namespace eddy
