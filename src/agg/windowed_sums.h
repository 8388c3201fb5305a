#pragma once
// WindowedSums<Key>: one shard's weighted sums and event counts per key per minute, with a
// running total per configured window (SPEC §3: trending by category, engagement by item
// and type, velocity).
//
// Time is event time in whole minutes. Minute buckets are kept for the longest window
// plus kSlackMinutes; `cur` is the newest minute this shard has seen (or been advanced to).
// totals_[w] always equals the sum of the buckets in [cur - W + 1, cur], so a read at the
// engine's global minute g (which may differ from cur by a few minutes either way) costs
// the buckets between the two ranges, not the whole window. Sums of weights are exact:
// weights are fixed-point integers (millionths).
//
// Thread-safety: none; owned and used by one shard thread.

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "util/interners.h"
#include "util/serial.h"
#include "util/time.h"

namespace eddy {

template <typename Key>
class WindowedSums {
 public:
  struct Cell {
    int64_t weight = 0;  // millionths
    int64_t count = 0;
  };
  using Sums = absl::flat_hash_map<Key, Cell>;

  // How far a read's minute may trail this shard's newest minute and stay exact.
  static constexpr int64_t kSlackMinutes = kReadSlackMinutes;

  explicit WindowedSums(std::vector<int64_t> window_minutes)
      : windows_(std::move(window_minutes)),
        longest_(windows_.empty() ? 1 : *std::max_element(windows_.begin(), windows_.end())),
        totals_(windows_.size()) {}
  // Not copyable: hot_ points into buckets_.
  WindowedSums(const WindowedSums&) = delete;
  WindowedSums& operator=(const WindowedSums&) = delete;

  // Counts one event. Events older than every window (plus slack) are not kept; they could
  // never show in an answer.
  void Apply(Key key, int64_t minute, int64_t weight) {
    AdvanceTo(minute);
    if (minute < cur_ - longest_ - kSlackMinutes + 1) return;
    if (minute != hot_minute_ || hot_ == nullptr) {
      hot_ = &buckets_[minute];
      hot_minute_ = minute;
    }
    Cell& b = (*hot_)[key];
    b.weight += weight;
    ++b.count;
    for (size_t w = 0; w < windows_.size(); ++w) {
      if (minute >= cur_ - windows_[w] + 1) {
        Cell& t = totals_[w][key];
        t.weight += weight;
        ++t.count;
      }
    }
  }

  // Starts loading the cells an Apply(key, minute) would touch into cache (a hint only).
  void Prefetch(Key key, int64_t minute) const {
    if (minute == hot_minute_ && hot_ != nullptr) hot_->prefetch(key);
    for (const Sums& t : totals_) t.prefetch(key);
  }

  // Moves `cur` forward (never back), expiring what left each window.
  void AdvanceTo(int64_t minute) {
    if (minute <= cur_) return;
    if (cur_ == INT64_MIN) {
      cur_ = minute;
      return;
    }
    for (size_t w = 0; w < windows_.size(); ++w) {
      const int64_t old_start = cur_ - windows_[w] + 1, new_start = minute - windows_[w] + 1;
      Subtract(old_start, std::min(new_start - 1, cur_), &totals_[w]);
    }
    cur_ = minute;
    const int64_t keep_from = cur_ - longest_ - kSlackMinutes + 1;
    buckets_.erase(buckets_.begin(), buckets_.lower_bound(keep_from));
    if (hot_minute_ < keep_from) hot_ = nullptr;
  }

  // Forgets every cell of `keys` in the minutes [from, to] and in every window total: the
  // keys of an owner evicted by its cap, when the caller knows the minutes they can have
  // cells in (cost: one walk of the buckets in that range, not of the whole table). A
  // table left at under a quarter of its capacity is shrunk: a cap must bound the memory,
  // not just the keys (amortised: it takes that many erases to get there again).
  void EraseKeys(std::span<const Key> keys, int64_t from, int64_t to) {
    if (keys.empty()) return;
    const auto erase = [&](Sums& m) {
      size_t erased = 0;
      for (const Key& key : keys) erased += m.erase(key);
      if (erased > 0 && m.size() < m.capacity() / 4) m.rehash(0);
    };
    for (auto it = buckets_.lower_bound(from); it != buckets_.end() && it->first <= to; ++it) {
      erase(it->second);
    }
    for (Sums& t : totals_) erase(t);
  }

