#include "agg/dedup.h"

#include <algorithm>

namespace eddy {

EventIdSet::EventIdSet(int64_t horizon_ms, uint64_t max_ids)
    : horizon_ms_(horizon_ms), max_ids_(std::max<uint64_t>(max_ids, 1)) {}

bool EventIdSet::Insert(const EventIdHash& id, EventTime time) {
  newest_ms_ = std::max(newest_ms_, time.millis());
  Expire();
  if (!set_.insert(id).second) return false;
  order_.emplace_back(time.millis(), id);
  if (order_.size() > max_ids_) {
    set_.erase(order_.front().second);
    order_.pop_front();
  }
  return true;
}

void EventIdSet::Expire() {
  const int64_t cutoff = newest_ms_ - horizon_ms_;
  while (!order_.empty() && order_.front().first < cutoff) {
    set_.erase(order_.front().second);
    order_.pop_front();
  }
}

}  // namespace eddy
