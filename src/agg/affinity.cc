#include "agg/affinity.h"

#include <algorithm>
#include <cmath>

namespace eddy {

void Affinity::Apply(UserId user, CategoryId category, EventTime time, double weight) {
  if (weight <= 0) return;
  const int64_t t = time.millis();
  // A new user past the cap first makes the least recently active one go.
  bool inserted = false;
  UserState& u = users_.Touch(
      user, [this](UserId, const UserState& gone) { entries_ -= gone.sums.size(); }, &inserted);
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
}

void Affinity::Scores(UserId user, EventTime now,
                      std::vector<std::pair<CategoryId, double>>* out) const {
  out->clear();
  const UserState* u = users_.Find(user);
  if (u == nullptr) return;
  const double scale = decay_.ScoreFactor(u->ref_ms, now.millis());
  for (const auto& [c, s] : u->sums) out->emplace_back(c, s * scale);
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
}

size_t Affinity::bytes() const {
  return users_.bytes() + entries_ * sizeof(std::pair<CategoryId, double>);
}

void Affinity::Save(SerialWriter& w) const {
  w.U64(seq_);
  w.U64(users_.evicted());
  w.U64(users_.size());
  users_.ForEach([&](UserId user, const UserState& u) {
    w.U64(user.value());
    w.I64(u.ref_ms);
    w.U64(u.last_seq);
    w.U64(u.sums.size());
    for (const auto& [c, s] : u.sums) {
      w.U64(c.value());
      w.F64(s);
    }
  });
}

bool Affinity::Load(SerialReader& r) {
  users_.Clear();
  entries_ = 0;
  seq_ = r.U64();
  if (seq_ >= kMaxLruRecency) return false;
  const uint64_t evicted = r.U64();
  const uint64_t n = r.Count(4);
  if (n > users_.max_keys()) return false;
  // Read whole, then linked in recency order (earlier checkpoints are in table order).
  std::vector<std::pair<UserId, UserState>> users(n);
  for (auto& [user, u] : users) {
    if (!r.ok()) return false;
    user = ReadUserId(r);
    u.ref_ms = r.I64();
    u.last_seq = r.U64();
    const uint64_t k = r.Count(9);
    // The recency orders the users: between 1 and the state's own count, as Apply gives it.
    if (k > max_categories_ || u.last_seq == 0 || u.last_seq > seq_) return false;
    u.sums.resize(k);
    for (auto& [c, s] : u.sums) {
      c = ReadCategoryId(r);
      s = r.F64();
    }
    entries_ += k;
  }
  if (!r.ok() || !users_.AppendByRecency(users, [](const UserState& u) { return u.last_seq; })) {
    return false;  // cut short, or a repeated user
  }
  users_.set_evicted(evicted);
  return true;
}

}  // namespace eddy
