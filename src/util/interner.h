#pragma once
// Interner: maps the strings of one kind (users, items, ...) to dense IDs 1..N and back.
// Each string is copied once into a heap block of its own that does not move while its
// id lives, so a string_view returned by Lookup() stays valid until the id is recycled.
//
// Thread-safety: Intern() and Find() may be called from any thread (64 stripes, each an
// eddy::Mutex; a warm Intern is one uncontended lock and one hash probe). Lookup(id) may be
// called from any thread for a live id it obtained through a happens-before chain from the
// Intern() that made it (the log's release/acquire publication gives that). Sweep() from
// one thread at a time (the recycler), never concurrently with Save().
//
// Memory: ids are recycled (util/id_epochs.h): Sweep() frees every id that is neither in
// the caller's set of referenced ids nor handed out (by Intern or Find) since the sweep's
// epoch began; Intern reuses freed ids before it makes new ones. At most kMaxIds live ids
// per interner; past that Intern() returns 0 and the caller rejects the event.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "util/id_epochs.h"
#include "util/mutex.h"
#include "util/serial.h"

namespace eddy {

// A set of ids below a bound (the marks of one sweep). Not thread-safe.
class IdBitmap {
 public:
  IdBitmap() = default;
  explicit IdBitmap(uint32_t bound) : bound_(bound), words_((uint64_t{bound} + 63) / 64) {}
  void Set(uint32_t id) {
    if (id < bound_) words_[id >> 6] |= uint64_t{1} << (id & 63);
  }
  bool Test(uint32_t id) const {
    return id < bound_ && (words_[id >> 6] >> (id & 63) & 1) != 0;
  }
  void Or(const IdBitmap& o) {
    for (size_t i = 0; i < std::min(words_.size(), o.words_.size()); ++i) words_[i] |= o.words_[i];
  }
  uint32_t bound() const { return bound_; }

 private:
  uint32_t bound_ = 0;
  std::vector<uint64_t> words_;
};

class Interner {
 public:
  static constexpr uint32_t kChunkBits = 16;
  static constexpr uint32_t kMaxChunks = 4096;
  static constexpr uint32_t kMaxIds = (kMaxChunks << kChunkBits) - 1;

  // `epochs` (may be null: no recycling, every stamp is 0) must outlive the interner.
  explicit Interner(const IdEpochs* epochs = nullptr);
  ~Interner();
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // The ID of `s`, made on first sight. 0 when the interner is full. `hash` must be
  // StableHash64(s); callers that need it anyway (partitioning) pass it to save a pass.
  uint32_t Intern(std::string_view s);
  uint32_t Intern(std::string_view s, uint64_t hash);
  // The ID of `s`, or 0 if it is not interned. Like Intern, it stamps the id (the caller
  // may hold it for as long as its IdEpochs guard).
  uint32_t Find(std::string_view s) const;
  // The string of a live ID.
  std::string_view Lookup(uint32_t id) const;
  // Live ids.
  uint32_t size() const;
  // One more than the largest id ever made (ids are below it): the bound of an IdBitmap.
  uint32_t bound() const { return next_.load(std::memory_order_acquire); }
  // Ids made (new or reused) and freed since construction; monotone.
  uint64_t made() const;
  uint64_t freed() const;
  // The epoch Intern and Find stamp now.
  uint32_t epoch() const { return epochs_ != nullptr ? epochs_->current() : 0; }

  // Frees every id that is not in `referenced` and was last handed out before epoch
  // `before`; returns how many. The caller guarantees that nobody holds such an id (no
  // state, no log entry, no guard of an older epoch: engine/id_recycler.cc).
  uint64_t Sweep(const IdBitmap& referenced, uint32_t before);

  // Checkpoint: bound() - 1, then every id's string in id order (an empty one for a free
  // id; the empty string itself, which only free text can be, loads as free), as of a
  // moment when all ids below the bound were complete. Load places them into an empty
  // interner at the same ids; false if the interner was not empty or the input is
  // malformed. Save must not run concurrently with Sweep.
  void Save(SerialWriter& w) const;
  bool Load(SerialReader& r);

