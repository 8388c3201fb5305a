#include "agg/recent.h"

#include <algorithm>

namespace eddy {

RecentItems::RecentItems(uint32_t max_items, uint64_t max_users)
    : max_items_(std::max<uint32_t>(max_items, 1)), max_users_(std::max<uint64_t>(max_users, 1)) {}

void RecentItems::Unlink(uint32_t slot) {
  UserState& s = slots_[slot];
  if (s.prev != kNil) slots_[s.prev].next = s.next; else head_ = s.next;
  if (s.next != kNil) slots_[s.next].prev = s.prev; else tail_ = s.prev;
  s.prev = s.next = kNil;
}

void RecentItems::PushBack(uint32_t slot) {
  UserState& s = slots_[slot];
  s.prev = tail_;
  s.next = kNil;
  if (tail_ != kNil) slots_[tail_].next = slot; else head_ = slot;
  tail_ = slot;
}

uint32_t RecentItems::SlotFor(UserId user) {
  auto [it, inserted] = index_.try_emplace(user, kNil);
  if (!inserted) {
    Unlink(it->second);
    PushBack(it->second);
    return it->second;
  }
  if (index_.size() > max_users_) {
    uint32_t victim = head_;
    Unlink(victim);
    index_.erase(slots_[victim].user);
    entries_ -= slots_[victim].items.size();
    slots_[victim].items.clear();
    free_.push_back(victim);
    ++evicted_;
    it = index_.find(user);  // erase may have moved it
  }
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slots_[slot].user = user;
  it->second = slot;
  PushBack(slot);
  return slot;
}

void RecentItems::Touch(UserId user, ItemId item, EventTime time) {
  std::vector<Entry>& items = slots_[SlotFor(user)].items;
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
  auto it = index_.find(user);
  if (it == index_.end()) return;
  const std::vector<Entry>& items = slots_[it->second].items;
  for (auto r = items.rbegin(); r != items.rend() && out->size() < k; ++r) out->push_back(*r);
}

void RecentItems::Save(SerialWriter& w) const {
  w.U64(evicted_);
  w.U64(index_.size());
  for (uint32_t slot = head_; slot != kNil; slot = slots_[slot].next) {
    const UserState& s = slots_[slot];
    w.U64(s.user.value());
    w.U64(s.items.size());
    for (const Entry& e : s.items) {
      w.U64(e.item.value());
      w.I64(e.time.millis());
    }
  }
}

bool RecentItems::Load(SerialReader& r) {
  index_.clear();
  slots_.clear();
  free_.clear();
  head_ = tail_ = kNil;
  entries_ = 0;
  evicted_ = r.U64();
  const uint64_t users = r.Count(2);
  if (users > max_users_) return false;
  slots_.reserve(users);
  for (uint64_t i = 0; i < users && r.ok(); ++i) {
    UserState s;
    s.user = UserId(r.U32());
    const uint64_t n = r.Count(2);
    if (n > max_items_) return false;
    s.items.resize(n);
    for (Entry& e : s.items) {
      e.item = ItemId(r.U32());
      e.time = EventTime(r.I64());
    }
    const uint32_t slot = static_cast<uint32_t>(slots_.size());
    if (!index_.emplace(s.user, slot).second) return false;
    entries_ += n;
    slots_.push_back(std::move(s));
    PushBack(slot);
  }
  return r.ok();
}

}  // namespace eddy
