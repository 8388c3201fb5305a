#include "commerce/sessions.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "util/time.h"

namespace eddy {
namespace {

// The element of `v` that `match`es, looked for only when `bit` is set in `bits` (a
// superset of the bits of v's elements: clear means absent).
template <typename V, typename Match>
auto FindMarked(V& v, uint64_t bits, uint64_t bit, Match match) {
  return (bits & bit) == 0 ? v.end() : std::find_if(v.begin(), v.end(), match);
}

}  // namespace

void FunnelScope::Add(EventType type, int64_t t) {
  switch (type) {
    case EventType::kView: first_view = std::min(first_view, t); break;
    case EventType::kPurchase: last_purchase = std::max(last_purchase, t); break;
    case EventType::kAddToCart:
      if (step == 3) return;
      carts.insert(std::upper_bound(carts.begin(), carts.end(), t), t);
      if (carts.size() > kMaxCarts) carts.erase(carts.begin());
      break;
    default: return;
  }
  Settle();
}

void FunnelScope::MergeFrom(const FunnelScope& o) {
  first_view = std::min(first_view, o.first_view);
  last_purchase = std::max(last_purchase, o.last_purchase);
  if (o.step == 3) step = 3;
  if (step != 3) {
    std::vector<int64_t> all;
    all.reserve(carts.size() + o.carts.size());
    std::merge(carts.begin(), carts.end(), o.carts.begin(), o.carts.end(),
               std::back_inserter(all));
    if (all.size() > kMaxCarts) all.erase(all.begin(), all.end() - kMaxCarts);
    carts = std::move(all);
  }
  Settle();
}

// The first view only moves earlier and the last purchase only later, so once an
// add_to_cart lies between them it always will: step 3 is final and the carts can go.
void FunnelScope::Settle() {
  if (step == 3) {
    carts.clear();
    carts.shrink_to_fit();
    return;
  }
  if (first_view == INT64_MAX) {
    step = 0;
    return;
  }
  auto c = std::lower_bound(carts.begin(), carts.end(), first_view);
  if (c == carts.end()) {
    step = 1;
  } else if (*c <= last_purchase) {
    step = 3;
    carts.clear();
    carts.shrink_to_fit();
  } else {
    step = 2;
  }
}

SessionState::SessionState(const Options& o, const CapShare& share)
    : options_(o.sessions), users_(share.Of(o.sessions.max_users)) {}

SessionState::Steps SessionState::StepsOf(const Session& s) {
  Steps st;
  st.minute = MinuteOf(s.start);
  st.n = std::min(1 + s.categories.size(), st.scope.size());
  st.scope[0] = {CategoryId(), s.whole.step};
  for (size_t i = 1; i < st.n; ++i) st.scope[i] = {s.categories[i - 1].category, s.categories[i - 1].step};
  return st;
}

int64_t SessionState::KeepFrom() const {
  return cur_ == INT64_MIN ? INT64_MIN
                           : cur_ - options_.funnel_retention_minutes - kReadSlackMinutes + 1;
}

void SessionState::Count(const Steps& st, int sign) {
  for (size_t i = 0; i < st.n; ++i) {
    CountSteps(st.minute, st.scope[i].first, 0, st.scope[i].second, sign);
  }
}

void SessionState::AdvanceTo(int64_t minute) {
  if (minute <= cur_) return;
  cur_ = minute;
  funnel_.erase(funnel_.begin(), funnel_.lower_bound(KeepFrom()));
}

// The session `ev` belongs to, creating or merging sessions as needed. *counted: whether
// its funnel counts are in the cells as it stands (false for a new or merged session: the
// caller adds them once the event is in).
Session* SessionState::SessionFor(std::vector<Session>& sessions, const Event& ev,
                                  bool* counted) {
  const int64_t t = ev.time.millis();
  *counted = true;
  if (ev.session.valid()) {
    // Newest first: a producer's session is most often the user's latest.
    for (auto s = sessions.rbegin(); s != sessions.rend(); ++s) {
      if (s->producer == ev.session) return &*s;
    }
  } else {
    // The split sessions within the gap of t. Split sessions are at least the gap apart
    // (closer ones merge), so in start order their ends rise too: walking back from the
    // last one starting before t + gap, the first that ended a gap or more before t ends
    // the search (usually at once: the event belongs to the newest session). Only those
    // sessions are touched, not all of the user's.
    absl::InlinedVector<size_t, 2> near;  // indexes, latest first
    size_t i = static_cast<size_t>(
        std::lower_bound(sessions.begin(), sessions.end(), t + options_.gap_ms,
                         [](const Session& s, int64_t v) { return s.start < v; }) -
        sessions.begin());
    while (i-- > 0) {
      const Session& s = sessions[i];
      if (s.producer.valid()) continue;
      if (t - s.end >= options_.gap_ms) break;
      near.push_back(i);  // at most two: one on each side of t (two near ones on one
                          // side would be within the gap of each other)
    }
    if (!near.empty()) {
      Session& into = sessions[near.back()];  // the first in start order absorbs the others
      if (near.size() > 1) {
        // Each one's counts out now, the merged one's in later.
        Count(StepsOf(into), -1);
        *counted = false;
        for (size_t j = near.size() - 1; j-- > 0;) {
          Session& from = sessions[near[j]];
          Count(StepsOf(from), -1);
          heap_ -= HeapOf(into) + HeapOf(from);
          MergeInto(into, from);
          heap_ += HeapOf(into);
        }
        for (size_t j = 0; j + 1 < near.size(); ++j) {  // latest first: indexes stay valid
          sessions.erase(sessions.begin() + static_cast<ptrdiff_t>(near[j]));
          --sessions_;
        }
      }
      return &sessions[near.back()];
    }
  }
  // A user at max_per_user whose new session would start before all of theirs would drop
  // it at once (and count it again at each of its events): such an old event is left out.
  if (sessions.size() >= options_.max_per_user && t < sessions.front().start) return nullptr;
  Session fresh;
  fresh.producer = ev.session;
  fresh.start = fresh.end = t;
  *counted = false;
  heap_ += HeapOf(fresh);
  auto at = std::upper_bound(sessions.begin(), sessions.end(), t,
                             [](int64_t v, const Session& s) { return v < s.start; });
  at = sessions.insert(at, std::move(fresh));
  ++sessions_;
  return &*at;
}

void SessionState::MergeInto(Session& into, Session& from) {
  into.start = std::min(into.start, from.start);
  into.end = std::max(into.end, from.end);
  for (size_t i = 0; i < into.counts.size(); ++i) into.counts[i] += from.counts[i];
  into.revenue_micros += from.revenue_micros;
  into.item_bits |= from.item_bits;
  into.category_bits |= from.category_bits;
  for (const auto& entry : from.items) {  // (no structured binding: clang 14 cannot
                                         // capture one in the lambda)
    auto it = std::find_if(into.items.begin(), into.items.end(),
                           [&](const auto& e) { return e.first == entry.first; });
    if (it != into.items.end()) {
      it->second = std::min(it->second, entry.second);
    } else {
      into.items.push_back(entry);
    }
  }
  std::stable_sort(into.items.begin(), into.items.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  if (into.items.size() > options_.max_items) into.items.resize(options_.max_items);
  into.whole.MergeFrom(from.whole);
  for (const FunnelScope& f : from.categories) {
    auto it = std::find_if(into.categories.begin(), into.categories.end(),
                           [&](const FunnelScope& s) { return s.category == f.category; });
    if (it != into.categories.end()) {
      it->MergeFrom(f);
    } else if (into.categories.size() < options_.max_categories) {
      into.categories.push_back(f);
    }
  }
}

void SessionState::AddTo(Session& s, const Event& ev, bool counted) {
  const int64_t t = ev.time.millis();
  if (counted && MinuteOf(t) < MinuteOf(s.start)) {
    // The session moves to an earlier start minute: its counts move with it.
    Count(StepsOf(s), -1);
    AddTo(s, ev, false);
    Count(StepsOf(s), +1);
    return;
  }
  s.start = std::min(s.start, t);
  s.end = std::max(s.end, t);
  ++s.counts[static_cast<size_t>(ev.type)];
  if (ev.type == EventType::kPurchase && ev.has_price()) {
    s.revenue_micros += ev.price_micros * static_cast<int64_t>(ev.quantity);
  }
  // A full list and an item touched no earlier than its newest change nothing (known
  // or not, the item would not be among the earliest); otherwise the list is looked
  // through only when the item's bit says it may be in it.
  if (ev.item.valid() &&
      (s.items.size() < options_.max_items || t < s.items.back().second)) {
    const uint64_t bit = Session::BitOf(ev.item.value());
    auto it = FindMarked(s.items, s.item_bits, bit,
                         [&](const auto& e) { return e.first == ev.item; });
    if (it == s.items.end() || t < it->second) {
      if (it != s.items.end()) s.items.erase(it);
      auto at = !s.items.empty() && t >= s.items.back().second
                    ? s.items.end()
                    : std::upper_bound(s.items.begin(), s.items.end(), t,
                                       [](int64_t v, const auto& e) { return v < e.second; });
      s.items.insert(at, {ev.item, t});
      s.item_bits |= bit;
      if (s.items.size() > options_.max_items) s.items.pop_back();  // bits stay a superset
    }
  }
  // Steps only rise as events come in (the first view moves earlier, the last purchase
  // later): a counted session adds the steps a scope newly reached.
  const int64_t minute = MinuteOf(s.start);
  const auto add = [&](FunnelScope& f, int from) {
    const uint64_t carts = f.carts.capacity();
    f.Add(ev.type, t);
    heap_ += (f.carts.capacity() - carts) * sizeof(int64_t);  // unsigned wrap = a decrease
    if (counted && f.step > from) CountSteps(minute, f.category, from + 1, f.step);
  };
  add(s.whole, s.whole.step);
  if (ev.category.valid()) {
    const uint64_t bit = Session::BitOf(ev.category.value());
    auto it = FindMarked(s.categories, s.category_bits, bit,
                         [&](const FunnelScope& f) { return f.category == ev.category; });
    if (it != s.categories.end()) {
      add(*it, it->step);
    } else if (s.categories.size() < options_.max_categories) {
      s.categories.emplace_back().category = ev.category;
      s.category_bits |= bit;
      if (counted) CountSteps(minute, ev.category, 0, 0);  // a session with the category
      add(s.categories.back(), 0);
    }
  }
}

void SessionState::CountSteps(int64_t minute, CategoryId category, int from, int to, int sign) {
  if (minute < KeepFrom()) return;  // older than any funnel read: not kept
  Partial& p = funnel_[minute][category];
  for (int j = from; j <= to; ++j) p[j] += sign;
}

void SessionState::ApplyEvent(const Event& ev, const ApplyInfo& info) {
  if (!ev.user.valid()) return;
  AdvanceTo(info.minute);
  std::vector<Session>& sessions =
      users_.Touch(ev.user, [this](UserId, const std::vector<Session>& gone) {
        sessions_ -= gone.size();
        for (const Session& s : gone) heap_ -= HeapOf(s);
      });
  bool counted = true;
  Session* s = SessionFor(sessions, ev, &counted);
  if (s == nullptr) return;
  // The session's own vectors here; its scopes' cart lists as AddTo changes them (without
  // a walk over every scope per event).
  const uint64_t heap_before = ShallowHeapOf(*s);
  AddTo(*s, ev, counted);
  heap_ += ShallowHeapOf(*s) - heap_before;
  if (!counted) Count(StepsOf(*s), +1);
  // An earlier start moves the session towards the front (past later-starting ones only):
  // the vector stays in start order, as a stable sort would leave it.
  for (auto at = sessions.begin() + (s - sessions.data());
       at != sessions.begin() && std::prev(at)->start > at->start; --at) {
    std::iter_swap(at, std::prev(at));
  }
  if (sessions.size() > options_.max_per_user) {
    heap_ -= HeapOf(sessions.front());
    sessions.erase(sessions.begin());
    --sessions_;
    ++dropped_;
  }
}

void SessionState::PrefetchDeeper(const Event& ev, int stage) const {
  if (!ev.user.valid()) return;
  if (stage == 1) {
    users_.PrefetchValue(ev.user);
    return;
  }
  const std::vector<Session>* sessions =
      stage == 2 ? users_.PrefetchLinks(ev.user) : users_.Find(ev.user);
  if (sessions == nullptr || sessions->empty()) return;
  const Session& s = sessions->back();
  if (stage == 2) {
    for (size_t b = 0; b < sizeof(Session); b += 64) {
      __builtin_prefetch(reinterpret_cast<const char*>(&s) + b);
    }
    return;
  }
  if (ev.category.valid() && (s.category_bits & Session::BitOf(ev.category.value())) != 0) {
    __builtin_prefetch(s.categories.data());
  }
  if (!s.items.empty()) __builtin_prefetch(&s.items.back());
}

void SessionState::AddFunnel(CategoryId category, int64_t g, int64_t minutes,
                             Partial* out) const {
  for (auto it = funnel_.upper_bound(g - minutes); it != funnel_.end() && it->first <= g; ++it) {
    auto c = it->second.find(category);
    if (c != it->second.end()) Merge(*out, c->second);
  }
}

namespace {

void SaveScope(SerialWriter& w, const FunnelScope& f) {
  w.U64(f.category.value());
  w.I64(f.first_view);
  w.I64(f.last_purchase);
  w.U8(f.step);
  w.U64(f.carts.size());
  for (int64_t c : f.carts) w.I64(c);
}

bool LoadScope(SerialReader& r, FunnelScope* f) {
  f->category = ReadCategoryId(r);
  f->first_view = r.I64();
  f->last_purchase = r.I64();
  f->step = r.U8();
  const uint64_t n = r.Count(1);
  if (n > FunnelScope::kMaxCarts || f->step > 3) return false;
  f->carts.resize(n);
  for (int64_t& c : f->carts) c = r.I64();
  return r.ok() && std::is_sorted(f->carts.begin(), f->carts.end());
}

}  // namespace

void SessionState::SaveTo(SerialWriter& w) {
  w.I64(cur_);
  w.U64(users_.evicted());
  w.U64(dropped_);
  w.U64(users_.size());
  users_.ForEach([&](UserId user, const std::vector<Session>& sessions) {
    w.U64(user.value());
    w.U64(sessions.size());
    for (const Session& s : sessions) {
      w.U64(s.producer.value());
      w.I64(s.start);
      w.I64(s.end);
      for (uint32_t c : s.counts) w.U64(c);
      w.I64(s.revenue_micros);
      w.U64(s.items.size());
      for (const auto& [item, t] : s.items) {
        w.U64(item.value());
        w.I64(t);
      }
      w.U64(1 + s.categories.size());  // the whole session's scope first
      SaveScope(w, s.whole);
      for (const FunnelScope& f : s.categories) SaveScope(w, f);
    }
  });
  w.U64(funnel_.size());
  for (const auto& [minute, cells] : funnel_) {
    w.I64(minute);
    w.U64(cells.size());
    for (const auto& [cat, p] : cells) {
      w.U64(cat.value());
      for (int64_t v : p) w.I64(v);
    }
  }
}

bool SessionState::LoadFrom(SerialReader& r, uint32_t) {
  users_.Clear();
  funnel_.clear();
  sessions_ = 0;
  heap_ = 0;
  cur_ = r.I64();
  users_.set_evicted(r.U64());
  dropped_ = r.U64();
  const uint64_t users = r.Count(2);
  if (users > users_.max_keys()) return false;
  for (uint64_t u = 0; u < users && r.ok(); ++u) {
    std::vector<Session>* sessions = users_.Append(ReadUserId(r));
    const uint64_t n = r.Count(4);
    if (sessions == nullptr || n > options_.max_per_user) return false;
    sessions->resize(n);
    for (Session& s : *sessions) {
      s.producer = ReadSessionId(r);
      s.start = r.I64();
      s.end = r.I64();
      for (uint32_t& c : s.counts) c = r.U32();
      s.revenue_micros = r.I64();
      const uint64_t items = r.Count(2);
      if (items > options_.max_items) return false;
      s.items.resize(items);
      for (auto& [item, t] : s.items) {
        item = ReadItemId(r);
        t = r.I64();
        s.item_bits |= Session::BitOf(item.value());
      }
      const uint64_t scopes = r.Count(5);
      if (scopes == 0 || scopes > 1 + options_.max_categories) return false;
      if (!LoadScope(r, &s.whole) || s.whole.category.valid()) return false;
      s.categories.resize(scopes - 1);
      for (FunnelScope& f : s.categories) {
        if (!LoadScope(r, &f) || !f.category.valid()) return false;
        s.category_bits |= Session::BitOf(f.category.value());
      }
      heap_ += HeapOf(s);
    }
    sessions_ += n;
  }
  const uint64_t minutes = r.Count(2);
  for (uint64_t m = 0; m < minutes && r.ok(); ++m) {
    Cells& cells = funnel_[r.I64()];
    const uint64_t n = r.Count(5);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      Partial& p = cells[ReadCategoryId(r)];
      for (int64_t& v : p) v = r.I64();
    }
  }
  return r.ok();
}

void SessionState::VisitIds(IdMarks& marks) {
  users_.ForEach([&](UserId user, const std::vector<Session>& sessions) {
    marks.Mark(user);
    for (const Session& s : sessions) {
      if (s.producer.valid()) marks.Mark(s.producer);
      for (const auto& [item, t] : s.items) marks.Mark(item);
      for (const FunnelScope& f : s.categories) marks.Mark(f.category);
    }
  });
  for (const auto& [minute, cells] : funnel_) {
    for (const auto& [cat, p] : cells) {
      if (cat.valid()) marks.Mark(cat);
    }
  }
}

uint64_t SessionState::ShallowHeapOf(const Session& s) {
  // What lives outside the Session: the inlined vectors' heap, when they outgrew it.
  const auto outside = [](const auto& v, size_t inline_size) -> uint64_t {
    return v.capacity() > inline_size ? v.capacity() * sizeof(v[0]) : 0;
  };
  return sizeof(Session) + outside(s.items, Session::kInlineItems) +
         outside(s.categories, Session::kInlineCategories);
}

uint64_t SessionState::HeapOf(const Session& s) {
  uint64_t bytes = ShallowHeapOf(s);
  bytes += s.whole.carts.capacity() * sizeof(int64_t);
  for (const FunnelScope& f : s.categories) bytes += f.carts.capacity() * sizeof(int64_t);
  return bytes;
}

StateMemory SessionState::Memory() const {
  uint64_t bytes = users_.bytes() + heap_;
  for (const auto& [minute, cells] : funnel_) {
    bytes += 64 + cells.capacity() * (sizeof(CategoryId) + sizeof(Partial) + 1);
  }
  return {users_.size(), bytes, users_.evicted()};
}

void SessionState::DescribeSettings(std::string* out) const {
  Setting(out, "enabled", options_.enabled);
  Setting(out, "gap_ms", options_.gap_ms);
  Setting(out, "max_per_user", options_.max_per_user);
  Setting(out, "max_items", options_.max_items);
  Setting(out, "max_categories", options_.max_categories);
  Setting(out, "max_users", options_.max_users);
  Setting(out, "funnel_retention", options_.funnel_retention_minutes);
}

}  // namespace eddy
