#include "agg/coview.h"

#include <algorithm>
#include <bit>

namespace eddy {
namespace {

// LSD radix sort of 64-bit keys, 8 bits per pass, skipping the passes where every key
// has the same digit (ids are dense and small: most high bytes are zero). One counting
// sweep serves all eight passes. `tmp` is scratch of the same size. (Sorting the whole
// key, not just the item, lets repeats of a pair collapse into one increment: measured
// faster than grouping by item alone.)
void RadixSort(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp) {
  tmp.resize(keys.size());
  uint32_t count[8][256] = {};
  for (uint64_t k : keys) {
    for (int d = 0; d < 8; ++d) ++count[d][(k >> (8 * d)) & 0xFF];
  }
  for (int d = 0; d < 8; ++d) {
    const int shift = 8 * d;
    if (count[d][(keys[0] >> shift) & 0xFF] == keys.size()) continue;  // one digit: no-op
    uint32_t sum = 0;
    for (uint32_t& c : count[d]) {
      const uint32_t n = c;
      c = sum;
      sum += n;
    }
    for (uint64_t k : keys) tmp[count[d][(k >> shift) & 0xFF]++] = k;
    keys.swap(tmp);
  }
}

// The top `bits` bits of Fibonacci hashing of `id` (0 when bits is 0): interned ids are
// dense, the multiplication spreads them over the top bits.
size_t FibonacciTop(uint32_t id, int bits) {
  return bits == 0 ? 0 : static_cast<size_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

}  // namespace

CoView::CoView(uint32_t max_neighbours, uint64_t max_items)
    : max_neighbours_(std::max<uint32_t>(1, max_neighbours)), items_(max_items) {
  buffer_.reserve(kBufferPairs + 2);
}

void CoView::Flush() {
  if (buffer_.empty()) return;
  RadixSort(buffer_, scratch_);
  Fold(buffer_);
  buffer_.clear();
}

void CoView::FlushItems(std::span<const ItemId> items) {
  if (buffer_.empty() || items.empty()) return;
  // A 4096-bit filter of the items' ids (in L1) rejects nearly every other pair with one
  // test; what passes is looked up among the items (sorted).
  uint64_t filter[64] = {};
  const auto bit = [](uint32_t id) { return FibonacciTop(id, 12); };
  std::vector<uint32_t>& ids = item_ids_;
  ids.clear();
  for (ItemId item : items) {
    ids.push_back(item.value());
    const size_t b = bit(item.value());
    filter[b >> 6] |= uint64_t{1} << (b & 63);
  }
  std::sort(ids.begin(), ids.end());
  const auto wanted = [&](uint32_t from) {
    const size_t b = bit(from);
    return (filter[b >> 6] & (uint64_t{1} << (b & 63))) != 0 &&
           std::binary_search(ids.begin(), ids.end(), from);
  };
  // Moves the items' pairs out (the rest keeps its place: Flush sorts it anyway).
  std::vector<uint64_t>& taken = item_scratch_;
  taken.clear();
  size_t kept = 0;
  for (const uint64_t pair : buffer_) {
    if (wanted(static_cast<uint32_t>(pair >> 32))) {
      taken.push_back(pair);
    } else {
      buffer_[kept++] = pair;
    }
  }
  if (taken.empty()) return;
  buffer_.resize(kept);
  std::sort(taken.begin(), taken.end());
  // A fold that makes a list may evict (past max_items), and eviction goes by when each
  // list was last folded: a list whose pairs are still buffered would look older than it
  // is. So when one of these items has no list yet and eddy is at the cap, fold it all.
  if (items_.size() + items.size() > items_.max_keys()) {
    for (size_t i = 0; i < taken.size(); ++i) {
      if ((i == 0 || (taken[i] >> 32) != (taken[i - 1] >> 32)) &&
          items_.Find(ItemId(static_cast<uint32_t>(taken[i] >> 32))) == nullptr) {
        buffer_.insert(buffer_.end(), taken.begin(), taken.end());
        return Flush();
      }
    }
  }
  Fold(taken);
}

void CoView::Fold(const std::vector<uint64_t>& pairs) {
  // Runs of one `from` item: where each starts (plus the end).
  runs_.clear();
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i == 0 || (pairs[i] >> 32) != (pairs[i - 1] >> 32)) runs_.push_back(i);
  }
  runs_.push_back(pairs.size());
  const size_t n = runs_.size() - 1;
  const auto from_of = [&](size_t r) { return ItemId(static_cast<uint32_t>(pairs[runs_[r]] >> 32)); };
  const auto evict = [this](ItemId, const List& l) {
    counters_ -= l.size;
    slots_ -= l.slots.size();
  };
  for (size_t r = 0; r < n; ++r) {
    // Each item's list is three cache misses in a row (its index slot, the list, its
    // counters; and the neighbours in the recency order, which the fold relinks): each is
    // started a few runs ahead, once the one before it is in.
    if (r + 16 < n) items_.Prefetch(from_of(r + 16));
    if (r + 8 < n) items_.PrefetchValue(from_of(r + 8));
    if (r + 4 < n) {
      if (const List* a = items_.PrefetchLinks(from_of(r + 4)); a != nullptr && !a->slots.empty()) {
        __builtin_prefetch(a->slots.data() + (a->slots.size() >> 1));
      }
    }
    // The lists past the cap go once the whole batch is folded: a list folded later in
    // this batch is as recent as the others, not the least recent.
    List& list = items_.TouchKeepingAll(from_of(r));
    list.last_seq = ++seq_;
    Merge(list, pairs.data() + runs_[r], runs_[r + 1] - runs_[r]);
  }
  items_.EvictPastCap(evict);
}

CoView::Counter* CoView::Slot(List& list, uint32_t id) {
  const size_t mask = list.slots.size() - 1;
  size_t i = FibonacciTop(id, std::countr_zero(list.slots.size()));
  while (list.slots[i].count != 0 && list.slots[i].id != id) i = (i + 1) & mask;
  return &list.slots[i];
}

void CoView::Rehash(List& list, size_t capacity) {
  std::vector<Counter> old(capacity, Counter{0, 0, 0});
  old.swap(list.slots);
  slots_ += capacity - old.size();
  for (const Counter& c : old) {
    if (c.count != 0) *Slot(list, c.id) = c;
  }
}

// Folds a sorted run of pairs (one `from`, neighbours ascending, repeats = increments).
void CoView::Merge(List& list, const uint64_t* pairs, size_t n) {
  size_t b = 0;
  while (b < n) {
    const uint32_t id = static_cast<uint32_t>(pairs[b]);
    uint32_t add = 0;
    while (b < n && static_cast<uint32_t>(pairs[b]) == id) {
      ++add;
      ++b;
    }
    // Grow before inserting so the load stays at most 7/8 and a probe always ends.
    if ((list.size + 1) * 8 > list.slots.size() * 7) {
      Rehash(list, std::max<size_t>(4, list.slots.size() * 2));
    }
    Counter* c = Slot(list, id);
    if (c->count != 0) {
      c->count += add;
    } else {
      *c = {id, list.floor + add, list.floor};
      ++list.size;
      ++counters_;
      if (list.size > 2 * max_neighbours_) Cut(list);
    }
  }
}

void CoView::Cut(List& list) {
  std::vector<Counter>& kept = cut_scratch_;
  kept.clear();
  for (const Counter& c : list.slots) {
    if (c.count != 0) kept.push_back(c);
  }
  std::nth_element(kept.begin(), kept.begin() + max_neighbours_, kept.end(),
                   [](const Counter& x, const Counter& y) { return x.count > y.count; });
  for (size_t k = max_neighbours_; k < kept.size(); ++k) list.floor = std::max(list.floor, kept[k].count);
  pruned_ += kept.size() - max_neighbours_;
  counters_ -= kept.size() - max_neighbours_;
  kept.resize(max_neighbours_);
  std::fill(list.slots.begin(), list.slots.end(), Counter{0, 0, 0});
  for (const Counter& c : kept) *Slot(list, c.id) = c;
  list.size = max_neighbours_;
}

void CoView::AddNeighbours(ItemId item, NeighbourSums* sums, uint64_t* floor) const {
  const List* list = items_.Find(item);
  if (list == nullptr) return;  // no list here: no pairs, nothing cut (floor 0)
  const uint64_t f = list->floor;
  for (const Counter& c : list->slots) {
    if (c.count == 0) continue;
    Neighbour& n = (*sums)[ItemId(c.id)];
    n.item = ItemId(c.id);
    // Modulo 2^64: an error is below the floor when the floor rose after it was made.
    n.count += uint64_t{c.count} - f;
    n.error += uint64_t{c.error} - f;
  }
  *floor += f;
}

void CoView::Neighbours(ItemId item, std::vector<Neighbour>* out) const {
  const List* list = items_.Find(item);
  if (list == nullptr) return;
  for (const Counter& c : list->slots) {
    if (c.count != 0) out->push_back({ItemId(c.id), c.count, c.error});
  }
}

size_t CoView::bytes() const {
  return items_.bytes() + slots_ * sizeof(Counter) +
         (buffer_.capacity() + scratch_.capacity() + item_scratch_.capacity()) * sizeof(uint64_t) +
         item_ids_.capacity() * sizeof(uint32_t);
}

void CoView::Save(SerialWriter& w) const {
  w.U64(seq_);
  w.U64(items_.evicted());
  w.U64(pruned_);
  w.U64(items_.size());
  items_.ForEach([&](ItemId item, const List& list) {
    w.U64(item.value());
    w.U64(list.floor);
    w.U64(list.last_seq);
    w.U64(list.slots.size());
    w.U64(list.size);
    for (const Counter& c : list.slots) {
      if (c.count == 0) continue;
      w.U64(c.id);
      w.U64(c.count);
      w.U64(c.error);
    }
  });
}

bool CoView::Load(SerialReader& r) {
  items_.Clear();
  buffer_.clear();
  counters_ = 0;
  slots_ = 0;
  seq_ = r.U64();
  if (seq_ >= kMaxLruRecency) return false;
  const uint64_t evicted = r.U64();
  pruned_ = r.U64();
  const uint64_t n = r.Count(5);
  if (n > items_.max_keys()) return false;
  // Read whole, then linked in recency order (earlier checkpoints are in table order).
  std::vector<std::pair<ItemId, List>> lists(n);
  for (auto& [item, list] : lists) {
    if (!r.ok()) return false;
    item = ReadItemId(r);
    list.floor = r.U32();
    list.last_seq = r.U64();
    const uint64_t capacity = r.U64();
    const uint64_t size = r.Count(3);
    // The recency orders the lists: between 1 and the state's own count, as a fold gives it.
    if (list.last_seq == 0 || list.last_seq > seq_ || size > 2 * uint64_t{max_neighbours_} ||
        !std::has_single_bit(capacity | (capacity == 0)) || size * 8 > capacity * 7 ||
        capacity > 64 * uint64_t{max_neighbours_}) {
      return false;
    }
    list.slots.assign(capacity, Counter{0, 0, 0});
    slots_ += capacity;
    for (uint64_t k = 0; k < size && r.ok(); ++k) {
      Counter c{r.Id(Interners::kItems), r.U32(), r.U32()};  // translated before Slot places it
      if (c.count == 0) return false;
      Counter* slot = Slot(list, c.id);
      if (slot->count != 0) return false;  // a repeated neighbour
      *slot = c;
    }
    list.size = static_cast<uint32_t>(size);
    counters_ += size;
  }
  if (!r.ok() || !items_.AppendByRecency(lists, [](const List& l) { return l.last_seq; })) {
    return false;  // cut short, or a repeated item
  }
  items_.set_evicted(evicted);
  return true;
}

}  // namespace eddy
