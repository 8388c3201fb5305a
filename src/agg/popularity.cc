#include "agg/popularity.h"

#include <algorithm>
#include <cmath>

namespace eddy {

Popularity::Popularity(int64_t half_life_ms, uint32_t top_keep, uint64_t max_items)
    : decay_(half_life_ms),
      top_keep_(std::max<uint32_t>(1, top_keep)),
      max_items_(std::max<uint64_t>(max_items, 2 * uint64_t{top_keep})) {}

void Popularity::Rebase(int64_t t_ms) {
  if (!has_ref_) {
    ref_ms_ = decay_.RefFor(t_ms);
    has_ref_ = true;
    return;
  }
  if (!decay_.NeedsRebase(ref_ms_, t_ms)) return;
  const int64_t shift = decay_.RebaseShift(ref_ms_, t_ms);
  const int e = static_cast<int>(-std::min<int64_t>(shift, 4096));
  for (Entry& entry : entries_) entry.sum = std::ldexp(entry.sum, e);
  for (auto& [c, m] : categories_) {
    for (auto& [item, s] : m) s = std::ldexp(s, e);
  }
  sweep_cutoff_ = std::ldexp(sweep_cutoff_, e);
  ref_ms_ += shift * decay_.half_life_ms();
}

void Popularity::Apply(ItemId item, CategoryId category, EventTime time, double weight) {
  if (weight <= 0) return;
  const int64_t t = time.millis();
  Rebase(t);
  const double add = weight * decay_.Growth(ref_ms_, t);
  auto [it, inserted] = items_.try_emplace(item, 0);
  if (inserted) {
    if (!free_.empty()) {
      it->second = free_.back();
      free_.pop_back();
      entries_[it->second] = Entry{};
      entries_[it->second].item = item;
    } else {
      it->second = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back().item = item;
    }
  }
  const uint32_t slot = it->second;
  entries_[slot].sum += add;
  if (category.valid()) {
    if (t >= entries_[slot].category_ms) {
      entries_[slot].category = category;
      entries_[slot].category_ms = t;
    }
    auto [c, new_entry] = categories_[category].try_emplace(item, 0.0);
    c->second += add;
    if (new_entry) {
      ++category_entries_;
      NoteCategory(slot, category);
    }
  }
  if (entries_[slot].heap_pos != kNotInHeap) {
    SiftDown(entries_[slot].heap_pos);  // a member grew: it may now beat its children
  } else {
    Offer(slot);
  }
  if (!inserted) return;
  if (sweep_pos_ == kNoSweep && items_.size() > max_items_) StartSweep();
  if (sweep_pos_ != kNoSweep) {
    // kSweepSlots per cap's worth of slots: a sweep ends within max_items / kSweepSlots
    // new items however many free slots the table holds.
    const uint64_t step = (uint64_t{kSweepSlots} * entries_.size() + max_items_ - 1) / max_items_;
    Sweep(static_cast<uint32_t>(std::clamp<uint64_t>(step, kSweepSlots, UINT32_MAX)));
  }
  if (items_.size() > item_bound()) {
    // A sweep forgot fewer than came while it ran (the scores under its cutoff grew past
    // it): it ends now, and a fresh one with it — a pass, which keeps the bound.
    if (sweep_pos_ != kNoSweep) Sweep(UINT32_MAX);
    if (items_.size() > max_items_) StartSweep();
    if (sweep_pos_ != kNoSweep) Sweep(UINT32_MAX);
  }
}

void Popularity::NoteCategory(uint32_t slot, CategoryId category) {
  Entry& e = entries_[slot];
  if (!e.sum_category.valid()) {
    e.sum_category = category;
  } else {
    more_categories_[e.item].push_back(category);
    ++more_category_entries_;
  }
}

// An item outside the set grew: it joins if the set has room or it beats the worst member.
void Popularity::Offer(uint32_t slot) {
  if (heap_.size() < top_keep_) {
    heap_.push_back(slot);
    entries_[slot].heap_pos = static_cast<uint32_t>(heap_.size() - 1);
    SiftUp(entries_[slot].heap_pos);
    return;
  }
  if (!Worse(heap_[0], slot)) return;
  entries_[heap_[0]].heap_pos = kNotInHeap;
  Place(0, slot);
  SiftDown(0);
}

void Popularity::SiftDown(uint32_t pos) {
  const uint32_t n = static_cast<uint32_t>(heap_.size());
  const uint32_t slot = heap_[pos];
  while (true) {
    uint32_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && Worse(heap_[child + 1], heap_[child])) ++child;
    if (!Worse(heap_[child], slot)) break;
    Place(pos, heap_[child]);
    pos = child;
  }
  Place(pos, slot);
}

