#pragma once
// Customer insights (SPEC §3.11), one state owned by the customer's shard. A customer is a
// user with at least one purchase; orders are as in fraud scoring (lines of one user
// sharing an orderId; a purchase without one is an order of its own).
//
// - Spending anomaly: at each line of an order, its value so far (Σ price × quantity of
//   its priced lines) against the mean value of the customer's earlier priced orders (at
//   least insights.anomaly_min_orders of them): off by more than anomaly_percent raises
//   one insight for the order, updated as further lines come (and withdrawn if they bring
//   it back within the limit). Priority: above the mean, critical from
//   anomaly_critical_percent, high from anomaly_high_percent, else medium; below, medium.
// - Segments: the first rule of insights.segments whose bounds hold for R (ms since the
//   last purchase), F (orders) and M (spend) is the customer's segment, evaluated at each
//   of their events with the event's time as now; a change is a migration insight with the
//   priority of the segment entered. A `segment_update` event (seeds/002) records the
//   producer's segment and a migration to it (priority low), beside the rule segments.
// - Consumption prediction, per category: from prediction_min_purchases orders in it, the
//   next purchase is expected one mean interval after the last, with confidence
//   max(0, 1 - stddev / mean) of the intervals (1: perfectly regular); priority medium
//   from prediction_medium_confidence, else low. Updated at each order in the category.
// Insights of priority high or critical also go to the alerts (kind `anomaly` for spending
// anomalies, `insight` for migrations), once each.
//
// Memory: insights.max_users customers (least recently active forgotten), max_insights
// anomalies and migrations each (the oldest dropped), max_categories predicted categories
// (the least recently bought dropped) with their 8 latest order times.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agg/lru_map.h"
#include "agg/state.h"
#include "commerce/alerts.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

struct Insight {
  enum Type : uint8_t { kAnomaly = 0, kMigration = 1 };
  Type type = kAnomaly;
  InsightPriority priority = InsightPriority::kLow;
  bool alerted = false;
  int64_t time_ms = 0;
  // kAnomaly: the order (invalid: a purchase without orderId), its value so far and the
  // mean it is compared with.
  OrderId order;
  int64_t value_micros = 0, mean_micros = 0;
  // kMigration: rule segments as index + 1 (0: none); a producer's segment as its name.
  int16_t from_rule = 0, to_rule = 0;
  StringId from_producer, to_producer;
};

struct CategoryBuys {
  static constexpr size_t kTimes = 8;
  CategoryId category;
  std::vector<int64_t> times;  // first-line times of the latest orders in it, ascending
  // The prediction (when times.size() >= prediction_min_purchases): made at predicted_ms.
  int64_t predicted_ms = INT64_MIN, next_ms = 0, interval_ms = 0;
  double confidence = 0;
};

struct Customer {
  uint32_t orders = 0;              // F
  int64_t spend_micros = 0;         // M: Σ value of every order, the current one included
  int64_t last_purchase = INT64_MIN;  // R = now - this
  uint32_t priced_orders = 0;       // earlier priced orders in the mean
  int64_t history_micros = 0;       // ... and their values' sum
  OrderId order;                    // the current (newest) order; invalid: none, or no orderId
  int64_t order_value = 0;
  std::vector<CategoryId> order_categories;  // of the current order (first 8)
  int16_t rule = 0;                 // the segment by rules, index + 1 (0: none yet)
  StringId producer;                // the producer's last segment (segment_update)
  std::vector<Insight> insights;    // oldest first
  std::vector<CategoryBuys> categories;  // least recently bought first
};

class InsightState final : public State {
 public:
  InsightState(const Options& o, const CapShare& share, AlertState& alerts);

  // New thresholds for the orders applied from now on (reload); shard thread.
  void SetLive(const InsightOptions& next) { options_ = WithLiveInsightFields(options_, next); }
  const InsightOptions& options() const { return options_; }

  std::string_view Name() const override { return "insights"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return options_.enabled; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  // Every event looks its user up (most are not customers: a miss in a cold table).
  bool Prefetches() const override { return options_.enabled; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.user.valid()) users_.Prefetch(ev.user);
  }
  void PrefetchDeeper(const Event& ev, int stage) const override {
    if (stage == 1 && ev.user.valid()) users_.PrefetchValue(ev.user);
  }
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  const Customer* Find(UserId user) const { return users_.Find(user); }
  // The customer's segment by rules at `now_ms` (index + 1; 0: none).
  int16_t SegmentAt(const Customer& c, int64_t now_ms) const;

 private:
  void Purchase(Customer& c, const Event& ev);
  void Anomaly(Customer& c, const Event& ev);
  void Predict(Customer& c, CategoryId category, int64_t t);
  void Add(Customer& c, const Insight& in);
  void MaybeAlert(Customer& c, Insight& in, UserId user);

  InsightOptions options_;  // the live fields change by SetLive (on this shard's thread)
  AlertState& alerts_;
  LruMap<UserId, Customer> users_;
  uint64_t heap_ = 0;  // bytes held by the customers' vectors (approximate, kept as they change)
};

}  // namespace eddy
