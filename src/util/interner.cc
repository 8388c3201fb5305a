#include "util/interner.h"

#include <algorithm>
#include <cstring>

#include "util/hash.h"

namespace eddy {
namespace {
constexpr size_t kBlockBytes = 64 * 1024;
}

Interner::Interner()
    : stripes_(new Stripe[kStripes]), chunks_(new std::atomic<Entry*>[kMaxChunks]) {
  for (uint32_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

Interner::~Interner() {
  for (uint32_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

Interner::Entry* Interner::Slot(uint32_t id) {
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

uint32_t Interner::Intern(std::string_view s) { return Intern(s, StableHash64(s)); }

uint32_t Interner::Intern(std::string_view s, uint64_t hash) {
  Stripe& st = StripeFor(hash);
  MutexLock lock(&st.mu);
  if (auto it = st.map.find(Key{s, hash}); it != st.map.end()) return it->second;
  uint32_t id = next_.fetch_add(1, std::memory_order_relaxed);
  if (id > kMaxIds) {
    next_.fetch_sub(1, std::memory_order_relaxed);
    return 0;
  }
  if (st.left < s.size()) {
    size_t n = std::max(kBlockBytes, s.size());
    st.blocks.emplace_back(new char[n]);
    st.cursor = st.blocks.back().get();
    st.left = n;
  }
  char* copy = st.cursor;
  if (!s.empty()) std::memcpy(copy, s.data(), s.size());
  st.cursor += s.size();
  st.left -= s.size();
  *Slot(id) = Entry{copy, static_cast<uint32_t>(s.size())};
  st.map.emplace(Key{std::string_view(copy, s.size()), hash}, id);
  return id;
}

uint32_t Interner::Find(std::string_view s) const {
  const uint64_t hash = StableHash64(s);
  Stripe& st = StripeFor(hash);
  MutexLock lock(&st.mu);
  auto it = st.map.find(Key{s, hash});
  return it == st.map.end() ? 0 : it->second;
}

void Interner::Save(SerialWriter& w) const {
  // An id is taken and its entry written under one stripe's lock. Every id up to n was
  // taken before this load; holding each lock once afterwards waits for those writers and
  // makes their entries visible here.
  const uint32_t n = std::min(next_.load(std::memory_order_acquire) - 1, kMaxIds);
  for (int i = 0; i < kStripes; ++i) MutexLock lock(&stripes_[i].mu);
  w.U64(n);
  for (uint32_t id = 1; id <= n; ++id) w.Bytes(Lookup(id));
}

bool Interner::Load(SerialReader& r) {
  if (size() != 0) return false;
  const uint64_t n = r.Count(1);
  if (n > kMaxIds) return false;
  for (uint64_t id = 1; id <= n && r.ok(); ++id) {
    const std::string_view s = r.Bytes();
    if (!r.ok() || Intern(s) != id) return false;  // a repeated string would reuse an id
  }
  return r.ok();
}

std::string_view Interner::Lookup(uint32_t id) const {
  Entry* c = chunks_[id >> kChunkBits].load(std::memory_order_acquire);
  if (c == nullptr) return {};
  const Entry& e = c[id & ((1u << kChunkBits) - 1)];
  return {e.data, e.size};
}

}  // namespace eddy
