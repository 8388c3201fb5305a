#pragma once
// ShardState: everything one shard owns — the cursors of its partitions and the
// aggregates of the users in them. Poll() applies newly published log entries in offset
// order; CatchUp() applies one partition up to its head before a read is answered, so a
// read reflects every event acknowledged before it was sent.
//
// Thread-safety: Poll, CatchUp and the aggregates are used only on the shard's thread.
// The counters are atomics written by the shard thread and read by status pages
// (relaxed: they are monotone figures for operators).

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "agg/dedup.h"
#include "agg/engagement.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "eddy/clock.h"
#include "eddy/options.h"
#include "engine/rate_meter.h"
#include "log/partitioned_log.h"

namespace eddy {

class ShardState {
 public:
  ShardState(int index, const Options& options, PartitionedLog* log,
             std::vector<PartitionId> partitions, Clock* clock,
             std::atomic<uint64_t>* duplicates_total);

  size_t Poll();
  void CatchUp(PartitionId p);
  void CatchUpAll();

  RecentItems& recent() { return recent_; }
  const CategoryWindows& trending() const { return trending_; }
  const Engagement& engagement() const { return engagement_; }
  const std::vector<PartitionId>& partitions() const { return partitions_; }
  uint64_t applied_events() const { return applied_events_.load(std::memory_order_relaxed); }
  const RateMeter& rate() const { return rate_; }

 private:
  size_t Drain(PartitionId p, uint64_t limit);
  void Apply(const LogEntry& entry);

  const int index_;
  const EventWeights weights_;
  PartitionedLog* log_;
  const std::vector<PartitionId> partitions_;
  Clock* clock_;
  std::atomic<uint64_t>* duplicates_total_;
  RecentItems recent_;
  EventIdSet dedup_;
  CategoryWindows trending_;
  Engagement engagement_;
  std::array<int64_t, kEventTypeCount> weight_micros_{};  // weights in millionths
  const bool live_clock_;
  uint32_t polls_ = 0;
  std::atomic<uint64_t> applied_events_{0};
  RateMeter rate_;
};

}  // namespace eddy
