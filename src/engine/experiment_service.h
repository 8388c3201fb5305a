#pragma once
// ExperimentService: the engine's side of online experiments (issue 19) — recording each
// answer served under one (a `served` event in the user's partition, through the ingest
// path), the report (every shard's attribution counts summed), and Thompson
// auto-allocation: redrawing the running experiment's shares from the counts at most every
// reallocate_seconds (on a serve, so an idle eddy does no work) or when asked, recording
// each reallocation as an `allocation` event (so the history and the shares in force
// survive restarts exactly), and publishing the shares that bucketing uses from then on.
//
// Thread-safety: all member functions may be called from any thread; callbacks run on a
// shard thread.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/engine.h"
#include "eddy/options.h"
#include "engine/ingest_path.h"
#include "engine/query_service.h"
#include "engine/shard_set.h"
#include "experiments/attribution.h"
#include "ranker/experiments.h"
#include "util/live.h"
#include "util/mutex.h"

namespace eddy {

class ExperimentService {
 public:
  // `ingest` null: nothing is recorded (answers are still bucketed). All referenced
  // objects must outlive this.
  ExperimentService(const ShardSet& shards, const QueryService& queries, IngestPath* ingest);

  // The index into e.variants of `user`'s variant now: bucketed against the shares of
  // e's last reallocation (Thompson) if that was made for e's variants, else against the
  // configured ones.
  size_t VariantOf(const Experiment& e, std::string_view user) const;
  // Records an answer served under `e` (items by id, best first) and, under Thompson
  // allocation, reallocates if reallocate_seconds have passed since the last time.
  void Served(const Experiment& e, std::string_view user, std::string_view recomm_id,
              std::string_view variant, const std::vector<std::string_view>& items,
              int64_t time_ms);
  // Reallocates `e` now (Thompson on its goal, floor min_share): done gets the new shares,
  // or an error when the allocation could not be recorded (the shares stay).
  void Reallocate(const Experiment& e, std::function<void(Status, std::vector<double>)> done);
  // The report of every experiment of `experiments` (configured) and every one with
  // recorded answers; `name` non-empty: that one only. `running` is the enabled one.
  void Report(std::vector<Experiment> experiments, std::string name,
              std::function<void(ExperimentsAnswer)> done) const;
  // Start-up, after recovery: the shares in force are each experiment's last recorded
  // reallocation (used while its variants are the ones it was made for).
  void Restore();

  // Cluster mode: reports and reallocations sum every node's counts (its partitions'),
  // asked through `gather` with a part request (first byte kPartKind). Set after Restore
  // and before the first read.
  static constexpr char kPartKind = 'E';
  void GatherFromNodes(ClusterGather gather) { nodes_ = std::move(gather); }
  // Answers another node's part request with the counts of this node's `partitions`.
  void AnswerPart(std::vector<uint32_t> partitions, std::function<void(std::string)> reply) const;

 private:
  // One shard state's counts.
  static ExperimentState::Partial PartialOf(ShardState& st);
  // Every shard's counts (in cluster mode: every node's), merged; or why not.
  void Gather(std::function<void(Status, ExperimentState::Partial&)> done) const;
  void Publish(const std::string& name, AllocationRecord record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(realloc_mu_);

  const ShardSet& shards_;
  const QueryService& queries_;
  IngestPath* const ingest_;
  ClusterGather nodes_;  // cluster mode
  Live<std::map<std::string, AllocationRecord>> shares_{{}};  // in force, by experiment name
  // One reallocation at a time from its clock reading through its record to publishing
  // its shares, so the log's order of records is the order the shares took effect.
  Mutex realloc_mu_;
  // Steady clock: when the last Thompson redraw began (at start: the configured shares
  // hold for a first reallocate_seconds).
  std::atomic<int64_t> last_realloc_ns_;
  std::atomic<uint64_t> generation_{0};      // reallocations made: each draws anew
};

}  // namespace eddy
