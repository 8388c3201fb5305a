#include "eddy/engine.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <filesystem>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include "engine/ingest_ticket.h"
#include "engine/item_facts.h"
#include "engine/recommender.h"
#include "engine/shard_set.h"
#include "engine/shard_state.h"
#include "ingest/decoder.h"
#include "log/partitioned_log.h"
#include "runtime/shard.h"
#include "store/checkpoint.h"
#include "store/event_codec.h"
#include "store/log_store.h"
#include "util/hash.h"
#include "util/time.h"
#include "util/mutex.h"

namespace eddy {
namespace {

class IngestContextImpl final : public IngestContext {
 public:
  IngestContextImpl(Interners& interners, const Options& options, Clock* clock)
      : decoder(interners, options.ingest, clock),
        run_length(options.log.partitions),
        run_start(options.log.partitions),
        first_offset(options.log.partitions) {}

  Decoder decoder;
  std::vector<Event> events;
  std::vector<Rejection> rejected;
  std::vector<uint32_t> partition_of;  // per event
  std::vector<uint32_t> run_length;    // per partition
  std::vector<uint32_t> run_start;     // per partition, into `order`
  std::vector<uint32_t> run_cursor;    // scratch for the grouping
  std::vector<uint32_t> order;         // event indexes grouped by partition, stable
  std::vector<uint64_t> first_offset;  // per partition, of the reservation
  std::vector<uint32_t> touched;       // partitions with a run, ascending
};

// Holds the data directory's LOCK file for the engine's lifetime: two daemons on one
// data dir would corrupt each other's state.
class DirLock {
 public:
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError("data_dir " + dir + ": " + ec.message());
    std::string path = dir + "/LOCK";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IoError("data_dir " + dir + ": cannot open LOCK");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("data_dir " + dir +
                                 " is locked by another eddy process (LOCK held)");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

// A hash of every setting that shapes aggregate state: a checkpoint taken under other
// settings is not loaded (the log is replayed with the new ones instead).
uint64_t ConfigFingerprint(const Options& o) {
  std::string s = "v1";
  const auto add = [&s](auto v) { s += "|" + std::to_string(v); };
  add(o.log.partitions);
  for (double w : o.weights) add(w);
  for (int64_t m : o.windows.minutes) add(m);
  add(o.ingest.dedup_horizon_ms);
  add(o.ingest.dedup_max_ids);
  add(o.recent.max_items);
  add(o.recent.max_users);
  add(o.affinity.half_life_minutes);
  add(o.affinity.max_categories);
  add(o.affinity.max_users);
  add(o.popularity.half_life_minutes);
  add(o.popularity.candidates);
  add(o.popularity.max_items);
  add(o.coview.recent_items);
  add(o.coview.window_minutes);
  add(o.coview.max_neighbours);
  add(o.coview.max_items);
  add(o.engagement.max_items);
  add(o.ranking.bought_items);
  return StableHash64(s);
}

// Wakes each of a batch's shards once (a futex syscall each): shards below 64 are collected
// in a bitmask and woken by Flush, the rest at once.
class ShardWaker {
 public:
  explicit ShardWaker(const std::vector<std::unique_ptr<Shard>>& shards) : shards_(shards) {}
  void Add(size_t s) {
    if (s < 64) mask_ |= uint64_t{1} << s; else shards_[s]->Wake();
  }
  void Flush() {
    for (size_t s = 0; s < std::min<size_t>(64, shards_.size()); ++s) {
      if (mask_ & (uint64_t{1} << s)) shards_[s]->Wake();
    }
    mask_ = 0;
  }

 private:
  const std::vector<std::unique_ptr<Shard>>& shards_;
  uint64_t mask_ = 0;
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(const Options& options, Clock* clock) : options_(options), clock_(clock) {}

  ~EngineImpl() override { Stop(); }

  eddy::Status Init() {
    const std::string& dir = options_.durability.data_dir;
    if (dir.empty() && options_.durability.ack != AckLevel::kMemory) {
      return Status::InvalidArgument(
          "durability.ack wal/fsync needs durability.data_dir (the event store lives there)");
    }
    if (!dir.empty()) {
      if (eddy::Status st = lock_.Acquire(dir); !st.ok()) return st;
      Result<std::unique_ptr<LogStore>> store = LogStore::Open(dir + "/log", options_.log.partitions);
      if (!store.ok()) return store.status();
      store_ = std::move(store).value();
    }
    gated_ = store_ != nullptr && options_.durability.ack != AckLevel::kMemory;
    sync_ = options_.durability.ack == AckLevel::kFsync;
    const uint32_t partitions = options_.log.partitions;
    int shards = options_.runtime.shards;
    if (shards <= 0) shards = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    shards = std::min<int>(shards, static_cast<int>(partitions));
    // Consumer 0: the shards; consumer 1: the store thread.
    log_ = std::make_unique<PartitionedLog>(partitions, options_.log.capacity_per_partition,
                                            store_ ? 2 : 1);
    durable_.reset(new std::atomic<uint64_t>[partitions]);
    store_end_.assign(partitions, 0);
    retained_from_.assign(partitions, 0);
    for (uint32_t p = 0; p < partitions; ++p) durable_[p].store(0, std::memory_order_relaxed);
    set_.states = NewStates(shards);
    if (store_) {
      if (eddy::Status st = Recover(); !st.ok()) return st;
    }
    for (auto& state : set_.states) {
      ShardState* st = state.get();
      if (gated_) st->SetDurableGate(durable_.get());
      set_.shards.push_back(std::make_unique<Shard>(static_cast<int>(set_.shards.size()),
                                                [st] { return st->Poll(); }));
    }
    for (auto& s : set_.shards) s->Start();
    if (store_) {
      store_thread_ = std::make_unique<Shard>(0, [this] { return StoreRound(); }, "eddy-store");
      store_thread_->Start();
      checkpointer_ = std::thread([this] { CheckpointLoop(); });
    }
    recommender_ = std::make_unique<Recommender>(
        options_, set_, *interners_, *this, [this] { return NowMs(); },
        [this](std::string_view user) { return PartitionOfUser(user); });
    ready_.store(true, std::memory_order_release);
    spdlog::info("engine: {} partitions x {} events, {} shards, ack={}, store={}", partitions,
                 log_->partition(PartitionId(0)).capacity(), shards,
                 AckLevelName(options_.durability.ack),
                 store_ ? dir + "/log" : std::string("none"));
    return Status::Ok();
  }

  std::vector<std::unique_ptr<ShardState>> NewStates(int shards) {
    std::vector<std::unique_ptr<ShardState>> states;
    const uint32_t partitions = options_.log.partitions;
    for (int s = 0; s < shards; ++s) {
      std::vector<PartitionId> owned;
      for (uint32_t p = s; p < partitions; p += shards) owned.push_back(PartitionId(p));
      states.push_back(std::make_unique<ShardState>(s, options_, log_.get(), std::move(owned),
                                                    clock_, &duplicates_total_));
    }
    return states;
  }

  std::string CheckpointDir() const { return options_.durability.data_dir + "/checkpoints"; }

