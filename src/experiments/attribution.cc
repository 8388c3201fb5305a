#include "experiments/attribution.h"

#include <algorithm>

#include "util/saturating.h"
#include "util/serial.h"

namespace eddy {
namespace {

__int128 Squared(int64_t micros) { return static_cast<__int128>(micros) * micros; }

__int128 SaturatingAdd128(__int128 a, __int128 b) {
  __int128 s = 0;
  if (!__builtin_add_overflow(a, b, &s)) return s;
  const __int128 max = static_cast<__int128>(~static_cast<unsigned __int128>(0) >> 1);
  return b < 0 ? -max - 1 : max;
}

// Event times are at or after the epoch (the decoder) and far below this (year 33658).
constexpr int64_t kMaxTimeMs = 1'000'000'000'000'000;

}  // namespace

void ExperimentCounts::Add(const ExperimentCounts& o) {
  served += o.served;
  shown += o.shown;
  clicked += o.clicked;
  carted += o.carted;
  bought += o.bought;
  clicks += o.clicks;
  carts += o.carts;
  purchases += o.purchases;
  cancelled += o.cancelled;
  by_id += o.by_id;
  revenue_micros = SaturatingAdd(revenue_micros, o.revenue_micros);
  revenue_sq = SaturatingAdd128(revenue_sq, o.revenue_sq);
}

std::string EncodeServed(std::string_view experiment, std::string_view variant,
                         const std::vector<std::string_view>& items) {
  std::string out;
  SerialWriter w(&out);
  w.Bytes(experiment);
  w.Bytes(variant);
  w.U64(items.size());
  for (std::string_view item : items) w.Bytes(item);
  return out;
}

std::string EncodeAllocation(std::string_view experiment, const AllocationRecord& a) {
  std::string out;
  SerialWriter w(&out);
  w.Bytes(experiment);
  w.U64(a.variants.size());
  for (size_t i = 0; i < a.variants.size(); ++i) {
    w.Bytes(a.variants[i]);
    w.F64(a.shares[i]);
  }
  return out;
}

void ExperimentState::Allocate(const Event& ev) {
  SerialReader r(interners_.strings.Lookup(ev.query.value()));
  const std::string experiment(r.Bytes());
  AllocationRecord a;
  a.time_ms = ev.time.millis();
  const uint64_t n = r.Count(9);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    a.variants.emplace_back(r.Bytes());
    a.shares.push_back(r.F64());
  }
  if (!r.done() || experiment.empty()) {
    ++malformed_;
    return;
  }
  std::vector<AllocationRecord>& history = allocations_[experiment];
  if (history.size() >= kMaxAllocations) history.erase(history.begin());
  history.push_back(std::move(a));
}

std::string ExperimentState::KeyOf(std::string_view experiment, std::string_view variant) {
  std::string key(experiment);
  key.push_back(kServedSep);
  key.append(variant);
  return key;
}

