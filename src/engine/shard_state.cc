#include "engine/shard_state.h"

#include <cmath>
#include <thread>

#include "engine/ingest_ticket.h"

namespace eddy {
namespace {
int64_t MinuteOf(EventTime t) {
  const int64_t ms = t.millis();
  return ms >= 0 ? ms / 60'000 : -((-ms + 59'999) / 60'000);
}

// Entries applied per partition before moving to the next one, so one hot partition
// cannot starve the others or the mailbox.
constexpr uint64_t kPollBatch = 4096;
}  // namespace

ShardState::ShardState(int index, const Options& options, PartitionedLog* log,
                       std::vector<PartitionId> partitions, Clock* clock,
                       std::atomic<uint64_t>* duplicates_total)
    : index_(index),
      weights_(options.weights),
      log_(log),
      partitions_(std::move(partitions)),
      clock_(clock),
      duplicates_total_(duplicates_total),
      recent_(options.recent.max_items,
              std::max<uint64_t>(1, options.recent.max_users /
                                        std::max<size_t>(1, options.log.partitions) *
                                        partitions_.size())),
      dedup_(options.ingest.dedup_horizon_ms,
             std::max<uint64_t>(1, options.ingest.dedup_max_ids /
                                       std::max<size_t>(1, options.log.partitions) *
                                       partitions_.size())),
      trending_(options.windows.minutes),
      engagement_(options.windows.minutes),
      live_clock_(options.clock == ClockMode::kLive) {
  for (int t = 0; t < kEventTypeCount; ++t) {
    weight_micros_[t] = static_cast<int64_t>(std::llround(options.weights[t] * 1e6));
  }
}

void ShardState::Apply(const LogEntry& entry) {
  if (entry.kind == LogEntry::kSkip) return;
  const Event& ev = entry.event;
  bool duplicate = ev.event_id.present() && !dedup_.Insert(ev.event_id, ev.time);
  if (!duplicate) {
    if (ev.item.valid() && ev.user.valid() && weights_[static_cast<size_t>(ev.type)] > 0) {
      recent_.Touch(ev.user, ev.item, ev.time);
    }
    if (ev.item.valid()) engagement_.Apply(ev.item, ev.type, MinuteOf(ev.time));
    if (ev.category.valid()) {
      trending_.Apply(ev.category, MinuteOf(ev.time),
                      weight_micros_[static_cast<size_t>(ev.type)]);
    }
    applied_events_.store(applied_events_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
  }
  if (entry.ticket != nullptr) {
    if (duplicate) entry.ticket->AddDuplicate();
    if (entry.flags & LogEntry::kLastOfRun) entry.ticket->RunDone(duplicates_total_);
  }
}

size_t ShardState::Drain(PartitionId p, uint64_t limit) {
  PartitionLog& pl = log_->partition(p);
  uint64_t cur = pl.cursor(0);
  uint64_t n = 0;
  while (n < limit) {
    const LogEntry* e = pl.Peek(cur);
    if (e == nullptr) break;
    Apply(*e);
    ++cur;
    ++n;
  }
  if (n != 0) {
    pl.Advance(0, cur);
    rate_.Add(clock_->Now().millis() / 1000, n);
  }
  return n;
}

size_t ShardState::Poll() {
  size_t done = 0;
  for (PartitionId p : partitions_) done += Drain(p, kPollBatch);
  // Live clock: let windows slide with the wall clock even without events, so what left
  // every window is freed (about once a second; an idle shard polls every millisecond).
  if (live_clock_ && (++polls_ & 1023) == 0) {
    const int64_t minute = MinuteOf(clock_->Now());
    trending_.AdvanceTo(minute);
    engagement_.AdvanceTo(minute);
  }
  return done;
}

void ShardState::CatchUpAll() {
  for (PartitionId p : partitions_) CatchUp(p);
}

void ShardState::CatchUp(PartitionId p) {
  // Every offset below the head is reserved; its writer publishes it (an event or a skip)
  // without blocking, so this wait is short.
  const uint64_t head = log_->partition(p).head();
  while (log_->partition(p).cursor(0) < head) {
    if (Drain(p, head - log_->partition(p).cursor(0)) == 0) std::this_thread::yield();
  }
}

}  // namespace eddy
