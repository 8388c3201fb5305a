#pragma once
// State: what every per-shard aggregate is to the engine (STYLE §3.1). A shard applies
// each event of its partitions, in offset order, to every registered state; ticks them
// once a minute of wall clock in live mode; saves and loads each in a checkpoint section
// of its own (named, with its own format version, so one state can change its format
// without invalidating the others: Load gets the version the section was written with);
// publishes each one's memory figures for status; and hashes each one's settings into
// the checkpoint fingerprint; and marks the interned ids each one references, so that the
// others can be recycled. The engine, checkpoints, recovery, replay and status loop
// over the registered states and never name one; a new state is its files plus one
// registration line (engine/shard_state.cc, RegisterStates).
//
// How partials merge: a state kept per shard is either owned by the shard of a user
// (recent items, affinity: a read goes to that one shard, nothing to merge) or a partial
// of a global answer, summed over shards at read time. A partial state declares
// `using Partial = ...;` and `static void Merge(Partial& into, const Partial& part);` —
// associative and commutative, so shards (and later nodes) can be combined in any order.
// The read paths use exactly these functions (engine/query_service.cc).
//
// Thread-safety: none; a state is owned and used by one shard thread (and, before it
// starts or after it stops, by the thread that owns the shard).

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "eddy/event.h"
#include "util/interners.h"
#include "util/serial.h"

namespace eddy {

// What the shard computes once per event for every state.
struct ApplyInfo {
  double weight = 0;         // the event type's weight (config [weights])
  int64_t weight_micros = 0; // the same in millionths (exact integer sums)
  int64_t minute = 0;        // the event's minute (floor of its time)
  // A screening state (State::Screen) filtered the event out: a marked bot's or fraud-
  // flagged user's (fraud.filter_bots). Trending, velocity, popularity and co-view skip it;
  // the other states still apply it.
  bool filtered = false;
};

// One state's figures for status (StreamStatus::memory).
struct StateMemory {
  uint64_t keys = 0;     // tracked users / items / categories / ids
  uint64_t bytes = 0;    // estimate of the heap it holds
  uint64_t evicted = 0;  // keys forgotten by its cap since start
};

// A cap configured for the whole engine is split evenly over the partitions; a shard's
// states get their partitions' share.
struct CapShare {
  uint32_t partitions = 1;  // log.partitions
  size_t owned = 1;         // partitions this shard owns
  uint64_t Of(uint64_t cap) const {
    return std::max<uint64_t>(1, cap / std::max<uint32_t>(1, partitions) * owned);
  }
};

class State {
 public:
  virtual ~State() = default;

  // Unique among a shard's states: the checkpoint section and the status entry.
  virtual std::string_view Name() const = 0;
  // The format SaveTo writes; LoadFrom accepts it and any older one it still reads.
  virtual uint32_t FormatVersion() const = 0;

  // Folds one new (not duplicate) event in. Deterministic: the same events in the same
  // order give the same state, whatever the wall clock. Called only for states whose
  // Applies() is true (the idempotency state decides before the others instead).
  virtual bool Applies() const { return true; }
  virtual void ApplyEvent(const Event& ev, const ApplyInfo& info) = 0;
  // Screening: called for each new event before any state applies it, for states whose
  // Screens() is true; true filters the event out (ApplyInfo::filtered) for the states
  // that honour it. May update the state (rate counters); ApplyEvent follows as usual.
  virtual bool Screens() const { return false; }
  virtual bool Screen(const Event& ev, const ApplyInfo& info) { return false; }
  // The item feed: what changes an item's record or stock, in the order the item's
  // partition `p` accepted it — catalog changes (IsCatalogChange(ev.type)), `inventory`
  // events, and stock moves (ev.derived(): a purchase's copy in its item's partition, a
  // cancel's copy in every partition). Goes to the states whose TakesItemFeed() is true,
  // through ApplyItemFeed. Catalog changes and stock moves never reach ApplyEvent (they
  // are not interactions); an inventory event reaches both.
  virtual bool TakesItemFeed() const { return false; }
  virtual void ApplyItemFeed(const Event& ev, PartitionId p) {}
  // The experiment feed: experiment events (IsExperimentEvent: answers eddy served under
  // an experiment, impressions clients posted), in partition order, to the states whose
  // TakesExperimentFeed() is true. They never reach ApplyEvent (they are not
  // interactions); a client's impression passes the idempotency state first.
  virtual bool TakesExperimentFeed() const { return false; }
  virtual void ApplyExperimentFeed(const Event& ev) {}
  // Starts loading what ApplyEvent(ev) will touch into cache (a hint only). Called only
  // for states whose Prefetches() is true (the apply loop skips the others).
  virtual bool Prefetches() const { return false; }
  virtual void Prefetch(const Event& ev, const ApplyInfo& info) const {}
  // Later stages for a state whose lookup is a chain of dependent loads: called for the
  // entry kPrefetchAhead / 2 ahead (stage 1), 2 ahead (stage 2) and 1 ahead (stage 3),
  // after Prefetch started the first link, so each stage can follow the link the one
  // before brought in (and should only prefetch, never wait for, the next one).
  virtual void PrefetchDeeper(const Event& ev, int stage) const {}
  // Live clock: the wall clock reached `minute`; windows slide, what left them is freed.
  virtual void Tick(int64_t minute) {}
  // The shard has nothing to apply: fold buffered work so reads find it done.
  virtual void Idle() {}

  // Checkpoint section. SaveTo may fold buffered work first (hence non-const).
  virtual void SaveTo(SerialWriter& w) = 0;
  // Replaces the state with a section written by FormatVersion() == `version` or older;
  // false when it cannot (then the caller discards the whole shard state).
  virtual bool LoadFrom(SerialReader& r, uint32_t version) = 0;

  // Marks every interned id the state references (the recycler frees the others). On the
  // shard thread; may fold buffered work first (hence non-const). A state that forgets an
  // id here lets it be given to another string while the state still uses it.
  virtual void VisitIds(IdMarks& marks) = 0;

  virtual StateMemory Memory() const = 0;
  // Appends every setting that shapes this state (caps, half-lives, windows...): a
  // checkpoint taken under other settings is not loaded.
  virtual void DescribeSettings(std::string* out) const = 0;

 protected:
  // For DescribeSettings: "|name=value".
  template <typename T>
  static void Setting(std::string* out, std::string_view name, T value) {
    out->append("|").append(name).append("=").append(std::to_string(value));
  }
};

}  // namespace eddy
