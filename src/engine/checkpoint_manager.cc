#include "engine/checkpoint_manager.h"

#include <algorithm>
#include <chrono>
#include <future>

#include <spdlog/spdlog.h>

#include "store/checkpoint.h"
#include "store/event_codec.h"
#include "util/hash.h"
#include "util/time.h"

namespace eddy {

uint64_t SettingsFingerprint(const Options& o, const ShardState& shard) {
  std::string s = "v2|partitions=" + std::to_string(o.log.partitions);
  for (double w : o.weights) s += "|weight=" + std::to_string(w);
  for (const auto& st : shard.states()) {
    s += "|";
    s += st->Name();
    st->DescribeSettings(&s);
  }
  return StableHash64(s);
}

CheckpointManager::CheckpointManager(const Options& options, LogStore& store,
                                     PartitionedLog& log, EngineClock& clock,
                                     IpOrderWindow* ip_orders)
    : options_(options), store_(store), log_(log), clock_(clock), ip_orders_(ip_orders) {
  MutexLock lock(&checkpoint_mu_);
  retained_from_.assign(log.partitions(), 0);
}

CheckpointManager::~CheckpointManager() { StopPeriodic(); }

// Loads the newest usable of `files` (newest first) into fresh interners and shard states;
// returns the offsets it covers (empty when none could be used: replay everything).
std::vector<uint64_t> CheckpointManager::Load(const std::vector<std::string>& files,
                                              std::unique_ptr<Interners>* interners,
                                              ShardSet* set, const NewStatesFn& new_states) {
  for (const std::string& path : files) {
    Result<Checkpoint> cp = ReadCheckpoint(path);
    if (!cp.ok()) {
      spdlog::warn("recovery: skipping checkpoint: {}", cp.status().message());
      continue;
    }
    if (cp->offsets.size() != log_.partitions() || cp->shards.size() != set->states.size()) {
      spdlog::warn("recovery: checkpoint {} was taken with {} partitions and {} shards, this "
                   "run has {} and {}: replaying the whole event store instead",
                   path, cp->offsets.size(), cp->shards.size(), log_.partitions(),
                   set->states.size());
      return {};
    }
    if (cp->config_fingerprint != SettingsFingerprint(options_, *set->states[0])) {
      spdlog::warn("recovery: settings that shape the state (weights, windows, half-lives, "
                   "caps, co-view, dedup) changed since checkpoint {}: replaying the whole "
                   "event store with the new settings", path);
      return {};
    }
    auto fresh = std::make_unique<Interners>();
    SerialReader ir(cp->interners);
    bool ok = fresh->Load(ir) && ir.done();
    std::vector<std::unique_ptr<ShardState>> states = new_states(fresh.get());
    for (size_t s = 0; ok && s < states.size(); ++s) {
      SerialReader r(cp->shards[s]);
      ok = states[s]->Load(r);
    }
    if (ok && ip_orders_ != nullptr && !cp->ingest.empty()) {
      SerialReader r(cp->ingest);
      ok = ip_orders_->Load(r) && r.done();
    }
    if (!ok) {
      spdlog::warn("recovery: checkpoint {} passed its checksum but does not load (written "
                   "by an incompatible eddy?): trying an older one", path);
      continue;
    }
    *interners = std::move(fresh);
    set->states = std::move(states);
    clock_.Observe(cp->newest_event_ms);
    recovered_checkpoint_ = cp->sequence;
    spdlog::info("recovery: loaded checkpoint {} (taken {})", path,
                 FormatIso8601(EventTime(cp->created_ms)));
    return std::move(cp->offsets);
  }
  return {};
}

Status CheckpointManager::Recover(std::unique_ptr<Interners>* interners, ShardSet* set,
                                  const NewStatesFn& new_states, std::vector<uint64_t>* start) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    Result<std::vector<LogStore::Mark>> marks = store_.Marks();
    if (!marks.ok()) return marks.status();
    MutexLock lock(&marks_mu_);
    for (LogStore::Mark& m : *marks) {
      if (m.next_offsets.size() == log_.partitions()) marks_.push_back(std::move(m));
    }
    if (!marks_.empty()) last_mark_ms_ = marks_.back().ms;
  }
  MutexLock lock(&checkpoint_mu_);
  // New checkpoints sort after every file present, readable or not.
  const std::vector<std::string> files = ListCheckpoints(Dir());
  if (!files.empty()) checkpoint_seq_ = CheckpointSequenceOf(files.front());
  std::vector<uint64_t> from;
  if (!options_.recovery.ignore_checkpoints) from = Load(files, interners, set, new_states);
  if (from.empty()) from.assign(log_.partitions(), 0);
  start->assign(log_.partitions(), 0);
  uint64_t total_offsets = 0;
  uint64_t missing_offsets = 0;  // deleted by retention but not covered by the state
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    Result<uint64_t> next = store_.NextOffset(PartitionId(p));
    if (!next.ok()) return next.status();
    Result<uint64_t> first = store_.FirstOffset(PartitionId(p));
    if (!first.ok()) return first.status();
    retained_from_[p] = *first;
    if (*first > from[p]) missing_offsets += *first - from[p];
    // A checkpoint may cover offsets the store lost (ack=memory and a crash): new events
    // continue after both.
    (*start)[p] = std::max(*next, from[p]);
    log_.partition(PartitionId(p)).StartAt((*start)[p]);
    total_offsets += *next > from[p] ? *next - from[p] : 0;
  }
  if (missing_offsets > 0) {
    spdlog::warn("recovery: {} log offsets older than the retention were deleted from the "
                 "event store and are not covered by the state loaded; the rebuilt state "
                 "holds the retained events only", missing_offsets);
  }
  if (Status st = ReplayAll(*set, **interners, from, total_offsets); !st.ok()) return st;
  recovery_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("recovery: {}; replayed {} events from the event store in {:.2f} s "
               "({:.0f} events/s)",
               recovered_checkpoint_ ? "from checkpoint " + std::to_string(recovered_checkpoint_)
                                     : std::string("no checkpoint used"),
               recovered_events_, recovery_seconds_,
               recovery_seconds_ > 0 ? static_cast<double>(recovered_events_) / recovery_seconds_
                                     : 0.0);
  return Status::Ok();
}

