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

void EventIdSet::Save(SerialWriter& w) const {
  w.I64(newest_ms_);
  w.U64(order_.size());
  for (const auto& [t, id] : order_) {
    w.I64(t);
    w.U64(id.lo);
    w.U64(id.hi);
  }
}

bool EventIdSet::Load(SerialReader& r) {
  set_.clear();
  order_.clear();
  newest_ms_ = r.I64();
  const uint64_t n = r.Count(3);
  if (n > max_ids_) return false;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const int64_t t = r.I64();
    EventIdHash id;
    id.lo = r.U64();
    id.hi = r.U64();
    if (!set_.insert(id).second) return false;
    order_.emplace_back(t, id);
  }
  return r.ok();
}

}  // namespace eddy
