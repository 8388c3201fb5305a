#pragma once
// Interner: maps the strings of one kind (users, items, ...) to dense IDs 1..N and back.
// Strings are copied once into arena blocks owned by the interner and never move, so a
// string_view returned by Lookup() stays valid for the interner's lifetime.
//
// Thread-safety: Intern() and Find() may be called from any thread (64 stripes, each an
// eddy::Mutex; a warm Intern is one uncontended lock and one hash probe, no allocation).
// Lookup(id) may be called from any thread for an id it obtained through a happens-before
// chain from the Intern() that made it (the log's release/acquire publication gives that).
//
// Memory: IDs are never recycled. At most kMaxIds per interner; past that Intern() returns
// 0 and the caller rejects the event.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "util/mutex.h"
#include "util/serial.h"

namespace eddy {

class Interner {
 public:
  static constexpr uint32_t kChunkBits = 16;
  static constexpr uint32_t kMaxChunks = 4096;
  static constexpr uint32_t kMaxIds = (kMaxChunks << kChunkBits) - 1;

  Interner();
  ~Interner();
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // The ID of `s`, made on first sight. 0 when the interner is full. `hash` must be
  // StableHash64(s); callers that need it anyway (partitioning) pass it to save a pass.
  uint32_t Intern(std::string_view s);
  uint32_t Intern(std::string_view s, uint64_t hash);
  // The ID of `s`, or 0 if it was never interned.
  uint32_t Find(std::string_view s) const;
  // The string of a valid ID.
  std::string_view Lookup(uint32_t id) const;
  uint32_t size() const { return next_.load(std::memory_order_relaxed) - 1; }
  // Checkpoint: every string, in id order, as of a moment when all ids below it were
  // complete (it takes each stripe's lock once, so concurrent Intern calls wait that
  // long). Load interns them into an empty interner, giving the same ids; false if the
  // interner was not empty or the input is malformed.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

 private:
  struct Entry {
    const char* data;
    uint32_t size;
  };
  // Keys carry their stable hash, so the map never hashes a string a second time.
  struct Key {
    std::string_view s;
    uint64_t hash;
    friend bool operator==(const Key& a, const Key& b) { return a.s == b.s; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.hash; }
  };
  struct Stripe {
    mutable Mutex mu;
    absl::flat_hash_map<Key, uint32_t, KeyHash> map ABSL_GUARDED_BY(mu);
    std::vector<std::unique_ptr<char[]>> blocks ABSL_GUARDED_BY(mu);
    char* cursor ABSL_GUARDED_BY(mu) = nullptr;
    size_t left ABSL_GUARDED_BY(mu) = 0;
  };
  static constexpr int kStripes = 64;

  Stripe& StripeFor(uint64_t hash) const { return stripes_[(hash >> 58) % kStripes]; }
  Entry* Slot(uint32_t id);

  std::unique_ptr<Stripe[]> stripes_;
  // Chunk pointers are published with release and read with acquire; a chunk, once
  // installed, is never replaced.
  std::unique_ptr<std::atomic<Entry*>[]> chunks_;
  std::atomic<uint32_t> next_{1};
};

// One thread's direct-mapped cache in front of an Interner: a hit (the hash's slot holds
// the same hash and Lookup(id) equals `s`) costs no lock and no probe of the shared map.
// IDs are never recycled, so an entry never goes stale. Thread-safety: none; one per
// thread (the decoder of each I/O thread has its own).
class InternCache {
 public:
  static constexpr uint32_t kBits = 12;  // 4096 slots x 16 bytes

  explicit InternCache(Interner& interner) : interner_(interner), slots_(1u << kBits) {}

  // Same contract as Interner::Intern(s, hash).
  uint32_t Intern(std::string_view s, uint64_t hash) {
    Slot& e = slots_[hash & ((1u << kBits) - 1)];
    if (e.hash == hash && e.id != 0 && interner_.Lookup(e.id) == s) return e.id;
    const uint32_t id = interner_.Intern(s, hash);
    if (id != 0) e = Slot{hash, id};
    return id;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = 0;
  };
  Interner& interner_;
  std::vector<Slot> slots_;
};

}  // namespace eddy
