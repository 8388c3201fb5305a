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
// shards' (and later nodes') partials add up (Merge). SGD would be none of these.
//
// Memory: D int32 per item (a component saturates at ±(2^31 − 1)), at most `max_items`
// items over all shards (split over the partitions); past it the least recently touched
// eighth of a shard's items is forgotten in one pass (they start from zero when touched
// again: their vector then reflects only the later touches on that shard).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
  void Prefetch(const Event& ev, const ApplyInfo& info) const override {
    if (ev.item.valid()) items_.prefetch(ev.item);
  }
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  uint32_t dimensions() const { return dims_; }
  // The user's sign vector's component d: +1 or −1 (`user_hash` as Event::user_hash).
  static int SignOf(uint32_t user_hash, uint64_t seed, uint32_t d);

  // A partial of several items' vectors: item i's components at [i·D, (i+1)·D), summed
  // over shards (and nodes) by Merge, in any order. Empty = no item known anywhere yet.
  using Partial = std::vector<int64_t>;
  // Adds this shard's vectors of `items` to `p` (sized on first use).
  void AddTo(Partial& p, const std::vector<ItemId>& items) const;
  static void Merge(Partial& into, const Partial& part);
  // This shard's vector of `item`, or nullptr (tests, benches).
  const int32_t* Find(ItemId item) const;

 private:
  struct Slot {
    uint32_t offset = 0;   // into vectors_, in units of D
    uint64_t last_seq = 0;
  };
  int32_t* Acquire(ItemId item);
  void EvictOldest();

  const EmbeddingOptions options_;
  const uint32_t dims_;
  const uint64_t max_items_;
  uint64_t seq_ = 0;
  uint64_t evicted_ = 0;
  absl::flat_hash_map<ItemId, Slot> items_;
  std::vector<int32_t> vectors_;  // D per slot
  std::vector<uint32_t> free_;    // slots of forgotten items
};

// Cosine similarity of two vectors of `dims` components (0 when either is zero).
double Cosine(const double* a, const int64_t* b, uint32_t dims);

}  // namespace eddy
