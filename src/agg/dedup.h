#pragma once
// EventIdSet: the idempotency memory of one shard (SPEC §1.1). An eventId seen within the
// horizon makes the later event a duplicate: acknowledged, not counted again.
//
// Time is event time, measured against the newest event time this shard has seen, so a
// replay of the log decides exactly as the live run did. Memory: at most `max_ids` ids
// (16 bytes each plus the set's overhead); past that, the oldest are forgotten first.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "eddy/event.h"
#include "util/serial.h"
#include "agg/state.h"
#include "eddy/options.h"

namespace eddy {

class EventIdSet {
 public:
  EventIdSet(int64_t horizon_ms, uint64_t max_ids);

  // True if `id` is new (and remembers it); false if it is a duplicate.
  bool Insert(const EventIdHash& id, EventTime time);
  // Checkpoint: the remembered ids in insertion order. Load replaces the state.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t size() const { return set_.size(); }
  size_t bytes() const {
    return set_.capacity() * (sizeof(EventIdHash) + 1) +
           order_.size() * sizeof(std::pair<int64_t, EventIdHash>);
  }

 private:
  void Expire();

  const int64_t horizon_ms_;
  const uint64_t max_ids_;
  int64_t newest_ms_ = INT64_MIN;
  absl::flat_hash_set<EventIdHash> set_;
  std::deque<std::pair<int64_t, EventIdHash>> order_;  // insertion order
};


// The idempotency state. Unlike the others it decides whether an event is applied at all:
// the shard asks Insert() before any state sees the event, so ApplyEvent has nothing to do.
class DedupState final : public State, public EventIdSet {
 public:
  DedupState(const Options& o, const CapShare& share)
      : EventIdSet(o.ingest.dedup_horizon_ms, share.Of(o.ingest.dedup_max_ids)),
        horizon_ms_(o.ingest.dedup_horizon_ms),
        max_ids_(o.ingest.dedup_max_ids) {}
  std::string_view Name() const override { return "dedup"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return false; }
  void ApplyEvent(const Event&, const ApplyInfo&) override {}
  void SaveTo(SerialWriter& w) override { Save(w); }
  bool LoadFrom(SerialReader& r, uint32_t) override { return Load(r); }
  void VisitIds(IdMarks&) override {}  // event ids are hashes, not interned
  StateMemory Memory() const override { return {size(), bytes(), 0}; }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "horizon_ms", horizon_ms_);
    Setting(out, "max_ids", max_ids_);
  }

 private:
  const int64_t horizon_ms_;
  const uint64_t max_ids_;
};

}  // namespace eddy