ExperimentState::ExperimentState(const Options& o, const CapShare& share, Interners& interners)
    : options_(o.attribution),
      window_ms_(o.attribution.window_minutes * 60'000),
      interners_(interners),
      users_(share.Of(o.attribution.max_users)) {}

uint32_t ExperimentState::VariantIndex(std::string_view key) {
  auto [it, inserted] = key_index_.try_emplace(std::string(key), static_cast<uint32_t>(keys_.size()));
  if (inserted) {
    keys_.emplace_back(key);
    counts_.emplace_back();
  }
  return it->second;
}

void ExperimentState::ApplyExperimentFeed(const Event& ev) {
  if (ev.type == EventType::kAllocation) return Allocate(ev);
  if (!ev.user.valid()) return;
  if (ev.type == EventType::kImpression) {
    User* u = users_.Find(ev.user);
    Answer* a = u != nullptr ? Match(*u, ev) : nullptr;
    if (a == nullptr) {
      ++unmatched_;
      return;
    }
    Show(*a);
    return;
  }
  // A served answer: experiment, variant and items (EncodeServed).
  SerialReader r(interners_.strings.Lookup(ev.query.value()));
  const std::string_view experiment = r.Bytes(), variant = r.Bytes();
  const uint64_t n = r.Count();
  Answer a;
  a.recomm = ev.recomm;
  a.time_ms = ev.time.millis();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const std::string_view item = r.Bytes();
    if (!r.ok()) break;
    const uint32_t id = interners_.items.Intern(item);
    if (id != 0) a.items.push_back(ItemId(id));
  }
  if (!r.done() || experiment.empty() || variant.empty()) {
    ++malformed_;
    return;
  }
  a.variant = VariantIndex(KeyOf(experiment, variant));
  ++counts_[a.variant].served;
  User& u = users_.Touch(ev.user, [this](UserId, User& gone) {
    for (const Answer& old : gone.answers) Forget(old);
  });
  // Answers past the window take no more events; one with purchase lines is kept (until
  // the cap) so that a later cancel still finds them.
  std::erase_if(u.answers, [&](const Answer& old) {
    const bool done = old.lines.empty() && std::abs(ev.time.millis() - old.time_ms) > window_ms_;
    if (done) Forget(old);
    return done;
  });
  if (u.answers.size() >= options_.answers_per_user) {
    Forget(u.answers.front());
    u.answers.erase(u.answers.begin());
  }
  answers_held_ += 1;
  items_held_ += a.items.size();
  u.answers.push_back(std::move(a));
  if (ev.quantity == 1) Show(u.answers.back());
}

// The log order says the event came after the answer (both are in the user's partition);
// the window bounds the time between them, either way (a client's clock may be behind the
// engine clock that stamped the answer).
ExperimentState::Answer* ExperimentState::Match(User& u, const Event& ev) {
  const auto in_window = [&](const Answer& a) {
    return std::abs(ev.time.millis() - a.time_ms) <= window_ms_;
  };
  if (ev.recomm != 0) {
    for (Answer& a : u.answers) {
      if (a.recomm == ev.recomm) return in_window(a) ? &a : nullptr;
    }
    return nullptr;
  }
  if (!ev.item.valid()) return nullptr;
  // Last touch: the newest answer shown to the user that held the item (one served but not
  // shown — no impression yet, under impressions = "client" — did not bring them).
  for (auto it = u.answers.rbegin(); it != u.answers.rend(); ++it) {
    if (!(it->flags & kShown) || !in_window(*it)) continue;
    if (std::find(it->items.begin(), it->items.end(), ev.item) != it->items.end()) return &*it;
  }
  return nullptr;
}

void ExperimentState::Show(Answer& a) {
  if (a.flags & kShown) return;
  a.flags |= kShown;
  ++counts_[a.variant].shown;
}

void ExperimentState::SetRevenue(Answer& a, int64_t revenue_micros) {
  VariantCounts& c = counts_[a.variant];
  c.revenue_micros = SaturatingAdd(SaturatingAdd(c.revenue_micros, revenue_micros), -a.revenue_micros);
  c.revenue_sq = SaturatingAdd128(SaturatingAdd128(c.revenue_sq, Squared(revenue_micros)),
                                  -Squared(a.revenue_micros));
  a.revenue_micros = revenue_micros;
}

void ExperimentState::ApplyEvent(const Event& ev, const ApplyInfo& info) {
  if (users_.size() == 0 || info.filtered || !ev.user.valid()) return;
  switch (ev.type) {
    case EventType::kView:
    case EventType::kClick:
    case EventType::kAddToCart:
    case EventType::kPurchase:
    case EventType::kCancel:
      break;
    default:
      return;
  }
  User* u = users_.Find(ev.user);
  if (u == nullptr) {
    if (ev.recomm != 0 && ev.type != EventType::kCancel) ++unmatched_;
    return;
  }
  if (ev.type == EventType::kCancel) return Cancel(*u, ev);
  Answer* a = Match(*u, ev);
  if (a == nullptr) {
    if (ev.recomm != 0) ++unmatched_;
    return;
  }
  VariantCounts& c = counts_[a->variant];
  if (ev.recomm != 0) ++c.by_id;
  Show(*a);  // an outcome implies the answer was seen
  switch (ev.type) {
    case EventType::kView:
    case EventType::kClick:
      ++c.clicks;
      if (!(a->flags & kClicked)) ++c.clicked;
      a->flags |= kClicked;
      break;
    case EventType::kAddToCart:
      ++c.carts;
      if (!(a->flags & kCarted)) ++c.carted;
      a->flags |= kCarted;
      break;
    default:
      Purchase(*u, *a, ev);
      break;
  }
}

