#pragma once
// ShardState: everything one shard owns — the cursors of its partitions and the
// aggregates of the users in them. Poll() applies newly published log entries in offset
// order; CatchUp() applies one partition up to its head before a read is answered, so a
// read reflects every event acknowledged before it was sent. With a durability gate (ack
// wal or fsync) a shard applies only offsets below the partition's durable offset, so no
// read ever shows an event a crash could take back.
//
// Thread-safety: Poll, CatchUp and the aggregates are used only on the shard's thread.
// The counters are atomics written by the shard thread and read by status pages
// (relaxed: they are monotone figures for operators).

#include <array>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <vector>

#include "agg/affinity.h"
#include "agg/coview.h"
#include "agg/dedup.h"
#include "agg/engagement.h"
#include "agg/popularity.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "eddy/clock.h"
#include "eddy/options.h"
#include "engine/rate_meter.h"
#include "log/partitioned_log.h"

namespace eddy {

// The aggregates whose memory a shard reports (StreamStatus::memory), in this order.
inline constexpr const char* kAggregateNames[] = {"recent",     "dedup",      "trending",
                                                   "engagement", "popularity", "affinity",
                                                   "coview",     "bought"};
inline constexpr size_t kAggregateCount = std::size(kAggregateNames);

class ShardState {
 public:
  // One aggregate's figures as last published by the shard thread.
  struct MemoryFigures {
    uint64_t keys = 0, bytes = 0, evicted = 0;
  };

  ShardState(int index, const Options& options, PartitionedLog* log,
             std::vector<PartitionId> partitions, Clock* clock,
             std::atomic<uint64_t>* duplicates_total);

  // Applies only offsets below durable[p] of each partition p from now on (nullptr: no
  // gate). Set before the shard thread starts; the store thread advances the offsets.
  void SetDurableGate(const std::atomic<uint64_t>* durable) { durable_ = durable; }
  // Applies newly published entries, up to a batch per partition; returns early (and
  // non-zero) when Shard::TasksWaiting() says reads wait in the shard's mailbox.
  size_t Poll();
  // The same with another test of "tasks are waiting" (tests drive the yielding with it).
  using TasksWaitingFn = bool (*)();
  size_t Poll(TasksWaitingFn tasks_waiting);
  // Checkpoint of every aggregate (folds co-view's buffer first). Save on the shard
  // thread, or after it stopped; Load before it starts. Load is all or nothing only in
  // the sense that a false return leaves the state unusable: the caller discards it.
  void Save(SerialWriter& w);
  bool Load(SerialReader& r);
  // Applies partition p up to min(upto, where its acknowledged events end now).
  void CatchUp(PartitionId p, uint64_t upto = UINT64_MAX);
  // CatchUp of every partition of this shard; `upto` (indexed by partition) may be null.
  void CatchUpAll(const std::vector<uint64_t>* upto = nullptr);
  // Where partition p's acknowledged events end now (the durable offset with a gate, else
  // the log's head): every event acknowledged before this call is below it. Any thread.
  uint64_t VisibleEnd(PartitionId p) const;
  // Folds one log entry into every aggregate. Called by Poll/CatchUp; public for the
  // per-aggregate benchmarks (bench/agg_bench), which drive it without a log.
  void Apply(const LogEntry& entry);

  RecentItems& recent() { return recent_; }
  // Per user, the latest distinct items they bought (purchase events), for the ranker.
  const RecentItems& bought() const { return bought_; }
  const CategoryWindows& trending() const { return trending_; }
  const Engagement& engagement() const { return engagement_; }
  const Popularity& popularity() const { return popularity_; }
  const Affinity& affinity() const { return affinity_; }
  CoView& coview() { return coview_; }
  // Figures of aggregate `a` (index into kAggregateNames), published about once a second
  // by the shard thread; any thread may read them.
  MemoryFigures memory(size_t a) const {
    return {memory_[a][0].load(std::memory_order_relaxed),
            memory_[a][1].load(std::memory_order_relaxed),
            memory_[a][2].load(std::memory_order_relaxed)};
  }
  void PublishMemory();
  const std::vector<PartitionId>& partitions() const { return partitions_; }
  uint64_t applied_events() const { return applied_events_.load(std::memory_order_relaxed); }
  const RateMeter& rate() const { return rate_; }

 private:
  // Applies up to `limit` entries of partition p. With `tasks_waiting`, looks every
  // kTaskCheckEvery entries and stops early (setting *yielded) when it says so.
  size_t Drain(PartitionId p, uint64_t limit, TasksWaitingFn tasks_waiting = nullptr,
               bool* yielded = nullptr);
  void Prefetch(const Event& ev) const;

  const int index_;
  const EventWeights weights_;
  PartitionedLog* log_;
  const std::vector<PartitionId> partitions_;
  const std::atomic<uint64_t>* durable_ = nullptr;
  Clock* clock_;
  std::atomic<uint64_t>* duplicates_total_;
  RecentItems recent_;
  EventIdSet dedup_;
  CategoryWindows trending_;
  Engagement engagement_;
  Popularity popularity_;
  Affinity affinity_;
  CoView coview_;
  RecentItems bought_;
  const uint32_t coview_recent_;
  const int64_t coview_window_ms_;
  std::array<std::array<std::atomic<uint64_t>, 3>, kAggregateCount> memory_{};
  std::array<int64_t, kEventTypeCount> weight_micros_{};  // weights in millionths
  const bool live_clock_;
  uint32_t polls_ = 0;
  size_t poll_next_ = 0;  // the partition the next Poll starts with
  uint64_t poll_left_ = 0;  // what is left of that partition's batch (set in the ctor)
  std::atomic<uint64_t> applied_events_{0};
  RateMeter rate_;
};

}  // namespace eddy
