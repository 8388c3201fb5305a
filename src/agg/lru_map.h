#pragma once
// LruMap<Key, Value>: a map of at most `max_keys` keys kept in least-recently-used order —
// the per-user tables (recent items, sessions) that forget the least recently active user
// past their cap. Values live in a slot vector (stable indexes, reused after eviction); the
// order is an intrusive doubly linked list over the slots.
//
// Thread-safety: none; owned and used by one shard thread.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace eddy {

// The largest touch count a checkpoint of a state that orders its LruMap by such a count
// (and loads it with AppendByRecency) may carry: no eddy counts that far, and a larger one
// could wrap.
inline constexpr uint64_t kMaxLruRecency = uint64_t{1} << 62;

template <typename Key, typename Value>
class LruMap {
 public:
  explicit LruMap(uint64_t max_keys) : max_keys_(std::max<uint64_t>(max_keys, 1)) {}

  // The value of `key`, made the most recent; a new key gets Value{} and, past the cap,
  // the least recent key is evicted (on_evict(key, value) sees it go).
  // `*added` (when given) says whether the key was new.
  template <typename OnEvict>
  Value& Touch(Key key, OnEvict on_evict, bool* added = nullptr) {
    Value& value = TouchKeepingAll(key, added);
    EvictPastCap(on_evict);  // never `key`: it is the most recent of at least two
    return value;
  }
  // As Touch, but a new key may take the map past its cap until EvictPastCap: for a batch
  // whose keys should all count as recent before any goes.
  Value& TouchKeepingAll(Key key, bool* added = nullptr) {
    auto [it, inserted] = index_.try_emplace(key, kNil);
    if (added != nullptr) *added = inserted;
    if (inserted) {
      it->second = NewSlot(key);
    } else {
      Unlink(it->second);
      PushBack(it->second);
    }
    return slots_[it->second].value;
  }
  // Evicts the least recent keys until the map is back at its cap.
  template <typename OnEvict>
  void EvictPastCap(OnEvict on_evict) {
    while (index_.size() > max_keys_) EvictHead(on_evict);
  }

  Value* Find(Key key) { return const_cast<Value*>(std::as_const(*this).Find(key)); }
  const Value* Find(Key key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second].value;
  }
  // Starts loading the key's index slot into cache (a hint only).
  void Prefetch(Key key) const { index_.prefetch(key); }
  // The next link: starts loading the key's value (its slot), once the index slot is in
  // (after Prefetch). Reads the index, not the value.
  void PrefetchValue(Key key) const {
    auto it = index_.find(key);
    if (it != index_.end()) __builtin_prefetch(&slots_[it->second]);
  }
  // The link after: once the slot is in (after PrefetchValue), starts loading its
  // neighbours in the recency order, which Touch relinks; returns the value (Find).
  const Value* PrefetchLinks(Key key) const {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    const Slot& s = slots_[it->second];
    if (s.prev != kNil) __builtin_prefetch(&slots_[s.prev]);
    if (s.next != kNil) __builtin_prefetch(&slots_[s.next]);
    return &s.value;
  }

  // Every key and value, least recent first.
  template <typename F>
  void ForEach(F f) const {
    for (uint32_t s = head_; s != kNil; s = slots_[s].next) f(slots_[s].key, slots_[s].value);
  }

  // Forgets `key` (not counted as evicted); false when it was not there.
  bool Erase(Key key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    const uint32_t slot = it->second;
    Unlink(slot);
    index_.erase(it);
    slots_[slot].value = Value{};
    free_.push_back(slot);
    return true;
  }

  void Clear() {
    index_.clear();
    slots_.clear();
    free_.clear();
    head_ = tail_ = kNil;
  }
  // For a checkpoint load: appends `key` as the most recent (nullptr if already present).
  Value* Append(Key key) {
    if (index_.size() >= max_keys_) return nullptr;
    auto [it, inserted] = index_.try_emplace(key, kNil);
    if (!inserted) return nullptr;
    it->second = NewSlot(key);
    return &slots_[it->second].value;
  }
  // For a checkpoint load: appends every entry, least recent first by `recency(value)`
  // (equal ones in the given order), whatever order they were read in. False when a key
  // repeats or they pass the cap.
  template <typename Recency>
  bool AppendByRecency(std::vector<std::pair<Key, Value>>& entries, Recency recency) {
    std::stable_sort(entries.begin(), entries.end(),
                     [&](const auto& a, const auto& b) { return recency(a.second) < recency(b.second); });
    for (auto& [key, value] : entries) {
      Value* at = Append(key);
      if (at == nullptr) return false;
      *at = std::move(value);
    }
    return true;
  }
  void set_evicted(uint64_t n) { evicted_ = n; }

  size_t size() const { return index_.size(); }
  uint64_t max_keys() const { return max_keys_; }
  uint64_t evicted() const { return evicted_; }
  // The tables' own memory (not what values hold on the heap).
  size_t bytes() const {
    return index_.capacity() * (sizeof(Key) + sizeof(uint32_t) + 1) +
           slots_.capacity() * sizeof(Slot);
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  struct Slot {
    Key key{};
    Value value{};
    uint32_t prev = kNil;  // towards the least recent
    uint32_t next = kNil;
  };

  template <typename OnEvict>
  void EvictHead(OnEvict& on_evict) {
    const uint32_t victim = head_;
    Unlink(victim);
    Slot& v = slots_[victim];
    on_evict(v.key, v.value);
    index_.erase(v.key);
    v.value = Value{};
    free_.push_back(victim);
    ++evicted_;
  }
  uint32_t NewSlot(Key key) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[slot].key = key;
    PushBack(slot);
    return slot;
  }
  void Unlink(uint32_t slot) {
    Slot& s = slots_[slot];
    if (s.prev != kNil) slots_[s.prev].next = s.next; else head_ = s.next;
    if (s.next != kNil) slots_[s.next].prev = s.prev; else tail_ = s.prev;
    s.prev = s.next = kNil;
  }
  void PushBack(uint32_t slot) {
    Slot& s = slots_[slot];
    s.prev = tail_;
    s.next = kNil;
    if (tail_ != kNil) slots_[tail_].next = slot; else head_ = slot;
    tail_ = slot;
  }

  const uint64_t max_keys_;
  absl::flat_hash_map<Key, uint32_t> index_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  uint32_t head_ = kNil;
  uint32_t tail_ = kNil;
  uint64_t evicted_ = 0;
};

}  // namespace eddy
