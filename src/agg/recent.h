#pragma once
// RecentItems (SPEC §3.6): per user, the last `max_items` distinct items touched, newest
// first. A touch is an event with an item whose type weight is > 0. "Last" is the order in
// which the shard applies the user's events (= acceptance order, SPEC §5); the time kept
// is the event time of the latest touch.
//
// Memory: at most `max_users` users, each at most `max_items` entries of 16 bytes. Past
// `max_users`, the least recently active user is forgotten (LRU).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "util/serial.h"

namespace eddy {

class RecentItems {
 public:
  struct Entry {
    ItemId item;
    EventTime time;
  };

  RecentItems(uint32_t max_items, uint64_t max_users);

  void Touch(UserId user, ItemId item, EventTime time);
  // Starts loading the user's index slot into cache (a hint; no effect on state).
  void Prefetch(UserId user) const { index_.prefetch(user); }
  // Up to k entries, newest first.
  void Get(UserId user, uint32_t k, std::vector<Entry>* out) const;
  // The user's entries, oldest first, newest last (nullptr for an unknown user). Valid
  // until the next Touch.
  const std::vector<Entry>* Find(UserId user) const {
    auto it = index_.find(user);
    return it == index_.end() ? nullptr : &slots_[it->second].items;
  }

  // Checkpoint: the whole state, users from least to most recently active. Load replaces
  // the state; false on malformed input or more than the caps hold.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

  size_t users() const { return index_.size(); }
  uint64_t evicted_users() const { return evicted_; }
  size_t bytes() const {
    return index_.capacity() * (sizeof(UserId) + sizeof(uint32_t) + 1) +
           slots_.capacity() * sizeof(UserState) + entries_ * sizeof(Entry);
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  struct UserState {
    UserId user;
    std::vector<Entry> items;  // oldest first, newest last
    uint32_t prev = kNil;      // LRU list: head = least recently active
    uint32_t next = kNil;
  };

  void Unlink(uint32_t slot);
  void PushBack(uint32_t slot);
  uint32_t SlotFor(UserId user);

  const uint32_t max_items_;
  const uint64_t max_users_;
  absl::flat_hash_map<UserId, uint32_t> index_;
  std::vector<UserState> slots_;
  std::vector<uint32_t> free_;
  uint32_t head_ = kNil;
  uint32_t tail_ = kNil;
  uint64_t evicted_ = 0;
  size_t entries_ = 0;
};

}  // namespace eddy
