#pragma once
// AlertFeed: the live side of alerts (commerce/alerts.h). The shards' AlertStates hand it
// every alert they raise or clear; it hands each, as a public Alert, to every subscriber
// (the SSE routes). With no subscriber a raise costs one atomic load.
//
// Thread-safety: Raised from any shard thread; Subscribe/Unsubscribe from any thread. A
// listener runs on the shard thread, under the feed's lock: it must only hand the alert
// over (post it to its connection's thread). After Unsubscribe returns, it is not called.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commerce/alerts.h"
#include "eddy/engine.h"
#include "util/live.h"
#include "util/interners.h"
#include "util/mutex.h"

namespace eddy {

// The fired reasons of bit set `reasons` (bit r: FraudReason r), in reason order, each with
// its contribution (its weight in `fraud`).
std::vector<FraudReasonScore> FraudReasons(uint8_t reasons, const FraudOptions& fraud);

// The public form of an alert record (its strings looked up; a fraud alert's reasons
// weighted by `fraud`, the settings in force).
Alert ToAlert(const AlertRecord& record, const Interners& interners, const Options& options,
              const FraudOptions& fraud);

class AlertFeed final : public AlertSink {
 public:
  // `interners` is the engine's pointer (recovery may replace what it points to).
  // `fraud`: the fraud settings in force (reload changes them), for a fraud alert's reasons.
  AlertFeed(const std::unique_ptr<Interners>& interners, const Options& options,
            const Live<FraudOptions>& fraud)
      : interners_(interners), options_(options), fraud_(fraud) {}

  void Raised(const AlertRecord& record) override;
  // Counts raises and clears from now on (recovery's replay raises again the alerts the
  // counts before a restart already had).
  void CountFromNow() { counting_.store(true, std::memory_order_release); }
  // Alerts raised and cleared since CountFromNow, by kind (every kind, in kind order).
  void Counts(std::vector<std::pair<std::string, uint64_t>>* raised,
              std::vector<std::pair<std::string, uint64_t>>* cleared) const;
  uint64_t Subscribe(AlertListener listener);
  void Unsubscribe(uint64_t handle);

 private:
  const std::unique_ptr<Interners>& interners_;
  const Options& options_;
  const Live<FraudOptions>& fraud_;
  std::atomic<size_t> count_{0};
  std::atomic<bool> counting_{false};
  std::array<std::atomic<uint64_t>, kAlertKindCount> raised_{}, cleared_{};
  Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::pair<uint64_t, AlertListener>> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy
