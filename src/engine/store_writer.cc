#include "engine/store_writer.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "engine/ingest_ticket.h"
#include "store/event_codec.h"

namespace eddy {

StoreWriter::StoreWriter(const Options& options, LogStore& store, PartitionedLog& log,
                         const Interners& interners, const ShardSet& shards,
                         std::atomic<uint64_t>& duplicates_total, Clock* clock,
                         const std::vector<uint64_t>& start, int64_t last_mark_ms,
                         std::function<void(LogStore::Mark)> on_mark)
    : gated_(options.durability.ack != AckLevel::kMemory),
      delays_commits_(gated_ && options.durability.commit_delay_us > 0),
      sync_(options.durability.ack == AckLevel::kFsync),
      timed_(options.server.metrics),
      store_(store),
      log_(log),
      interners_(interners),
      shards_(shards),
      duplicates_total_(duplicates_total),
      clock_(clock),
      on_mark_(std::move(on_mark)),
      durable_(new std::atomic<uint64_t>[log.partitions()]),
      end_(log.partitions(), 0),
      last_mark_ms_(last_mark_ms) {
  for (uint32_t p = 0; p < log.partitions(); ++p) {
    durable_[p].store(start[p], std::memory_order_relaxed);
  }
  // Gated, with a commit delay, the thread's first sleep after finding nothing is the
  // delay and requests do not wake it during that sleep (IngestPath::StoreShouldWake).
  thread_ = std::make_unique<Shard>(
      0, [this] { return RoundAndReply(/*wait=*/true, nullptr); }, "eddy-store",
      delays_commits() ? options.durability.commit_delay_us : Shard::kIdlePollUs);
}

StoreWriter::~StoreWriter() { thread_->Stop(); }

void StoreWriter::Start() { thread_->Start(); }

void StoreWriter::Stop() {
  thread_->Stop();
  if (!failing()) return;
  spdlog::error("engine: stopping while the event store cannot write ({}); events not yet "
                "persisted are lost and their requests are answered 503",
                LastError());
  if (!gated_) return;  // ack memory: the shards applied and answered them already
  // Gated, nothing past the durable offsets was applied or answered, nor will be: answer
  // each waiting request now (a request with runs on both sides of a durable offset was
  // partly stored; its reply says the events may have to be sent again).
  const Status why = Status::Unavailable(
      "eddy stopped before these events could be stored (" + LastError() +
      "); some or all of them are not kept: send them again");
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    const PartitionLog& pl = log_.partition(PartitionId(p));
    for (uint64_t o = durable_[p].load(std::memory_order_acquire);; ++o) {
      const LogEntry* e = pl.Peek(o);
      if (e == nullptr) break;
      IngestTicket* t = TicketOf(*e);
      if (e->kind == LogEntry::kEvent && (e->flags & kLastOfRun) && t != nullptr) {
        t->Abandon(why, &duplicates_total_);
      }
    }
  }
}

std::string StoreWriter::LastError() const {
  MutexLock lock(&error_mu_);
  return error_;
}

// Only while the store thread dozes (it found nothing to do for over a millisecond: a
// quiet eddy): a round would hold this request alone anyway, and doing it here saves
// waking that thread and its waking the shards back. A store thread awake or only just
// asleep (a busy eddy) takes everything published since its last round in its next one:
// its group commits stay as large as before, and the commits stay off the threads that
// decode and apply.
bool StoreWriter::TryRoundInline() {
  // Ack wal only (gated, not synced); a failing store is retried by the store thread.
  if (!gated_ || sync_ || failing() || !Idle()) return false;
  bool more = false;
  return RoundAndReply(/*wait=*/false, &more) != kBusy && !failing() && !more;
}

size_t StoreWriter::RoundAndReply(bool wait, bool* more) {
  if (wait) {
    round_mu_.Lock();
  } else if (!round_mu_.TryLock()) {
    return kBusy;
  }
  const size_t n = Round();
  if (more != nullptr) *more = capped_;
  std::vector<IngestTicket*> replies;
  replies.swap(durable_replies_);
  round_mu_.Unlock();
  // After the durable offsets moved: a read sent after one of these replies catches up to
  // them. Outside the lock: a reply may run a request's next step inline.
  for (IngestTicket* t : replies) t->RunDone(&duplicates_total_);
  return n;
}

