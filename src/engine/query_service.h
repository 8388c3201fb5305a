#pragma once
// QueryService: the engine's plain reads (SPEC §3) — recent items, trending categories,
// category velocity, item engagement, popular items, user affinity, co-viewed items.
// A per-user read is one message to the user's shard; a global one scatters a part to
// every shard and merges the partials with the states' own Merge (agg/state.h) on the
// shard that answered last. Every read first catches its shards up, so it reflects every
// event acknowledged before it was sent.
//
// Thread-safety: every member function may be called from any thread; callbacks run on a
// shard thread (or the caller's, for answers known without a shard).

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "eddy/engine.h"
#include "engine/engine_clock.h"
#include "engine/read_task.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "util/interners.h"

namespace eddy {

class QueryService {
 public:
  // Every referenced object must outlive the service.
  QueryService(const Options& options, const ShardSet& shards, const Interners& interners,
               const PartitionedLog& log, const EngineClock& clock);

  void RecentItems(std::string_view user, uint32_t k,
                   std::function<void(std::vector<RecentItem>)> done) const;
  void TrendingCategories(size_t window, uint32_t k,
                          std::function<void(TrendingAnswer)> done) const;
  void CategoryVelocity(std::string_view category, uint32_t minutes,
                        std::function<void(VelocityAnswer)> done) const;
  void ItemEngagement(std::string_view item, std::function<void(EngagementAnswer)> done) const;
  void PopularItems(std::string_view category, uint32_t k,
                    std::function<void(PopularAnswer)> done) const;
  void UserAffinity(std::string_view user, uint32_t k,
                    std::function<void(AffinityAnswer)> done) const;
  void SimilarItems(std::string_view item, uint32_t k,
                    std::function<void(SimilarAnswer)> done) const;

  // The engine clock for a read (INT64_MIN: no time yet).
  int64_t NowMs() const { return clock_.NowMs(); }
  // The partition holding a user's events (and so their per-user state).
  PartitionId PartitionOfUser(std::string_view user) const;
  // Popular-item reads whose threshold test fell back to a full scan.
  uint64_t popular_full_scans() const { return popular_fallbacks_.load(std::memory_order_relaxed); }

 private:
  ReadTask Popular(CategoryId cat, uint32_t k, int64_t now_ms, PopularAnswer answer,
                   std::function<void(PopularAnswer)> done) const;
  ReadTask Similar(ItemId item, uint32_t k, std::function<void(SimilarAnswer)> done) const;
  // 1 for each of `items` the catalog withdrew (hidden or deleted) — on the shard that
  // holds the item's record; 0 everywhere else.
  static std::vector<uint8_t> WithdrawnOf(const ShardState& st, const std::vector<ItemId>& items);

  const Options& options_;
  const ShardSet& shards_;
  const Interners& interners_;
  const PartitionedLog& log_;
  const EngineClock& clock_;
  mutable std::atomic<uint64_t> popular_fallbacks_{0};
};

}  // namespace eddy
