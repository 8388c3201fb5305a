#include "engine/alert_feed.h"

#include <algorithm>
#include <string>

namespace eddy {

Alert ToAlert(const AlertRecord& r, const Interners& interners) {
  Alert a;
  a.kind = std::string(AlertKindName(r.kind));
  if (r.item.valid()) a.item_id = std::string(interners.items.Lookup(r.item.value()));
  // The event time and the item's count of alerts: unique even for an item forgotten by
  // the cap and tracked again (its count restarts), and the same in any replay.
  a.id = a.kind + "-" + a.item_id + "-" + std::to_string(r.time_ms) + "-" + std::to_string(r.n);
  a.time = EventTime(r.time_ms);
  a.active = r.active;
  if (!r.active) a.cleared = EventTime(r.cleared_ms);
  a.stock = r.value;
  a.threshold = r.threshold;
  return a;
}

void AlertFeed::Raised(const AlertRecord& record) {
  if (count_.load(std::memory_order_acquire) == 0) return;
  // Made once, outside the lock; each listener only takes a reference.
  auto alert = std::make_shared<const Alert>(ToAlert(record, *interners_));
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