// Every partition's newly published entries (up to kRoundMax each) go into one WriteBatch,
// written once (synced in fsync mode); then the durable offsets advance and, when reads are
// gated, the shards are woken. A round takes whatever accumulated while the previous write
// ran, so batches grow with load.
size_t StoreWriter::Round() {
  static constexpr uint64_t kRoundMax = 16384;
  size_t n = 0;
  capped_ = false;
  // The requests counted since the last round: the next round is woken for as many.
  if (const uint32_t counted = waiting_requests_.exchange(0, std::memory_order_relaxed)) {
    wake_after_.store(std::min(counted, kWakeAfterRequests), std::memory_order_relaxed);
  }
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    PartitionLog& pl = log_.partition(PartitionId(p));
    const uint64_t first = pl.cursor(1);
    uint64_t end = first;
    const uint64_t stop = first + kRoundMax;
    chunk_.Begin();
    while (end < stop) {
      const LogEntry* e = pl.Peek(end);
      if (e == nullptr) break;
      if (e->kind == LogEntry::kEvent) {
        encode_buf_.clear();
        EncodeEvent(e->event, interners_, &encode_buf_);
        chunk_.Add(encode_buf_);
        if ((e->flags & kStoreReplies) && (e->flags & kLastOfRun)) {
          durable_replies_.push_back(TicketOf(*e));
        }
      } else {
        chunk_.AddSkip();
      }
      ++end;
    }
    capped_ |= end == stop;  // more may be published past it: another round follows
    if (end != first) store_.Put(PartitionId(p), first, chunk_.Finish(), chunk_.count());
    n += end - first;
    end_[p] = end;
  }
  if (n == 0) return 0;
  // Once a minute a retention mark (where every partition's log ends now) goes into the
  // same batch as the data it describes.
  LogStore::Mark mark;
  const int64_t now_ms = clock_->Now().millis();
  if (now_ms - last_mark_ms_ >= kMarkIntervalMs) {
    mark.ms = now_ms;
    mark.next_offsets = end_;
    store_.PutMark(mark);
  }
  const auto commit_start = timed_ ? std::chrono::steady_clock::now()
                                   : std::chrono::steady_clock::time_point{};
  Status committed = store_.Commit(sync_);
  if (timed_) commit_latency_.Observe(std::chrono::steady_clock::now() - commit_start);
  if (Status st = std::move(committed); !st.ok()) {
    store_.Discard();
    durable_replies_.clear();  // the round is retried from the same offsets (cursor 1)
    OnError(st);
    return 0;  // the runner idles (1 ms, then longer: Shard::Nudge), then the round is retried
  }
  if (mark.ms != 0) {
    last_mark_ms_ = mark.ms;
    on_mark_(std::move(mark));
  }
  if (failing_.load(std::memory_order_relaxed)) {
    spdlog::warn("store: writes succeed again; accepting events");
    failing_.store(false, std::memory_order_release);
  }
  ShardWaker waker(shards_.shards);
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    PartitionLog& pl = log_.partition(PartitionId(p));
    if (end_[p] == pl.cursor(1)) continue;
    durable_[p].store(end_[p], std::memory_order_release);
    pl.Advance(1, end_[p]);
    if (gated_) waker.Add(shards_.ThreadOf(PartitionId(p)));
  }
  waker.Flush();
  return n;  // the replies in durable_replies_: RoundAndReply sends them
}

void StoreWriter::OnError(const Status& st) {
  {
    MutexLock lock(&error_mu_);
    error_ = std::string(st.message());
  }
  const auto now = std::chrono::steady_clock::now();
  if (!failing_.exchange(true, std::memory_order_acq_rel) ||
      now - last_error_log_ > std::chrono::seconds(5)) {
    spdlog::error("store: group commit failed, retrying; ingest answers 503 meanwhile: {}",
                  st.message());
    last_error_log_ = now;
  }
}

void StoreWriter::FillStatus(StoreStatus* o) const {
  const StoreStats st = store_.Stats();
  o->enabled = true;
  o->failing = failing_.load(std::memory_order_relaxed);
  o->last_error = LastError();
  o->persisted_events = st.records;
  o->batches = st.batches;
  o->syncs = st.syncs;
  o->bytes = st.bytes;
  o->wal_bytes = st.wal_bytes;
  o->wal_syncs = st.wal_syncs;
  o->live_sst_bytes = st.live_sst_bytes;
  o->memtable_bytes = st.memtable_bytes;
  o->estimated_keys = st.estimated_keys;
  o->pending_compaction_bytes = st.pending_compaction_bytes;
  o->stall_micros = st.stall_micros;
  o->commit_latency = commit_latency_.Snapshot();
}

}  // namespace eddy
