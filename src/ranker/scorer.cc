#include "ranker/scorer.h"

#include <algorithm>
#include <unordered_map>

namespace eddy::ranker {
namespace {

bool Passes(const Candidate& c, const Rules& r) {
  if (!r.category.empty() && c.category != r.category) return false;
  if (r.min_price_micros || r.max_price_micros) {
    if (!c.price_micros) return false;
    if (r.min_price_micros && *c.price_micros < *r.min_price_micros) return false;
    if (r.max_price_micros && *c.price_micros > *r.max_price_micros) return false;
  }
  if (!c.in_stock) return false;
  if (r.exclude_bought && c.bought) return false;
  return true;
}

}  // namespace

std::vector<Scored> Rank(const std::vector<Candidate>& candidates, const SignalValues& weights,
                         const Rules& rules, uint32_t k) {
  std::vector<Scored> out;
  out.reserve(candidates.size());
  SignalValues max{};
  for (const Candidate& c : candidates) {
    if (!Passes(c, rules)) continue;
    Scored s;
    s.candidate = &c;
    out.push_back(s);
    for (size_t i = 0; i < kSignalCount; ++i) max[i] = std::max(max[i], std::max(0.0, c.raw[i]));
  }
  for (Scored& s : out) {
    for (size_t i = 0; i < kSignalCount; ++i) {
      const double raw = std::max(0.0, s.candidate->raw[i]);
      s.normalised[i] = max[i] > 0 ? raw / max[i] : 0.0;
      s.contribution[i] = weights[i] * s.normalised[i];
      s.score += s.contribution[i];
    }
  }
  const auto better = [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : a.candidate->item < b.candidate->item;
  };
  if (rules.max_per_category == 0) {
    // No cap: the answer is the best k. Order just those (items are distinct, so the order
    // is total and the k are the same as a whole sort's).
    if (k < out.size()) {
      std::partial_sort(out.begin(), out.begin() + k, out.end(), better);
      out.resize(k);
    } else {
      std::sort(out.begin(), out.end(), better);
    }
    return out;
  }
  std::sort(out.begin(), out.end(), better);
  std::vector<Scored> top;
  std::unordered_map<std::string_view, uint32_t> per_category;
  for (const Scored& s : out) {
    if (top.size() >= k) break;
    if (++per_category[s.candidate->category] > rules.max_per_category) continue;
    top.push_back(s);
  }
  return top;
}

}  // namespace eddy::ranker
