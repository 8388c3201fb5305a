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

void Affinity::Save(SerialWriter& w) const {
  w.U64(seq_);
  w.U64(evicted_);
  w.U64(users_.size());
  for (const auto& [user, u] : users_) {
    w.U64(user.value());
    w.I64(u.ref_ms);
    w.U64(u.last_seq);
    w.U64(u.sums.size());
    for (const auto& [c, s] : u.sums) {
      w.U64(c.value());
      w.F64(s);
    }
  }
}

bool Affinity::Load(SerialReader& r) {
  users_.clear();
  entries_ = 0;
  seq_ = r.U64();
  evicted_ = r.U64();
  const uint64_t n = r.Count(4);
  if (n > max_users_) return false;
  users_.reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const UserId user = ReadUserId(r);
    UserState u;
    u.ref_ms = r.I64();
    u.last_seq = r.U64();
    const uint64_t k = r.Count(9);
    if (k > max_categories_) return false;
    u.sums.resize(k);
    for (auto& [c, s] : u.sums) {
      c = ReadCategoryId(r);
      s = r.F64();
    }
    entries_ += k;
    if (!users_.emplace(user, std::move(u)).second) return false;
  }
  return r.ok();
}

}  // namespace eddy