  // Loads the newest usable of `files` (newest first) into fresh interners and shard
  // states; returns
  // the offsets it covers (empty when none could be used: replay everything).
  std::vector<uint64_t> LoadCheckpoint(const std::vector<std::string>& files) {
    for (const std::string& path : files) {
      Result<Checkpoint> cp = ReadCheckpoint(path);
      if (!cp.ok()) {
        spdlog::warn("recovery: skipping checkpoint: {}", cp.status().message());
        continue;
      }
      if (cp->offsets.size() != log_->partitions() || cp->shards.size() != set_.states.size()) {
        spdlog::warn("recovery: checkpoint {} was taken with {} partitions and {} shards, this "
                     "run has {} and {}: replaying the whole event store instead",
                     path, cp->offsets.size(), cp->shards.size(), log_->partitions(),
                     set_.states.size());
        return {};
      }
      if (cp->config_fingerprint != ConfigFingerprint(options_)) {
        spdlog::warn("recovery: settings that shape the aggregates (weights, windows, "
                     "half-lives, caps, co-view, dedup) changed since checkpoint {}: "
                     "replaying the whole event store with the new settings", path);
        return {};
      }
      auto interners = std::make_unique<Interners>();
      SerialReader ir(cp->interners);
      bool ok = interners->Load(ir) && ir.done();
      std::vector<std::unique_ptr<ShardState>> states = NewStates(static_cast<int>(set_.states.size()));
      for (size_t s = 0; ok && s < states.size(); ++s) {
        SerialReader r(cp->shards[s]);
        ok = states[s]->Load(r);
      }
      if (!ok) {
        spdlog::warn("recovery: checkpoint {} passed its checksum but does not load (written "
                     "by an incompatible eddy?): trying an older one", path);
        continue;
      }
      interners_ = std::move(interners);
      set_.states = std::move(states);
      newest_event_ms_.store(cp->newest_event_ms, std::memory_order_relaxed);
      recovered_checkpoint_ = cp->sequence;
      spdlog::info("recovery: loaded checkpoint {} (taken {})", path,
                   FormatIso8601(EventTime(cp->created_ms)));
      return std::move(cp->offsets);
    }
    return {};
  }

