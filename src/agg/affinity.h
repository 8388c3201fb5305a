#pragma once
// Affinity (SPEC §3.5): per user, per category, Σ weight · 2^(−age / half-life).
//
// Each user keeps its sums in rebased exponent form against its own reference time
// (see decay.h), so nothing decays in place and reads cost one exp2 per user.
//
// Memory: at most `max_categories` categories per user; past it the category with the
// lowest current score is dropped (all of a user's sums share one reference, so the
// smallest sum is the lowest score). At most `max_users` users, in least-recently-active
// order (LruMap); past it the least recently active user is forgotten, one per new user —
// no pass over the table (an eighth forgotten at once stopped the shard for tens of ms
// at a million users).
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <utility>
#include <vector>

#include "agg/decay.h"
#include "agg/lru_map.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "util/serial.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class Affinity {
 public:
  Affinity(int64_t half_life_ms, uint32_t max_categories, uint64_t max_users)
      : decay_(half_life_ms), max_categories_(max_categories), users_(max_users) {}

  void Apply(UserId user, CategoryId category, EventTime time, double weight);
  // Cache hints only: the user's index slot; then (stage 1) its state; then (stage 2) its
  // neighbours in the recency order, which Apply relinks, and its sums.
  void Prefetch(UserId user) const { users_.Prefetch(user); }
  void PrefetchDeeper(UserId user, int stage) const {
    if (stage == 1) {
      users_.PrefetchValue(user);
    } else if (stage == 2) {
      if (const UserState* u = users_.PrefetchLinks(user); u != nullptr && !u->sums.empty()) {
        __builtin_prefetch(u->sums.data());
      }
    }
  }
  // The user's categories with their scores at `now`, best first (ties: lower id first;
  // the caller orders ties by name).
  void Scores(UserId user, EventTime now, std::vector<std::pair<CategoryId, double>>* out) const;

  // Checkpoint: every user's reference time, recency and sums (bit-exact doubles), least
  // recently active first; Load restores that order from the recency (any order loads).
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t users() const { return users_.size(); }
  // Marks every user and category held.
  void MarkIds(IdMarks& marks) const {
    users_.ForEach([&](UserId user, const UserState& st) {
      marks.Mark(user);
      for (const auto& s : st.sums) marks.Mark(s.first);
    });
  }
  uint64_t evicted_users() const { return users_.evicted(); }
  size_t bytes() const;

 private:
  struct UserState {
    int64_t ref_ms = 0;
    uint64_t last_seq = 0;  // apply order of the user's latest event: the recency order
    std::vector<std::pair<CategoryId, double>> sums;
  };

  DecayScale decay_;
  uint32_t max_categories_;
  uint64_t seq_ = 0;
  size_t entries_ = 0;
  LruMap<UserId, UserState> users_;
};


// The affinity state (SPEC §3.5). Owned by the user's shard: nothing merges.
class AffinityState final : public State, public Affinity {
 public:
  AffinityState(const Options& o, const CapShare& share)
      : Affinity(o.affinity.half_life_minutes * 60'000, o.affinity.max_categories,
                 share.Of(o.affinity.max_users)),
        options_(o.affinity) {}
  std::string_view Name() const override { return "affinity"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override {
    if (ev.user.valid() && ev.category.valid() && info.weight > 0) {
      Apply(ev.user, ev.category, ev.time, info.weight);
    }
  }
  bool Prefetches() const override { return true; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.user.valid()) Affinity::Prefetch(ev.user);
  }
  void PrefetchDeeper(const Event& ev, int stage) const override {
    if (ev.user.valid()) Affinity::PrefetchDeeper(ev.user, stage);
  }
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks& marks) override { MarkIds(marks); }
  StateMemory Memory() const override { return {users(), bytes(), evicted_users()}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "half_life_minutes", options_.half_life_minutes);
    Setting(out, "max_categories", options_.max_categories);
    Setting(out, "max_users", options_.max_users);
  }

 private:
  const AffinityOptions options_;
};

}  // namespace eddy
