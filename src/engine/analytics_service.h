#pragma once
// AnalyticsService: the commerce reads (SPEC §3.8, 3.9, 3.12) — an item's catalog record
// and inventory (one message to the item's shard), a user's sessions (one message to the
// user's shard), the funnel, revenue windows, low-stock items and alerts (scatter-gather
// over every shard, merged with the states' own Merge or sorted). Like QueryService, every read first catches its
// shards up, so it reflects every event acknowledged before it was sent.
//
// Thread-safety: every member function may be called from any thread; callbacks run on a
// shard thread (or the caller's, for answers known without a shard).

#include <functional>
#include <string_view>

#include "eddy/engine.h"
#include "util/live.h"
#include "engine/engine_clock.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "util/interners.h"

namespace eddy {

class AnalyticsService {
 public:

  // Every referenced object must outlive the service.
  AnalyticsService(const Options& options, const ShardSet& shards, const Interners& interners,
                   const PartitionedLog& log, const EngineClock& clock,
                   const Live<FraudOptions>& fraud);

  void ItemCatalog(std::string_view item, std::function<void(CatalogRecord)> done) const;
  void UserSessions(std::string_view user, uint32_t k,
                    std::function<void(SessionsAnswer)> done) const;
  void Funnel(int64_t window_minutes, std::string_view category,
              std::function<void(FunnelAnswer)> done) const;
  void Revenue(const RevenueRequest& request, std::function<void(RevenueAnswer)> done) const;
  void ItemInventory(std::string_view item, std::function<void(InventoryAnswer)> done) const;
  void LowStock(uint32_t k, std::function<void(LowStockAnswer)> done) const;
  void Alerts(const AlertsRequest& request, std::function<void(AlertsAnswer)> done) const;

 private:
  const Options& options_;
  const Live<FraudOptions>& fraud_;  // in force (reload): a fraud alert's reasons
  const ShardSet& shards_;
  const Interners& interners_;
  const PartitionedLog& log_;
  const EngineClock& clock_;
};

}  // namespace eddy
