#include "engine/alert_feed.h"

#include <algorithm>
#include <string>

#include "fraud/fraud.h"

namespace eddy {

std::vector<FraudReasonScore> FraudReasons(uint8_t reasons, const FraudOptions& fraud) {
  std::vector<FraudReasonScore> out;
  for (int r = 0; r < kFraudReasonCount; ++r) {
    if ((reasons >> r & 1) == 0) continue;
    const auto reason = static_cast<FraudReason>(r);
    out.push_back({std::string(FraudReasonName(reason)), FraudWeight(fraud, reason)});
  }
  return out;
}

Alert ToAlert(const AlertRecord& r, const Interners& interners, const Options& options,
              const FraudOptions& fraud) {
  Alert a;
  a.kind = std::string(AlertKindName(r.kind));
  if (r.item.valid()) a.item_id = std::string(interners.items.Lookup(r.item.value()));
  if (r.user.valid()) a.user_id = std::string(interners.users.Lookup(r.user.value()));
  if (r.order.valid()) a.order_id = std::string(interners.orders.Lookup(r.order.value()));
  // The subject (item, or user for fraud), the event time and the subject's count: unique
  // even for a subject forgotten by a cap and tracked again (its count restarts), and the
  // same in any replay.
  const std::string& subject = r.kind == AlertKind::kInventory ? a.item_id : a.user_id;
  a.id = a.kind + "-" + subject + "-" + std::to_string(r.time_ms) + "-" + std::to_string(r.n);
  a.time = EventTime(r.time_ms);
  a.active = r.active;
  if (!r.active) a.cleared = EventTime(r.cleared_ms);
  const auto segment = [&](int64_t rule) {
    return rule > 0 && rule <= static_cast<int64_t>(options.insights.segments.size())
               ? options.insights.segments[rule - 1].name
               : std::string();
  };
  switch (r.kind) {
    case AlertKind::kInventory:
      a.stock = r.value;
      a.threshold = r.threshold;
      break;
    case AlertKind::kFraud:
      a.score = static_cast<double>(r.value) / 1e6;
      a.score_threshold = static_cast<double>(r.threshold) / 1e6;
      a.reasons = FraudReasons(r.reasons, fraud);
      break;
    case AlertKind::kAnomaly:
      a.priority = InsightPriorityName(static_cast<InsightPriority>(r.priority));
      a.order_value = static_cast<double>(r.value) / 1e6;
      a.mean_value = static_cast<double>(r.threshold) / 1e6;
      break;
    case AlertKind::kInsight:
      a.priority = InsightPriorityName(static_cast<InsightPriority>(r.priority));
      a.segment_from = segment(r.value);
      a.segment_to = segment(r.threshold);
      break;
  }
  return a;
}

void AlertFeed::Raised(const AlertRecord& record) {
  if (counting_.load(std::memory_order_relaxed)) {
    auto& counter = record.active ? raised_ : cleared_;
    counter[static_cast<size_t>(record.kind)].fetch_add(1, std::memory_order_relaxed);
  }
  if (count_.load(std::memory_order_acquire) == 0) return;
  // Made once, outside the lock; each listener only takes a reference.
  auto alert = std::make_shared<const Alert>(ToAlert(record, *interners_, options_, *fraud_.Get()));
  MutexLock lock(&mu_);
  for (const auto& [handle, listener] : listeners_) listener(alert);
}

uint64_t AlertFeed::Subscribe(AlertListener listener) {
  MutexLock lock(&mu_);
  const uint64_t handle = next_++;
  listeners_.emplace_back(handle, std::move(listener));
  count_.store(listeners_.size(), std::memory_order_release);
  return handle;
}

void AlertFeed::Unsubscribe(uint64_t handle) {
  MutexLock lock(&mu_);
  std::erase_if(listeners_, [handle](const auto& l) { return l.first == handle; });
  count_.store(listeners_.size(), std::memory_order_release);
}

}  // namespace eddy

namespace eddy {

void AlertFeed::Counts(std::vector<std::pair<std::string, uint64_t>>* raised,
                       std::vector<std::pair<std::string, uint64_t>>* cleared) const {
  for (int k = 0; k < kAlertKindCount; ++k) {
    const std::string name(AlertKindName(static_cast<AlertKind>(k)));
    raised->emplace_back(name, raised_[k].load(std::memory_order_relaxed));
    cleared->emplace_back(name, cleared_[k].load(std::memory_order_relaxed));
  }
}

}  // namespace eddy
