#pragma once
// Alerts: what the engine raises for an operator to act on — a stock falling below its
// item's threshold (inventory.h), an order scored as fraud (fraud/fraud.h) — kept per shard, in the
// order they were raised, for GET /v1/alerts, and pushed as they are raised to an
// AlertSink (the Server-Sent Events feed). An alert can be cleared (stock back at or above
// the threshold): the record stays, inactive, with the time it was cleared.
//
// Deterministic like every state: an alert's fields come from the events that raised it
// (event time, not wall clock), so recovery and replay rebuild the same alerts.
//
// Memory: at most `alerts.max_kept` alerts over all shards (a shard keeps its partitions'
// share); past it the oldest raised is dropped.
//
// Thread-safety: none; owned and used by one shard thread. The sink is called on it.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agg/state.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

// kAnomaly: a spending anomaly, kInsight: another customer insight (a segment
// migration), each of priority high or critical (insights/insights.h).
enum class AlertKind : uint8_t { kInventory = 0, kFraud = 1, kAnomaly = 2, kInsight = 3 };
inline constexpr int kAlertKindCount = 4;
std::string_view AlertKindName(AlertKind kind);  // "inventory", "fraud", "anomaly", "insight"
// The kind named `name`; none for a name no alert is raised under (yet).
std::optional<AlertKind> AlertKindOf(std::string_view name);

struct AlertRecord {
  AlertKind kind = AlertKind::kInventory;
  ItemId item;                   // inventory: the item
  UserId user;                   // fraud: the user
  OrderId order;                 // fraud: the order (none for a purchase without orderId)
  uint32_t n = 0;                // per (kind, subject): 1 for the first alert, then 2...
                                 // (fraud: the user's count of orders at the alert)
  int64_t time_ms = 0;           // event time of what raised it
  int64_t cleared_ms = 0;        // event time of what cleared it, when !active
  bool active = true;
  int64_t value = 0;             // inventory: the stock when raised; fraud: score × 10^6;
                                 // anomaly: the order's value (millionths); insight: the
                                 // segment left (rule index + 1)
  int64_t threshold = 0;         // inventory: the threshold it fell below; fraud: × 10^6;
                                 // anomaly: the customer's mean; insight: the segment entered
  uint8_t reasons = 0;           // fraud: bit r = FraudReason r fired
  uint8_t priority = 0;          // anomaly, insight: InsightPriority
};

// Receives each alert as it is raised or cleared, on the shard thread that did it. Must
// not block (it hands the alert over and returns).
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Raised(const AlertRecord& alert) = 0;
};

class AlertState final : public State {
 public:
  // `sink` may be null (no live feed: tests, `eddy replay`); it must outlive the state.
  AlertState(const Options& o, const CapShare& share, AlertSink* sink)
      : max_kept_(o.alerts.max_kept), cap_(share.Of(o.alerts.max_kept)), sink_(sink) {}

  std::string_view Name() const override { return "alerts"; }
  // 2: each alert carries its order and reasons (fraud). 3: and a priority (insights).
  uint32_t FormatVersion() const override { return 3; }
  bool Applies() const override { return false; }  // other states raise alerts
  void ApplyEvent(const Event&, const ApplyInfo&) override {}
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override {
    return {alerts_.size(), alerts_.size() * sizeof(AlertRecord), dropped_};
  }
  void DescribeSettings(std::string* out) const override { Setting(out, "max_kept", max_kept_); }

  // Keeps and publishes a new alert; returns its handle for Clear.
  uint64_t Raise(const AlertRecord& alert);
  // Marks the alert of `handle` inactive (cleared at `time_ms`) and publishes it; nothing
  // when it was dropped already.
  void Clear(uint64_t handle, int64_t time_ms);

  // The `k` newest alerts of `kind` (all kinds when null) raised at or after `since_ms`
  // (by event time; ties with the k-th included), newest first.
  void Collect(const AlertKind* kind, int64_t since_ms, uint32_t k,
               std::vector<AlertRecord>* out) const;

 private:
  const uint64_t max_kept_;
  const uint64_t cap_;
  AlertSink* const sink_;
  std::deque<AlertRecord> alerts_;  // oldest raised first
  uint64_t first_handle_ = 0;       // the handle of alerts_.front()
  uint64_t dropped_ = 0;
};

}  // namespace eddy
