#include "commerce/alerts.h"

#include <algorithm>

namespace eddy {

std::string_view AlertKindName(AlertKind kind) {
  switch (kind) {
    case AlertKind::kInventory: return "inventory";
    case AlertKind::kFraud: return "fraud";
    case AlertKind::kAnomaly: return "anomaly";
    case AlertKind::kInsight: return "insight";
  }
  return "unknown";
}

std::optional<AlertKind> AlertKindOf(std::string_view name) {
  for (int k = 0; k < kAlertKindCount; ++k) {
    if (AlertKindName(static_cast<AlertKind>(k)) == name) return static_cast<AlertKind>(k);
  }
  return std::nullopt;
}

uint64_t AlertState::Raise(const AlertRecord& alert) {
  alerts_.push_back(alert);
  if (alerts_.size() > cap_) {
    alerts_.pop_front();
    ++first_handle_;
    ++dropped_;
  }
  if (sink_ != nullptr) sink_->Raised(alert);
  return first_handle_ + alerts_.size() - 1;
}

void AlertState::Clear(uint64_t handle, int64_t time_ms) {
  if (handle < first_handle_ || handle - first_handle_ >= alerts_.size()) return;
  AlertRecord& a = alerts_[handle - first_handle_];
  if (!a.active) return;
  a.active = false;
  a.cleared_ms = time_ms;
  if (sink_ != nullptr) sink_->Raised(a);
}

void AlertState::Collect(const AlertKind* kind, int64_t since_ms, uint32_t k,
                         std::vector<AlertRecord>* out) const {
  const size_t first = out->size();
  // Newest raised first, so a stable sort by time keeps "last raised first" among equals.
  for (auto a = alerts_.rbegin(); a != alerts_.rend(); ++a) {
    if (a->time_ms >= since_ms && (kind == nullptr || a->kind == *kind)) out->push_back(*a);
  }
  std::stable_sort(out->begin() + first, out->end(),
                   [](const AlertRecord& x, const AlertRecord& y) { return x.time_ms > y.time_ms; });
  // Cut after k, but keep the k-th's ties: the merge over shards orders those.
  size_t end = std::min(out->size(), first + k);
  while (end != first && end < out->size() && (*out)[end].time_ms == (*out)[end - 1].time_ms) ++end;
  out->resize(end);
}

void AlertState::SaveTo(SerialWriter& w) {
  w.U64(dropped_);
  w.U64(first_handle_);
  w.U64(alerts_.size());
  for (const AlertRecord& a : alerts_) {
    w.U8(static_cast<uint8_t>(a.kind));
    w.U64(a.item.value());
    w.U64(a.user.value());
    w.U64(a.n);
    w.I64(a.time_ms);
    w.I64(a.cleared_ms);
    w.U8(a.active ? 1 : 0);
    w.I64(a.value);
    w.I64(a.threshold);
    w.U64(a.order.value());
    w.U8(a.reasons);
    w.U8(a.priority);
  }
}

bool AlertState::LoadFrom(SerialReader& r, uint32_t version) {
  alerts_.clear();
  dropped_ = r.U64();
  first_handle_ = r.U64();
  const uint64_t n = r.Count(9);  // the smallest record: nine one-byte fields
  if (n > cap_) return false;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    AlertRecord a;
    const uint8_t kind = r.U8();
    if (kind >= kAlertKindCount) return false;
    a.kind = static_cast<AlertKind>(kind);
    a.item = ReadItemId(r);
    a.user = ReadUserId(r);
    a.n = r.U32();
    a.time_ms = r.I64();
    a.cleared_ms = r.I64();
    a.active = r.U8() != 0;
    a.value = r.I64();
    a.threshold = r.I64();
    if (version >= 2) {
      a.order = ReadOrderId(r);
      a.reasons = r.U8();
    }
    if (version >= 3) a.priority = r.U8();
    alerts_.push_back(a);
  }
  return r.ok();
}

void AlertState::VisitIds(IdMarks& marks) {
  for (const AlertRecord& a : alerts_) {
    if (a.item.valid()) marks.Mark(a.item);
    if (a.user.valid()) marks.Mark(a.user);
    if (a.order.valid()) marks.Mark(a.order);
  }
}

}  // namespace eddy
