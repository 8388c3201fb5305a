#include "agg/affinity.h"

#include "agg/evict.h"

#include <algorithm>
#include <cmath>

namespace eddy {

void Affinity::Apply(UserId user, CategoryId category, EventTime time, double weight) {
  if (weight <= 0) return;
  const int64_t t = time.millis();
  auto [it, inserted] = users_.try_emplace(user);
  UserState& u = it->second;
  u.last_seq = ++seq_;
  if (inserted) {
    u.ref_ms = decay_.RefFor(t);
  } else if (decay_.NeedsRebase(u.ref_ms, t)) {
    const int64_t shift = decay_.RebaseShift(u.ref_ms, t);
    for (auto& [c, s] : u.sums) s = std::ldexp(s, static_cast<int>(-std::min<int64_t>(shift, 4096)));
    u.ref_ms += shift * decay_.half_life_ms();
  }
  const double add = weight * decay_.Growth(u.ref_ms, t);
  bool found = false;
  for (auto& [c, s] : u.sums) {
    if (c == category) {
      s += add;
      found = true;
      break;
    }
  }
  if (!found) {
    u.sums.emplace_back(category, add);
    ++entries_;
    if (u.sums.size() > max_categories_) {
      auto low = std::min_element(u.sums.begin(), u.sums.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second < b.second : a.first > b.first;
      });
      u.sums.erase(low);
      --entries_;
    }
  }
  if (inserted && users_.size() > max_users_) EvictOldest();
}

void Affinity::EvictOldest() {
  evicted_ += EvictLeastRecentEighth(
      users_, [](const UserState& u) { return u.last_seq; },
      [this](const UserState& u) { entries_ -= u.sums.size(); });
}

void Affinity::Scores(UserId user, EventTime now,
                      std::vector<std::pair<CategoryId, double>>* out) const {
  out->clear();
  auto it = users_.find(user);
  if (it == users_.end()) return;
  const double scale = decay_.ScoreFactor(it->second.ref_ms, now.millis());
  for (const auto& [c, s] : it->second.sums) out->emplace_back(c, s * scale);
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
}

size_t Affinity::bytes() const {
  return users_.capacity() * (sizeof(UserId) + sizeof(UserState) + 1) +
         entries_ * sizeof(std::pair<CategoryId, double>);
}

}  // namespace eddy
