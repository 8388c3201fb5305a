#include "agg/recent.h"

#include <algorithm>

namespace eddy {

RecentItems::RecentItems(uint32_t max_items, uint64_t max_users)
    : max_items_(std::max<uint32_t>(max_items, 1)), users_(max_users) {}

void RecentItems::Touch(UserId user, ItemId item, EventTime time) {
  std::vector<Entry>& items = users_.Touch(
      user, [this](UserId, const std::vector<Entry>& gone) { entries_ -= gone.size(); });
  auto it = std::find_if(items.begin(), items.end(), [&](const Entry& e) { return e.item == item; });
  if (it != items.end()) {
    items.erase(it);
  } else if (items.size() >= max_items_) {
    items.erase(items.begin());
  } else {
    ++entries_;
  }
  items.push_back({item, time});
}

void RecentItems::Get(UserId user, uint32_t k, std::vector<Entry>* out) const {
  out->clear();
  const std::vector<Entry>* items = users_.Find(user);
  if (items == nullptr) return;
  for (auto r = items->rbegin(); r != items->rend() && out->size() < k; ++r) out->push_back(*r);
}

void RecentItems::Save(SerialWriter& w) const {
  w.U64(users_.evicted());
  w.U64(users_.size());
  users_.ForEach([&](UserId user, const std::vector<Entry>& items) {
    w.U64(user.value());
    w.U64(items.size());
    for (const Entry& e : items) {
      w.U64(e.item.value());
      w.I64(e.time.millis());
    }
  });
}

bool RecentItems::Load(SerialReader& r) {
  users_.Clear();
  entries_ = 0;
  users_.set_evicted(r.U64());
  const uint64_t users = r.Count(2);
  if (users > users_.max_keys()) return false;
  for (uint64_t i = 0; i < users && r.ok(); ++i) {
    const UserId user = ReadUserId(r);
    const uint64_t n = r.Count(2);
    if (n > max_items_) return false;
    std::vector<Entry>* items = users_.Append(user);
    if (items == nullptr) return false;
    items->resize(n);
    for (Entry& e : *items) {
      e.item = ReadItemId(r);
      e.time = EventTime(r.I64());
    }
    entries_ += n;
  }
  return r.ok();
}

}  // namespace eddy