void Popularity::SiftUp(uint32_t pos) {
  const uint32_t slot = heap_[pos];
  while (pos > 0) {
    const uint32_t parent = (pos - 1) / 2;
    if (!Worse(slot, heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, slot);
}

// The cutoff is the eighth-lowest of the scores outside the candidate set at every
// stride-th slot: about the lowest-scoring eighth of the items are at or below it. The
// sample is the same for the same slots (no randomness), so recovery and replay evict the
// same items as the run they restore.
void Popularity::StartSweep() {
  const size_t stride = std::max<size_t>(1, (entries_.size() + kSweepSample - 1) / kSweepSample);
  std::vector<double> sample;
  sample.reserve(kSweepSample);
  for (size_t i = 0; i < entries_.size(); i += stride) {
    const Entry& e = entries_[i];
    if (e.item.valid() && e.heap_pos == kNotInHeap) sample.push_back(e.sum);
  }
  if (sample.empty()) return;  // (nearly) every item is a candidate: nothing to forget
  // The share to forget: what takes the items down to 7/8 of the cap (an eighth of them
  // when a sweep starts just past it; more when the last one left them higher).
  const uint64_t items = items_.size(), keep = max_items_ - max_items_ / 8;
  const uint64_t excess = items > keep ? items - keep : 1;
  const size_t nth = std::max<size_t>(1, sample.size() * excess / items) - 1;
  std::nth_element(sample.begin(), sample.begin() + nth, sample.end());
  sweep_cutoff_ = sample[nth];
  sweep_pos_ = 0;
}

void Popularity::Sweep(uint32_t slots) {
  const size_t end = std::min<size_t>(entries_.size(), size_t{sweep_pos_} + slots);
  for (size_t i = sweep_pos_; i < end; ++i) {
    const Entry& e = entries_[i];
    if (e.item.valid() && e.heap_pos == kNotInHeap && e.sum <= sweep_cutoff_) {
      Forget(static_cast<uint32_t>(i));
    }
  }
  sweep_pos_ = end == entries_.size() ? kNoSweep : static_cast<uint32_t>(end);
}

// Its per-category sums go too: none is above its overall sum, which the cutoff bounds.
void Popularity::Forget(uint32_t slot) {
  Entry& e = entries_[slot];
  const auto erase_sum = [&](CategoryId category) {
    auto c = categories_.find(category);
    if (c == categories_.end()) return;
    category_entries_ -= c->second.erase(e.item);
    if (c->second.empty()) categories_.erase(c);
  };
  if (e.sum_category.valid()) erase_sum(e.sum_category);
  if (auto more = more_categories_.find(e.item); more != more_categories_.end()) {
    for (CategoryId category : more->second) erase_sum(category);
    more_category_entries_ -= more->second.size();
    more_categories_.erase(more);
  }
  items_.erase(e.item);
  e = Entry{};
  free_.push_back(slot);
  ++evicted_;
}

double Popularity::Top(CategoryId category, uint32_t k, int64_t now_ms, bool exhaustive,
                       std::vector<Scored>* out) const {
  std::vector<Scored> all;
  size_t universe = 0;
  if (!category.valid() && exhaustive) {
    all.reserve(items_.size());
    for (const auto& [i, slot] : items_) all.emplace_back(i, entries_[slot].sum);
    universe = all.size();
  } else if (!category.valid()) {
    all.reserve(heap_.size());
    for (uint32_t slot : heap_) all.emplace_back(entries_[slot].item, entries_[slot].sum);
    universe = items_.size();
  } else {
    auto c = categories_.find(category);
    if (c == categories_.end()) return 0;
    all.assign(c->second.begin(), c->second.end());
    universe = all.size();
  }
  const size_t n = std::min<size_t>(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end(), Better);
  const double scale = Scale(now_ms);
  for (size_t i = 0; i < n; ++i) out->emplace_back(all[i].first, all[i].second * scale);
  if (n == universe) return 0;
  // Everything not returned scores at most the last returned one (or, when the candidate
  // set ran out, at most its minimum).
  return n == 0 ? 0 : all[n - 1].second * scale;
}

void Popularity::TopAmongCandidates(const std::vector<CategoryId>& categories, uint32_t k,
                                    int64_t now_ms, std::vector<Scored>* out) const {
  std::vector<Scored> all;
  for (uint32_t slot : heap_) {
    const Entry& e = entries_[slot];
    if (std::find(categories.begin(), categories.end(), e.category) != categories.end()) {
      all.emplace_back(e.item, e.sum);
    }
  }
  const size_t n = std::min<size_t>(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end(), Better);
  const double scale = Scale(now_ms);
  for (size_t i = 0; i < n; ++i) out->emplace_back(all[i].first, all[i].second * scale);
}

void Popularity::ScoresOf(CategoryId category, const std::vector<ItemId>& items,
                          int64_t now_ms, std::vector<double>* out) const {
  out->assign(items.size(), 0);
  const double scale = Scale(now_ms);
  if (!category.valid()) {
    for (size_t i = 0; i < items.size(); ++i) {
      auto it = items_.find(items[i]);
      if (it != items_.end()) (*out)[i] = entries_[it->second].sum * scale;
    }
    return;
  }
  auto c = categories_.find(category);
  if (c == categories_.end()) return;
  for (size_t i = 0; i < items.size(); ++i) {
    auto it = c->second.find(items[i]);
    if (it != c->second.end()) (*out)[i] = it->second * scale;
  }
}

size_t Popularity::bytes() const {
  return items_.capacity() * (sizeof(ItemId) + sizeof(uint32_t) + 1) +
         entries_.capacity() * sizeof(Entry) + free_.capacity() * sizeof(uint32_t) +
         category_entries_ * (sizeof(ItemId) + sizeof(double) + 1) * 8 / 7 +
         heap_.capacity() * sizeof(uint32_t) +
         more_categories_.capacity() * (sizeof(ItemId) + sizeof(std::vector<CategoryId>) + 1) +
         more_category_entries_ * sizeof(CategoryId);
}

void Popularity::Save(SerialWriter& w) const {
  w.U64(has_ref_ ? 1 : 0);
  w.I64(ref_ms_);
  w.U64(evicted_);
  w.U64(entries_.size());
  for (const Entry& e : entries_) {
    w.U64(e.item.value());
    w.U64(e.category.value());
    w.F64(e.sum);
    w.U64(e.heap_pos);
    w.I64(e.category_ms);
  }
  w.U64(free_.size());
  for (uint32_t s : free_) w.U64(s);
  w.U64(heap_.size());
  for (uint32_t s : heap_) w.U64(s);
  w.U64(categories_.size());
  for (const auto& [c, m] : categories_) {
    w.U64(c.value());
    w.U64(m.size());
    for (const auto& [item, sum] : m) {
      w.U64(item.value());
      w.F64(sum);
    }
  }
  w.U64(sweep_pos_);
  w.F64(sweep_cutoff_);
}

bool Popularity::Load(SerialReader& r, uint32_t version) {
  items_.clear();
  entries_.clear();
  free_.clear();
  heap_.clear();
  categories_.clear();
  more_categories_.clear();
  more_category_entries_ = 0;
  category_entries_ = 0;
  sweep_pos_ = kNoSweep;
  sweep_cutoff_ = 0;
  has_ref_ = r.U64() != 0;
  ref_ms_ = r.I64();
  evicted_ = r.U64();
  const uint64_t n = r.Count(11);
  entries_.resize(n);
  // Ids as written: a free slot's are stale (never marked, so not translatable); the others
  // are translated below, once the free slots are known.
  for (Entry& e : entries_) {
    e.item = ItemId(r.U32());
    e.category = CategoryId(r.U32());
    e.sum = r.F64();
    e.heap_pos = r.U32();
    e.category_ms = version >= 2 ? r.I64() : INT64_MIN;
  }
  std::vector<bool> is_free(n, false);
  const uint64_t nfree = r.Count(1);
  for (uint64_t i = 0; i < nfree && r.ok(); ++i) {
    const uint32_t s = r.U32();
    if (s >= n || is_free[s]) return false;
    is_free[s] = true;
    free_.push_back(s);
  }
  const uint64_t nheap = r.Count(1);
  for (uint64_t i = 0; i < nheap && r.ok(); ++i) {
    const uint32_t s = r.U32();
    if (s >= n || entries_[s].heap_pos != i) return false;
    heap_.push_back(s);
  }
  if (!r.ok() || heap_.size() > top_keep_) return false;
  // Every entry's heap position names its place in the heap (or none), sums are finite
  // and no member is worse than its parent: what Apply's sifts rely on (a checkpoint
  // breaking that was applied out of bounds — found by fuzz_checkpoint).
  for (uint32_t s = 0; s < n; ++s) {
    const Entry& e = entries_[s];
    if (!std::isfinite(e.sum)) return false;
    if (e.heap_pos != kNotInHeap &&
        (is_free[s] || e.heap_pos >= heap_.size() || heap_[e.heap_pos] != s)) {
      return false;
    }
  }
  for (size_t i = 1; i < heap_.size(); ++i) {
    if (Worse(heap_[i], heap_[(i - 1) / 2])) return false;
  }
  // A free slot is all defaults (older formats wrote what its item left behind).
  for (uint32_t s = 0; s < n; ++s) {
    if (is_free[s]) entries_[s] = Entry{};
  }
  if (r.translating()) {
    // Another node's ids: translate the live slots, and heap again (ties go by item id).
    for (uint32_t s = 0; s < n && r.ok(); ++s) {
      Entry& e = entries_[s];
      if (is_free[s]) continue;
      e.item = ItemId(r.Translate(Interners::kItems, e.item.value()));
      e.category = CategoryId(r.Translate(Interners::kCategories, e.category.value()));
    }
    std::make_heap(heap_.begin(), heap_.end(), [this](uint32_t a, uint32_t b) { return Worse(b, a); });
    for (uint32_t i = 0; i < heap_.size(); ++i) entries_[heap_[i]].heap_pos = i;
  }
  for (uint32_t s = 0; s < n && r.ok(); ++s) {
    if (is_free[s]) continue;
    if (!entries_[s].item.valid() || !items_.emplace(entries_[s].item, s).second) return false;
  }
  if (items_.size() > max_items_ + max_items_ / 8 + 1) return false;
  const uint64_t ncat = r.Count(2);
  for (uint64_t i = 0; i < ncat && r.ok(); ++i) {
    const CategoryId category = ReadCategoryId(r);
    if (!category.valid()) return false;
    CategoryMap& m = categories_[category];
    const uint64_t k = r.Count(9);
    m.reserve(k);
    for (uint64_t j = 0; j < k && r.ok(); ++j) {
      const ItemId item = ReadItemId(r);
      const double sum = r.F64();
      if (!std::isfinite(sum) || !m.emplace(item, sum).second) return false;
      // Only items held have sums (no sum is above its item's, and every format forgot
      // the sums with the item); what forgetting the item erases.
      auto it = items_.find(item);
      if (it == items_.end()) return false;
      NoteCategory(it->second, category);
    }
    category_entries_ += k;
  }
  if (version >= 3) {
    const uint64_t pos = r.U64();
    const double cutoff = r.F64();
    if (pos != kNoSweep && (pos >= n || !std::isfinite(cutoff))) return false;
    sweep_pos_ = static_cast<uint32_t>(pos);
    sweep_cutoff_ = pos == kNoSweep ? 0 : cutoff;
  }
  return r.ok();
}

}  // namespace eddy
