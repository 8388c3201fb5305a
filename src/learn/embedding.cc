#include "learn/embedding.h"

#include <algorithm>
#include <cmath>
#include <limits>


namespace eddy {
namespace {

// splitmix64's finaliser: a bijection that spreads every input bit over the output.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// 64 sign bits of components [64·word, 64·word + 64) of the user's vector.
uint64_t SignBits(uint32_t user_hash, uint64_t seed, uint32_t word) {
  return Mix(Mix(seed ^ (uint64_t{word} << 32 | user_hash)));
}

// a + b held within ±INT32_MAX (symmetric, so a magnitude always fits the slot's bound).
int32_t SaturatingAdd(int32_t a, int32_t b) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(std::clamp<int64_t>(int64_t{a} + b, -kMax, kMax));
}

// For each byte of sign bits, eight lane masks: 0 where the bit is set (+w), −1 where it
// is clear (−w), so that (w ^ m) − m adds ±w without a branch (vectorises with SSE2).
struct SignMasks {
  alignas(32) int32_t m[256][8];
  SignMasks() {
    for (int b = 0; b < 256; ++b) {
      for (int k = 0; k < 8; ++k) m[b][k] = (b >> k) & 1 ? 0 : -1;
    }
  }
};
const SignMasks kSignMasks;

}  // namespace

EmbeddingState::EmbeddingState(const Options& o, const CapShare& share)
    : options_(o.embedding),
      dims_(o.embedding.dimensions),
      items_(share.Of(o.embedding.max_items)) {}

int EmbeddingState::SignOf(uint32_t user_hash, uint64_t seed, uint32_t d) {
  return (SignBits(user_hash, seed, d / 64) >> (d % 64)) & 1 ? 1 : -1;
}

EmbeddingState::Slot& EmbeddingState::Acquire(ItemId item) {
  // A new item past the cap first makes the least recently touched one go (its vector's
  // place is then the new item's).
  bool added = false;
  Slot& slot = items_.Touch(item, [this](ItemId, const Slot& gone) { free_.push_back(gone.offset); }, &added);
  if (added) {
    if (!free_.empty()) {
      slot.offset = free_.back();
      free_.pop_back();
      std::fill_n(vectors_.begin() + size_t{slot.offset} * dims_, dims_, 0);
    } else {
      slot.offset = static_cast<uint32_t>(vectors_.size() / dims_);
      vectors_.resize(vectors_.size() + dims_, 0);
    }
  }
  slot.last_seq = ++seq_;
  return slot;
}

void EmbeddingState::PrefetchDeeper(const Event& ev, int stage) const {
  if (!ev.item.valid()) return;
  if (stage == 1) {
    items_.PrefetchValue(ev.item);
    return;
  }
  if (stage != 2) return;
  const Slot* slot = items_.PrefetchLinks(ev.item);
  if (slot == nullptr) return;
  const char* v = reinterpret_cast<const char*>(vectors_.data() + size_t{slot->offset} * dims_);
  for (uint32_t b = 0; b < dims_ * sizeof(int32_t); b += 64) __builtin_prefetch(v + b, 1);
}

void EmbeddingState::ApplyEvent(const Event& ev, const ApplyInfo& info) {
  if (!ev.item.valid() || !ev.user.valid() || info.weight <= 0 || info.filtered) return;
  const int32_t w =
      static_cast<int32_t>(std::clamp<int64_t>(std::llround(info.weight), 1, 1000));
  Slot& slot = Acquire(ev.item);
  int32_t* v = vectors_.data() + size_t{slot.offset} * dims_;
  // No component can pass ±INT32_MAX on this touch: plain adds (the common case).
  const bool safe = slot.bound <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max() - w);
  slot.bound = safe ? slot.bound + static_cast<uint32_t>(w) : std::numeric_limits<int32_t>::max();
  for (uint32_t word = 0; word * 64 < dims_; ++word) {
    const uint64_t bits = SignBits(ev.user_hash, options_.seed, word);
    const uint32_t end = std::min(dims_, word * 64 + 64);
    for (uint32_t d = word * 64; d < end; d += 8) {
      const int32_t* m = kSignMasks.m[(bits >> (d % 64)) & 0xFF];
      int32_t* out = v + d;
      if (safe) {
        for (int k = 0; k < 8; ++k) out[k] += (w ^ m[k]) - m[k];
      } else {
        for (int k = 0; k < 8; ++k) out[k] = SaturatingAdd(out[k], (w ^ m[k]) - m[k]);
      }
    }
  }
}

