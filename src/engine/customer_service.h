#pragma once
// CustomerService: the per-customer reads — fraud (SPEC §3.10, fraud/fraud.h): a user's
// marks and scored orders (one message to the user's shard) and one order's score (every
// shard is asked which of its users the order is listed under: an orderId says nothing of
// its user); insights (SPEC §3.11, insights/insights.h): one message to the user's shard.
// Every read first catches its shards up, so it reflects every event acknowledged before
// it was sent.
//
// Thread-safety: every member function may be called from any thread; callbacks run on a
// shard thread (or the caller's, for answers known without a shard).

#include <functional>
#include <string_view>

#include "eddy/engine.h"
#include "engine/engine_clock.h"
#include "engine/shard_set.h"
#include "log/partitioned_log.h"
#include "util/interners.h"

namespace eddy {

class CustomerService {
 public:
  // Every referenced object must outlive the service.
  CustomerService(const Options& options, const ShardSet& shards, const Interners& interners,
                  const PartitionedLog& log, const EngineClock& clock);

  void OrderFraud(std::string_view order, std::function<void(OrderFraudAnswer)> done) const;
  void UserFraud(std::string_view user, uint32_t k, std::function<void(UserFraudAnswer)> done) const;
  void UserInsights(std::string_view user, int64_t hours,
                    std::function<void(InsightsAnswer)> done) const;

 private:
  const Options& options_;
  const ShardSet& shards_;
  const Interners& interners_;
  const PartitionedLog& log_;
  const EngineClock& clock_;
};

}  // namespace eddy
