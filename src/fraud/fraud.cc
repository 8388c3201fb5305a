#include "fraud/fraud.h"

#include <algorithm>
#include <cmath>

#include "util/saturating.h"

namespace eddy {

std::string_view FraudReasonName(FraudReason r) {
  switch (r) {
    case FraudReason::kIpBurst: return "ip_burst";
    case FraudReason::kNewUserHighValue: return "new_user_high_value";
    case FraudReason::kImpossibleTravel: return "impossible_travel";
    case FraudReason::kVelocity: return "velocity";
    case FraudReason::kInstantCheckout: return "instant_checkout";
  }
  return "unknown";
}

double FraudWeight(const FraudOptions& o, FraudReason r) {
  switch (r) {
    case FraudReason::kIpBurst: return o.weight_ip_burst;
    case FraudReason::kNewUserHighValue: return o.weight_new_user_high_value;
    case FraudReason::kImpossibleTravel: return o.weight_impossible_travel;
    case FraudReason::kVelocity: return o.weight_velocity;
    case FraudReason::kInstantCheckout: return o.weight_instant_checkout;
  }
  return 0;
}

int64_t FraudScoreMicros(const FraudOptions& o, uint8_t reasons) {
  int64_t s = 0;
  for (int r = 0; r < kFraudReasonCount; ++r) {
    if (reasons >> r & 1) s += std::llround(FraudWeight(o, static_cast<FraudReason>(r)) * 1e6);
  }
  return std::min<int64_t>(1'000'000, s);
}

double FraudScore(const FraudOptions& o, uint8_t reasons) {
  return static_cast<double>(FraudScoreMicros(o, reasons)) / 1e6;
}

namespace {

uint8_t Bit(FraudReason r) { return static_cast<uint8_t>(1u << static_cast<int>(r)); }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint64_t HeapOf(const FraudUser& u) {
  return u.recent.capacity() * sizeof(int64_t) + u.scored.capacity() * sizeof(ScoredOrder);
}

}  // namespace

FraudState::FraudState(const Options& o, const CapShare& share, AlertState& alerts)
    : options_(o.fraud),
      gap_ms_(o.sessions.gap_ms),
      alerts_(alerts),
      users_(share.Of(o.fraud.max_users)) {}

void FraudState::Unlist(OrderId order, UserId user) {
  auto it = order_users_.find(order);
  if (it == order_users_.end()) return;
  auto& users = it->second;
  users.erase(std::remove(users.begin(), users.end(), user), users.end());
  if (users.empty()) order_users_.erase(it);
}

void FraudState::Forget(UserId id, const FraudUser& u) {
  heap_ -= HeapOf(u);
  for (const ScoredOrder& s : u.scored) {
    if (s.order.valid()) Unlist(s.order, id);
  }
}

void FraudState::Mark(FraudUser& u, uint8_t mark, int64_t time_ms) {
  if (u.marks == 0) u.marked_ms = time_ms;
  u.marks |= mark;
}

bool FraudState::Screen(const Event& ev, const ApplyInfo&) {
  current_ = nullptr;
  if (!ev.user.valid()) return false;
  FraudUser& u =
      users_.Touch(ev.user, [this](UserId id, const FraudUser& gone) { Forget(id, gone); });
  current_ = &u;
  current_user_ = ev.user;
  const int64_t t = ev.time.millis();
  u.first_seen = std::min(u.first_seen, t);
  // Visits: a gap of sessions.gap_s or more after the newest event starts a new one.
  if (u.last_event == INT64_MIN || t - u.last_event >= gap_ms_) u.visit_start = t;
  u.last_event = std::max(u.last_event, t);
  // Country changes faster than travel allows.
  if (ev.country.valid()) {
    if (u.country.valid() && u.country != ev.country &&
        std::llabs(t - u.country_ms) < options_.travel_minutes * 60'000) {
      u.travel_ms = std::max({u.travel_ms, t, u.country_ms});
    }
    u.country = ev.country;
    u.country_ms = t;
  }
  // Event rates, per second and per minute of event time.
  const int64_t second = FloorDiv(t, 1000), minute = FloorDiv(t, 60'000);
  if (second != u.rate_second) {
    u.rate_second = second;
    u.in_second = 0;
  }
  if (minute != u.rate_minute) {
    u.rate_minute = minute;
    u.in_minute = 0;
  }
  ++u.in_second;
  ++u.in_minute;
  if (u.in_second > options_.bot_events_per_second || u.in_minute > options_.bot_events_per_minute) {
    Mark(u, FraudUser::kBot, t);
  }
  return options_.filter_bots && u.marks != 0;
}

// The order `ev` is a line of: the user's listed order with its orderId, else a new one
// (*first_line), the oldest dropped past fraud.orders_per_user.
ScoredOrder* FraudState::OrderFor(FraudUser& u, const Event& ev, bool* first_line) {
  *first_line = false;
  if (ev.order.valid()) {
    for (auto s = u.scored.rbegin(); s != u.scored.rend(); ++s) {
      if (s->order == ev.order) return &*s;
    }
  }
  *first_line = true;
  heap_ -= HeapOf(u);
  if (u.scored.size() >= options_.orders_per_user) {
    if (u.scored.front().order.valid()) Unlist(u.scored.front().order, ev.user);
    u.scored.erase(u.scored.begin());
  }
  ScoredOrder& s = u.scored.emplace_back();
  heap_ += HeapOf(u);
  s.order = ev.order;
  s.time_ms = ev.time.millis();
  if (ev.order.valid()) order_users_[ev.order].push_back(ev.user);
  return &s;
}

void FraudState::ApplyEvent(const Event& ev, const ApplyInfo& info) {
  if (ev.type != EventType::kPurchase || !ev.user.valid()) return;
  // Screen just touched this user's record, unless a caller applies without screening.
  if (current_ == nullptr || current_user_ != ev.user) Screen(ev, info);
  FraudUser& u = *current_;
  current_ = nullptr;
  const int64_t t = ev.time.millis();
  bool first_line = false;
  ScoredOrder& s = *OrderFor(u, ev, &first_line);
  ++s.lines;
  if (ev.has_price()) s.value_micros = AddLineValue(s.value_micros, ev.price_micros, ev.quantity);
  if (ev.flags & Event::kHasIpOrders) s.ip_orders = std::max(s.ip_orders, ev.ip_orders);
  if (first_line) {
    const int64_t w = options_.velocity_window_minutes * 60'000;
    s.new_user = u.orders == 0 || t - u.first_seen < options_.new_user_minutes * 60'000;
    uint32_t within = 1;
    for (int64_t r : u.recent) within += std::llabs(t - r) < w;
    s.user_orders = static_cast<uint16_t>(std::min<uint32_t>(within, UINT16_MAX));
    if (within >= options_.velocity_orders) s.reasons |= Bit(FraudReason::kVelocity);
    if (t >= u.visit_start && t - u.visit_start < options_.instant_checkout_s * 1000) {
      s.reasons |= Bit(FraudReason::kInstantCheckout);
    }
    heap_ -= HeapOf(u);
    if (u.recent.size() == FraudUser::kMaxRecent) u.recent.erase(u.recent.begin());
    u.recent.push_back(t);
    heap_ += HeapOf(u);
    ++u.orders;
  }
  if (s.ip_orders >= options_.ip_orders) s.reasons |= Bit(FraudReason::kIpBurst);
  if (s.new_user && static_cast<double>(s.value_micros) >= options_.high_value * 1e6) {
    s.reasons |= Bit(FraudReason::kNewUserHighValue);
  }
  if (u.travel_ms != INT64_MIN && u.travel_ms >= t - options_.travel_minutes * 60'000) {
    s.reasons |= Bit(FraudReason::kImpossibleTravel);
  }
  const int64_t score = FraudScoreMicros(options_, s.reasons);
  if (!s.alerted && s.reasons != 0 && score >= std::llround(options_.threshold * 1e6)) {
    s.alerted = true;
    Mark(u, FraudUser::kFlagged, t);
    AlertRecord a;
    a.kind = AlertKind::kFraud;
    a.user = ev.user;
    a.order = s.order;
    a.n = u.orders;
    a.time_ms = t;
    a.value = score;
    a.threshold = std::llround(options_.threshold * 1e6);
    a.reasons = s.reasons;
    alerts_.Raise(a);
  }
}

void FraudState::SaveTo(SerialWriter& w) {
  w.U64(users_.evicted());
  w.U64(users_.size());
  users_.ForEach([&w](UserId id, const FraudUser& u) {  // least recent first: Load appends
    w.U64(id.value());
    w.I64(u.first_seen);
    w.I64(u.last_event);
    w.I64(u.visit_start);
    w.U64(u.orders);
    w.U64(u.country.value());
    w.I64(u.country_ms);
    w.I64(u.travel_ms);
    w.I64(u.rate_second);
    w.I64(u.rate_minute);
    w.U64(u.in_second);
    w.U64(u.in_minute);
    w.U8(u.marks);
    w.I64(u.marked_ms);
    w.U64(u.recent.size());
    for (int64_t t : u.recent) w.I64(t);
    w.U64(u.scored.size());
    for (const ScoredOrder& s : u.scored) {
      w.U64(s.order.value());
      w.I64(s.time_ms);
      w.I64(s.value_micros);
      w.U64(s.lines);
      w.U64(s.ip_orders);
      w.U64(s.user_orders);
      w.U8(s.reasons);
      w.U8(static_cast<uint8_t>((s.new_user ? 1 : 0) | (s.alerted ? 2 : 0)));
    }
  });
}

bool FraudState::LoadFrom(SerialReader& r, uint32_t) {
  users_.Clear();
  order_users_.clear();
  heap_ = 0;
  users_.set_evicted(r.U64());
  const uint64_t n = r.Count(16);  // the smallest user record: sixteen one-byte fields
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const UserId id = ReadUserId(r);
    FraudUser* u = users_.Append(id);
    if (u == nullptr || !id.valid()) return false;
    u->first_seen = r.I64();
    u->last_event = r.I64();
    u->visit_start = r.I64();
    u->orders = r.U32();
    u->country = ReadStringId(r);
    u->country_ms = r.I64();
    u->travel_ms = r.I64();
    u->rate_second = r.I64();
    u->rate_minute = r.I64();
    u->in_second = r.U32();
    u->in_minute = r.U32();
    u->marks = r.U8();
    u->marked_ms = r.I64();
    const uint64_t recent = r.Count(1);
    if (recent > FraudUser::kMaxRecent) return false;
    for (uint64_t k = 0; k < recent && r.ok(); ++k) u->recent.push_back(r.I64());
    const uint64_t scored = r.Count(8);
    if (scored > options_.orders_per_user) return false;
    for (uint64_t k = 0; k < scored && r.ok(); ++k) {
      ScoredOrder& s = u->scored.emplace_back();
      s.order = ReadOrderId(r);
      s.time_ms = r.I64();
      s.value_micros = r.I64();
      s.lines = r.U32();
      const uint32_t ip = r.U32(), within = r.U32();
      if (ip > UINT16_MAX || within > UINT16_MAX) return false;
      s.ip_orders = static_cast<uint16_t>(ip);
      s.user_orders = static_cast<uint16_t>(within);
      s.reasons = r.U8();
      const uint8_t bits = r.U8();
      s.new_user = bits & 1;
      s.alerted = bits & 2;
      if (s.order.valid()) order_users_[s.order].push_back(id);
    }
    heap_ += HeapOf(*u);
  }
  return r.ok() && users_.size() == n;
}

void FraudState::VisitIds(IdMarks& marks) {
  users_.ForEach([&marks](UserId id, const FraudUser& u) {
    marks.Mark(id);
    if (u.country.valid()) marks.Mark(u.country);
    for (const ScoredOrder& s : u.scored) {
      if (s.order.valid()) marks.Mark(s.order);
    }
  });
}

StateMemory FraudState::Memory() const {
  return {users_.size(),
          users_.bytes() + heap_ +
              order_users_.capacity() *
                  (sizeof(OrderId) + sizeof(absl::InlinedVector<UserId, 1>) + 1),
          users_.evicted()};
}

void FraudState::DescribeSettings(std::string* out) const {
  const FraudOptions& o = options_;
  Setting(out, "enabled", o.enabled);
  Setting(out, "threshold", o.threshold);
  Setting(out, "w_ip", o.weight_ip_burst);
  Setting(out, "ip_orders", o.ip_orders);
  Setting(out, "ip_window", o.ip_window_minutes);
  Setting(out, "max_ips", o.max_ips);
  Setting(out, "w_new", o.weight_new_user_high_value);
  Setting(out, "high_value", o.high_value);
  Setting(out, "new_age", o.new_user_minutes);
  Setting(out, "w_travel", o.weight_impossible_travel);
  Setting(out, "travel", o.travel_minutes);
  Setting(out, "w_velocity", o.weight_velocity);
  Setting(out, "velocity_orders", o.velocity_orders);
  Setting(out, "velocity_window", o.velocity_window_minutes);
  Setting(out, "w_instant", o.weight_instant_checkout);
  Setting(out, "instant_s", o.instant_checkout_s);
  Setting(out, "filter_bots", o.filter_bots);
  Setting(out, "bot_s", o.bot_events_per_second);
  Setting(out, "bot_m", o.bot_events_per_minute);
  Setting(out, "max_users", users_.max_keys());
  Setting(out, "orders_per_user", o.orders_per_user);
  Setting(out, "gap", gap_ms_);
}

}  // namespace eddy