void ExperimentState::Purchase(User& u, Answer& a, const Event& ev) {
  VariantCounts& c = counts_[a.variant];
  if (ev.order.valid() &&
      std::find(u.cancelled.begin(), u.cancelled.end(), ev.order) != u.cancelled.end()) {
    ++c.cancelled;  // a line of an order cancelled before it came: never a conversion
    return;
  }
  ++c.purchases;
  if (a.lines.empty()) ++c.bought;
  const int64_t revenue = ev.has_price() ? std::max<int64_t>(0, AddLineValue(0, ev.price_micros, ev.quantity)) : 0;
  a.lines.push_back({ev.order, revenue});
  SetRevenue(a, SaturatingAdd(a.revenue_micros, revenue));
}

void ExperimentState::Cancel(User& u, const Event& ev) {
  if (!ev.order.valid()) return;
  if (std::find(u.cancelled.begin(), u.cancelled.end(), ev.order) != u.cancelled.end()) return;
  if (u.cancelled.size() >= options_.orders_per_user) u.cancelled.erase(u.cancelled.begin());
  u.cancelled.push_back(ev.order);
  for (Answer& a : u.answers) {
    VariantCounts& c = counts_[a.variant];
    const size_t before = a.lines.size();
    std::erase_if(a.lines, [&](const Line& l) { return l.order == ev.order; });
    const uint64_t removed = before - a.lines.size();
    if (removed == 0) continue;
    c.purchases -= removed;
    c.cancelled += removed;
    if (a.lines.empty()) --c.bought;
    // The answer's revenue is always the (saturating) sum of its lines, in order.
    int64_t rest = 0;
    for (const Line& l : a.lines) rest = SaturatingAdd(rest, l.revenue_micros);
    SetRevenue(a, rest);
  }
}

void ExperimentState::AddTo(Partial& p) const {
  for (size_t i = 0; i < keys_.size(); ++i) p.counts[keys_[i]].Add(counts_[i]);
  p.unmatched += unmatched_;
  for (const auto& [name, history] : allocations_) {
    auto& into = p.allocations[name];
    into.insert(into.end(), history.begin(), history.end());
  }
}

void ExperimentState::Merge(Partial& into, const Partial& part) {
  for (const auto& [key, c] : part.counts) into.counts[key].Add(c);
  into.unmatched += part.unmatched;
  // An experiment's reallocations are all in one partition (its name's), so one shard
  // holds them, in log order.
  for (const auto& [name, history] : part.allocations) {
    auto& to = into.allocations[name];
    to.insert(to.end(), history.begin(), history.end());
  }
}