const int32_t* EmbeddingState::Find(ItemId item) const {
  const Slot* slot = items_.Find(item);
  return slot == nullptr ? nullptr : vectors_.data() + size_t{slot->offset} * dims_;
}

void EmbeddingState::ShareOf(const std::vector<ItemId>& items, Partial& p) const {
  p.at.assign(items.size(), Partial::kAbsent);
  p.data.clear();
  p.data.reserve(items.size() * dims_);  // one allocation (most items are usually known)
  for (size_t i = 0; i < items.size(); ++i) {
    const int32_t* v = Find(items[i]);
    if (v == nullptr) continue;
    p.at[i] = static_cast<uint32_t>(p.data.size());
    p.data.insert(p.data.end(), v, v + dims_);
  }
}

void EmbeddingState::SaveTo(SerialWriter& w) {
  w.U64(dims_);
  w.U64(seq_);
  w.U64(items_.size());
  items_.ForEach([&](ItemId item, const Slot& slot) {  // least recent first
    w.U64(item.value());
    w.U64(slot.last_seq);
    const int32_t* v = vectors_.data() + size_t{slot.offset} * dims_;
    for (uint32_t d = 0; d < dims_; ++d) w.I64(v[d]);
  });
}

bool EmbeddingState::LoadFrom(SerialReader& r, uint32_t) {
  items_.Clear();
  vectors_.clear();
  free_.clear();
  if (r.U64() != dims_) return false;
  seq_ = r.U64();
  if (seq_ >= kMaxLruRecency) return false;
  const uint64_t n = r.Count(2 + dims_);
  if (n > items_.max_keys()) return false;
  vectors_.reserve(n * dims_);
  // Read whole, then linked in recency order (earlier checkpoints are in table order).
  std::vector<std::pair<ItemId, Slot>> items;
  items.reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const uint32_t item = r.Id(Interners::kItems);
    Slot slot;
    slot.last_seq = r.U64();
    // The recency orders the items: between 1 and the state's own count, as touches give it.
    if (slot.last_seq > seq_ || slot.last_seq == 0) return false;
    slot.offset = static_cast<uint32_t>(vectors_.size() / dims_);
    for (uint32_t d = 0; d < dims_; ++d) {
      const int64_t c = r.I64();
      if (c < -int64_t{std::numeric_limits<int32_t>::max()} || c > std::numeric_limits<int32_t>::max()) {
        return false;
      }
      vectors_.push_back(static_cast<int32_t>(c));
      slot.bound = std::max(slot.bound, static_cast<uint32_t>(c < 0 ? -c : c));
    }
    if (item == 0) return false;
    items.emplace_back(ItemId(item), slot);
  }
  // Cut short, or an item twice: refused.
  return r.ok() && items_.AppendByRecency(items, [](const Slot& s) { return s.last_seq; });
}

void EmbeddingState::VisitIds(IdMarks& marks) {
  items_.ForEach([&](ItemId item, const Slot&) { marks.Mark(item); });
}

StateMemory EmbeddingState::Memory() const {
  return {items_.size(),
          vectors_.capacity() * sizeof(int32_t) + items_.bytes() + free_.capacity() * sizeof(uint32_t),
          items_.evicted()};
}

void EmbeddingState::DescribeSettings(std::string* out) const {
  Setting(out, "enabled", options_.enabled ? 1 : 0);
  Setting(out, "dimensions", dims_);
  Setting(out, "seed", options_.seed);
  Setting(out, "max_items", options_.max_items);
}

double Cosine(const double* a, const int64_t* b, uint32_t dims) {
  double dot = 0, na = 0, nb = 0;
  for (uint32_t d = 0; d < dims; ++d) {
    const double y = static_cast<double>(b[d]);
    dot += a[d] * y;
    na += a[d] * a[d];
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

}  // namespace eddy
