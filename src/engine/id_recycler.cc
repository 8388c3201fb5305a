#include "engine/id_recycler.h"

#include <future>
#include <vector>

#include "spdlog/spdlog.h"

namespace eddy {

IdRecycler::IdRecycler(Interners& interners, PartitionedLog& log, const ShardSet& set,
                       int log_consumers, const RuntimeOptions& options)
    : interners_(interners),
      log_(log),
      set_(set),
      log_consumers_(log_consumers),
      sweep_after_(std::max<uint64_t>(1, options.id_sweep_after)) {
  made_at_last_.store(Made(), std::memory_order_relaxed);
  live_at_last_.store(Live(), std::memory_order_relaxed);
}

IdRecycler::~IdRecycler() { Stop(); }

uint64_t IdRecycler::Made() const {
  uint64_t n = 0;
  for (const Interner* i : interners_.All()) n += i->made();
  return n;
}

uint64_t IdRecycler::Live() const {
  uint64_t n = 0;
  for (const Interner* i : interners_.All()) n += i->size();
  return n;
}

void IdRecycler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void IdRecycler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);  // so the loop cannot miss the notify
    stopping_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool IdRecycler::Due() const {
  const uint64_t since = Made() - made_at_last_.load(std::memory_order_relaxed);
  return since >= std::max(sweep_after_, live_at_last_.load(std::memory_order_relaxed));
}

void IdRecycler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto stopping = [this] { return stopping_.load(std::memory_order_relaxed); };
  while (!stopping()) {
    // A check is a few dozen relaxed loads; ten a second keeps a burst's overshoot small.
    cv_.wait_for(lock, std::chrono::milliseconds(100), stopping);
    if (stopping() || !Due()) continue;
    lock.unlock();
    Result<uint64_t> r = RunOnce();
    if (!r.ok() && !stopping()) {
      spdlog::warn("ids: sweep gave up (freed nothing): {}", r.status().message());
    }
    lock.lock();
  }
}

bool IdRecycler::WaitUntil(const std::function<bool()>& done) const {
  const auto limit = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (stopping_.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() > limit) {
      return false;
    }
    // A background thread waiting for others' progress (a grace period, a shard catching
    // up): nothing to be woken by, so it polls.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

bool IdRecycler::AdvanceAndDrain(uint32_t* now) {
  IdEpochs& epochs = interners_.epochs;
  // Guards of the epoch before the current one share the next epoch's parity: advancing
  // while one is left (an earlier sweep gave up waiting for it) would lose sight of it.
  if (!WaitUntil([&] { return epochs.Drained(epochs.current() - 1); })) return false;
  *now = epochs.Advance();
  return WaitUntil([&] { return epochs.Drained(*now - 1); });
}

Result<uint64_t> IdRecycler::RunOnce() {
  Result<uint64_t> r = Sweep();
  // After a give-up, the next try waits for as much new growth as a sweep would.
  if (!r.ok()) made_at_last_.store(Made(), std::memory_order_relaxed);
  return r;
}

Result<uint64_t> IdRecycler::Sweep() {
  const auto t0 = std::chrono::steady_clock::now();
  MutexLock run(&run_mu_);
  // 1. Every id handed out before e1 is in the log now, or dropped.
  uint32_t e1 = 0;
  if (!AdvanceAndDrain(&e1)) {
    return Status::Unavailable("an ingest or read held ids for longer than the wait limit");
  }
  // 2. ... and every log entry published so far is applied and encoded.
  std::vector<uint64_t> heads(log_.partitions());
  for (uint32_t p = 0; p < log_.partitions(); ++p) heads[p] = log_.partition(PartitionId(p)).head();
  const bool passed = WaitUntil([&] {
    for (uint32_t p = 0; p < log_.partitions(); ++p) {
      const PartitionLog& pl = log_.partition(PartitionId(p));
      for (int c = 0; c < log_consumers_; ++c) {
        if (pl.cursor(c) < heads[p]) return false;
      }
    }
    return true;
  });
  if (!passed) return Status::Unavailable("the log's consumers did not catch up in time");
  // 3. What the states reference, marked on each shard's thread. From here to the freeing,
  // no checkpoint: the states and interners it saves must agree.
  MutexLock lock(&interners_.recycle_mu);
  // A set of marks per shard thread (its states' tasks run one after another there), not
  // per state: cluster mode has a state per partition.
  const size_t threads = std::max<size_t>(1, set_.shards.size());
  std::vector<IdMarks> marks(threads, IdMarks(interners_));
  std::vector<std::promise<void>> marked(set_.size());
  for (size_t s = 0; s < set_.size(); ++s) {
    IdMarks* mine = &marks[set_.ThreadOf(s) % threads];
    set_.OnShard(s, [mine, &marked, s](ShardState& st) {
      for (const auto& state : st.states()) state->VisitIds(*mine);
      marked[s].set_value();
    });
  }
  for (auto& m : marked) m.get_future().wait();
  for (size_t s = 1; s < marks.size(); ++s) marks[0].Or(marks[s]);
  // 4. Reads that may have taken an id from a state before it was marked are done.
  uint32_t e2 = 0;
  if (!AdvanceAndDrain(&e2)) {
    return Status::Unavailable("a read held ids for longer than the wait limit");
  }
  // 5. Free.
  uint64_t freed = 0;
  for (size_t k = 0; k < Interners::kKinds; ++k) {
    freed += interners_.All()[k]->Sweep(marks[0].kinds[k], e1);
  }
  made_at_last_.store(Made(), std::memory_order_relaxed);
  live_at_last_.store(Live(), std::memory_order_relaxed);
  sweeps_.fetch_add(1, std::memory_order_relaxed);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  last_sweep_ms_.store(ms, std::memory_order_relaxed);
  spdlog::debug("ids: sweep freed {} ids in {:.1f} ms", freed, ms);
  return freed;
}

void IdRecycler::Fill(IdStatus* out) const {
  out->kinds.clear();
  for (size_t k = 0; k < Interners::kKinds; ++k) {
    const Interner& i = *interners_.All()[k];
    out->kinds.push_back({std::string(Interners::kNames[k]), i.size(), i.freed()});
  }
  out->sweeps = sweeps_.load(std::memory_order_relaxed);
  out->last_sweep_ms = last_sweep_ms_.load(std::memory_order_relaxed);
}

}  // namespace eddy