// Section v1: the variants (key and counts), unmatched, malformed, the reallocations by
// experiment, then the users least recent first: id, answers (recomm, time, variant,
// flags, revenue, lines, items), cancelled orders.
namespace {

void SaveCounts(SerialWriter& w, const VariantCounts& c) {
  for (uint64_t v : {c.served, c.shown, c.clicked, c.carted, c.bought, c.clicks, c.carts,
                     c.purchases, c.cancelled, c.by_id}) {
    w.U64(v);
  }
  w.I64(c.revenue_micros);
  w.Fixed64(static_cast<uint64_t>(static_cast<unsigned __int128>(c.revenue_sq)));
  w.Fixed64(static_cast<uint64_t>(static_cast<unsigned __int128>(c.revenue_sq) >> 64));
}

void LoadCounts(SerialReader& r, VariantCounts* c) {
  for (uint64_t* v : {&c->served, &c->shown, &c->clicked, &c->carted, &c->bought, &c->clicks,
                      &c->carts, &c->purchases, &c->cancelled, &c->by_id}) {
    *v = r.U64();
  }
  c->revenue_micros = r.I64();
  const uint64_t lo = r.Fixed64(), hi = r.Fixed64();
  c->revenue_sq = static_cast<__int128>(static_cast<unsigned __int128>(hi) << 64 | lo);
}

void SaveAllocations(SerialWriter& w, const std::map<std::string, std::vector<AllocationRecord>>& all) {
  w.U64(all.size());
  for (const auto& [name, history] : all) {
    w.Bytes(name);
    w.U64(history.size());
    for (const AllocationRecord& a : history) {
      w.I64(a.time_ms);
      w.U64(a.variants.size());
      for (size_t i = 0; i < a.variants.size(); ++i) {
        w.Bytes(a.variants[i]);
        w.F64(a.shares[i]);
      }
    }
  }
}

// False when an experiment is there twice or has too long a history.
bool LoadAllocations(SerialReader& r, std::map<std::string, std::vector<AllocationRecord>>* all) {
  all->clear();
  const uint64_t experiments = r.Count(2);
  for (uint64_t i = 0; i < experiments && r.ok(); ++i) {
    std::vector<AllocationRecord>& history = (*all)[std::string(r.Bytes())];
    const uint64_t n = r.Count(2);
    if (n > kMaxAllocations || !history.empty()) return false;
    for (uint64_t j = 0; j < n && r.ok(); ++j) {
      AllocationRecord a;
      a.time_ms = r.I64();
      const uint64_t v = r.Count(9);
      for (uint64_t k = 0; k < v && r.ok(); ++k) {
        a.variants.emplace_back(r.Bytes());
        a.shares.push_back(r.F64());
      }
      history.push_back(std::move(a));
    }
  }
  return r.ok();
}

}  // namespace

void ExperimentState::SavePartial(SerialWriter& w, const Partial& p) {
  w.U64(p.counts.size());
  for (const auto& [key, c] : p.counts) {
    w.Bytes(key);
    SaveCounts(w, c);
  }
  w.U64(p.unmatched);
  SaveAllocations(w, p.allocations);
}

bool ExperimentState::LoadPartial(SerialReader& r, Partial* p) {
  *p = Partial{};
  for (uint64_t n = r.Count(3); n > 0 && r.ok(); --n) {
    VariantCounts& c = p->counts[std::string(r.Bytes())];
    LoadCounts(r, &c);
  }
  p->unmatched = r.U64();
  return LoadAllocations(r, &p->allocations);
}

void ExperimentState::SaveTo(SerialWriter& w) {
  w.U64(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    w.Bytes(keys_[i]);
    SaveCounts(w, counts_[i]);
  }
  w.U64(unmatched_);
  w.U64(malformed_);
  SaveAllocations(w, allocations_);
  w.U64(users_.evicted());
  w.U64(users_.size());
  users_.ForEach([&](UserId id, const User& u) {
    w.U64(id.value());
    w.U64(u.answers.size());
    for (const Answer& a : u.answers) {
      w.Fixed64(a.recomm);
      w.I64(a.time_ms);
      w.U64(a.variant);
      w.U8(a.flags);
      w.I64(a.revenue_micros);
      w.U64(a.lines.size());
      for (const Line& l : a.lines) {
        w.U64(l.order.value());
        w.I64(l.revenue_micros);
      }
      w.U64(a.items.size());
      for (ItemId item : a.items) w.U64(item.value());
    }
    w.U64(u.cancelled.size());
    for (OrderId o : u.cancelled) w.U64(o.value());
  });
}