  // Adds this shard's sums of every key for window `w` at global minute `g` to `out`.
  void AddWindow(size_t w, int64_t g, Sums* out) const {
    if (cur_ == INT64_MIN) return;
    for (const auto& [key, cell] : totals_[w]) Add(out, key, cell, +1);
    Correct(w, g, [&](int64_t lo, int64_t hi, int sign) { AddRange(lo, hi, sign, out); });
  }

  // This shard's sums of one key for window `w` at global minute `g`.
  Cell WindowOf(size_t w, int64_t g, Key key) const {
    Cell c;
    if (cur_ == INT64_MIN) return c;
    auto it = totals_[w].find(key);
    if (it != totals_[w].end()) c = it->second;
    Correct(w, g, [&](int64_t lo, int64_t hi, int sign) {
      for (auto b = buckets_.lower_bound(lo); b != buckets_.end() && b->first <= hi; ++b) {
        auto k = b->second.find(key);
        if (k == b->second.end()) continue;
        c.weight += sign * k->second.weight;
        c.count += sign * k->second.count;
      }
    });
    return c;
  }

  // Adds this shard's cells of one minute to `out`.
  void AddBucket(int64_t minute, Sums* out) const { AddRange(minute, minute, +1, out); }

  // Adds this shard's per-minute counts of `key` for minutes [g - n + 1, g] to
  // counts[0..n) (oldest first).
  void AddMinutes(Key key, int64_t g, int64_t n, std::vector<int64_t>* counts) const {
    for (auto it = buckets_.lower_bound(g - n + 1); it != buckets_.end() && it->first <= g;
         ++it) {
      auto c = it->second.find(key);
      if (c != it->second.end()) (*counts)[it->first - (g - n + 1)] += c->second.count;
    }
  }

  // Checkpoint: the minute buckets and the running totals, verbatim.
  void Save(SerialWriter& w) const {
    w.I64(cur_);
    w.U64(buckets_.size());
    for (const auto& [minute, bucket] : buckets_) {
      w.I64(minute);
      SaveSums(w, bucket);
    }
    w.U64(totals_.size());
    for (const Sums& t : totals_) SaveSums(w, t);
  }
  // `translate` turns an integral key as written into this engine's when the checkpoint
  // came from other interners (SerialReader::Translate); null: keys hold no id. CategoryId
  // keys are translated as categories.
  using TranslateFn = uint64_t (*)(SerialReader&, uint64_t);
  bool Load(SerialReader& r, TranslateFn translate = nullptr) {
    translate_ = translate;
    buckets_.clear();
    hot_ = nullptr;
    hot_minute_ = INT64_MIN;
    cur_ = r.I64();
    const uint64_t n = r.Count(2);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      const int64_t minute = r.I64();
      if (!LoadSums(r, &buckets_[minute])) return false;
    }
    if (r.Count(1) != totals_.size()) return false;  // the windows changed
    for (Sums& t : totals_) {
      if (!LoadSums(r, &t)) return false;
    }
    return r.ok();
  }

  int64_t cur() const { return cur_; }
  // Approximate heap bytes (hash tables at capacity; map nodes at their payload).
  size_t bytes() const {
    constexpr size_t kSlot = sizeof(Key) + sizeof(Cell) + 1;
    size_t b = 0;
    for (const auto& [m, bucket] : buckets_) b += 64 + bucket.capacity() * kSlot;
    for (const Sums& t : totals_) b += t.capacity() * kSlot;
    return b;
  }
  size_t buckets() const { return buckets_.size(); }
  // Calls f(minute, key) for every cell of a minute bucket.
  template <typename F>
  void ForEachCell(F f) const {
    for (const auto& [minute, bucket] : buckets_) {
      for (const auto& kv : bucket) f(minute, kv.first);
    }
  }
  // Calls f(key) for every key in a window total (repeats included).
  template <typename F>
  void ForEachTotalKey(F f) const {
    for (const Sums& t : totals_) {
      for (const auto& kv : t) f(kv.first);
    }
  }
  // Calls f(key) for every key in a minute bucket or a window total (repeats included).
  template <typename F>
  void ForEachKey(F f) const {
    ForEachCell([&](int64_t, const Key& key) { f(key); });
    ForEachTotalKey(f);
  }
  size_t tracked_keys() const {
    size_t n = 0;
    for (const Sums& t : totals_) n = std::max(n, t.size());
    return n;
  }

