#pragma once
// ShardState: everything one shard owns — the cursors of its partitions and the states
// (agg/state.h) of the users in them, registered once in RegisterStates. Poll() applies
// newly published log entries in offset order; CatchUp() applies one partition up to its
// head before a read is answered, so a read reflects every event acknowledged before it
// was sent. With a durability gate (ack
// wal or fsync) a shard applies only offsets below the partition's durable offset, so no
// read ever shows an event a crash could take back.
//
// Thread-safety: Poll, CatchUp and the aggregates are used only on the shard's thread.
// The counters are atomics written by the shard thread and read by status pages
// (relaxed: they are monotone figures for operators).

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agg/dedup.h"
#include "agg/state.h"
#include "eddy/clock.h"
#include "eddy/options.h"
#include "engine/rate_meter.h"
#include "log/partitioned_log.h"
#include "util/histogram.h"
#include "util/mutex.h"
#include "util/time.h"

namespace eddy {

class AlertSink;
class ShardState;

// The states of `shards` shards: shard s owns the partitions p with p % shards == s
// (ShardSet::ShardOf). `duplicates_total` is the engine's counter of duplicates; `alerts`
// (may be null) receives every alert the states raise.
std::vector<std::unique_ptr<ShardState>> NewShardStates(int shards, const Options& options,
                                                        PartitionedLog* log, Interners* interners,
                                                        Clock* clock,
                                                        std::atomic<uint64_t>* duplicates_total,
                                                        AlertSink* alerts = nullptr);

class ShardState {
 public:
  ShardState(int index, const Options& options, PartitionedLog* log, Interners* interners,
             std::vector<PartitionId> partitions, Clock* clock,
             std::atomic<uint64_t>* duplicates_total, AlertSink* alerts = nullptr);

  // Applies only offsets below durable[p] of each partition p from now on (nullptr: no
  // gate). Set before the shard thread starts; the store thread advances the offsets.
  void SetDurableGate(const std::atomic<uint64_t>* durable) { durable_ = durable; }
  // Where the partitions' freshness probes are recorded (nullptr: not at all). Set before
  // the shard thread starts.
  void SetFreshness(LatencyHistogram* freshness) { freshness_ = freshness; }
  // Applies newly published entries, up to a batch per partition; returns early (and
  // non-zero) when Shard::TasksWaiting() says reads wait in the shard's mailbox.
  size_t Poll();
  // The same with another test of "tasks are waiting" (tests drive the yielding with it).
  using TasksWaitingFn = bool (*)();
  size_t Poll(TasksWaitingFn tasks_waiting);
  // Checkpoint of every state: a section each (name, format version, bytes). Save on the
  // shard thread, or after it stopped; Load before it starts. Load fails when a
  // registered state has no section or cannot read it; a false return leaves the state
  // unusable: the caller discards it.
  void Save(SerialWriter& w);
  bool Load(SerialReader& r);
  // Forgets everything applied: fresh states, as constructed (cluster mode: the shard's
  // partition moved to another node). On the shard thread, once it applied what the log
  // holds (CatchUpAll), or before it starts.
  void Reset();
  // A reload's fraud and insight thresholds, from any thread (kept for Reset too): the shard takes them before it applies its next
  // entry (Apply checks a version), so every event published after this returns is scored
  // with them — not only those applied after a task would have run. (A task alone left a
  // window: a shard applies what is published before it runs its mailbox.)
  void OfferThresholds(const FraudOptions& fraud, const InsightOptions& insights);
  // Takes offered thresholds not yet taken; the shard's thread. Cheap when there are none.
  void TakeOfferedThresholds() {
    if (offered_version_.load(std::memory_order_acquire) != taken_version_) TakeOffered();
  }
  // Applies partition p up to min(upto, where its acknowledged events end now).
  void CatchUp(PartitionId p, uint64_t upto = UINT64_MAX);
  // CatchUp of every partition of this shard; `upto` (indexed by partition) may be null.
  void CatchUpAll(const std::vector<uint64_t>* upto = nullptr);
  // Where partition p's acknowledged events end now (the durable offset with a gate, else
  // the log's head): every event acknowledged before this call is below it. Any thread.
  uint64_t VisibleEnd(PartitionId p) const;
  // Folds one log entry of partition p into every aggregate. Called by Poll/CatchUp and
  // recovery; public for the per-aggregate benchmarks (bench/agg_bench), which drive it
  // without a log.
  void Apply(const LogEntry& entry, PartitionId p);

