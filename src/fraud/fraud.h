#pragma once
// Fraud scoring and bot marking (SPEC §3.10), one state owned by the user's shard.
//
// Orders. A purchase is a line of an order: lines of one user with the same orderId are
// one order; a purchase without an orderId is an order of its own. Each order is scored
//
//   score = min(1, Σ weight_r over the reasons r that fire)          (fraud.weight_<r>)
//
// so each fired reason contributes exactly its weight (sums in millionths: exact). The
// reasons (FraudReason):
// - ip_burst: a line's Event::ip_orders (the distinct orders from its IP within
//   fraud.ip_window, counted at acceptance across every user: fraud/ip_orders.h) is at
//   least fraud.ip_orders.
// - new_user_high_value: the user was new at the order's first line (no earlier order, or
//   first seen less than fraud.new_user_age before it) and the order's value (Σ price ×
//   quantity of its priced lines) reaches fraud.high_value.
// - impossible_travel: the user's country (an event's `location` country) changed between
//   two of their events less than fraud.travel_time apart (in event time), and the later
//   of the two is no more than fraud.travel_time before a line of the order.
// - velocity: at the order's first line, the user's orders within fraud.velocity_window of
//   it (either side; this one included) number at least fraud.velocity_orders.
// - instant_checkout: the order's first line came less than fraud.instant_checkout_s after
//   the start of the user's visit (their events with gaps under sessions.gap_s), and not
//   before it (a purchase arriving out of order).
// Reasons only ever get added as lines arrive; the first line that brings the score to
// fraud.threshold or above raises one `fraud` alert for the order and flags the user.
//
// Bots. Every event of a user counts towards their rate in its second and its minute
// (event time; an event in another second or minute than the user's previous one starts
// that one's count afresh). More than fraud.bot_events_per_second in a second or
// bot_events_per_minute in a minute marks the user a bot. With fraud.filter_bots, each
// event of a marked user is filtered (State::Screen) — a bot's from the one that crossed
// the rate on, a fraud-flagged user's from the one after the order that raised the alert:
// trending, velocity, popularity and co-view skip it. The marks depend on the user's events alone, in their order: replay decides the same.
//
// Memory: at most fraud.max_users users (least recently active forgotten: a forgotten user
// is new again, unmarked), fraud.orders_per_user scored orders each (the newest), 64
// recent order times each for the velocity rule.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "agg/lru_map.h"
#include "agg/state.h"
#include "commerce/alerts.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

enum class FraudReason : uint8_t {
  kIpBurst = 0,
  kNewUserHighValue,
  kImpossibleTravel,
  kVelocity,
  kInstantCheckout,
};
inline constexpr int kFraudReasonCount = 5;
std::string_view FraudReasonName(FraudReason r);  // "ip_burst", "new_user_high_value", ...
// The configured weight of `r`.
double FraudWeight(const FraudOptions& o, FraudReason r);
// min(1, Σ weights of the reasons in `reasons` (bit r: FraudReason r)), in millionths
// (each weight rounded to them: sums and the threshold test are exact), and as a number.
int64_t FraudScoreMicros(const FraudOptions& o, uint8_t reasons);
double FraudScore(const FraudOptions& o, uint8_t reasons);

struct ScoredOrder {
  OrderId order;               // invalid: a purchase without orderId (an order of its own)
  int64_t time_ms = 0;         // its first line's event time
  int64_t value_micros = 0;    // Σ price × quantity of its priced lines
  uint32_t lines = 0;
  uint16_t ip_orders = 0;      // the largest Event::ip_orders of its lines (0: no ip)
  uint16_t user_orders = 0;    // the user's orders in the velocity window at its first line
  uint8_t reasons = 0;         // bit r: FraudReason r fired
  bool new_user = false;       // the user was new at its first line
  bool alerted = false;        // its score reached the threshold (one alert raised)
};

struct FraudUser {
  static constexpr size_t kMaxRecent = 64;  // order times kept for the velocity rule
  enum Marks : uint8_t { kBot = 1, kFlagged = 2 };
  int64_t first_seen = INT64_MAX;  // earliest event time seen
  int64_t last_event = INT64_MIN;  // newest event time seen (visits)
  int64_t visit_start = INT64_MIN;
  uint32_t orders = 0;             // orders seen (distinct, as far as remembered)
  StringId country;                // of the user's last event with a location country
  int64_t country_ms = INT64_MIN;
  int64_t travel_ms = INT64_MIN;   // the latest impossible country change (event time)
  int64_t rate_second = INT64_MIN, rate_minute = INT64_MIN;
  uint32_t in_second = 0, in_minute = 0;
  uint8_t marks = 0;
  int64_t marked_ms = 0;           // event time of the event that first marked the user
  std::vector<int64_t> recent;     // times of the user's latest orders (at most kMaxRecent)
  std::vector<ScoredOrder> scored;  // oldest first, at most fraud.orders_per_user
};

class FraudState final : public State {
 public:
  FraudState(const Options& o, const CapShare& share, AlertState& alerts);

  // New thresholds for the orders scored from now on (reload); shard thread.
  void SetLive(const FraudOptions& next) { options_ = WithLiveFraudFields(options_, next); }
  const FraudOptions& options() const { return options_; }

  std::string_view Name() const override { return "fraud"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return options_.enabled; }
  bool Screens() const override { return options_.enabled; }
  // Every event: the user's record, rate marks, visit and country (see above).
  bool Screen(const Event& ev, const ApplyInfo& info) override;
  // Purchases: the order's score (the user's record is the one Screen just touched).
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  bool Prefetches() const override { return options_.enabled; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.user.valid()) users_.Prefetch(ev.user);
  }
  // Stage 1: the user's slot; stage 2: its neighbours in the recency order (Touch relinks
  // them on every event).
  void PrefetchDeeper(const Event& ev, int stage) const override {
    if (!ev.user.valid()) return;
    if (stage == 1) users_.PrefetchValue(ev.user);
    if (stage == 2) (void)users_.PrefetchLinks(ev.user);
  }
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  const FraudUser* Find(UserId user) const { return users_.Find(user); }
  // The users the order is listed under (an orderId is normally one user's; a shop that
  // reuses them across users gets each user's order); nullptr: none.
  const absl::InlinedVector<UserId, 1>* UsersOf(OrderId order) const {
    auto it = order_users_.find(order);
    return it == order_users_.end() ? nullptr : &it->second;
  }

 private:
  ScoredOrder* OrderFor(FraudUser& u, const Event& ev, bool* first_line);
  void Forget(UserId id, const FraudUser& u);
  void Unlist(OrderId order, UserId user);
  void Mark(FraudUser& u, uint8_t mark, int64_t time_ms);

  FraudOptions options_;  // the live fields change by SetLive (on this shard's thread)
  const int64_t gap_ms_;
  AlertState& alerts_;
  LruMap<UserId, FraudUser> users_;
  // The orders listed in users_, and under which users.
  absl::flat_hash_map<OrderId, absl::InlinedVector<UserId, 1>> order_users_;
  FraudUser* current_ = nullptr;  // the record Screen touched for the event being applied...
  UserId current_user_;           // ...and its user
  uint64_t heap_ = 0;             // bytes the users' vectors hold
};

}  // namespace eddy
