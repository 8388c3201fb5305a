#pragma once
// IdRecycler: gives the interned ids that no state references any more back to their
// interners, so that a stream of ever-new users, items, sessions, orders and free text
// keeps the interned strings bounded (util/id_epochs.h describes who may hold an id).
//
// One sweep:
//   1. Advance the epoch (to e1) and wait until every guard entered before it has left:
//      every id handed out before e1 is now in a log entry or dropped.
//   2. Wait until the shards have applied, and the store writer has encoded, every log
//      entry published so far.
//   3. Mark, on each shard's thread, every id its states reference (State::VisitIds).
//   4. Advance again and wait for the guards of e1 to leave: a read that took an id from
//      a state before the marking (the state may have dropped it since) has finished.
//   5. Free every id that is unmarked and was last handed out before e1.
// Steps 3-5 hold Interners::recycle_mu, which a checkpoint also holds. A sweep gives up
// (frees nothing) when a wait lasts longer than kWaitLimit (the store cannot write, a read
// is stuck) and logs why; the next one starts after as much new growth as a sweep needs,
// and never advances the epoch while a guard of the epoch before the current one is left
// (it would share the new epoch's parity).
//
// Thread-safety: Start/Stop from the owning thread; RunOnce from any thread (sweeps are
// serialised by recycle_mu); Fill from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "eddy/engine.h"
#include "eddy/options.h"
#include "eddy/status.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "util/interners.h"
#include "util/mutex.h"

namespace eddy {

class IdRecycler {
 public:
  static constexpr std::chrono::seconds kWaitLimit{30};

  // `log_consumers`: the log's consumers whose cursors must pass an entry before its ids
  // may be freed (the shards, and the store writer when there is one).
  IdRecycler(Interners& interners, PartitionedLog& log, const ShardSet& set, int log_consumers,
             const RuntimeOptions& options);
  ~IdRecycler();
  IdRecycler(const IdRecycler&) = delete;
  IdRecycler& operator=(const IdRecycler&) = delete;

  // The background thread: a sweep whenever runtime.id_sweep_after ids (or as many as were
  // live after the last sweep) were made since the last one.
  void Start();
  void Stop();
  // One sweep now; the ids freed, or why it gave up.
  Result<uint64_t> RunOnce();
  void Fill(IdStatus* out) const;

 private:
  void Loop();
  bool Due() const;
  Result<uint64_t> Sweep();
  // Waits for the guards of the epoch before the current one, advances, and waits for the
  // guards of the epoch before the new one (*now); false when a wait ran out.
  bool AdvanceAndDrain(uint32_t* now);
  // Polls `done` until it is true; false past kWaitLimit or when stopping.
  bool WaitUntil(const std::function<bool()>& done) const;
  uint64_t Made() const;
  uint64_t Live() const;

  Interners& interners_;
  PartitionedLog& log_;
  const ShardSet& set_;
  const int log_consumers_;
  const uint64_t sweep_after_;
  std::atomic<uint64_t> made_at_last_{0}, live_at_last_{0};
  std::atomic<uint64_t> sweeps_{0};
  std::atomic<double> last_sweep_ms_{0};
  Mutex run_mu_;  // one sweep at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};  // set under mu_ (the loop waits on cv_ for it)
  std::thread thread_;
};

}  // namespace eddy