  // The registered states, in apply order (RegisterStates in shard_state.cc).
  const std::vector<std::unique_ptr<State>>& states() const { return states_; }
  // The state of type S (a read path knows what it reads); S must be registered. O(1):
  // reads call it per candidate.
  template <typename S>
  S& Get() const {
    const size_t id = TypeId<S>();
    if (id >= by_type_.size() || by_type_[id] == nullptr) {
      std::abort();  // a read asked for a state that is not registered: a programming error
    }
    return *static_cast<S*>(by_type_[id]);
  }
  // Figures of states()[i], published about once a second by the shard thread; any
  // thread may read them.
  StateMemory memory(size_t i) const {
    return {memory_[i][0].load(std::memory_order_relaxed),
            memory_[i][1].load(std::memory_order_relaxed),
            memory_[i][2].load(std::memory_order_relaxed)};
  }
  void PublishMemory();
  const std::vector<PartitionId>& partitions() const { return partitions_; }
  uint64_t applied_events() const { return applied_events_.load(std::memory_order_relaxed); }
  // New events a screening state filtered out (ApplyInfo::filtered) since start.
  uint64_t filtered_events() const { return filtered_events_.load(std::memory_order_relaxed); }
  const RateMeter& rate() const { return rate_; }

 private:
  // Applies up to `limit` entries of partition p. With `tasks_waiting`, looks every
  // kTaskCheckEvery entries and stops early (setting *yielded) when it says so.
  size_t Drain(PartitionId p, uint64_t limit, TasksWaitingFn tasks_waiting = nullptr,
               bool* yielded = nullptr);
  void Prefetch(const Event& ev) const;
  void PrefetchDeeper(const Event& ev, int stage) const;
  void RegisterStates(const Options& options, Interners* interners, AlertSink* alerts);
  template <typename S>
  S* Register(std::unique_ptr<S> state) {
    S* raw = state.get();
    const size_t id = TypeId<S>();
    if (by_type_.size() <= id) by_type_.resize(id + 1, nullptr);
    by_type_[id] = raw;
    if (raw->Applies()) applying_.push_back(raw);
    if (raw->TakesItemFeed()) item_feed_.push_back(raw);
    if (raw->TakesExperimentFeed()) experiment_feed_.push_back(raw);
    if (raw->Prefetches()) prefetching_.push_back(raw);
    if (raw->Screens()) screening_.push_back(raw);
    states_.push_back(std::move(state));
    return raw;
  }
  // A small dense number per state type, the same in every shard (first use allocates it).
  static size_t NextTypeId() {
    static std::atomic<size_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed);
  }
  template <typename S>
  static size_t TypeId() {
    static const size_t id = NextTypeId();
    return id;
  }
  ApplyInfo InfoOf(const Event& ev) const {
    const size_t t = static_cast<size_t>(ev.type);
    return {weights_[t], weight_micros_[t], MinuteOf(ev.time)};
  }

  const int index_;
  const Options options_;  // a copy: Reset registers the states anew from it
  Interners* interners_;
  AlertSink* alerts_;
  void TakeOffered();  // the newest offer, into the states
  std::atomic<uint64_t> offered_version_{0};  // bumped by OfferThresholds (release)
  uint64_t taken_version_ = 0;                // the shard's thread
  mutable Mutex offered_mu_;
  std::optional<std::pair<FraudOptions, InsightOptions>> offered_ ABSL_GUARDED_BY(offered_mu_);
  const EventWeights weights_;
  PartitionedLog* log_;
  const std::vector<PartitionId> partitions_;
  const std::atomic<uint64_t>* durable_ = nullptr;
  LatencyHistogram* freshness_ = nullptr;
  Clock* clock_;
  std::atomic<uint64_t>* duplicates_total_;
  std::vector<std::unique_ptr<State>> states_;
  std::vector<State*> by_type_;  // index: TypeId<S>()
  // The per-event loops visit only the states with work there (fewer virtual calls).
  std::vector<State*> applying_, prefetching_, item_feed_, screening_, experiment_feed_;
  DedupState* dedup_ = nullptr;  // one of states_: decides whether the others see an event
  std::unique_ptr<std::array<std::atomic<uint64_t>, 3>[]> memory_;  // per state
  std::array<int64_t, kEventTypeCount> weight_micros_{};  // weights in millionths
  const bool live_clock_;
  int64_t next_tick_ns_ = 0;  // when the next Tick and PublishMemory are due (steady clock)
  uint32_t empty_polls_ = 0;  // polls in a row that applied nothing
  size_t poll_next_ = 0;  // the partition the next Poll starts with
  uint64_t poll_left_ = 0;  // what is left of that partition's batch (set in the ctor)
  std::atomic<uint64_t> applied_events_{0};
  std::atomic<uint64_t> filtered_events_{0};
  RateMeter rate_;
};

}  // namespace eddy