// Each shard replays its partitions' stored events after `from`, in offset order (so
// each user's events in acceptance order), shards in parallel; a monitor thread reports
// progress for `eddy replay`.
Status CheckpointManager::ReplayAll(const ShardSet& set, Interners& interners,
                                    const std::vector<uint64_t>& from, uint64_t total_offsets) {
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
  const size_t n = set.states.size();
  std::vector<Status> results(n);
  std::vector<uint64_t> counts(n, 0);
  std::vector<int64_t> newest(n, INT64_MIN);
  std::vector<std::thread> threads;
  for (size_t s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      results[s] = ReplayShard(*set.states[s], interners, from, &counts[s], &newest[s]);
    });
  }
  for (std::thread& t : threads) t.join();
  replay_done.store(true, std::memory_order_release);
  if (monitor.joinable()) monitor.join();
  for (size_t s = 0; s < n; ++s) {
    if (!results[s].ok()) {
      return Status::Corruption("recovery failed: " + std::string(results[s].message()));
    }
    recovered_events_ += counts[s];
    clock_.Observe(newest[s]);
  }
  if (options_.recovery.progress) options_.recovery.progress(recovered_events_, recovered_events_);
  return Status::Ok();
}

Status CheckpointManager::ReplayShard(ShardState& state, Interners& interners,
                                      const std::vector<uint64_t>& from, uint64_t* count,
                                      int64_t* newest) {
  LogEntry entry;
  entry.kind = LogEntry::kEvent;
  uint64_t entries = 0;
  for (PartitionId p : state.partitions()) {
    Status st = store_.Scan(p, from[p.value()], [&](uint64_t offset, std::string_view value) {
      if (Status d = DecodeStoredEvent(value, interners, &entry.event); !d.ok()) {
        return Status::Corruption("partition " + std::to_string(p.value()) + " offset " +
                                  std::to_string(offset) + ": " + std::string(d.message()));
      }
      state.Apply(entry, p);
      if (ip_orders_ != nullptr && (entry.event.flags & Event::kHasIpOrders)) {
        const auto [ip, order] = IpOrderKeys(entry.event, interners);
        bool added = false;
        ip_orders_->Add(ip, order, entry.event.time.millis(), &added);
      }
      // Progress is in log entries (what the store holds); the count in events (stock
      // moves are not).
      if ((++entries & 4095) == 0) replay_progress_.fetch_add(4096, std::memory_order_relaxed);
      if (!entry.event.derived()) ++*count;
      *newest = std::max(*newest, entry.event.time.millis());
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

void CheckpointManager::AddMark(LogStore::Mark mark) {
  MutexLock lock(&marks_mu_);
  marks_.push_back(std::move(mark));
}

void CheckpointManager::Start(const ShardSet* set, const Interners* interners) {
  set_ = set;
  interners_ = interners;
  thread_ = std::thread([this] { Loop(); });
}

void CheckpointManager::StopPeriodic() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(wait_mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

// One checkpoint every interval (none when it is 0), and one for each batch of requests.
// Requests still queued at Stop are answered Unavailable (the shutdown checkpoint follows).
void CheckpointManager::Loop() {
  const int64_t minutes = options_.durability.checkpoint_interval_minutes;
  const auto interval = std::chrono::minutes(minutes > 0 ? minutes : 60 * 24 * 365);
  auto next = std::chrono::steady_clock::now() + interval;
  std::unique_lock lock(wait_mu_);
  for (;;) {
    cv_.wait_until(lock, next, [this] { return stop_ || !requests_.empty(); });
    if (stop_) break;
    std::vector<std::function<void(Status, uint64_t)>> requests;
    requests.swap(requests_);
    if (requests.empty() && std::chrono::steady_clock::now() < next) continue;
    lock.unlock();
    Status st = Take();
    const uint64_t seq = last_seq_.load(std::memory_order_relaxed);
    for (auto& done : requests) done(st, st.ok() ? seq : 0);
    next = std::chrono::steady_clock::now() + interval;
    lock.lock();
  }
  std::vector<std::function<void(Status, uint64_t)>> left;
  left.swap(requests_);
  lock.unlock();  // callbacks run outside locks
  for (auto& done : left) {
    done(Status::Unavailable("eddy is shutting down (a checkpoint is taken at shutdown)"), 0);
  }
}

void CheckpointManager::Request(std::function<void(Status, uint64_t)> done) {
  {
    std::lock_guard lock(wait_mu_);
    if (!stop_ && thread_.joinable()) {
      requests_.push_back(std::move(done));
      done = nullptr;
    }
  }
  if (done) return done(Status::Unavailable("eddy is shutting down"), 0);
  cv_.notify_all();
}

Status CheckpointManager::Take() {
  MutexLock lock(&checkpoint_mu_);
  // No id is recycled between the states' snapshots and the interners' (they must agree).
  MutexLock ids(&interners_->recycle_mu);
  const ShardSet& set = *set_;
  const auto t0 = std::chrono::steady_clock::now();
  Checkpoint cp;
  cp.sequence = ++checkpoint_seq_;
  cp.created_ms = Clock::System()->Now().millis();
  cp.offsets.assign(log_.partitions(), 0);
  cp.shards.resize(set.states.size());
  std::vector<double> pause_ms(set.states.size(), 0);
  std::vector<std::promise<void>> done(set.states.size());
  for (size_t s = 0; s < set.states.size(); ++s) {
    set.OnShard(s, [&, s](ShardState& st) {
      const auto p0 = std::chrono::steady_clock::now();
      for (PartitionId p : st.partitions()) cp.offsets[p.value()] = log_.partition(p).cursor(0);
      // On the shard's thread: a reload changes the states' live settings there.
      if (s == 0) cp.config_fingerprint = SettingsFingerprint(options_, st);
      SerialWriter w(&cp.shards[s]);
      st.Save(w);
      pause_ms[s] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p0).count();
      done[s].set_value();
    });
  }
  for (auto& d : done) d.get_future().wait();
  // Read after the shards' snapshots: it covers every event in them (it may be newer, by
  // events accepted meanwhile; replay after recovery only ever raises it).
  cp.newest_event_ms = clock_.newest_event_ms();
  SerialWriter iw(&cp.interners);
  interners_->Save(iw);
  if (ip_orders_ != nullptr) {
    SerialWriter w(&cp.ingest);
    ip_orders_->Save(w);
  }
  uint64_t bytes = 0;
  Status st = WriteCheckpoint(Dir(), cp, &bytes);
  const double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double pause = *std::max_element(pause_ms.begin(), pause_ms.end());
  if (!st.ok()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("checkpoint {} failed: {}", cp.sequence, st.message());
    return st;
  }
  PruneCheckpoints(Dir(), options_.durability.checkpoints_kept);
  kept_offsets_.push_back(cp.offsets);
  while (kept_offsets_.size() > options_.durability.checkpoints_kept) kept_offsets_.pop_front();
  if (kept_offsets_.size() == options_.durability.checkpoints_kept) {
    ApplyRetention(kept_offsets_.front());
  }
  uint64_t covered = 0;
  for (uint64_t o : cp.offsets) covered += o;
  taken_.fetch_add(1, std::memory_order_relaxed);
  last_seq_.store(cp.sequence, std::memory_order_relaxed);
  last_bytes_.store(bytes, std::memory_order_relaxed);
  last_ms_.store(total_ms, std::memory_order_relaxed);
  last_pause_ms_.store(pause, std::memory_order_relaxed);
  spdlog::info("checkpoint {}: covers {} log offsets, {:.1f} MiB, written in {:.0f} ms "
               "(longest shard pause {:.1f} ms)",
               cp.sequence, covered, static_cast<double>(bytes) / (1 << 20), total_ms, pause);
  return Status::Ok();
}

// Deletes stored events written more than `retention` ago, per partition only below the
// oldest kept checkpoint's offset (so every kept checkpoint can still be replayed from)
// and only at a retention mark (a chunk boundary).
void CheckpointManager::ApplyRetention(const std::vector<uint64_t>& covered) {
  const int64_t minutes = options_.durability.retention_minutes;
  if (minutes <= 0) return;
  const int64_t cutoff = clock_.wall()->Now().millis() - minutes * 60'000;
  std::vector<uint64_t> upto(log_.partitions(), 0);
  int64_t oldest_needed = INT64_MAX;  // marks before every chosen one can go
  {
    MutexLock lock(&marks_mu_);
    for (uint32_t p = 0; p < log_.partitions(); ++p) {
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
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    if (upto[p] <= retained_from_[p]) continue;
    if (Status st = store_.DeleteBelow(PartitionId(p), upto[p]); !st.ok()) {
      spdlog::error("retention: {}", st.message());
      return;
    }
    deleted += upto[p] - retained_from_[p];
    retained_from_[p] = upto[p];
  }
  if (oldest_needed != INT64_MIN && oldest_needed != INT64_MAX) {
    (void)store_.DeleteMarksBefore(oldest_needed);
    MutexLock lock(&marks_mu_);
    while (!marks_.empty() && marks_.front().ms < oldest_needed) marks_.pop_front();
  }
  if (deleted > 0) {
    retention_deleted_.fetch_add(deleted, std::memory_order_relaxed);
    spdlog::info("retention: deleted {} log offsets written before {}", deleted,
                 FormatIso8601(EventTime(cutoff)));
  }
}

void CheckpointManager::FillStatus(StoreStatus* o) const {
  o->recovered_events = recovered_events_;
  o->recovery_seconds = recovery_seconds_;
  o->recovered_from_checkpoint = recovered_checkpoint_;
  o->checkpoints_taken = taken_.load(std::memory_order_relaxed);
  o->checkpoint_failures = failures_.load(std::memory_order_relaxed);
  o->last_checkpoint = last_seq_.load(std::memory_order_relaxed);
  o->last_checkpoint_bytes = last_bytes_.load(std::memory_order_relaxed);
  o->last_checkpoint_ms = last_ms_.load(std::memory_order_relaxed);
  o->last_checkpoint_pause_ms = last_pause_ms_.load(std::memory_order_relaxed);
  o->retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
}

}  // namespace eddy