 private:
  struct Entry {
    char* data;  // owned; nullptr for a free id
    uint32_t size;
  };
  // Keys carry their stable hash, so the map never hashes a string a second time (and
  // compares it before the bytes). `s` is mutable so that a key inserted with the caller's
  // bytes can be pointed at the interner's copy (the same bytes: neither hash nor equality
  // changes).
  struct Key {
    mutable std::string_view s;
    uint64_t hash;
    friend bool operator==(const Key& a, const Key& b) { return a.hash == b.hash && a.s == b.s; }
  };
  // In the map slot, beside the key the probe just read: a hit costs no other cache line.
  struct Value {
    uint32_t id;
    uint32_t epoch;  // when it was last handed out (Intern, Find)
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.hash; }
  };
  struct Stripe {
    mutable Mutex mu;
    absl::flat_hash_map<Key, Value, KeyHash> map ABSL_GUARDED_BY(mu);
    std::vector<uint32_t> free ABSL_GUARDED_BY(mu);  // freed ids, reused first
    // Written under mu, read by size()/made()/freed() from any thread.
    std::atomic<uint64_t> made{0}, freed{0};
  };
  static constexpr int kStripes = 64;

  Stripe& StripeFor(uint64_t hash) const { return stripes_[(hash >> 58) % kStripes]; }
  Entry* Slot(uint32_t id) const;
  // Raises v's stamp to `now` (only forward; no store, no dirtied line, when unchanged).
  // Under the stripe's lock.
  static void Stamp(Value& v, uint32_t now) {
    if (static_cast<int32_t>(now - v.epoch) > 0) v.epoch = now;
  }
  // Copies the key's bytes for `id` (a free one, or the next): its entry, and the key then
  // views the copy.
  void Place(Stripe& st, uint32_t id, const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu);

  const IdEpochs* const epochs_;
  std::unique_ptr<Stripe[]> stripes_;
  // Chunk pointers are published with release and read with acquire; a chunk, once
  // installed, is never replaced.
  std::unique_ptr<std::atomic<Entry*>[]> chunks_;
  std::atomic<uint32_t> next_{1};
};

// One thread's direct-mapped cache in front of an Interner: a hit (the hash's slot holds
// the same hash and string, and was filled in the current epoch) costs no lock and no probe
// of the shared map. A string of up to kInline bytes is kept in the slot itself, so its hit
// reads nothing but the slot; a longer one is compared with Lookup(id) (two more cache
// lines: the id's entry and its bytes). An entry filled in the current epoch was stamped in
// it, so no sweep frees it while the epoch lasts; older entries are misses. Use it only
// inside an IdEpochs guard. Thread-safety: none; one per thread (the decoder of each I/O
// thread has its own).
class InternCache {
 public:
  static constexpr uint32_t kBits = 12;  // 4096 slots x 32 bytes
  static constexpr size_t kInline = 15;

  explicit InternCache(Interner& interner) : interner_(interner), slots_(1u << kBits) {}

  // Same contract as Interner::Intern(s, hash).
  uint32_t Intern(std::string_view s, uint64_t hash) {
    Slot& e = slots_[hash & ((1u << kBits) - 1)];
    const uint32_t epoch = interner_.epoch();
    if (e.hash == hash && e.id != 0 && e.epoch == epoch && Holds(e, s)) return e.id;
    const uint32_t id = interner_.Intern(s, hash);  // stamps at least `epoch`
    if (id != 0) {
      e.hash = hash;
      e.id = id;
      e.epoch = epoch;
      if (s.size() <= kInline) {
        e.size = static_cast<uint8_t>(s.size());
        std::memcpy(e.bytes, s.data(), s.size());
      } else {
        e.size = kLong;
      }
    }
    return id;
  }

 private:
  static constexpr uint8_t kLong = 0xff;  // the string is longer than kInline
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = 0;
    uint32_t epoch = 0;
    char bytes[kInline];
    uint8_t size = 0;  // of the string, or kLong
  };
  static_assert(sizeof(Slot) == 32);

  bool Holds(const Slot& e, std::string_view s) const {
    if (e.size == kLong) return s.size() > kInline && interner_.Lookup(e.id) == s;
    return e.size == s.size() && std::memcmp(e.bytes, s.data(), s.size()) == 0;
  }

  Interner& interner_;
  std::vector<Slot> slots_;
};

}  // namespace eddy
