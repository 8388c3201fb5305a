#pragma once
// StoreWriter: the store thread (`eddy-store`) and its group-commit round. Each round
// takes every partition's newly published log entries (log consumer 1), writes them as
// one chunk per partition in one RocksDB WriteBatch (synced with ack fsync), then
// advances the partitions' durable offsets, wakes the shards (gated: they apply only
// below the durable offset) and answers the requests that waited for durability. A
// failed commit makes the store "failing" (ingest answers 503) and is retried from the
// same offsets until it succeeds.
//
// With ack wal the thread that just published a request's events runs the round itself
// when no round is running (TryRoundInline): its reply, and the shards' wake-up, need no
// hop to the store thread — the hand-off that cost a request two or three context switches
// (docs/architecture.md, "Inline commits"). With ack fsync the store thread does every
// round: an fsync would hold up the caller's connections and partitions for milliseconds.
//
// Thread-safety: Round and everything it touches run under round_mu_ (on the store thread
// or on a thread in TryRoundInline), one round at a time; the replies of a round are sent
// after round_mu_ is released. durable(),
// failing(), LastError(), FillStatus() and Wake() may be called from any thread: durable
// offsets are release-stored after the write that made them true; the error text is
// guarded by a mutex and never held while anything else runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "eddy/engine.h"
#include "eddy/options.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "runtime/shard.h"
#include "store/log_store.h"
#include "util/histogram.h"
#include "util/interners.h"
#include "util/mutex.h"

namespace eddy {

class IngestTicket;

class StoreWriter {
 public:
  // `start[p]`: where partition p's log continues (everything below is stored). `on_mark`
  // gets each retention mark once it is durable (on the thread that ran the round: the
  // store thread, or an inline one). Every referenced object must outlive the writer.
  StoreWriter(const Options& options, LogStore& store, PartitionedLog& log,
              const Interners& interners, const ShardSet& shards,
              std::atomic<uint64_t>& duplicates_total, Clock* clock,
              const std::vector<uint64_t>& start, int64_t last_mark_ms,
              std::function<void(LogStore::Mark)> on_mark);
  ~StoreWriter();

  // Per partition: offsets below it are in the store. Valid for the writer's lifetime.
  const std::atomic<uint64_t>* durable() const { return durable_.get(); }

  // Ack wal/fsync: the shards apply only what is durable, and the requests without
  // eventIds are answered by this writer once their events are stored.
  bool gated() const { return gated_; }
  // Gated with durability.commit_delay_us > 0: a request need not wake the store thread
  // (it looks again within the delay; see IngestPath::StoreShouldWake).
  bool delays_commits() const { return delays_commits_; }
  // With a commit delay: counts a request published for the next round and says whether
  // the store thread should be woken now, because wake_after() requests wait for it: as
  // many as the last round that wrote counted requests held, at most kWakeAfterRequests.
  // The delay is for requests that come anyway; clients that send their next request only
  // after the reply (one at a time, or a few connections in a closed loop) would each wait
  // it out for nothing, and a round of theirs holds as many as there are. Any thread.
  bool CountWaitingRequest() {
    const uint32_t n = waiting_requests_.fetch_add(1, std::memory_order_relaxed) + 1;
    return n == wake_after_.load(std::memory_order_relaxed);
  }
  static constexpr uint32_t kWakeAfterRequests = 8;
  uint32_t wake_after() const { return wake_after_.load(std::memory_order_relaxed); }

  void Start();
  // Runs rounds until everything published is stored (or the store fails), then joins.
  void Stop();
  void Wake() { thread_->Wake(); }
  // Ack wal: runs a round on the calling thread while the store thread dozes and no round
  // is running; false when it did not, or left work behind (a failed write, a partition
  // with more than a round takes): then the caller wakes the store thread. The round's
  // replies run on the calling thread: not while holding anything a reply callback takes.
  bool TryRoundInline();
  // Whether the store thread has had nothing to do for a while (Shard::Dozing).
  bool Idle() const { return thread_->Dozing(); }
  // Whether the store thread sleeps out its commit delay (or its first idle poll) now: a
  // request published meanwhile waits for the delay's end, with what joins it. A hint.
  bool Delaying() const { return thread_->InFirstSleep(); }
  // For work that can wait a millisecond: wakes the thread only when it dozes longer.
  void Nudge() { thread_->Nudge(); }

  bool failing() const { return failing_.load(std::memory_order_acquire); }
  std::string LastError() const;
  // The store's figures (persisted events, RocksDB statistics, failing, last error).
  void FillStatus(StoreStatus* out) const;

 private:
  // A round under round_mu_ (waiting for it, or giving up when `wait` is false: then
  // kBusy), then its replies. Returns the entries it stored; `*more` (when given): a
  // partition had more than one round takes.
  static constexpr size_t kBusy = SIZE_MAX;
  size_t RoundAndReply(bool wait, bool* more);
  size_t Round() ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_);
  void OnError(const Status& st);

  static constexpr int64_t kMarkIntervalMs = 60'000;

  const bool gated_;
  const bool delays_commits_;
  const bool sync_;
  const bool timed_;  // server.metrics: commits are timed
  LogStore& store_;
  PartitionedLog& log_;
  const Interners& interners_;
  const ShardSet& shards_;
  std::atomic<uint64_t>& duplicates_total_;
  Clock* const clock_;
  const std::function<void(LogStore::Mark)> on_mark_;
  std::unique_ptr<std::atomic<uint64_t>[]> durable_;
  std::unique_ptr<Shard> thread_;
  // One round at a time; what it touches is guarded by it (not annotated member by member).
  Mutex round_mu_;
  std::vector<uint64_t> end_;  // this round's end per partition
  bool capped_ = false;        // this round stopped at kRoundMax in some partition
  // Requests counted since the last round began (CountWaitingRequest); a hint: a request
  // counted just after a round read its events is counted for the next.
  std::atomic<uint32_t> waiting_requests_{0};
  // See wake_after(); set by Round (kWakeAfterRequests until a round has counted some).
  std::atomic<uint32_t> wake_after_{kWakeAfterRequests};
  std::string encode_buf_;
  ChunkBuilder chunk_;
  std::vector<IngestTicket*> durable_replies_;  // this round's
  int64_t last_mark_ms_;
  std::chrono::steady_clock::time_point last_error_log_;
  std::atomic<bool> failing_{false};
  LatencyHistogram commit_latency_;  // written by a round (under round_mu_), read by Status
  mutable Mutex error_mu_;
  std::string error_ ABSL_GUARDED_BY(error_mu_);
};

}  // namespace eddy
