#pragma once
// CheckpointManager: checkpoints of the shards' state, recovery at start-up, and the
// retention of the event store (SPEC §4).
//
// - Take: each shard serialises its states on its own thread (ingest pauses on that shard
//   only for that long) with the offsets they cover; then the interners (a superset of
//   every id the states hold); then the file is written, older ones pruned, and stored
//   events below the oldest kept checkpoint and older than the retention deleted.
// - Recover: the newest usable checkpoint (same layout, same settings fingerprint, every
//   state loads), then each shard replays its partitions' stored events after it, shards
//   in parallel.
// - A periodic thread takes one every durability.checkpoint_interval_minutes and serves
//   Request()s in batches.
//
// Thread-safety: Recover before any shard or store thread runs. Take, Request and
// FillStatus from any thread (one checkpoint at a time, checkpoint_mu_); AddMark from the
// store thread; Start/Stop from the engine's owner thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eddy/clock.h"
#include "eddy/engine.h"
#include "eddy/options.h"
#include "engine/engine_clock.h"
#include "engine/shard_set.h"
#include "fraud/ip_orders.h"
#include "log/partitioned_log.h"
#include "store/log_store.h"
#include "util/interners.h"
#include "util/mutex.h"

namespace eddy {

// A hash of every setting that shapes the shards' state: the partition count, the event
// weights, and each registered state's name and settings (State::DescribeSettings).
uint64_t SettingsFingerprint(const Options& options, const ShardState& shard);

class CheckpointManager {
 public:
  // Fresh shard states over these interners (a state may intern: experiments).
  using NewStatesFn = std::function<std::vector<std::unique_ptr<ShardState>>(Interners*)>;

  // `ip_orders` (null without fraud scoring) is saved in each checkpoint, loaded with it
  // and fed the purchases replayed after it.
  CheckpointManager(const Options& options, LogStore& store, PartitionedLog& log,
                    EngineClock& clock, IpOrderWindow* ip_orders);
  ~CheckpointManager();

  // Start-up: loads the newest usable checkpoint into fresh interners and states
  // (replacing *interners and set->states), replays the stored events after it into the
  // states, and sets (*start)[p] to where partition p's log continues.
  Status Recover(std::unique_ptr<Interners>* interners, ShardSet* set,
                 const NewStatesFn& new_states, std::vector<uint64_t>* start);
  // Where the newest retention mark found at recovery was taken (0: none).
  int64_t last_mark_ms() const { return last_mark_ms_; }
  // A retention mark the store made durable.
  void AddMark(LogStore::Mark mark);

  // Starts the periodic thread over the running shards (after Recover).
  void Start(const ShardSet* set, const Interners* interners);
  // Joins the periodic thread; requests still queued are answered Unavailable.
  void StopPeriodic();

  Status Take();
  // Take on the periodic thread; `done` gets the outcome and the checkpoint's sequence.
  void Request(std::function<void(Status, uint64_t)> done);

  void FillStatus(StoreStatus* out) const;

 private:
  std::string Dir() const { return options_.durability.data_dir + "/checkpoints"; }
  std::vector<uint64_t> Load(const std::vector<std::string>& files,
                             std::unique_ptr<Interners>* interners, ShardSet* set,
                             const NewStatesFn& new_states);
  Status ReplayShard(ShardState& state, Interners& interners,
                     const std::vector<uint64_t>& from, uint64_t* count, int64_t* newest);
  Status ReplayAll(const ShardSet& set, Interners& interners,
                   const std::vector<uint64_t>& from, uint64_t total_offsets);
  void Loop();
  void ApplyRetention(const std::vector<uint64_t>& covered);

  const Options& options_;
  LogStore& store_;
  PartitionedLog& log_;
  EngineClock& clock_;
  IpOrderWindow* const ip_orders_;
  const ShardSet* set_ = nullptr;          // from Start
  const Interners* interners_ = nullptr;   // from Start
  // Recovery figures (set by Recover).
  uint64_t recovered_events_ = 0;
  double recovery_seconds_ = 0;
  uint64_t recovered_checkpoint_ = 0;  // sequence loaded at start-up, 0 = none
  std::atomic<uint64_t> replay_progress_{0};  // events replayed so far (steps of 4096)
  // One checkpoint at a time.
  Mutex checkpoint_mu_;
  uint64_t checkpoint_seq_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;  // highest seen or written
  std::deque<std::vector<uint64_t>> kept_offsets_ ABSL_GUARDED_BY(checkpoint_mu_);
  std::vector<uint64_t> retained_from_ ABSL_GUARDED_BY(checkpoint_mu_);  // deleted below
  // The periodic thread.
  std::thread thread_;
  std::mutex wait_mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by wait_mu_
  std::vector<std::function<void(Status, uint64_t)>> requests_;  // guarded by wait_mu_
  // Retention marks: written by the store thread about once a minute, read and pruned on
  // the checkpoint path.
  Mutex marks_mu_;
  std::deque<LogStore::Mark> marks_ ABSL_GUARDED_BY(marks_mu_);
  int64_t last_mark_ms_ = 0;  // set by Recover
  // Figures for status.
  std::atomic<uint64_t> taken_{0}, failures_{0}, last_seq_{0}, last_bytes_{0};
  std::atomic<uint64_t> retention_deleted_{0};
  std::atomic<double> last_ms_{0}, last_pause_ms_{0};
};

}  // namespace eddy