 private:
  using Bucket = absl::flat_hash_map<Key, Cell>;

  static void Add(Sums* out, const Key& key, const Cell& cell, int sign) {
    Cell& c = (*out)[key];
    c.weight += sign * cell.weight;
    c.count += sign * cell.count;
  }

  // Takes the buckets with minute in [lo, hi] out of a window total, erasing the cells
  // that fall to no event: the cost is those buckets' cells, not the total's.
  void Subtract(int64_t lo, int64_t hi, Sums* total) {
    if (lo > hi) return;
    for (auto it = buckets_.lower_bound(lo); it != buckets_.end() && it->first <= hi; ++it) {
      for (const auto& [key, cell] : it->second) {
        auto t = total->try_emplace(key).first;
        t->second.weight -= cell.weight;
        t->second.count -= cell.count;
        if (t->second.count == 0) total->erase(t);
      }
    }
  }

  // Adds sign x (buckets with minute in [lo, hi]) to `out`.
  void AddRange(int64_t lo, int64_t hi, int sign, Sums* out) const {
    if (lo > hi) return;
    for (auto it = buckets_.lower_bound(lo); it != buckets_.end() && it->first <= hi; ++it) {
      for (const auto& [key, cell] : it->second) Add(out, key, cell, sign);
    }
  }

  // totals_[w] cover [cur - W + 1, cur]; an answer at g covers [g - W + 1, g]. Calls
  // range(lo, hi, sign) for the bucket ranges that turn the first into the second.
  template <typename Range>
  void Correct(size_t w, int64_t g, Range range) const {
    const int64_t W = windows_[w];
    if (g >= cur_) {
      if (cur_ - W + 1 <= g - W) range(cur_ - W + 1, g - W, -1);  // nothing exists after cur
    } else {
      const int64_t lo = std::max(g + 1, cur_ - W + 1);
      if (lo <= cur_) range(lo, cur_, -1);               // in the totals, after g
      const int64_t hi = std::min(cur_ - W, g);
      if (g - W + 1 <= hi) range(g - W + 1, hi, +1);     // in the answer, before them
    }
  }

  static uint64_t KeyBits(Key k) {
    if constexpr (std::is_integral_v<Key>) {
      return k;
    } else {
      return k.value();
    }
  }
  static Key KeyOf(uint64_t v) {
    if constexpr (std::is_integral_v<Key>) {
      return v;
    } else {
      return Key(static_cast<typename Key::rep_type>(v));
    }
  }
  static void SaveSums(SerialWriter& w, const Sums& s) {
    w.U64(s.size());
    for (const auto& [key, cell] : s) {
      w.U64(KeyBits(key));
      w.I64(cell.weight);
      w.I64(cell.count);
    }
  }
  Key ReadKey(SerialReader& r) const {
    const uint64_t v = r.U64();
    if constexpr (std::is_same_v<Key, CategoryId>) {
      return v > UINT32_MAX ? Key(0) : Key(r.Translate(Interners::kCategories, static_cast<uint32_t>(v)));
    } else {
      return KeyOf(translate_ != nullptr ? translate_(r, v) : v);
    }
  }
  bool LoadSums(SerialReader& r, Sums* s) const {
    s->clear();
    const uint64_t n = r.Count(3);
    s->reserve(n);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      const Key key = ReadKey(r);
      Cell c;
      c.weight = r.I64();
      c.count = r.I64();
      if (!s->emplace(key, c).second) return false;
    }
    return r.ok();
  }

  std::vector<int64_t> windows_;
  int64_t longest_;
  std::map<int64_t, Bucket> buckets_;  // by minute, sparse
  std::vector<Sums> totals_;           // per window, over [cur - W + 1, cur]
  TranslateFn translate_ = nullptr;    // Load's, for its helpers
  int64_t cur_ = INT64_MIN;
  // The bucket of the latest Apply's minute (std::map nodes do not move), so the common
  // case skips the tree walk; reset when that minute is expired.
  Bucket* hot_ = nullptr;
  int64_t hot_minute_ = INT64_MIN;
};

}  // namespace eddy
