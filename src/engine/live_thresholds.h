#pragma once
// LiveThresholds: the fraud settings in force for the readers off the shards (an alert's
// reasons and their contributions); reload replaces them (Engine::SetThresholds), the
// shards' FraudState and InsightState get theirs by a task on each shard.
//
// Thread-safety: any thread.

#include <memory>

#include "eddy/options.h"
#include "util/mutex.h"

namespace eddy {

class LiveThresholds {
 public:
  explicit LiveThresholds(const Options& o) : fraud_(std::make_shared<const FraudOptions>(o.fraud)) {}

  std::shared_ptr<const FraudOptions> fraud() const {
    MutexLock lock(&mu_);
    return fraud_;
  }
  void Set(const FraudOptions& fraud) {
    auto next = std::make_shared<const FraudOptions>(fraud);
    MutexLock lock(&mu_);
    fraud_ = std::move(next);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const FraudOptions> fraud_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy
