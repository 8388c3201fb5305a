#include "agg/coview.h"

#include "agg/evict.h"

#include <algorithm>

namespace eddy {
namespace {

// LSD radix sort of 64-bit keys, 8 bits per pass, skipping the passes where every key
// has the same digit (ids are dense and small: most high bytes are zero). One counting
// sweep serves all eight passes. `tmp` is scratch of the same size.
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

}  // namespace

CoView::CoView(uint32_t max_neighbours, uint64_t max_items)
    : max_neighbours_(std::max<uint32_t>(1, max_neighbours)),
      max_items_(std::max<uint64_t>(1, max_items)) {
  buffer_.reserve(kBufferPairs + 2);
}

void CoView::Flush() {
  if (buffer_.empty()) return;
  RadixSort(buffer_, scratch_);
  size_t i = 0;
  bool inserted_any = false;
  while (i < buffer_.size()) {
    const uint32_t from = static_cast<uint32_t>(buffer_[i] >> 32);
    size_t j = i;
    while (j < buffer_.size() && (buffer_[j] >> 32) == from) ++j;
    auto [it, inserted] = items_.try_emplace(ItemId(from));
    inserted_any |= inserted;
    it->second.last_seq = ++seq_;
    Merge(it->second, buffer_.data() + i, j - i);
    i = j;
  }
  buffer_.clear();
  if (inserted_any && items_.size() > max_items_) EvictOldest();
}

// Folds a sorted run of pairs (one `from`, neighbours ascending, repeats = increments).
void CoView::Merge(List& list, const uint64_t* pairs, size_t n) {
  std::vector<Counter>& c = list.counters;
  const auto by_id = [](const Counter& x, const Counter& y) { return x.id < y.id; };
  size_t b = 0;
  while (b < n) {
    const uint32_t id = static_cast<uint32_t>(pairs[b]);
    uint32_t add = 0;
    while (b < n && static_cast<uint32_t>(pairs[b]) == id) {
      ++add;
      ++b;
    }
    auto end = c.begin() + list.sorted;
    auto it = std::lower_bound(c.begin(), end, Counter{id, 0, 0}, by_id);
    if (it == end || it->id != id) {
      it = std::find_if(end, c.end(), [id](const Counter& x) { return x.id == id; });
    }
    if (it != c.end()) {
      it->count += add;
    } else {
      c.push_back({id, list.floor + add, list.floor});
      ++counters_;
    }
  }
  if (c.size() - list.sorted <= kMaxTail && c.size() <= 2 * size_t{max_neighbours_}) return;
  if (c.size() > 2 * size_t{max_neighbours_}) {
    // Keep the max_neighbours best; the floor rises to the largest count cut.
    std::nth_element(c.begin(), c.begin() + max_neighbours_, c.end(),
                     [](const Counter& x, const Counter& y) { return x.count > y.count; });
    for (size_t k = max_neighbours_; k < c.size(); ++k) list.floor = std::max(list.floor, c[k].count);
    pruned_ += c.size() - max_neighbours_;
    counters_ -= c.size() - max_neighbours_;
    c.resize(max_neighbours_);
    std::sort(c.begin(), c.end(), by_id);
  } else {
    std::sort(c.begin() + list.sorted, c.end(), by_id);
    std::inplace_merge(c.begin(), c.begin() + list.sorted, c.end(), by_id);
  }
  list.sorted = static_cast<uint32_t>(c.size());
}

void CoView::EvictOldest() {
  evicted_ += EvictLeastRecentEighth(
      items_, [](const List& l) { return l.last_seq; },
      [this](const List& l) { counters_ -= l.counters.size(); });
}

void CoView::Neighbours(ItemId item, std::vector<Neighbour>* out) const {
  auto it = items_.find(item);
  if (it == items_.end()) return;
  for (const Counter& c : it->second.counters) out->push_back({ItemId(c.id), c.count, c.error});
}

size_t CoView::bytes() const {
  return items_.capacity() * (sizeof(ItemId) + sizeof(List) + 1) + counters_ * sizeof(Counter) +
         (buffer_.capacity() + scratch_.capacity()) * sizeof(uint64_t);
}

}  // namespace eddy
