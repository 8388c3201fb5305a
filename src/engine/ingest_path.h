#pragma once
// IngestPath: decode, validate and intern a request's events on the calling I/O thread,
// then append them to the partitioned log all or nothing (SPEC §4, STYLE §3 steps 1-2):
// every partition's run is reserved before any is published; if one partition is full
// the runs already reserved become skip entries and the request gets 429, so nothing is
// half-taken. The reply is sent: with ack memory right after the append; with wal/fsync by
// the store thread once the runs are durable; with eventIds, or when a partition of the
// request is a quarter full (the apply paces the clients), whatever the ack, by the shard
// that applied the request's last run (duplicates are known then; gated, the apply follows
// the write) — through an IngestTicket in the log.
//
// Thread-safety: Ingest from any number of threads, each with its own IngestContext
// (NewContext). Close from the owner: once it returns no Ingest appends any more.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "eddy/engine.h"
#include "eddy/options.h"
#include "engine/engine_clock.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "util/interners.h"

namespace eddy {

class StoreWriter;
class IngestContextImpl;
class IpOrderWindow;
class JetStreamLog;

class IngestPath {
 public:
  // `store` is null without an event store; `ip_orders` null without fraud scoring. Every
  // referenced object must outlive this.
  // `cluster` (cluster mode, docs/scale-out.md) makes JetStream the log a request is
  // appended to: each partition's run is published as one message and the reply sent once
  // JetStream has acknowledged them all; the owners append them here (AppendFeed).
  IngestPath(const Options& options, PartitionedLog& log, Interners& interners,
             const ShardSet& shards, StoreWriter* store, EngineClock& clock,
             IpOrderWindow* ip_orders, JetStreamLog* cluster = nullptr);

  std::unique_ptr<IngestContext> NewContext() const;
  void Ingest(IngestContext& ctx, std::string& body, BodyFormat format,
              DefaultType default_type, IngestCallback done);
  // Appends one of eddy's own experiment records (experiments/attribution.h): a `served`
  // answer to the partition of its user (`key`), an `allocation` to the partition of its
  // experiment's name (`key`, not kept as a user). Not acknowledged, not counted as
  // accepted; stored and replayed like every event. A served answer is appended before it
  // is sent, so every event the user posts after seeing it comes after it in the
  // partition. False (counted in records_dropped) when the partition is full, the store is
  // failing or eddy is stopping. Any thread.
  bool AppendOwn(EventType type, std::string_view key, int64_t time_ms, std::string_view record,
                 uint64_t recomm = 0, uint32_t quantity = 0);
  // Cluster mode: appends the events of one JetStream message of partition `p` (read by
  // its owner; their ids interned under the caller's IdEpochs guard) to the local log,
  // waiting while the partition is full. False when eddy is stopping. One thread per
  // partition.
  bool AppendFeed(uint32_t p, const std::vector<Event>& events);
  uint64_t records_dropped() const { return records_dropped_.load(std::memory_order_relaxed); }

  // Refuses new requests (Unavailable) and waits until every Ingest that got in has
  // appended. Idempotent.
  void Close();
  bool closed() const { return stopping_.load(std::memory_order_acquire); }

  uint64_t accepted_total() const { return accepted_total_.load(std::memory_order_relaxed); }
  uint64_t accepted_of(EventType type) const {
    return accepted_by_type_[static_cast<size_t>(type)].load(std::memory_order_relaxed);
  }

 private:
  void AddStockMoves(IngestContextImpl& ctx) const;
  // Stamps each purchase with an `ip` with its IP's order count (fraud/ip_orders.h),
  // remembering what it added; TakeBackIpOrders undoes that for a refused request.
  void StampIpOrders(IngestContextImpl& ctx);
  void TakeBackIpOrders(IngestContextImpl& ctx);
  Status Group(IngestContextImpl& ctx, bool* has_ids, int64_t* newest) const;
  Status Append(IngestContextImpl& ctx, IngestReply* reply, IngestCallback* done);
  // Cluster mode: publishes the grouped runs; the reply follows JetStream's acknowledgements.
  // `n`: the request's own events (not its stock moves); `newest`: their newest time.
  void PublishRuns(IngestContextImpl& ctx, uint32_t n, int64_t newest, IngestReply* reply,
                   IngestCallback* done);
  // Acknowledged events by type (the request's own: stock moves left out), and counting them.
  using TypeCounts = std::array<uint32_t, kEventTypeCount>;
  static TypeCounts CountTypes(const std::vector<Event>& events);
  void Count(const TypeCounts& by_type, uint32_t n);
  void PublishSkips(uint32_t p, IngestContextImpl& ctx);
  // After publishing up to `end` in `pl`: whether the store thread must be woken (gated
  // without a commit delay, it writes before the shards may apply; else once a quarter of
  // the ring waits for it: otherwise it looks again within its idle poll or commit delay).
  bool StoreShouldWake(const PartitionLog& pl, uint64_t end) const {
    return store_ != nullptr && (wake_store_always_ || pl.Filling(1, end));
  }
  // Whether a partition of the request holds over a quarter of its capacity unapplied.
  bool Filling(const IngestContextImpl& ctx) const;
  // After publishing below `end` in partition p (log `pl`) outside a request: nudges the
  // partition's shard (unless gated: the store wakes it after its write) and wakes or
  // nudges the store (see Shard::Nudge).
  void TellConsumers(const PartitionLog& pl, PartitionId p, uint64_t end) const;
  // Wakes the store thread (`wake`: StoreShouldWake said so for some partition) or else
  // nudges it; nothing without a store.
  void TellStore(bool wake) const;
  // Why ingest refuses a request before decoding it (ok: it does not).
  Status Refusal() const;

  const Options& options_;
  PartitionedLog& log_;
  Interners& interners_;
  const ShardSet& shards_;
  StoreWriter* const store_;
  EngineClock& clock_;
  IpOrderWindow* const ip_orders_;
  JetStreamLog* const cluster_;
  const bool gated_;  // ack wal/fsync with a store: shards apply only durable offsets
  const bool wake_store_always_;  // gated without a commit delay (StoreShouldWake)
  const bool probes_;  // server.metrics: offers the partitions freshness probes
  std::atomic<uint64_t> accepted_total_{0};
  std::array<std::atomic<uint64_t>, kEventTypeCount> accepted_by_type_{};  // acknowledged
  std::atomic<uint64_t> records_dropped_{0};
  std::atomic<int> inflight_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace eddy
