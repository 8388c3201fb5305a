#pragma once
// Item embeddings (the `embed` ranking signal; issue 18), learned online from every touch.
//
// An item's vector is a random projection of its column of the user × item matrix:
//
//   e(b) = Σ over the touches (u, b) of  w · s(u),   s(u) ∈ {−1, +1}^D
//
// where s(u) is a pseudo-random sign vector drawn from hash(userId) and embedding.seed
// (never stored: recomputed from the event), and w the event type's weight rounded to an
// integer in [1, 1000]. Random ±1 vectors of independent users are nearly orthogonal
// (Johnson–Lindenstrauss), so e(a)·e(b) ≈ D · Σ_u w_a(u) w_b(u), and cos(e(a), e(b))
// estimates the cosine of the two items' user columns — item-based collaborative
// filtering's "liked by the same people", over the whole history, with no pair counting:
// a touch costs D integer additions. The estimate's noise falls as 1/√D.
//
// Why a projection and not a gradient-trained model (skip-gram, matrix factorisation):
// it is a sum, so it is exact in every way the engine promises. The same events give the
// same vectors in any order, so any partition count, shard count or interleaving of a
// shard's partitions (which follows thread timing) gives bit-identical answers; recovery
// and replay are exact; and a vector kept per shard is a partial of the global one: the
// shards' (and later nodes') partials add up (SumShares). SGD would be none of these.
//
// A component saturates at ±(2^31 − 1) (about 2 M touches of weight 1000 by users of one
// sign on one shard): the one exception to "any order gives the same vector", since a
// clamped sum depends on the order of its terms. (SumShares adds shares as int64.)
//
// Memory: D int32 per item, at most `max_items` items over all shards (split over the
// partitions); past it the shard's least recently touched item is forgotten, one per new
// item (it starts from zero when touched again: its vector then reflects only the later
// touches on that shard).
//
// Thread-safety: none; owned and used by one shard thread.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agg/lru_map.h"
#include "agg/state.h"
#include "eddy/ids.h"
#include "eddy/options.h"
#include "util/serial.h"

namespace eddy {

class EmbeddingState final : public State {
 public:
  EmbeddingState(const Options& o, const CapShare& share);

  std::string_view Name() const override { return "embedding"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return options_.enabled; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  bool Prefetches() const override { return options_.enabled; }
  // The item's index slot first, then (stage 1) its slot, then (stage 2) its vector and
  // its neighbours in the recency order, which the touch relinks.
  void Prefetch(const Event& ev, const ApplyInfo& info) const override {
    if (ev.item.valid()) items_.Prefetch(ev.item);
  }
  void PrefetchDeeper(const Event& ev, int stage) const override;
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  uint32_t dimensions() const { return dims_; }
  // The user's sign vector's component d: +1 or −1 (`user_hash` as Event::user_hash).
  static int SignOf(uint32_t user_hash, uint64_t seed, uint32_t d);

  // One shard's share of several items' vectors: item i's components are
  // data[at[i] .. at[i] + D), or the shard has none (at[i] == kAbsent, all zero). An item's
  // global vector is the sum of its shards' (and later nodes') shares, in any order
  // (AddShare); only the shares that exist travel, as int32.
  struct Partial {
    static constexpr uint32_t kAbsent = UINT32_MAX;
    std::vector<uint32_t> at;
    std::vector<int32_t> data;
  };
  // This shard's share of `items` (replaces `p`).
  void ShareOf(const std::vector<ItemId>& items, Partial& p) const;
  // Adds item i's share in `part` to out[0, dims).
  static void AddShare(const Partial& part, size_t i, uint32_t dims, int64_t* out) {
    if (part.at.empty() || part.at[i] == Partial::kAbsent) return;
    const int32_t* v = part.data.data() + part.at[i];
    for (uint32_t d = 0; d < dims; ++d) out[d] += v[d];
  }
  // This shard's vector of `item`, or nullptr (tests, benches).
  const int32_t* Find(ItemId item) const;

 private:
  struct Slot {
    uint32_t offset = 0;   // into vectors_, in units of D
    uint32_t bound = 0;    // no component's magnitude exceeds it (saturates at INT32_MAX)
    uint64_t last_seq = 0;  // apply order of the latest touch: the recency order
  };
  Slot& Acquire(ItemId item);

  const EmbeddingOptions options_;
  const uint32_t dims_;
  uint64_t seq_ = 0;
  // In least-recently-touched order: past the cap the least recent goes, one per new
  // item (no pass over the table).
  LruMap<ItemId, Slot> items_;
  std::vector<int32_t> vectors_;  // D per slot
  std::vector<uint32_t> free_;    // slots of forgotten items
};

// Cosine similarity of two vectors of `dims` components (0 when either is zero).
double Cosine(const double* a, const int64_t* b, uint32_t dims);

// Item i's global vector from every shard's share (`dims` components, summed as int64).
template <typename Parts, typename Get>
void SumShares(const Parts& parts, Get share_of, size_t i, uint32_t dims, int64_t* out) {
  std::fill_n(out, dims, 0);
  for (const auto& part : parts) EmbeddingState::AddShare(share_of(part), i, dims, out);
}

}  // namespace eddy
