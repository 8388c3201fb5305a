#pragma once
// IngestTicket: what a request that must wait for its events to be applied (they carry
// eventIds, so the reply must say which were duplicates; or, with ack memory, a partition
// of it is filling and the apply paces the client) or stored (ack wal/fsync) leaves in the
// log. Each run of
// the request in one partition ends with a kLastOfRun entry; the shard that applies it
// calls RunDone(). The last RunDone() sends the reply and deletes the ticket.
//
// Thread-safety: AddDuplicate/RunDone from shard threads, and RunDone from whichever thread
// ran a store round (the store thread, or an ingesting one: StoreWriter::TryRoundInline).
// `pending_` (acq_rel) orders every shard's duplicate counts before the final reply.

#include <atomic>
#include <cstdint>
#include <utility>

#include "eddy/engine.h"
#include "log/partitioned_log.h"

namespace eddy {

// The ingest path's LogEntry::flags.
enum IngestFlags : uint8_t {
  kLastOfRun = 1,  // the last entry of one request in this partition
  // The ticket is completed by the store round that made the run durable (ack wal/fsync,
  // no eventIds: nothing to wait for from the apply), not by the shard.
  kStoreReplies = 2,
};

class IngestTicket final : public LogTag {
 public:
  IngestTicket(uint32_t runs, IngestReply reply, IngestCallback done)
      : pending_(runs), reply_(std::move(reply)), done_(std::move(done)) {}

  // Sets the reply and callback; moving them cannot fail (no allocation).
  void Arm(IngestReply reply, IngestCallback done) noexcept {
    reply_ = std::move(reply);
    done_ = std::move(done);
  }

  void AddDuplicate() { duplicates_.fetch_add(1, std::memory_order_relaxed); }

  // A run that will never be applied: eddy stopped while the store could not write it
  // (gated, nothing past the durable offset is applied). The reply becomes `why`, with
  // nothing accepted. Called by the stopping thread only, for runs no shard completes.
  void Abandon(const Status& why, std::atomic<uint64_t>* duplicates_total) {
    reply_.status = why;
    reply_.accepted = 0;
    RunDone(duplicates_total);
  }

  void RunDone(std::atomic<uint64_t>* duplicates_total) {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    reply_.duplicates = duplicates_.load(std::memory_order_relaxed);
    duplicates_total->fetch_add(reply_.duplicates, std::memory_order_relaxed);
    IngestCallback done = std::move(done_);
    IngestReply reply = std::move(reply_);
    delete this;
    done(std::move(reply));
  }

 private:
  std::atomic<uint32_t> pending_;
  std::atomic<uint32_t> duplicates_{0};
  IngestReply reply_;
  IngestCallback done_;
};

// The ticket of an entry the ingest path wrote (null when nobody waits for it).
inline IngestTicket* TicketOf(const LogEntry& e) { return static_cast<IngestTicket*>(e.tag); }

}  // namespace eddy
