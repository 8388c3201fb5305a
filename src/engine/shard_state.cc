#include "engine/shard_state.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "agg/affinity.h"
#include "agg/coview.h"
#include "agg/engagement.h"
#include "agg/popularity.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "commerce/alerts.h"
#include "commerce/catalog.h"
#include "commerce/inventory.h"
#include "fraud/fraud.h"
#include "insights/insights.h"
#include "learn/embedding.h"
#include "experiments/attribution.h"
#include "commerce/revenue.h"
#include "commerce/sessions.h"
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
// Buffered work (co-view's pairs) is folded once this many polls in a row found nothing:
// when the shard is about to sleep, not in every short gap between two batches (a shard
// that also runs the HTTP I/O finds the log caught up after nearly every request).
constexpr uint32_t kFoldAfterEmptyPolls = 32;
constexpr int64_t kTickEveryNs = 1'000'000'000;

}  // namespace

ShardState::ShardState(int index, const Options& options, PartitionedLog* log,
                       Interners* interners, std::vector<PartitionId> partitions, Clock* clock,
                       std::atomic<uint64_t>* duplicates_total, AlertSink* alerts)
    : index_(index),
      options_(options),
      interners_(interners),
      alerts_(alerts),
      weights_(options.weights),
      log_(log),
      partitions_(std::move(partitions)),
      clock_(clock),
      duplicates_total_(duplicates_total),
      live_clock_(options.clock == ClockMode::kLive) {
  poll_left_ = kPollBatch;
  for (int t = 0; t < kEventTypeCount; ++t) {
    weight_micros_[t] = static_cast<int64_t>(std::llround(options.weights[t] * 1e6));
  }
  RegisterStates(options, interners, alerts);
  memory_ = std::make_unique<std::array<std::atomic<uint64_t>, 3>[]>(states_.size());
}

std::vector<std::unique_ptr<ShardState>> NewShardStates(int shards, const Options& options,
                                                        PartitionedLog* log, Interners* interners,
                                                        Clock* clock,
                                                        std::atomic<uint64_t>* duplicates_total,
                                                        AlertSink* alerts) {
  std::vector<std::unique_ptr<ShardState>> states;
  const uint32_t partitions = options.log.partitions;
  for (int s = 0; s < shards; ++s) {
    std::vector<PartitionId> owned;
    for (uint32_t p = s; p < partitions; p += shards) owned.push_back(PartitionId(p));
    states.push_back(std::make_unique<ShardState>(s, options, log, interners, std::move(owned), clock,
                                                  duplicates_total, alerts));
  }
  return states;
}

// The states of a shard, in apply order. Adding a state is its files plus one line here:
// checkpoints, recovery, replay, status and the settings fingerprint follow from State.
void ShardState::RegisterStates(const Options& o, Interners* interners, AlertSink* sink) {
  const CapShare share{o.log.partitions, partitions_.size()};
  dedup_ = Register(std::make_unique<DedupState>(o, share));
  auto recent = std::make_unique<RecentState>(o, share);
  Register(std::make_unique<CoViewState>(o, share, *recent));  // reads recent: before it
  Register(std::move(recent));
  Register(std::make_unique<BoughtState>(o, share));
  Register(std::make_unique<TrendingState>(o));
  Register(std::make_unique<EngagementState>(o, share));
  Register(std::make_unique<PopularityState>(o, share));
  Register(std::make_unique<AffinityState>(o, share));
  Register(std::make_unique<SessionState>(o, share));
  Register(std::make_unique<RevenueState>(o, share));
  Register(std::make_unique<CatalogState>(o, share));
  AlertState* alerts = Register(std::make_unique<AlertState>(o, share, sink));
  Register(std::make_unique<InventoryState>(o, share, *alerts));
  Register(std::make_unique<FraudState>(o, share, *alerts));
  Register(std::make_unique<InsightState>(o, share, *alerts));
  // Reads no other state. Last, so that the states before keep their checkpoint section
  // indexes (tests/fuzz/seeds/checkpoint name states by index).
  Register(std::make_unique<EmbeddingState>(o, share));
  Register(std::make_unique<ExperimentState>(o, share, *interners));
}

