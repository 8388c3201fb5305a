#pragma once
// The in-memory event log, partitioned by user: partition = hash(userId) % partitions.
// Each partition is a bounded ring of entries with monotonically increasing offsets.
//
// Writers (any number of I/O threads) reserve a run of consecutive offsets with one CAS on
// the partition's tail, fill the entries, then publish each by storing its sequence number
// (offset + 1) with release. A reservation that does not fit in the free space fails
// instead of waiting: the caller turns that into 429. Readers (consumers) own a cursor
// each, see an entry once its sequence number equals offset + 1 (acquire), and release
// space by storing their cursor (release). No mutex anywhere.
//
// A reservation that must be abandoned (another partition of the same request was full)
// is filled with kSkip entries so that readers can pass it; no event is half-applied.
//
// Thread-safety: TryReserve/At/Publish from any thread, for offsets the caller reserved.
// Peek/Advance of consumer `c` from one thread at a time (the consumer's).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "eddy/event.h"
#include "eddy/ids.h"
#include "util/hash.h"

namespace eddy {

// What a writer attaches to an entry for its readers (the engine: the request waiting
// for it). The log only carries the pointer and the flags, and never looks at either.
struct LogTag {
 protected:
  ~LogTag() = default;
};

struct LogEntry {
  enum Kind : uint8_t { kEvent = 0, kSkip = 1 };

  Event event;
  LogTag* tag = nullptr;
  Kind kind = kEvent;
  uint8_t flags = 0;  // the writer's, opaque to the log
};

class PartitionLog {
 public:
  PartitionLog(uint32_t capacity, int consumers);
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Makes `offset` the first offset of this (unused) partition: recovery continues the
  // persisted log's numbering. Call before any other use, from one thread.
  void StartAt(uint64_t offset);
  // Reserves offsets [first, first + n); nullopt when fewer than n slots are free.
  std::optional<uint64_t> TryReserve(uint32_t n);
  // The entry for a reserved, not yet published offset.
  LogEntry& At(uint64_t offset) { return slots_[offset & mask_].entry; }
  void Publish(uint64_t offset) {
    slots_[offset & mask_].seq.store(offset + 1, std::memory_order_release);
  }

  // Consumer side. The published entry at `offset`, or nullptr if not yet published.
  const LogEntry* Peek(uint64_t offset) const {
    const Slot& s = slots_[offset & mask_];
    return s.seq.load(std::memory_order_acquire) == offset + 1 ? &s.entry : nullptr;
  }
  // Consumer `c` is done with every offset below `offset`.
  void Advance(int c, uint64_t offset) {
    cursors_[c].value.store(offset, std::memory_order_release);
  }
  uint64_t cursor(int c) const { return cursors_[c].value.load(std::memory_order_acquire); }

  // Next offset to be reserved (offsets below it are reserved, maybe not yet published).
  uint64_t head() const { return tail_.load(std::memory_order_acquire); }
  uint32_t capacity() const { return capacity_; }
  // Whether consumer `c` has over a quarter of the ring still to consume below `end` (an
  // offset the caller published), or below head(): ingest wakes the consumer past that
  // (rather than nudging it), and with ack memory a request's reply waits for the apply. A
  // hint: any thread.
  bool Filling(int c, uint64_t end) const { return end - cursor(c) > capacity_ / 4; }
  bool Filling(int c) const {
    const uint64_t done = cursor(c);  // first: the head read after it is never below it
    return head() - done > capacity_ / 4;
  }

  // A freshness probe (the metrics' ingest → visible histogram): a producer offers one
  // reserved offset, before publishing it, and the time (steady-clock ns), while no probe
  // is pending; the consumer that applies past it takes it. Any thread.
  bool ProbeFree() const { return probe_offset_.load(std::memory_order_relaxed) == 0; }
  void OfferProbe(uint64_t offset, int64_t ns) {
    uint64_t none = 0;
    if (!probe_offset_.compare_exchange_strong(none, kProbeBusy, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
      return;  // another producer's probe is pending
    }
    probe_ns_.store(ns, std::memory_order_relaxed);
    probe_offset_.store(offset + 1, std::memory_order_release);
  }
  // The pending probe's time, if its offset is below `applied_end` (and it is then cleared).
  bool TakeProbe(uint64_t applied_end, int64_t* ns) {
    const uint64_t v = probe_offset_.load(std::memory_order_acquire);
    if (v == 0 || v == kProbeBusy || v > applied_end) return false;
    *ns = probe_ns_.load(std::memory_order_relaxed);
    probe_offset_.store(0, std::memory_order_relaxed);
    return true;
  }

  // Load shedding: true from a failed TryReserve until a quarter of the ring is free
  // again (then false, and cleared). A writer asks before it does the work of a request
  // (decoding) that would most likely be refused. A hint: any thread, no ordering.
  bool Full() const {
    if (!full_.load(std::memory_order_relaxed)) return false;
    // The cursors first (acquire), then the tail: read the other way round, consumers
    // could pass the tail read meanwhile and the difference wrap.
    const uint64_t low = MinCursor();
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t > low && t - low > capacity_ - capacity_ / 4) return true;
    full_.store(false, std::memory_order_relaxed);
    return false;
  }

 private:
  struct Slot {
    std::atomic<uint64_t> seq{0};
    LogEntry entry;
  };
  struct alignas(64) Cursor {
    std::atomic<uint64_t> value{0};
  };
  uint64_t MinCursor() const;

  const uint32_t capacity_;
  const uint64_t mask_;
  mutable std::atomic<bool> full_{false};  // see Full(); written only when it changes
  alignas(64) std::atomic<uint64_t> tail_{0};
  static constexpr uint64_t kProbeBusy = UINT64_MAX;  // being offered
  alignas(64) std::atomic<uint64_t> probe_offset_{0};  // offset + 1; 0 = none pending
  std::atomic<int64_t> probe_ns_{0};
  std::unique_ptr<Cursor[]> cursors_;
  const int consumers_;
  std::unique_ptr<Slot[]> slots_;
};

class PartitionedLog {
 public:
  // `capacity` is rounded up to a power of two.
  PartitionedLog(uint32_t partitions, uint32_t capacity, int consumers);

  uint32_t partitions() const { return static_cast<uint32_t>(parts_.size()); }
  PartitionId PartitionOf(uint32_t key_hash) const {
    return PartitionId(key_hash % partitions());
  }
  // The partition of a partition key's text (a user, or the item of a catalog change): as
  // the decoder hashes it into Event::user_hash.
  PartitionId PartitionOfKey(std::string_view key) const {
    return PartitionOf(static_cast<uint32_t>(StableHash64(key)));
  }
  PartitionLog& partition(PartitionId p) { return *parts_[p.value()]; }
  const PartitionLog& partition(PartitionId p) const { return *parts_[p.value()]; }

 private:
  std::vector<std::unique_ptr<PartitionLog>> parts_;
};

}  // namespace eddy
