#include "util/interner.h"

#include <algorithm>
#include <cstring>

#include "util/hash.h"

namespace eddy {

Interner::Interner(const IdEpochs* epochs)
    : epochs_(epochs),
      stripes_(new Stripe[kStripes]),
      chunks_(new std::atomic<Entry*>[kMaxChunks]) {
  for (uint32_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

Interner::~Interner() {
  for (uint32_t i = 0; i < kMaxChunks; ++i) {
    Entry* c = chunks_[i].load(std::memory_order_relaxed);
    if (c == nullptr) continue;
    for (uint32_t j = 0; j < (1u << kChunkBits); ++j) delete[] c[j].data;
    delete[] c;
  }
}

Interner::Entry* Interner::Slot(uint32_t id) const {
  std::atomic<Entry*>& chunk = chunks_[id >> kChunkBits];
  Entry* c = chunk.load(std::memory_order_acquire);
  if (c == nullptr) {
    auto* fresh = new Entry[1u << kChunkBits]();
    if (chunk.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) {
      c = fresh;
    } else {
      delete[] fresh;  // another stripe installed it first; `c` now holds theirs
    }
  }
  return &c[id & ((1u << kChunkBits) - 1)];
}

void Interner::Place(Stripe& st, uint32_t id, const Key& key) {
  const std::string_view s = key.s;
  char* copy = new char[std::max<size_t>(1, s.size())];  // never null: null means free
  if (!s.empty()) std::memcpy(copy, s.data(), s.size());
  *Slot(id) = Entry{copy, static_cast<uint32_t>(s.size())};
  key.s = std::string_view(copy, s.size());
  st.made.store(st.made.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

uint32_t Interner::Intern(std::string_view s) { return Intern(s, StableHash64(s)); }

uint32_t Interner::Intern(std::string_view s, uint64_t hash) {
  Stripe& st = StripeFor(hash);
  MutexLock lock(&st.mu);
  // Read under the lock: the stamps of one stripe are then written in epoch order and never
  // go back (a stamp read before the lock could overwrite a newer one, and a sweep would
  // free an id handed out after it began).
  const uint32_t now = epoch();
  // One probe whether it is new or not; a new key views `s` until Place copies it.
  auto [it, inserted] = st.map.try_emplace(Key{s, hash}, Value{0, now});
  if (!inserted) {
    Stamp(it->second, now);
    return it->second.id;
  }
  uint32_t id;
  if (!st.free.empty()) {
    id = st.free.back();
    st.free.pop_back();
  } else {
    id = next_.fetch_add(1, std::memory_order_relaxed);
    if (id > kMaxIds) {
      next_.fetch_sub(1, std::memory_order_relaxed);
      st.map.erase(it);
      return 0;
    }
  }
  it->second.id = id;
  Place(st, id, it->first);
  return id;
}

uint32_t Interner::Find(std::string_view s) const {
  const uint64_t hash = StableHash64(s);
  Stripe& st = StripeFor(hash);
  MutexLock lock(&st.mu);
  auto it = st.map.find(Key{s, hash});
  if (it == st.map.end()) return 0;
  Stamp(it->second, epoch());
  return it->second.id;
}

uint32_t Interner::size() const { return static_cast<uint32_t>(made() - freed()); }

uint64_t Interner::made() const {
  uint64_t n = 0;
  for (int i = 0; i < kStripes; ++i) n += stripes_[i].made.load(std::memory_order_relaxed);
  return n;
}

uint64_t Interner::freed() const {
  uint64_t n = 0;
  for (int i = 0; i < kStripes; ++i) n += stripes_[i].freed.load(std::memory_order_relaxed);
  return n;
}

uint64_t Interner::Sweep(const IdBitmap& referenced, uint32_t before) {
  uint64_t total = 0;
  for (int i = 0; i < kStripes; ++i) {
    Stripe& st = stripes_[i];
    MutexLock lock(&st.mu);
    uint64_t n = 0;
    for (auto it = st.map.begin(); it != st.map.end();) {
      const uint32_t id = it->second.id;
      // Epochs only grow (by one per advance); the difference survives a wrap.
      const bool recent = static_cast<int32_t>(it->second.epoch - before) >= 0;
      if (recent || referenced.Test(id)) {
        ++it;
        continue;
      }
      Entry& e = *Slot(id);
      st.map.erase(it++);  // the key views e.data: erase first, then free it
      delete[] e.data;
      e = Entry{nullptr, 0};
      st.free.push_back(id);
      ++n;
    }
    st.freed.store(st.freed.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    total += n;
  }
  return total;
}

void Interner::Save(SerialWriter& w) const {
  // Ids below the bound were taken before this load. Each stripe's map, read under its
  // lock, names every live id of its strings; a string stays valid after the lock is
  // released because only Sweep frees one, and it does not run now. An id reused after its
  // stripe was read was free when this began, so nothing saved with it references it.
  const uint32_t n = std::min(bound() - 1, kMaxIds);
  std::vector<std::string_view> by_id(uint64_t{n} + 1);
  for (int i = 0; i < kStripes; ++i) {
    MutexLock lock(&stripes_[i].mu);
    for (const auto& [key, v] : stripes_[i].map) {
      if (v.id <= n) by_id[v.id] = key.s;
    }
  }
  w.U64(n);
  for (uint32_t id = 1; id <= n; ++id) w.Bytes(by_id[id]);
}

bool Interner::Load(SerialReader& r) {
  if (bound() != 1) return false;
  const uint64_t n = r.Count(1);
  if (n > kMaxIds) return false;
  for (uint64_t id = 1; id <= n && r.ok(); ++id) {
    const std::string_view s = r.Bytes();
    if (!r.ok()) return false;
    const uint64_t hash = StableHash64(s);
    Stripe& st = s.empty() ? stripes_[id % kStripes] : StripeFor(hash);
    MutexLock lock(&st.mu);
    if (s.empty()) {
      st.free.push_back(static_cast<uint32_t>(id));
      continue;
    }
    auto [it, inserted] = st.map.try_emplace(Key{s, hash}, Value{static_cast<uint32_t>(id), epoch()});
    if (!inserted) return false;  // a repeated string
    Place(st, static_cast<uint32_t>(id), it->first);
  }
  if (!r.ok()) return false;
  next_.store(static_cast<uint32_t>(n + 1), std::memory_order_release);
  return true;
}

std::string_view Interner::Lookup(uint32_t id) const {
  Entry* c = chunks_[id >> kChunkBits].load(std::memory_order_acquire);
  if (c == nullptr) return {};
  const Entry& e = c[id & ((1u << kChunkBits) - 1)];
  return {e.data, e.size};
}

}  // namespace eddy