void ShardState::Apply(const LogEntry& entry, PartitionId p) {
  if (entry.kind == LogEntry::kSkip) return;
  // After the entry was read (an acquire): a reload that returned before it was published
  // is seen here.
  TakeOfferedThresholds();
  const Event& ev = entry.event;
  bool duplicate = false;  // of an event the request acknowledged (not of a stock move)
  if (ev.derived()) {
    // A stock move: to the item feed only (inventory drops a retried purchase's move by
    // its derived id, in an idempotency memory of its own).
    for (State* st : item_feed_) st->ApplyItemFeed(ev, p);
  } else if (IsCatalogChange(ev.type)) {
    for (State* st : item_feed_) st->ApplyItemFeed(ev, p);
  } else if (IsExperimentEvent(ev.type)) {
    // A served answer or an impression (a client's: retries are duplicates).
    duplicate = ev.event_id.present() && !dedup_->Insert(ev.event_id, ev.time);
    if (!duplicate) {
      for (State* st : experiment_feed_) st->ApplyExperimentFeed(ev);
    }
  } else {
    duplicate = ev.event_id.present() && !dedup_->Insert(ev.event_id, ev.time);
    if (!duplicate) {
      ApplyInfo info = InfoOf(ev);
      for (State* st : screening_) info.filtered |= st->Screen(ev, info);
      if (info.filtered) {
        filtered_events_.store(filtered_events_.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
      }
      for (State* st : applying_) st->ApplyEvent(ev, info);
      if (ev.type == EventType::kInventory) {
        for (State* st : item_feed_) st->ApplyItemFeed(ev, p);
      }
      applied_events_.store(applied_events_.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    }
  }
  if (IngestTicket* ticket = TicketOf(entry); ticket != nullptr && !(entry.flags & kStoreReplies)) {
    if (duplicate) ticket->AddDuplicate();
    if (entry.flags & kLastOfRun) ticket->RunDone(duplicates_total_);
  }
}

void ShardState::Prefetch(const Event& ev) const {
  if (IsCatalogChange(ev.type) || IsExperimentEvent(ev.type) || ev.derived()) return;
  const ApplyInfo info = InfoOf(ev);
  for (State* st : prefetching_) st->Prefetch(ev, info);
}

void ShardState::PrefetchDeeper(const Event& ev, int stage) const {
  if (IsCatalogChange(ev.type) || IsExperimentEvent(ev.type) || ev.derived()) return;
  for (State* st : prefetching_) st->PrefetchDeeper(ev, stage);
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
    if (const LogEntry* ahead = pl.Peek(cur + kPrefetchAhead / 2)) PrefetchDeeper(ahead->event, 1);
    if (const LogEntry* ahead = pl.Peek(cur + 2)) PrefetchDeeper(ahead->event, 2);
    if (const LogEntry* ahead = pl.Peek(cur + 1)) PrefetchDeeper(ahead->event, 3);
    Apply(*e, p);
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
    if (int64_t published = 0; freshness_ != nullptr && pl.TakeProbe(cur, &published)) {
      freshness_->ObserveNs(SteadyNanos() - published);
    }
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
    } else if (done != 0 && tasks_waiting()) {
      // (Nothing applied yet: the round goes on, cheaply. A yield with nothing done would
      // look like work to the shard, which then never finds itself idle and never sleeps.)
      poll_next_ = (at + 1) % n;
      poll_left_ = kPollBatch;
      yielded = true;
    }
  }
  if (yielded) {
    // done > 0 already (a yield comes after work): the shard comes back at once, tasks first.
  } else {
    poll_left_ = kPollBatch;  // a whole round: every partition had its turn
    if (done != 0) {
      empty_polls_ = 0;
    } else if (++empty_polls_ == kFoldAfterEmptyPolls) {
      for (const auto& st : states_) st->Idle();  // fold buffered work (co-view's pairs)
    }
  }
  // Live clock: let windows slide with the wall clock even without events, so what left
  // every window is freed; and the memory figures. Once a second, by the clock: not by a
  // count of polls, which a shard that also runs the HTTP I/O makes thousands of times a
  // second (a Tick or a memory walk then took milliseconds of every few).
  const int64_t now_ns = SteadyNanos();
  if (now_ns >= next_tick_ns_) {
    next_tick_ns_ = now_ns + kTickEveryNs;
    if (live_clock_) {
      const int64_t minute = MinuteOf(clock_->Now());
      for (const auto& st : states_) st->Tick(minute);
    }
    PublishMemory();
  }
  return done;
}

// Sections: the count, then per state its name, format version and bytes. Sections are
// found by name, so the order of registration is free to change.
void ShardState::Save(SerialWriter& w) {
  w.U64(states_.size());
  std::string section;
  for (const auto& st : states_) {
    section.clear();
    SerialWriter sw(&section);
    st->SaveTo(sw);
    w.Bytes(st->Name());
    w.U64(st->FormatVersion());
    w.Bytes(section);
  }
}

bool ShardState::Load(SerialReader& r) {
  const uint64_t n = r.Count(3);
  std::vector<bool> loaded(states_.size(), false);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const std::string_view name = r.Bytes();
    const uint64_t version = r.U64();
    const std::string_view bytes = r.Bytes();
    if (!r.ok()) return false;
    size_t s = 0;
    while (s < states_.size() && states_[s]->Name() != name) ++s;
    if (s == states_.size()) continue;  // a state this build no longer has
    if (loaded[s] || version > states_[s]->FormatVersion()) return false;
    SerialReader sr(bytes, r);
    if (!states_[s]->LoadFrom(sr, static_cast<uint32_t>(version)) || !sr.done()) return false;
    loaded[s] = true;
  }
  return r.done() && std::find(loaded.begin(), loaded.end(), false) == loaded.end();
}

void ShardState::Reset() {
  states_.clear();
  std::fill(by_type_.begin(), by_type_.end(), nullptr);
  applying_.clear();
  prefetching_.clear();
  item_feed_.clear();
  screening_.clear();
  experiment_feed_.clear();
  dedup_ = nullptr;
  RegisterStates(options_, interners_, alerts_);
  if (offered_version_.load(std::memory_order_acquire) != 0) TakeOffered();  // a reload's
  PublishMemory();
}

void ShardState::OfferThresholds(const FraudOptions& fraud, const InsightOptions& insights) {
  MutexLock lock(&offered_mu_);
  offered_.emplace(fraud, insights);
  // Under the lock: versions are bumped in the order the offers are stored.
  offered_version_.fetch_add(1, std::memory_order_release);
}

void ShardState::TakeOffered() {
  std::pair<FraudOptions, InsightOptions> next;
  {
    MutexLock lock(&offered_mu_);
    taken_version_ = offered_version_.load(std::memory_order_relaxed);
    next = *offered_;
  }
  Get<FraudState>().SetLive(next.first);
  Get<InsightState>().SetLive(next.second);
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
  for (size_t i = 0; i < states_.size(); ++i) {
    const StateMemory f = states_[i]->Memory();
    memory_[i][0].store(f.keys, std::memory_order_relaxed);
    memory_[i][1].store(f.bytes, std::memory_order_relaxed);
    memory_[i][2].store(f.evicted, std::memory_order_relaxed);
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