  // Start-up: the newest usable checkpoint, then every partition continues the stored
  // log's numbering, and each shard replays its partitions' stored events after the
  // checkpoint (in offset order, so each user's events in acceptance order), shards in
  // parallel.
  eddy::Status Recover() {
    const auto t0 = std::chrono::steady_clock::now();
    {
      Result<std::vector<LogStore::Mark>> marks = store_->Marks();
      if (!marks.ok()) return marks.status();
      MutexLock lock(&marks_mu_);
      for (LogStore::Mark& m : *marks) {
        if (m.next_offsets.size() == log_->partitions()) marks_.push_back(std::move(m));
      }
      if (!marks_.empty()) last_mark_ms_ = marks_.back().ms;
    }
    // New checkpoints sort after every file present, readable or not.
    const std::vector<std::string> files = ListCheckpoints(CheckpointDir());
    if (!files.empty()) checkpoint_seq_ = CheckpointSequenceOf(files.front());
    std::vector<uint64_t> from;
    if (!options_.recovery.ignore_checkpoints) from = LoadCheckpoint(files);
    if (from.empty()) from.assign(log_->partitions(), 0);
    uint64_t total_offsets = 0;
    uint64_t missing_offsets = 0;  // deleted by retention but not covered by the state
    for (uint32_t p = 0; p < log_->partitions(); ++p) {
      Result<uint64_t> next = store_->NextOffset(PartitionId(p));
      if (!next.ok()) return next.status();
      Result<uint64_t> first = store_->FirstOffset(PartitionId(p));
      if (!first.ok()) return first.status();
      retained_from_[p] = *first;
      if (*first > from[p]) missing_offsets += *first - from[p];
      // A checkpoint may cover offsets the store lost (ack=memory and a crash): new
      // events continue after both.
      const uint64_t start = std::max(*next, from[p]);
      log_->partition(PartitionId(p)).StartAt(start);
      durable_[p].store(start, std::memory_order_relaxed);
      total_offsets += *next > from[p] ? *next - from[p] : 0;
    }
    if (missing_offsets > 0) {
      spdlog::warn("recovery: {} log offsets older than the retention were deleted from the "
                   "event store and are not covered by the state loaded; the rebuilt state "
                   "holds the retained events only", missing_offsets);
    }
    // Progress for `eddy replay`: a monitor thread reports the shards' running count.
    std::atomic<bool> replay_done{false};
    std::thread monitor;
    if (options_.recovery.progress) {
      monitor = std::thread([&] {
        while (!replay_done.load(std::memory_order_acquire)) {
          options_.recovery.progress(replay_progress_.load(std::memory_order_relaxed),
                                     total_offsets);
          for (int i = 0; i < 20 && !replay_done.load(std::memory_order_acquire); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }
      });
    }
    std::vector<eddy::Status> results(set_.states.size());
    std::vector<uint64_t> counts(set_.states.size(), 0);
    std::vector<int64_t> newest(set_.states.size(), INT64_MIN);
    std::vector<std::thread> threads;
    for (size_t s = 0; s < set_.states.size(); ++s) {
      threads.emplace_back(
          [&, s] { results[s] = ReplayShard(s, from, &counts[s], &newest[s]); });
    }
    for (std::thread& t : threads) t.join();
    replay_done.store(true, std::memory_order_release);
    if (monitor.joinable()) monitor.join();
    uint64_t total = 0;
    for (size_t s = 0; s < set_.states.size(); ++s) {
      if (!results[s].ok()) {
        return Status::Corruption("recovery failed: " + std::string(results[s].message()));
      }
      total += counts[s];
      int64_t seen = newest_event_ms_.load(std::memory_order_relaxed);
      if (newest[s] > seen) newest_event_ms_.store(newest[s], std::memory_order_relaxed);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    recovered_events_ = total;
    recovery_seconds_ = secs;
    if (options_.recovery.progress) options_.recovery.progress(total, total);
    spdlog::info("recovery: {}; replayed {} events from the event store in {:.2f} s "
                 "({:.0f} events/s)",
                 recovered_checkpoint_ ? "from checkpoint " + std::to_string(recovered_checkpoint_)
                                       : std::string("no checkpoint used"),
                 total, secs, secs > 0 ? static_cast<double>(total) / secs : 0.0);
    return Status::Ok();
  }

  eddy::Status ReplayShard(size_t s, const std::vector<uint64_t>& from, uint64_t* count,
                           int64_t* newest) {
    ShardState& state = *set_.states[s];
    LogEntry entry;
    entry.kind = LogEntry::kEvent;
    for (PartitionId p : state.partitions()) {
      eddy::Status st = store_->Scan(p, from[p.value()], [&](uint64_t offset, std::string_view value) {
        if (eddy::Status d = DecodeStoredEvent(value, *interners_, &entry.event); !d.ok()) {
          return Status::Corruption("partition " + std::to_string(p.value()) + " offset " +
                                    std::to_string(offset) + ": " + std::string(d.message()));
        }
        state.Apply(entry);
        if ((++*count & 4095) == 0) replay_progress_.fetch_add(4096, std::memory_order_relaxed);
        *newest = std::max(*newest, entry.event.time.millis());
        return Status::Ok();
      });
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // The store thread's round: every partition's newly published entries (up to
  // kStoreRoundMax each) go into one WriteBatch, written once (synced in fsync mode); then
  // the durable offsets advance and, when reads are gated, the shards are woken. A round
  // takes whatever accumulated while the previous write ran, so batches grow with load.
  size_t StoreRound() {
    static constexpr uint64_t kStoreRoundMax = 16384;
    size_t n = 0;
    for (uint32_t p = 0; p < log_->partitions(); ++p) {
      PartitionLog& pl = log_->partition(PartitionId(p));
      const uint64_t first = pl.cursor(1);
      uint64_t end = first;
      const uint64_t stop = first + kStoreRoundMax;
      chunk_.Begin();
      while (end < stop) {
        const LogEntry* e = pl.Peek(end);
        if (e == nullptr) break;
        if (e->kind == LogEntry::kEvent) {
          encode_buf_.clear();
          EncodeEvent(e->event, *interners_, &encode_buf_);
          chunk_.Add(encode_buf_);
          if ((e->flags & LogEntry::kStoreReplies) && (e->flags & LogEntry::kLastOfRun)) {
            durable_replies_.push_back(e->ticket);
          }
        } else {
          chunk_.AddSkip();
        }
        ++end;
      }
      if (end != first) store_->Put(PartitionId(p), first, chunk_.Finish(), chunk_.count());
      n += end - first;
      store_end_[p] = end;
    }
    if (n == 0) return 0;
    // Once a minute a retention mark (where every partition's log ends now) goes into the
    // same batch as the data it describes.
    LogStore::Mark mark;
    const int64_t now_ms = clock_->Now().millis();
    if (now_ms - last_mark_ms_ >= kMarkIntervalMs) {
      mark.ms = now_ms;
      mark.next_offsets = store_end_;
      store_->PutMark(mark);
    }
    if (eddy::Status st = store_->Commit(sync_); !st.ok()) {
      store_->Discard();
      durable_replies_.clear();  // the round is retried from the same offsets (cursor 1)
      OnStoreError(st);
      return 0;  // the runner idles ~1 ms, then the round is retried
    }
    if (mark.ms != 0) {
      last_mark_ms_ = mark.ms;
      MutexLock lock(&marks_mu_);
      marks_.push_back(std::move(mark));
    }
    if (store_failing_.load(std::memory_order_relaxed)) {
      spdlog::warn("store: writes succeed again; accepting events");
      store_failing_.store(false, std::memory_order_release);
    }
    ShardWaker waker(set_.shards);
    for (uint32_t p = 0; p < log_->partitions(); ++p) {
      PartitionLog& pl = log_->partition(PartitionId(p));
      if (store_end_[p] == pl.cursor(1)) continue;
      durable_[p].store(store_end_[p], std::memory_order_release);
      pl.Advance(1, store_end_[p]);
      if (gated_) waker.Add(set_.ShardOf(PartitionId(p)));
    }
    waker.Flush();
    // After the durable offsets moved: a read sent after one of these replies catches up
    // to them.
    for (IngestTicket* t : durable_replies_) t->RunDone(&duplicates_total_);
    durable_replies_.clear();
    return n;
  }

  // The checkpoint thread: one checkpoint every interval (none when it is 0), and one for
  // each batch of requests. Requests still queued at Stop are answered Unavailable (the
  // shutdown checkpoint follows).
  void CheckpointLoop() {
    const int64_t minutes = options_.durability.checkpoint_interval_minutes;
    const auto interval = std::chrono::minutes(minutes > 0 ? minutes : 60 * 24 * 365);
    auto next = std::chrono::steady_clock::now() + interval;
    std::unique_lock lock(checkpoint_wait_mu_);
    for (;;) {
      checkpoint_cv_.wait_until(lock, next, [this] {
        return checkpoint_stop_ || !checkpoint_requests_.empty();
      });
      if (checkpoint_stop_) break;
      std::vector<std::function<void(eddy::Status, uint64_t)>> requests;
      requests.swap(checkpoint_requests_);
      if (requests.empty() && std::chrono::steady_clock::now() < next) continue;
      lock.unlock();
      eddy::Status st = TakeCheckpoint();
      const uint64_t seq = last_checkpoint_seq_.load(std::memory_order_relaxed);
      for (auto& done : requests) done(st, st.ok() ? seq : 0);
      next = std::chrono::steady_clock::now() + interval;
      lock.lock();
    }
    for (auto& done : checkpoint_requests_) {
      done(Status::Unavailable("eddy is shutting down (a checkpoint is taken at shutdown)"), 0);
    }
    checkpoint_requests_.clear();
  }

  void FailStoreWritesForTest(bool fail) override {
    if (store_) store_->FailWritesForTest(fail);
  }

  void RequestCheckpoint(std::function<void(eddy::Status, uint64_t)> done) override {
    if (!store_) return done(Status::Unavailable("no data_dir: nothing to checkpoint into"), 0);
    {
      std::lock_guard lock(checkpoint_wait_mu_);
      if (!checkpoint_stop_) {
        checkpoint_requests_.push_back(std::move(done));
        done = nullptr;
      }
    }
    if (done) return done(Status::Unavailable("eddy is shutting down"), 0);
    checkpoint_cv_.notify_all();
  }

  // Each shard serialises its state on its own thread (ingest pauses on that shard only
  // for that long), with the offsets it covers; then the interners (a superset of every
  // id the states hold); then the file is written and older ones pruned.
  eddy::Status TakeCheckpoint() override {
    if (!store_) return Status::Unavailable("no data_dir: nothing to checkpoint into");
    MutexLock lock(&checkpoint_mu_);
    const auto t0 = std::chrono::steady_clock::now();
    Checkpoint cp;
    cp.sequence = ++checkpoint_seq_;
    cp.created_ms = Clock::System()->Now().millis();
    cp.config_fingerprint = ConfigFingerprint(options_);
    cp.offsets.assign(log_->partitions(), 0);
    cp.shards.resize(set_.states.size());
    std::vector<double> pause_ms(set_.states.size(), 0);
    std::vector<std::promise<void>> done(set_.states.size());
    for (size_t s = 0; s < set_.states.size(); ++s) {
      set_.shards[s]->Submit([&, s] {
        const auto p0 = std::chrono::steady_clock::now();
        for (PartitionId p : set_.states[s]->partitions()) {
          cp.offsets[p.value()] = log_->partition(p).cursor(0);
        }
        SerialWriter w(&cp.shards[s]);
        set_.states[s]->Save(w);
        pause_ms[s] = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - p0).count();
        done[s].set_value();
      });
    }
    for (auto& d : done) d.get_future().wait();
    // Read after the shards' snapshots: it covers every event in them (it may be newer,
    // by events accepted meanwhile; replay after recovery only ever raises it).
    cp.newest_event_ms = newest_event_ms_.load(std::memory_order_relaxed);
    SerialWriter iw(&cp.interners);
    interners_->Save(iw);
    uint64_t bytes = 0;
    eddy::Status st = WriteCheckpoint(CheckpointDir(), cp, &bytes);
    const double total_ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - t0).count();
    const double pause = *std::max_element(pause_ms.begin(), pause_ms.end());
    if (!st.ok()) {
      checkpoint_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("checkpoint {} failed: {}", cp.sequence, st.message());
      return st;
    }
    PruneCheckpoints(CheckpointDir(), options_.durability.checkpoints_kept);
    kept_offsets_.push_back(cp.offsets);
    while (kept_offsets_.size() > options_.durability.checkpoints_kept) kept_offsets_.pop_front();
    if (kept_offsets_.size() == options_.durability.checkpoints_kept) {
      ApplyRetention(kept_offsets_.front());
    }
    uint64_t covered = 0;
    for (uint64_t o : cp.offsets) covered += o;
    checkpoints_taken_.fetch_add(1, std::memory_order_relaxed);
    last_checkpoint_seq_.store(cp.sequence, std::memory_order_relaxed);
    last_checkpoint_bytes_.store(bytes, std::memory_order_relaxed);
    last_checkpoint_ms_.store(total_ms, std::memory_order_relaxed);
    last_checkpoint_pause_ms_.store(pause, std::memory_order_relaxed);
    spdlog::info("checkpoint {}: covers {} log offsets, {:.1f} MiB, written in {:.0f} ms "
                 "(longest shard pause {:.1f} ms)",
                 cp.sequence, covered, static_cast<double>(bytes) / (1 << 20), total_ms, pause);
    return Status::Ok();
  }

  // Deletes stored events written more than `retention` ago, per partition only below
  // the oldest kept checkpoint's offset (so every kept checkpoint can still be replayed
  // from) and only at a retention mark (a chunk boundary). Runs after each checkpoint,
  // on the checkpoint path (checkpoint_mu_ held).
  void ApplyRetention(const std::vector<uint64_t>& covered) {
    const int64_t minutes = options_.durability.retention_minutes;
    if (minutes <= 0) return;
    const int64_t cutoff = clock_->Now().millis() - minutes * 60'000;
    std::vector<uint64_t> upto(log_->partitions(), 0);
    int64_t oldest_needed = INT64_MAX;  // marks before every chosen one can go
    {
      MutexLock lock(&marks_mu_);
      for (uint32_t p = 0; p < log_->partitions(); ++p) {
        const LogStore::Mark* chosen = nullptr;
        for (const LogStore::Mark& m : marks_) {
          if (m.ms > cutoff) break;
          if (m.next_offsets[p] <= covered[p]) chosen = &m;
        }
        if (chosen != nullptr) upto[p] = chosen->next_offsets[p];
        oldest_needed = std::min(oldest_needed, chosen ? chosen->ms : INT64_MIN);
      }
    }
    uint64_t deleted = 0;
    for (uint32_t p = 0; p < log_->partitions(); ++p) {
      if (upto[p] <= retained_from_[p]) continue;
      if (eddy::Status st = store_->DeleteBelow(PartitionId(p), upto[p]); !st.ok()) {
        spdlog::error("retention: {}", st.message());
        return;
      }
      deleted += upto[p] - retained_from_[p];
      retained_from_[p] = upto[p];
    }
    if (oldest_needed != INT64_MIN && oldest_needed != INT64_MAX) {
      (void)store_->DeleteMarksBefore(oldest_needed);
      MutexLock lock(&marks_mu_);
      while (!marks_.empty() && marks_.front().ms < oldest_needed) marks_.pop_front();
    }
    if (deleted > 0) {
      retention_deleted_.fetch_add(deleted, std::memory_order_relaxed);
      spdlog::info("retention: deleted {} log offsets written before {}", deleted,
                   FormatIso8601(EventTime(cutoff)));
    }
  }

  void OnStoreError(const eddy::Status& st) {
    {
      MutexLock lock(&store_error_mu_);
      store_error_ = std::string(st.message());
    }
    const auto now = std::chrono::steady_clock::now();
    if (!store_failing_.exchange(true, std::memory_order_acq_rel) ||
        now - last_store_error_log_ > std::chrono::seconds(5)) {
      spdlog::error("store: group commit failed, retrying; ingest answers 503 meanwhile: {}",
                    st.message());
      last_store_error_log_ = now;
    }
  }

  std::unique_ptr<IngestContext> NewIngestContext() override {
    return std::make_unique<IngestContextImpl>(*interners_, options_, clock_);
  }

  void Ingest(IngestContext& base, std::string& body, BodyFormat format,
              DefaultType default_type, IngestCallback done) override {
    // Counted before the stopping check, so Stop() can wait for every ingest that got in.
    inflight_.fetch_add(1, std::memory_order_seq_cst);
    if (stopping_.load(std::memory_order_seq_cst)) {
      inflight_.fetch_sub(1, std::memory_order_release);
      IngestReply r;
      r.status = eddy::Status::Unavailable("eddy is shutting down");
      done(std::move(r));
      return;
    }
    if (store_failing_.load(std::memory_order_acquire)) {
      inflight_.fetch_sub(1, std::memory_order_release);
      IngestReply r;
      MutexLock lock(&store_error_mu_);
      r.status = eddy::Status::Unavailable("the event store cannot write (" + store_error_ +
                                           "); no events accepted until it can");
      done(std::move(r));
      return;
    }
    auto& ctx = static_cast<IngestContextImpl&>(base);
    body.reserve(body.size() + Decoder::kPadding);
    IngestReply reply;
    DecodeResult dr = ctx.decoder.Decode(body, body.capacity(), format, default_type,
                                         &ctx.events, &ctx.rejected);
    reply.rejected = std::move(ctx.rejected);
    ctx.rejected = {};
    if (!dr.status.ok()) {
      reply.status = dr.status;
      reply.error_offset = dr.error_offset;
    } else if (!ctx.events.empty()) {
      reply.status = Append(ctx, &reply, &done);
    }
    inflight_.fetch_sub(1, std::memory_order_release);
    if (done) done(std::move(reply));  // else a ticket owns it and replies from a shard
  }

  void RecentItems(std::string_view user, uint32_t k,
                   std::function<void(std::vector<RecentItem>)> done) override {
    uint32_t uid = interners_->users.Find(user);
    if (uid == 0) {  // never seen (every acknowledged event's user is interned)
      done({});
      return;
    }
    const PartitionId p = PartitionOfUser(user);
    set_.OnShard(set_.ShardOf(p), [this, p, uid, k, done = std::move(done)](ShardState& st) {
      st.CatchUp(p);
      std::vector<eddy::RecentItems::Entry> entries;
      st.recent().Get(UserId(uid), k, &entries);
      std::vector<RecentItem> out;
      out.reserve(entries.size());
      for (const auto& e : entries) {
        out.push_back({std::string(interners_->items.Lookup(e.item.value())), e.time});
      }
      done(std::move(out));
    });
  }

  // The engine clock for a read (SPEC §3): newest event time accepted, and in live mode at
  // least the wall clock. INT64_MIN when there is no time yet (event clock, no events).
  int64_t NowMs() const {
    int64_t now = newest_event_ms_.load(std::memory_order_relaxed);
    if (options_.clock == ClockMode::kLive) now = std::max(now, clock_->Now().millis());
    return now;
  }
  // The time an answer reports: the clock, or 0 when there is none yet.
  static EventTime AnswerTime(int64_t now_ms) {
    return EventTime(now_ms == INT64_MIN ? 0 : now_ms);
  }
  // The partition holding a user's events (and so their per-user aggregates).
  PartitionId PartitionOfUser(std::string_view user) const {
    return log_->PartitionOf(static_cast<uint32_t>(StableHash64(user)));
  }

  void TrendingCategories(size_t window, uint32_t k,
                          std::function<void(TrendingAnswer)> done) override {
    TrendingAnswer empty;
    empty.window_minutes = window < options_.windows.minutes.size() ? options_.windows.minutes[window] : 0;
    const int64_t now_ms = NowMs();
    if (window >= options_.windows.minutes.size() || now_ms == INT64_MIN) {
      empty.now = AnswerTime(now_ms);
      return done(std::move(empty));
    }
    const int64_t g = MinuteOf(now_ms);
    struct Partial {
      CategoryWindows::Sums window;
      CategoryWindows::Sums this_minute, previous_minute;
    };
    set_.ScatterGather<Partial>(
        [window, g](ShardState& st) {
          Partial p;
          st.trending().AddWindow(window, g, &p.window);
          st.trending().AddBucket(g, &p.this_minute);
          st.trending().AddBucket(g - 1, &p.previous_minute);
          return p;
        },
        [this, k, now_ms, empty = std::move(empty),
         done = std::move(done)](std::vector<Partial>& parts) mutable {
          CategoryWindows::Sums sum, cur, prev;
          for (Partial& p : parts) {
            for (const auto& [c, cell] : p.window) {
              auto& x = sum[c];
              x.weight += cell.weight;
              x.count += cell.count;
            }
            for (const auto& [c, cell] : p.this_minute) cur[c].count += cell.count;
            for (const auto& [c, cell] : p.previous_minute) prev[c].count += cell.count;
          }
          std::vector<TrendingCategory> all;
          all.reserve(sum.size());
          for (const auto& [c, cell] : sum) {
            if (cell.count <= 0) continue;
            TrendingCategory t;
            t.category = std::string(interners_->categories.Lookup(c.value()));
            t.score = static_cast<double>(cell.weight) / 1e6;
            t.events = cell.count;
            auto a = cur.find(c);
            t.this_minute = a == cur.end() ? 0 : a->second.count;
            auto b = prev.find(c);
            t.previous_minute = b == prev.end() ? 0 : b->second.count;
            all.push_back(std::move(t));
          }
          const size_t top = std::min<size_t>(k, all.size());
          std::partial_sort(all.begin(), all.begin() + top, all.end(),
                            [](const TrendingCategory& a, const TrendingCategory& b) {
                              return a.score != b.score ? a.score > b.score
                                                        : a.category < b.category;
                            });
          all.resize(top);
          empty.now = EventTime(now_ms);
          empty.top = std::move(all);
          done(std::move(empty));
        });
  }

  void CategoryVelocity(std::string_view category, uint32_t minutes,
                        std::function<void(VelocityAnswer)> done) override {
    VelocityAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    answer.per_minute.assign(minutes, 0);
    const uint32_t cat = interners_->categories.Find(category);
    if (cat == 0 || now_ms == INT64_MIN || minutes == 0) return done(std::move(answer));
    const int64_t g = MinuteOf(now_ms);
    set_.ScatterGather<std::vector<int64_t>>(
        [g, minutes, cat](ShardState& st) {
          std::vector<int64_t> counts(minutes, 0);
          st.trending().AddMinutes(CategoryId(cat), g, minutes, &counts);
          return counts;
        },
        [answer = std::move(answer),
         done = std::move(done)](std::vector<std::vector<int64_t>>& parts) mutable {
          for (const auto& p : parts) {
            for (size_t i = 0; i < p.size(); ++i) answer.per_minute[i] += p[i];
          }
          done(std::move(answer));
        });
  }

  void ItemEngagement(std::string_view item,
                      std::function<void(EngagementAnswer)> done) override {
    EngagementAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    answer.per_window.resize(options_.windows.minutes.size());
    const uint32_t id = interners_->items.Find(item);
    if (id == 0 || now_ms == INT64_MIN) return done(std::move(answer));
    const int64_t g = MinuteOf(now_ms);
    const size_t windows = options_.windows.minutes.size();
    // An item's events come from many users, so from every shard.
    struct Part {
      EngagementAnswer counts;
      Engagement::Facts facts;
    };
    set_.ScatterGather<Part>(
        [g, id, windows](ShardState& st) {
          Part p;
          p.counts.per_window.resize(windows);
          st.engagement().Add(ItemId(id), g, &p.counts.all_time, &p.counts.per_window);
          if (const Engagement::Facts* f = st.engagement().FactsOf(ItemId(id))) p.facts = *f;
          return p;
        },
        [this, answer = std::move(answer),
         done = std::move(done)](std::vector<Part>& parts) mutable {
          MergedFacts facts;
          for (const Part& part : parts) {
            const EngagementAnswer& p = part.counts;
            for (int t = 0; t < kEventTypeCount; ++t) {
              answer.all_time[t] += p.all_time[t];
              for (size_t w = 0; w < answer.per_window.size(); ++w) {
                answer.per_window[w][t] += p.per_window[w][t];
              }
            }
            facts.Add(part.facts, interners_->categories);
          }
          answer.category = std::string(facts.category_name);
          answer.price_micros = facts.price_micros;
          done(std::move(answer));
        });
  }

  void PopularItems(std::string_view category, uint32_t k,
                    std::function<void(PopularAnswer)> done) override {
    PopularAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    CategoryId cat;
    if (!category.empty()) {
      cat = CategoryId(interners_->categories.Find(category));
      if (!cat.valid()) return done(std::move(answer));
    }
    if (now_ms == INT64_MIN || k == 0) return done(std::move(answer));
    PopularRound(cat, k, now_ms, /*exhaustive=*/false, std::move(answer), std::move(done));
  }

  // Exact top-k of a sum over shards (a threshold test, as in TPUT): round one takes each
  // shard's best k and the bound on the rest; round two sums every shard's score of the
  // candidates. If the k-th exact total beats the sum of the bounds, nothing unseen can
  // enter the top; otherwise it is redone with every item of every shard as a candidate.
  void PopularRound(CategoryId cat, uint32_t k, int64_t now_ms, bool exhaustive,
                    PopularAnswer answer, std::function<void(PopularAnswer)> done) {
    struct Part {
      std::vector<Popularity::Scored> top;
      double bound = 0;
    };
    set_.ScatterGather<Part>(
        [cat, k, now_ms, exhaustive](ShardState& st) {
          Part p;
          // Exhaustive: every item of every shard is a candidate.
          // Otherwise a few times k from each, so the bounds fall well below the k-th total.
          const uint32_t fetch = exhaustive ? UINT32_MAX : static_cast<uint32_t>(
                                                     std::clamp<uint64_t>(4ull * k, 64, UINT32_MAX));
          p.bound = st.popularity().Top(cat, fetch, now_ms, exhaustive, &p.top);
          return p;
        },
        [this, cat, k, now_ms, exhaustive, answer = std::move(answer),
         done = std::move(done)](std::vector<Part>& parts) mutable {
          auto cands = std::make_shared<std::vector<ItemId>>();
          absl::flat_hash_set<ItemId> seen;
          double bound = 0;
          for (const Part& p : parts) {
            bound += p.bound;
            for (const auto& [item, score] : p.top) {
              if (seen.insert(item).second) cands->push_back(item);
            }
          }
          set_.ScatterGather<std::vector<double>>(
              [cands, cat, now_ms](ShardState& st) {
                std::vector<double> scores;
                st.popularity().ScoresOf(cat, *cands, now_ms, &scores);
                return scores;
              },
              [this, cands, cat, k, now_ms, exhaustive, bound, answer = std::move(answer),
               done = std::move(done)](std::vector<std::vector<double>>& parts) mutable {
                std::vector<ScoredName> all(cands->size());
                for (size_t i = 0; i < cands->size(); ++i) {
                  all[i].name = std::string(interners_->items.Lookup((*cands)[i].value()));
                  for (const auto& p : parts) all[i].score += p[i];
                }
                std::sort(all.begin(), all.end(), [](const ScoredName& a, const ScoredName& b) {
                  return a.score != b.score ? a.score > b.score : a.name < b.name;
                });
                // Strictly greater: an unseen item tying the k-th could precede it by name.
                const bool exact = exhaustive || bound == 0 ||
                                   (all.size() >= k && all[k - 1].score > bound);
                if (!exact) {
                  popular_fallbacks_.fetch_add(1, std::memory_order_relaxed);
                  return PopularRound(cat, k, now_ms, true, std::move(answer), std::move(done));
                }
                if (all.size() > k) all.resize(k);
                answer.top = std::move(all);
                done(std::move(answer));
              });
        });
  }

  void UserAffinity(std::string_view user, uint32_t k,
                    std::function<void(AffinityAnswer)> done) override {
    AffinityAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    const uint32_t uid = interners_->users.Find(user);
    if (uid == 0 || now_ms == INT64_MIN) return done(std::move(answer));
    const PartitionId p = PartitionOfUser(user);
    set_.OnShard(set_.ShardOf(p), [this, p, uid, k, now_ms, answer = std::move(answer),
                                   done = std::move(done)](ShardState& st) mutable {
      st.CatchUp(p);
      std::vector<std::pair<CategoryId, double>> scores;
      st.affinity().Scores(UserId(uid), EventTime(now_ms), &scores);
      answer.top.reserve(scores.size());
      for (const auto& [c, score] : scores) {
        answer.top.push_back({std::string(interners_->categories.Lookup(c.value())), score});
      }
      std::sort(answer.top.begin(), answer.top.end(), [](const ScoredName& a, const ScoredName& b) {
        return a.score != b.score ? a.score > b.score : a.name < b.name;
      });
      if (answer.top.size() > k) answer.top.resize(k);
      done(std::move(answer));
    });
  }

  void SimilarItems(std::string_view item, uint32_t k,
                    std::function<void(SimilarAnswer)> done) override {
    const uint32_t id = interners_->items.Find(item);
    if (id == 0 || k == 0) return done({});
    // Pairs are counted on the shard of the user who made them: sum every shard's sketch.
    set_.ScatterGather<std::vector<CoView::Neighbour>>(
        [id](ShardState& st) {
          std::vector<CoView::Neighbour> n;
          st.coview().Flush();
          st.coview().Neighbours(ItemId(id), &n);
          return n;
        },
        [this, k, done = std::move(done)](std::vector<std::vector<CoView::Neighbour>>& parts) {
          CoView::NeighbourSums sum;
          for (const auto& p : parts) {
            for (const CoView::Neighbour& n : p) CoView::AddTo(sum, n);
          }
          SimilarAnswer answer;
          answer.top.reserve(sum.size());
          for (const auto& [i, n] : sum) {
            answer.top.push_back({std::string(interners_->items.Lookup(i.value())), n.count, n.error});
          }
          const size_t top = std::min<size_t>(k, answer.top.size());
          std::partial_sort(answer.top.begin(), answer.top.begin() + top, answer.top.end(),
                            [](const SimilarItem& a, const SimilarItem& b) {
                              return a.count != b.count ? a.count > b.count : a.item < b.item;
                            });
          answer.top.resize(top);
          done(std::move(answer));
        });
  }

  void Recommend(const RecommendRequest& request,
                 std::function<void(RecommendAnswer)> done) override {
    recommender_->Recommend(request, std::move(done));
  }
  void SimilarItemsRanked(std::string_view item, uint32_t k,
                          std::function<void(RankedSimilarAnswer)> done) override {
    recommender_->SimilarItemsRanked(item, k, std::move(done));
  }
  void RankOffers(std::string_view user, std::vector<Offer> offers, uint32_t k,
                  std::function<void(OffersAnswer)> done) override {
    recommender_->RankOffers(user, std::move(offers), k, std::move(done));
  }

  StreamStatus Status() const override {
    StreamStatus s;
    s.partitions = log_->partitions();
    s.shards = static_cast<int>(set_.shards.size());
    s.capacity_per_partition = log_->partition(PartitionId(0)).capacity();
    s.accepted_total = accepted_total_.load(std::memory_order_relaxed);
    s.duplicates_total = duplicates_total_.load(std::memory_order_relaxed);
    s.popular_full_scans = popular_fallbacks_.load(std::memory_order_relaxed);
    const int64_t now_sec = clock_->Now().millis() / 1000;
    uint64_t last10 = 0;
    s.shard.resize(set_.shards.size());
    for (size_t i = 0; i < set_.shards.size(); ++i) {
      s.shard[i].shard = static_cast<int>(i);
      s.shard[i].applied_events = set_.states[i]->applied_events();
      last10 += set_.states[i]->rate().SumBefore(now_sec, 10);
    }
    s.events_per_second_10s = static_cast<double>(last10) / 10.0;
    s.memory.resize(kAggregateCount);
    for (size_t a = 0; a < kAggregateCount; ++a) {
      s.memory[a].aggregate = kAggregateNames[a];
      for (const auto& st : set_.states) {
        const ShardState::MemoryFigures f = st->memory(a);
        s.memory[a].keys += f.keys;
        s.memory[a].bytes += f.bytes;
        s.memory[a].evicted += f.evicted;
      }
    }
    for (uint32_t p = 0; p < s.partitions; ++p) {
      const PartitionLog& pl = log_->partition(PartitionId(p));
      PartitionStatus ps;
      ps.partition = p;
      ps.shard = static_cast<int>(set_.ShardOf(PartitionId(p)));
      ps.applied = pl.cursor(0);
      ps.head = std::max(ps.applied, pl.head());
      ps.durable = store_ ? durable_[p].load(std::memory_order_relaxed) : 0;
      s.shard[ps.shard].lag_events += ps.head - ps.applied;
      s.partition.push_back(ps);
    }
    if (store_) {
      const StoreStats st = store_->Stats();
      StoreStatus& o = s.store;
      o.enabled = true;
      o.failing = store_failing_.load(std::memory_order_relaxed);
      {
        MutexLock lock(&store_error_mu_);
        o.last_error = store_error_;
      }
      o.persisted_events = st.records;
      o.batches = st.batches;
      o.syncs = st.syncs;
      o.bytes = st.bytes;
      o.wal_bytes = st.wal_bytes;
      o.wal_syncs = st.wal_syncs;
      o.live_sst_bytes = st.live_sst_bytes;
      o.memtable_bytes = st.memtable_bytes;
      o.estimated_keys = st.estimated_keys;
      o.pending_compaction_bytes = st.pending_compaction_bytes;
      o.stall_micros = st.stall_micros;
      o.recovered_events = recovered_events_;
      o.recovery_seconds = recovery_seconds_;
      o.recovered_from_checkpoint = recovered_checkpoint_;
      o.checkpoints_taken = checkpoints_taken_.load(std::memory_order_relaxed);
      o.checkpoint_failures = checkpoint_failures_.load(std::memory_order_relaxed);
      o.last_checkpoint = last_checkpoint_seq_.load(std::memory_order_relaxed);
      o.last_checkpoint_bytes = last_checkpoint_bytes_.load(std::memory_order_relaxed);
      o.last_checkpoint_ms = last_checkpoint_ms_.load(std::memory_order_relaxed);
      o.last_checkpoint_pause_ms = last_checkpoint_pause_ms_.load(std::memory_order_relaxed);
      o.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
    }
    return s;
  }

  bool Ready() const override {
    return ready_.load(std::memory_order_acquire) && !stopping_.load(std::memory_order_acquire) &&
           !store_failing_.load(std::memory_order_acquire);
  }

  void Stop() override {
    if (stopping_.exchange(true, std::memory_order_seq_cst)) {
      stopped_.wait(false);
      return;
    }
    // Ingests that passed the stopping check finish appending first; none can start now.
    // seq_cst, pairing with Ingest's increment-then-check: with a weaker load, both sides
    // could miss each other (a store-load reordering).
    while (inflight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    if (checkpointer_.joinable()) {
      {
        std::lock_guard lock(checkpoint_wait_mu_);
        checkpoint_stop_ = true;
      }
      checkpoint_cv_.notify_all();
      checkpointer_.join();
    }
    // The store first: it persists everything published (the shards, when gated, can
    // only apply what it made durable); then the shards apply the rest.
    if (store_thread_) {
      store_thread_->Stop();
      if (store_failing_.load(std::memory_order_acquire)) {
        MutexLock lock(&store_error_mu_);
        spdlog::error("engine: stopping while the event store cannot write ({}); events not "
                      "yet persisted are lost and their requests get no reply",
                      store_error_);
      }
    }
    for (auto& s : set_.shards) s->Stop();
    // A clean shutdown leaves a checkpoint of everything applied: the next start replays
    // nothing. (Tasks run inline once the shard threads are gone.)
    if (store_ && ready_.load(std::memory_order_acquire) &&
        !store_failing_.load(std::memory_order_acquire)) {
      (void)TakeCheckpoint();
    }
    spdlog::info("engine: stopped; {} events accepted, {} duplicates",
                 accepted_total_.load(), duplicates_total_.load());
    stopped_.store(true);
    stopped_.notify_all();
  }

  const Options& options() const override { return options_; }

 private:
  // Appends ctx.events to the log, all or nothing. On success fills reply->accepted and,
  // when the events carry eventIds, moves `*done` into a ticket that replies later.
  eddy::Status Append(IngestContextImpl& ctx, IngestReply* reply, IngestCallback* done) {
    const uint32_t n = static_cast<uint32_t>(ctx.events.size());
    std::fill(ctx.run_length.begin(), ctx.run_length.end(), 0);
    ctx.partition_of.resize(n);
    ctx.touched.clear();
    bool has_ids = false;
    int64_t newest = INT64_MIN;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t p = log_->PartitionOf(ctx.events[i].user_hash).value();
      ctx.partition_of[i] = p;
      if (ctx.run_length[p]++ == 0) ctx.touched.push_back(p);
      has_ids |= ctx.events[i].event_id.present();
      newest = std::max(newest, ctx.events[i].time.millis());
    }
    std::sort(ctx.touched.begin(), ctx.touched.end());
    uint32_t start = 0;
    for (uint32_t p : ctx.touched) {
      if (ctx.run_length[p] > log_->partition(PartitionId(p)).capacity()) {
        return Status::TooLarge("request holds " + std::to_string(ctx.run_length[p]) +
                                " events for one partition; log.capacity_per_partition is " +
                                std::to_string(log_->partition(PartitionId(p)).capacity()));
      }
      ctx.run_start[p] = start;
      start += ctx.run_length[p];
    }
    ctx.order.resize(n);
    ctx.run_cursor = ctx.run_start;  // same size: no allocation once warm
    for (uint32_t i = 0; i < n; ++i) ctx.order[ctx.run_cursor[ctx.partition_of[i]]++] = i;
    // Allocate before reserving: once offsets are reserved nothing may fail before they
    // are published, or the partition would stall at the gap.
    std::unique_ptr<IngestTicket> ticket;
    // Gated (ack wal/fsync): the reply waits for the apply, which waits for the store.
    const bool wait = has_ids || gated_;
    if (wait) {
      ticket = std::make_unique<IngestTicket>(static_cast<uint32_t>(ctx.touched.size()),
                                              IngestReply{}, IngestCallback{});
    }
    // Reserve every partition first (ascending), so a full one aborts the whole request.
    for (size_t t = 0; t < ctx.touched.size(); ++t) {
      uint32_t p = ctx.touched[t];
      std::optional<uint64_t> first = log_->partition(PartitionId(p)).TryReserve(ctx.run_length[p]);
      if (!first) {
        for (size_t u = 0; u < t; ++u) PublishSkips(ctx.touched[u], ctx);
        return Status::ResourceExhausted("event log partition " + std::to_string(p) +
                                         " is full; retry later");
      }
      ctx.first_offset[p] = *first;
    }
    reply->accepted = n;
    IngestTicket* const owned_by_log = ticket.release();  // deleted by its last RunDone
    // Gated without eventIds the reply needs durability only: the store thread sends it
    // right after its write (reads catch up to the durable offset, so they see it).
    const uint8_t store_replies = gated_ && !has_ids ? LogEntry::kStoreReplies : 0;
    if (owned_by_log != nullptr) {
      owned_by_log->Arm(std::move(*reply), std::move(*done));
      *done = nullptr;
    }
    accepted_total_.fetch_add(n, std::memory_order_relaxed);
    // Before publishing (and so before the reply): a read's clock covers every
    // acknowledged event.
    int64_t seen = newest_event_ms_.load(std::memory_order_relaxed);
    while (newest > seen &&
           !newest_event_ms_.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
    }
    ShardWaker waker(set_.shards);
    bool wake_store = false;
    for (uint32_t p : ctx.touched) {
      PartitionLog& pl = log_->partition(PartitionId(p));
      const uint64_t first = ctx.first_offset[p];
      const uint32_t len = ctx.run_length[p];
      for (uint32_t j = 0; j < len; ++j) {
        LogEntry& e = pl.At(first + j);
        e.event = ctx.events[ctx.order[ctx.run_start[p] + j]];
        e.kind = LogEntry::kEvent;
        e.ticket = owned_by_log;
        e.flags = static_cast<uint8_t>((j + 1 == len ? LogEntry::kLastOfRun : 0) | store_replies);
      }
      // After this loop's last Publish the ticket may already be gone: do not touch it.
      for (uint32_t j = 0; j < len; ++j) pl.Publish(first + j);
      // A sleeping shard polls every Shard::kIdlePollUs anyway, and reads catch up before
      // they answer; so wake it (a syscall) only when someone waits for the apply or the
      // partition is filling up. Gated, the store thread wakes the shards after its write.
      if (!gated_ && (has_ids || first + len - pl.cursor(0) > pl.capacity() / 4)) {
        waker.Add(set_.ShardOf(PartitionId(p)));
      }
      if (store_ && (gated_ || first + len - pl.cursor(1) > pl.capacity() / 4)) wake_store = true;
    }
    waker.Flush();
    if (wake_store) store_thread_->Wake();
    return Status::Ok();
  }

  void PublishSkips(uint32_t p, IngestContextImpl& ctx) {
    PartitionLog& pl = log_->partition(PartitionId(p));
    for (uint32_t j = 0; j < ctx.run_length[p]; ++j) {
      LogEntry& e = pl.At(ctx.first_offset[p] + j);
      e.kind = LogEntry::kSkip;
      e.ticket = nullptr;
      e.flags = 0;
      pl.Publish(ctx.first_offset[p] + j);
    }
  }

  const Options options_;
  Clock* const clock_;
  DirLock lock_;
  std::unique_ptr<Interners> interners_ = std::make_unique<Interners>();  // replaced only by recovery
  std::unique_ptr<PartitionedLog> log_;
  ShardSet set_;  // the shards and their states
  std::unique_ptr<Recommender> recommender_;  // set once Init has recovered
  std::atomic<uint64_t> accepted_total_{0};
  std::atomic<int64_t> newest_event_ms_{INT64_MIN};  // newest event time accepted
  std::atomic<uint64_t> duplicates_total_{0};
  std::atomic<uint64_t> popular_fallbacks_{0};  // popular reads that needed a full scan
  std::atomic<int> inflight_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};
  // The event store (null without a data_dir) and its thread.
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<Shard> store_thread_;
  bool gated_ = false;  // ack wal/fsync: shards apply only durable offsets
  bool sync_ = false;   // ack fsync: every group commit is synced
  std::unique_ptr<std::atomic<uint64_t>[]> durable_;  // per partition, by the store thread
  std::vector<uint64_t> store_end_;  // store thread only: this round's end per partition
  std::string encode_buf_;                            // store thread only
  ChunkBuilder chunk_;                                // store thread only
  std::vector<IngestTicket*> durable_replies_;        // store thread only: this round's
  std::atomic<bool> store_failing_{false};
  mutable Mutex store_error_mu_;
  std::string store_error_ ABSL_GUARDED_BY(store_error_mu_);
  std::chrono::steady_clock::time_point last_store_error_log_;  // store thread only
  uint64_t recovered_events_ = 0;  // set in Init
  double recovery_seconds_ = 0;
  uint64_t recovered_checkpoint_ = 0;  // sequence loaded at start-up, 0 = none
  std::atomic<uint64_t> replay_progress_{0};  // events replayed so far (in steps of 4096)
  // Checkpoints: one at a time (checkpoint_mu_); the periodic thread sleeps on the cv.
  Mutex checkpoint_mu_;
  uint64_t checkpoint_seq_ = 0;  // the highest sequence seen or written
  std::thread checkpointer_;
  std::mutex checkpoint_wait_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_stop_ = false;  // guarded by checkpoint_wait_mu_
  std::vector<std::function<void(eddy::Status, uint64_t)>> checkpoint_requests_;  // same
  std::atomic<uint64_t> checkpoints_taken_{0}, checkpoint_failures_{0}, last_checkpoint_seq_{0};
  std::atomic<uint64_t> last_checkpoint_bytes_{0};
  // Retention: marks written by the store thread about once a minute, read and pruned on
  // the checkpoint path; offsets of the kept checkpoints written by this process.
  static constexpr int64_t kMarkIntervalMs = 60'000;
  Mutex marks_mu_;
  std::deque<LogStore::Mark> marks_ ABSL_GUARDED_BY(marks_mu_);
  int64_t last_mark_ms_ = 0;  // store thread (and Init)
  std::deque<std::vector<uint64_t>> kept_offsets_;  // checkpoint_mu_
  std::vector<uint64_t> retained_from_;             // checkpoint_mu_: deleted below this
  std::atomic<uint64_t> retention_deleted_{0};
  std::atomic<double> last_checkpoint_ms_{0}, last_checkpoint_pause_ms_{0};
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const Options& options, Clock* clock) {
  auto engine = std::make_unique<EngineImpl>(options, clock ? clock : Clock::System());
  if (eddy::Status st = engine->Init(); !st.ok()) return st;
  return std::unique_ptr<Engine>(std::move(engine));
}

namespace {
// Runs an asynchronous read and waits for its answer (tests, benches, tools).
template <typename T, typename Start>
T Await(Start start) {
  std::promise<T> promise;
  std::future<T> future = promise.get_future();
  start([&promise](T v) { promise.set_value(std::move(v)); });
  return future.get();
}
}  // namespace

IngestReply Engine::IngestSync(IngestContext& ctx, std::string body, BodyFormat format,
                               DefaultType default_type) {
  return Await<IngestReply>(
      [&](auto cb) { Ingest(ctx, body, format, default_type, std::move(cb)); });
}

TrendingAnswer Engine::TrendingCategoriesSync(size_t window, uint32_t k) {
  return Await<TrendingAnswer>([&](auto cb) { TrendingCategories(window, k, std::move(cb)); });
}

VelocityAnswer Engine::CategoryVelocitySync(std::string_view category, uint32_t minutes) {
  return Await<VelocityAnswer>(
      [&](auto cb) { CategoryVelocity(category, minutes, std::move(cb)); });
}

EngagementAnswer Engine::ItemEngagementSync(std::string_view item) {
  return Await<EngagementAnswer>([&](auto cb) { ItemEngagement(item, std::move(cb)); });
}

std::vector<RecentItem> Engine::RecentItemsSync(std::string_view user, uint32_t k) {
  return Await<std::vector<RecentItem>>([&](auto cb) { RecentItems(user, k, std::move(cb)); });
}

PopularAnswer Engine::PopularItemsSync(std::string_view category, uint32_t k) {
  return Await<PopularAnswer>([&](auto cb) { PopularItems(category, k, std::move(cb)); });
}

AffinityAnswer Engine::UserAffinitySync(std::string_view user, uint32_t k) {
  return Await<AffinityAnswer>([&](auto cb) { UserAffinity(user, k, std::move(cb)); });
}

SimilarAnswer Engine::SimilarItemsSync(std::string_view item, uint32_t k) {
  return Await<SimilarAnswer>([&](auto cb) { SimilarItems(item, k, std::move(cb)); });
}

RecommendAnswer Engine::RecommendSync(const RecommendRequest& request) {
  return Await<RecommendAnswer>([&](auto cb) { Recommend(request, std::move(cb)); });
}

RankedSimilarAnswer Engine::SimilarItemsRankedSync(std::string_view item, uint32_t k) {
  return Await<RankedSimilarAnswer>([&](auto cb) { SimilarItemsRanked(item, k, std::move(cb)); });
}

OffersAnswer Engine::RankOffersSync(std::string_view user, std::vector<Offer> offers, uint32_t k) {
  return Await<OffersAnswer>(
      [&](auto cb) { RankOffers(user, std::move(offers), k, std::move(cb)); });
}

}  // namespace eddy