bool ExperimentState::LoadFrom(SerialReader& r, uint32_t version) {
  if (version != 1) return false;
  keys_.clear();
  key_index_.clear();
  counts_.clear();
  users_.Clear();
  allocations_.clear();
  answers_held_ = items_held_ = 0;
  const uint64_t variants = r.Count(3);
  for (uint64_t i = 0; i < variants && r.ok(); ++i) {
    const std::string_view key = r.Bytes();
    if (key_index_.contains(std::string(key))) return false;
    const uint32_t at = VariantIndex(key);
    LoadCounts(r, &counts_[at]);
  }
  unmatched_ = r.U64();
  malformed_ = r.U64();
  if (!LoadAllocations(r, &allocations_) && r.ok()) return false;
  users_.set_evicted(r.U64());
  const uint64_t users = r.Count(2);
  for (uint64_t i = 0; i < users && r.ok(); ++i) {
    const UserId id = ReadUserId(r);
    User* u = id.valid() ? users_.Append(id) : nullptr;
    if (u == nullptr) return false;
    const uint64_t answers = r.Count(8);
    if (answers > options_.answers_per_user) return false;
    for (uint64_t j = 0; j < answers && r.ok(); ++j) {
      Answer a;
      a.recomm = r.Fixed64();
      a.time_ms = r.I64();
      a.variant = r.U32();
      a.flags = r.U8();
      a.revenue_micros = r.I64();
      if (a.variant >= keys_.size() || a.flags > (kShown | kClicked | kCarted) ||
          a.time_ms < 0 || a.time_ms > kMaxTimeMs) {
        return false;
      }
      const uint64_t lines = r.Count(2);
      int64_t sum = 0;
      for (uint64_t k = 0; k < lines && r.ok(); ++k) {
        const OrderId order = ReadOrderId(r);
        const int64_t revenue = r.I64();
        if (revenue < 0) return false;
        sum = SaturatingAdd(sum, revenue);
        a.lines.push_back({order, revenue});
      }
      if (a.revenue_micros != sum) return false;
      const uint64_t items = r.Count(1);
      for (uint64_t k = 0; k < items && r.ok(); ++k) {
        const ItemId item = ReadItemId(r);
        if (!item.valid()) return false;
        a.items.push_back(item);
      }
      answers_held_ += 1;
      items_held_ += a.items.size();
      u->answers.push_back(std::move(a));
    }
    const uint64_t cancelled = r.Count(1);
    if (cancelled > options_.orders_per_user) return false;
    for (uint64_t j = 0; j < cancelled && r.ok(); ++j) {
      const OrderId o = ReadOrderId(r);
      if (!o.valid()) return false;
      u->cancelled.push_back(o);
    }
  }
  return r.ok();
}

void ExperimentState::VisitIds(IdMarks& marks) {
  users_.ForEach([&](UserId id, const User& u) {
    marks.Mark(id);
    for (const Answer& a : u.answers) {
      for (ItemId item : a.items) marks.Mark(item);
      for (const Line& l : a.lines) {
        if (l.order.valid()) marks.Mark(l.order);
      }
    }
    for (OrderId o : u.cancelled) marks.Mark(o);
  });
}

void ExperimentState::Forget(const Answer& a) {
  answers_held_ -= 1;
  items_held_ -= a.items.size();
}

// An estimate kept as answers come and go (walking every user once a second would cost
// more than the state's work): the tables, each answer and its items, a few lines and
// cancelled orders per user.
StateMemory ExperimentState::Memory() const {
  uint64_t bytes = users_.bytes() + answers_held_ * (sizeof(Answer) + sizeof(Line)) +
                   items_held_ * sizeof(ItemId) + users_.size() * 2 * sizeof(OrderId);
  for (const std::string& k : keys_) bytes += k.capacity() + sizeof(VariantCounts) + 64;
  return {users_.size(), bytes, users_.evicted()};
}

void ExperimentState::DescribeSettings(std::string* out) const {
  Setting(out, "attribution.window_ms", window_ms_);
  Setting(out, "attribution.max_users", users_.max_keys());
  Setting(out, "attribution.answers_per_user", options_.answers_per_user);
  Setting(out, "attribution.orders_per_user", options_.orders_per_user);
}

}  // namespace eddy
