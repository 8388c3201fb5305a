#include "engine/shard_state.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "engine/ingest_ticket.h"
#include "runtime/shard.h"
#include "util/time.h"

namespace eddy {
namespace {
// Entries applied per partition before moving to the next one, so one hot partition
// cannot starve the others or the mailbox.
constexpr uint64_t kPollBatch = 512;
constexpr uint64_t kPrefetchAhead = 8;
// While polling, the mailbox is looked at every this many entries: a read waiting behind
// a busy shard waits for a slice of tens of microseconds, not for a whole poll.
constexpr uint64_t kTaskCheckEvery = 32;

// This shard's share of a cap configured for the whole engine: caps are split evenly
// over the partitions.
uint64_t ShareOf(uint64_t cap, const Options& o, size_t owned) {
  return std::max<uint64_t>(1, cap / std::max<size_t>(1, o.log.partitions) * owned);
}
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
              ShareOf(options.recent.max_users, options, partitions_.size())),
      dedup_(options.ingest.dedup_horizon_ms,
             ShareOf(options.ingest.dedup_max_ids, options, partitions_.size())),
      trending_(options.windows.minutes),
      engagement_(options.windows.minutes,
                  ShareOf(options.engagement.max_items, options, partitions_.size())),
      popularity_(options.popularity.half_life_minutes * 60'000, options.popularity.candidates,
                  ShareOf(options.popularity.max_items, options, partitions_.size())),
      affinity_(options.affinity.half_life_minutes * 60'000, options.affinity.max_categories,
                ShareOf(options.affinity.max_users, options, partitions_.size())),
      coview_(options.coview.max_neighbours,
              ShareOf(options.coview.max_items, options, partitions_.size())),
      bought_(options.ranking.bought_items,
              ShareOf(options.recent.max_users, options, partitions_.size())),
      coview_recent_(options.coview.recent_items),
      coview_window_ms_(options.coview.window_minutes * 60'000),
      live_clock_(options.clock == ClockMode::kLive) {
  poll_left_ = kPollBatch;
  for (int t = 0; t < kEventTypeCount; ++t) {
    weight_micros_[t] = static_cast<int64_t>(std::llround(options.weights[t] * 1e6));
  }
}

void ShardState::Apply(const LogEntry& entry) {
  if (entry.kind == LogEntry::kSkip) return;
  const Event& ev = entry.event;
  bool duplicate = ev.event_id.present() && !dedup_.Insert(ev.event_id, ev.time);
  if (!duplicate) {
    const double weight = weights_[static_cast<size_t>(ev.type)];
    if (ev.item.valid() && ev.user.valid() && weight > 0) {
      // Co-view (SPEC §3.7): pair the touch with the user's N latest distinct other items
      // touched within T before it, then it becomes the latest.
      if (const std::vector<RecentItems::Entry>* items = recent_.Find(ev.user)) {
        const int64_t from = ev.time.millis() - coview_window_ms_;
        uint32_t taken = 0;
        for (auto r = items->rbegin(); r != items->rend() && taken < coview_recent_; ++r) {
          if (r->item == ev.item) continue;
          ++taken;
          if (r->time.millis() >= from) coview_.AddPair(r->item, ev.item);
        }
      }
      recent_.Touch(ev.user, ev.item, ev.time);
    }
    if (ev.type == EventType::kPurchase && ev.item.valid() && ev.user.valid()) {
      bought_.Touch(ev.user, ev.item, ev.time);
    }
    if (ev.item.valid()) {
      engagement_.Apply(ev.item, ev.type, MinuteOf(ev.time), &ev);
      if (weight > 0) popularity_.Apply(ev.item, ev.category, ev.time, weight);
    }
    if (ev.user.valid() && ev.category.valid() && weight > 0) {
      affinity_.Apply(ev.user, ev.category, ev.time, weight);
    }
    if (ev.category.valid()) {
      trending_.Apply(ev.category, MinuteOf(ev.time),
                      weight_micros_[static_cast<size_t>(ev.type)]);
    }
    applied_events_.store(applied_events_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
  }
  if (entry.ticket != nullptr && !(entry.flags & LogEntry::kStoreReplies)) {
    if (duplicate) entry.ticket->AddDuplicate();
    if (entry.flags & LogEntry::kLastOfRun) entry.ticket->RunDone(duplicates_total_);
  }
}

void ShardState::Prefetch(const Event& ev) const {
  if (ev.user.valid()) {
    recent_.Prefetch(ev.user);
    affinity_.Prefetch(ev.user);
  }
  if (ev.item.valid()) {
    engagement_.Prefetch(ev.item, ev.type, MinuteOf(ev.time));
    popularity_.Prefetch(ev.item, ev.category);
  }
}

size_t ShardState::Drain(PartitionId p, uint64_t limit, TasksWaitingFn tasks_waiting,
                         bool* yielded) {
  PartitionLog& pl = log_->partition(p);
  uint64_t cur = pl.cursor(0);
  if (durable_ != nullptr) {
    limit = std::min(limit, durable_[p.value()].load(std::memory_order_acquire) - cur);
  }
  uint64_t n = 0;
  while (n < limit) {
    const LogEntry* e = pl.Peek(cur);
    if (e == nullptr) break;
    // Each aggregate's lookup is a cache miss into a large table; start the loads for an
    // entry a few ahead so they overlap with this one's work. (An entry not yet published
    // reads as nullptr; a published one stays put until this shard advances past it.)
    if (const LogEntry* ahead = pl.Peek(cur + kPrefetchAhead)) Prefetch(ahead->event);
    Apply(*e);
    ++cur;
    ++n;
    if (tasks_waiting != nullptr && n % kTaskCheckEvery == 0 && n < limit && tasks_waiting()) {
      *yielded = true;
      break;
    }
  }
  if (n != 0) {
    pl.Advance(0, cur);
    rate_.Add(clock_->Now().millis() / 1000, n);
  }
  return n;
}

size_t ShardState::Poll() { return Poll(&Shard::TasksWaiting); }

size_t ShardState::Poll(TasksWaitingFn tasks_waiting) {
  // Each partition gets up to kPollBatch entries per round, in turn. When tasks wait, the
  // poll returns early: mid-partition, the next poll resumes that partition with what was
  // left of its batch; between partitions, with the next one. So reads wait for a short
  // slice, and a partition with a backlog cannot keep the others waiting.
  size_t done = 0;
  bool yielded = false;
  const size_t n = partitions_.size();
  for (size_t i = 0; i < n && !yielded; ++i) {
    const size_t at = (poll_next_ + i) % n;
    const uint64_t budget = i == 0 ? poll_left_ : kPollBatch;
    bool mid = false;
    const size_t did = Drain(partitions_[at], budget, tasks_waiting, &mid);
    done += did;
    if (mid) {
      poll_next_ = at;
      poll_left_ = budget - did;  // > 0: Drain yields only before its limit
      yielded = true;
    } else if (tasks_waiting()) {
      poll_next_ = (at + 1) % n;
      poll_left_ = kPollBatch;
      yielded = true;
    }
  }
  if (yielded) {
    ++done;  // never 0: the shard comes back at once, tasks first
  } else {
    poll_left_ = kPollBatch;  // a whole round: every partition had its turn
    if (done == 0) coview_.Flush();  // idle: fold the buffered pairs
  }
  // Live clock: let windows slide with the wall clock even without events, so what left
  // every window is freed (about once a second; an idle shard polls every millisecond).
  if ((++polls_ & 1023) == 0) {
    if (live_clock_) {
      const int64_t minute = MinuteOf(clock_->Now());
      trending_.AdvanceTo(minute);
      engagement_.AdvanceTo(minute);
    }
    PublishMemory();
  }
  return done;
}

void ShardState::Save(SerialWriter& w) {
  coview_.Flush();
  recent_.Save(w);
  dedup_.Save(w);
  trending_.Save(w);
  engagement_.Save(w);
  popularity_.Save(w);
  affinity_.Save(w);
  coview_.Save(w);
  bought_.Save(w);
}

bool ShardState::Load(SerialReader& r) {
  return recent_.Load(r) && dedup_.Load(r) && trending_.Load(r) && engagement_.Load(r) &&
         popularity_.Load(r) && affinity_.Load(r) && coview_.Load(r) && bought_.Load(r) &&
         r.done();
}

void ShardState::CatchUpAll(const std::vector<uint64_t>* upto) {
  for (PartitionId p : partitions_) CatchUp(p, upto != nullptr ? (*upto)[p.value()] : UINT64_MAX);
}

uint64_t ShardState::VisibleEnd(PartitionId p) const {
  // Gated: everything acknowledged is below the durable offset already.
  return durable_ != nullptr ? durable_[p.value()].load(std::memory_order_acquire)
                             : log_->partition(p).head();
}

void ShardState::PublishMemory() {
  const MemoryFigures f[kAggregateCount] = {
      {recent_.users(), recent_.bytes(), recent_.evicted_users()},
      {dedup_.size(), dedup_.bytes(), 0},
      {trending_.tracked_keys(), trending_.bytes(), 0},
      {engagement_.items(), engagement_.bytes(), engagement_.evicted_items()},
      {popularity_.items(), popularity_.bytes(), popularity_.evicted_items()},
      {affinity_.users(), affinity_.bytes(), affinity_.evicted_users()},
      {coview_.items(), coview_.bytes(), coview_.evicted_items()},
      {bought_.users(), bought_.bytes(), bought_.evicted_users()},
  };
  for (size_t a = 0; a < kAggregateCount; ++a) {
    memory_[a][0].store(f[a].keys, std::memory_order_relaxed);
    memory_[a][1].store(f[a].bytes, std::memory_order_relaxed);
    memory_[a][2].store(f[a].evicted, std::memory_order_relaxed);
  }
}

void ShardState::CatchUp(PartitionId p, uint64_t upto) {
  // Every offset below the head is reserved; its writer publishes it (an event or a skip)
  // without blocking, so this wait is short.
  const uint64_t head = std::min(upto, VisibleEnd(p));
  while (log_->partition(p).cursor(0) < head) {
    if (Drain(p, head - log_->partition(p).cursor(0)) == 0) std::this_thread::yield();
  }
}

}  // namespace eddy
