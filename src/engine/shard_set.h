#pragma once
// ShardSet: the shard states and the threads that run them, as the read paths see them. A
// read is a message to the shards holding its data (STYLE §3): OnShard runs a task on one
// shard's thread; ScatterGather runs a part on every shard (after it caught up with every
// acknowledged event) and merges the partials on the shard that finished last.
//
// Standalone, each shard state has a thread of its own. In cluster mode a state holds one
// partition (so a partition's state can be dropped, and saved and loaded on its own) and
// `runtime.shards` threads run them: state s on thread s % threads.
//
// Thread-safety: the vectors are filled before the shards start and not changed until
// they stop; the member functions may be called from any thread.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/shard_state.h"
#include "runtime/shard.h"

namespace eddy {

// Wakes (Add) or nudges (Nudge: see Shard::Nudge) each of a batch's shards once: shards
// below 64 are collected in bitmasks and told by Flush (a wake wins over a nudge), the
// rest at once. One thread at a time.
class ShardWaker {
 public:
  explicit ShardWaker(const std::vector<std::unique_ptr<Shard>>& shards) : shards_(shards) {}
  void Add(size_t s) {
    if (s < 64) wake_ |= uint64_t{1} << s; else shards_[s]->Wake();
  }
  void Nudge(size_t s) {
    if (s < 64) nudge_ |= uint64_t{1} << s; else shards_[s]->Nudge();
  }
  void Flush() {
    for (size_t s = 0; s < std::min<size_t>(64, shards_.size()); ++s) {
      if (wake_ & (uint64_t{1} << s)) {
        shards_[s]->Wake();
      } else if (nudge_ & (uint64_t{1} << s)) {
        shards_[s]->Nudge();
      }
    }
    wake_ = nudge_ = 0;
  }

 private:
  const std::vector<std::unique_ptr<Shard>>& shards_;
  uint64_t wake_ = 0, nudge_ = 0;
};

struct ShardSet {
  std::vector<std::unique_ptr<ShardState>> states;
  std::vector<std::unique_ptr<Shard>> shards;  // the threads: state s runs on ThreadOf(s)
  // Per thread, tasks submitted and not yet started (relaxed: an admission figure; a read
  // admitted a moment too late only makes the bound approximate by the I/O threads' count).
  std::unique_ptr<std::atomic<int64_t>[]> queued;

  size_t size() const { return states.size(); }
  size_t ShardOf(PartitionId p) const { return p.value() % states.size(); }
  // (Before Start, while there are no threads: the state's index, which wakes nobody.)
  size_t ThreadOf(size_t state) const { return shards.empty() ? state : state % shards.size(); }
  size_t ThreadOf(PartitionId p) const { return ThreadOf(ShardOf(p)); }
  void Wake(PartitionId p) const {
    if (!shards.empty()) shards[ThreadOf(p)]->Wake();
  }
  void Nudge(PartitionId p) const {
    if (!shards.empty()) shards[ThreadOf(p)]->Nudge();
  }

  // Starts `threads` shard threads (0, or more than there are states: one per state), each
  // polling its states in turn (applying only below `gate`'s durable offsets when it is not
  // null). Once, after the states are final (recovery done).
  void Start(const std::atomic<uint64_t>* gate, size_t threads = 0) {
    if (threads == 0 || threads > states.size()) threads = states.size();
    for (auto& state : states) {
      if (gate != nullptr) state->SetDurableGate(gate);
    }
    for (size_t t = 0; t < threads; ++t) {
      std::vector<ShardState*> mine;
      for (size_t s = t; s < states.size(); s += threads) mine.push_back(states[s].get());
      Shard::PollFn poll;
      if (mine.size() == 1) {
        poll = [st = mine[0]] { return st->Poll(); };
      } else {
        // Each poll starts with the state after the one the last poll started with, and
        // stops early, once it did something, when reads or the hosted loop wait
        // (ShardState::Poll returns early for them too).
        poll = [mine, next = size_t{0}]() mutable {
          size_t done = 0;
          const size_t n = mine.size();
          const size_t first = next++ % n;
          for (size_t i = 0; i < n; ++i) {
            done += mine[(first + i) % n]->Poll();
            if (done != 0 && Shard::TasksWaiting()) return done;
          }
          return done;
        };
      }
      shards.push_back(std::make_unique<Shard>(static_cast<int>(t), std::move(poll)));
    }
    queued = std::make_unique<std::atomic<int64_t>[]>(shards.size());
    for (size_t t = 0; t < shards.size(); ++t) queued[t].store(0, std::memory_order_relaxed);
    for (auto& s : shards) s->Start();
  }
  // Applies everything published and joins the threads; later tasks run inline.
  void Stop() {
    for (auto& s : shards) s->Stop();
  }

  void OnShard(size_t s, std::function<void(ShardState&)> task) const {
    ShardState* st = states[s].get();
    std::atomic<int64_t>* q = &queued[ThreadOf(s)];
    q->fetch_add(1, std::memory_order_relaxed);
    shards[ThreadOf(s)]->Submit([st, q, task = std::move(task)] {
      q->fetch_sub(1, std::memory_order_relaxed);
      task(*st);
    });
  }

  // Where every partition's acknowledged events end now (index = partition): a read that
  // catches up to these offsets reflects every event acknowledged before the call. Taken
  // when a request arrives, it spares the read the events that became durable since.
  using Horizon = std::shared_ptr<const std::vector<uint64_t>>;
  Horizon HorizonNow() const {
    size_t partitions = 0;
    for (const auto& st : states) partitions += st->partitions().size();
    auto h = std::make_shared<std::vector<uint64_t>>(partitions);
    for (const auto& st : states) {
      for (PartitionId p : st->partitions()) (*h)[p.value()] = st->VisibleEnd(p);
    }
    return h;
  }

  // `catch_up` false: the part runs on the state as it is (for the later steps of a read
  // whose first step caught up already: they add no freshness, only work under load).
  // `upto`: catch up only to that horizon (null: to what is acknowledged when it runs).
  template <typename Partial>
  void ScatterGather(std::function<Partial(ShardState&)> part,
                     std::function<void(std::vector<Partial>&)> merge,
                     bool catch_up = true, Horizon upto = nullptr) const {
    struct Gather {
      std::vector<Partial> parts;
      std::atomic<size_t> left;
      std::function<void(std::vector<Partial>&)> merge;
    };
    auto g = std::make_shared<Gather>();
    g->parts.resize(states.size());
    g->left.store(states.size());
    g->merge = std::move(merge);
    for (size_t s = 0; s < states.size(); ++s) {
      ShardState* st = states[s].get();
      std::atomic<int64_t>* q = &queued[ThreadOf(s)];
      q->fetch_add(1, std::memory_order_relaxed);
      shards[ThreadOf(s)]->Submit([g, st, q, s, part, catch_up, upto] {
        q->fetch_sub(1, std::memory_order_relaxed);
        if (catch_up) st->CatchUpAll(upto.get());
        g->parts[s] = part(*st);
        // acq_rel: the last one sees every shard's partial.
        if (g->left.fetch_sub(1, std::memory_order_acq_rel) == 1) g->merge(g->parts);
      });
    }
  }
};

}  // namespace eddy
