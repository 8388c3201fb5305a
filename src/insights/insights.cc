#include "insights/insights.h"

#include <algorithm>
#include <cmath>

#include "util/saturating.h"

namespace eddy {
namespace {

uint64_t HeapOf(const Customer& c) {
  uint64_t b = c.insights.capacity() * sizeof(Insight) +
               c.categories.capacity() * sizeof(CategoryBuys) +
               c.order_categories.capacity() * sizeof(CategoryId);
  for (const CategoryBuys& k : c.categories) b += k.times.capacity() * sizeof(int64_t);
  return b;
}

}  // namespace

InsightState::InsightState(const Options& o, const CapShare& share, AlertState& alerts)
    : options_(o.insights), alerts_(alerts), users_(share.Of(o.insights.max_users)) {}

int16_t InsightState::SegmentAt(const Customer& c, int64_t now_ms) const {
  if (c.orders == 0) return 0;
  const int64_t recency = std::max<int64_t>(0, now_ms - c.last_purchase);
  for (size_t i = 0; i < options_.segments.size(); ++i) {
    const SegmentRule& r = options_.segments[i];
    if (c.orders >= static_cast<uint64_t>(r.min_orders) &&
        c.orders <= static_cast<uint64_t>(std::max<int64_t>(r.max_orders, 0)) &&
        recency >= r.min_recency_ms && recency <= r.max_recency_ms &&
        c.spend_micros >= r.min_spend_micros && c.spend_micros <= r.max_spend_micros) {
      return static_cast<int16_t>(i + 1);
    }
  }
  return 0;
}

void InsightState::Add(Customer& c, const Insight& in) {
  if (c.insights.size() >= options_.max_insights) c.insights.erase(c.insights.begin());
  c.insights.push_back(in);
}

void InsightState::MaybeAlert(Customer& c, Insight& in, UserId user) {
  if (in.alerted || in.priority < InsightPriority::kHigh) return;
  in.alerted = true;
  AlertRecord a;
  a.kind = in.type == Insight::kAnomaly ? AlertKind::kAnomaly : AlertKind::kInsight;
  a.user = user;
  a.order = in.order;
  a.n = c.orders;
  a.time_ms = in.time_ms;
  a.priority = static_cast<uint8_t>(in.priority);
  if (in.type == Insight::kAnomaly) {
    a.value = in.value_micros;
    a.threshold = in.mean_micros;
  } else {
    a.value = in.from_rule;
    a.threshold = in.to_rule;
  }
  alerts_.Raise(a);
}

void InsightState::ApplyEvent(const Event& ev, const ApplyInfo&) {
  if (!ev.user.valid()) return;
  const bool purchase = ev.type == EventType::kPurchase;
  const bool segment_update = ev.type == EventType::kSegmentUpdate && ev.query.valid();
  // Only customers (and whoever becomes one) are tracked.
  if (!purchase && !segment_update && users_.Find(ev.user) == nullptr) return;
  Customer& c = users_.Touch(ev.user, [this](UserId, const Customer& gone) { heap_ -= HeapOf(gone); });
  const uint64_t before = HeapOf(c);
  const int64_t t = ev.time.millis();
  if (segment_update && ev.query != c.producer) {
    Insight in;
    in.type = Insight::kMigration;
    in.time_ms = t;
    in.from_producer = c.producer;
    in.to_producer = ev.query;
    c.producer = ev.query;
    Add(c, in);
  }
  if (purchase) Purchase(c, ev);
  const int16_t rule = SegmentAt(c, t);
  if (rule != c.rule && rule != 0) {
    Insight in;
    in.type = Insight::kMigration;
    in.time_ms = t;
    in.from_rule = c.rule;
    in.to_rule = rule;
    in.priority = options_.segments[rule - 1].priority;
    c.rule = rule;
    if (in.from_rule != 0) {  // becoming a customer is not a migration
      Add(c, in);
      MaybeAlert(c, c.insights.back(), ev.user);
    }
  }
  heap_ += HeapOf(c) - before;
}

void InsightState::Purchase(Customer& c, const Event& ev) {
  const int64_t t = ev.time.millis();
  const bool same_order = ev.order.valid() && ev.order == c.order && c.orders > 0;
  if (!same_order) {
    // The previous order is complete: into the mean, if it was priced.
    if (c.orders > 0 && c.order_value > 0) {
      ++c.priced_orders;
      c.history_micros = SaturatingAdd(c.history_micros, c.order_value);
    }
    ++c.orders;
    c.order = ev.order;
    c.order_value = 0;
    c.order_categories.clear();
  }
  c.last_purchase = std::max(c.last_purchase, t);
  if (ev.has_price()) {
    c.order_value = AddLineValue(c.order_value, ev.price_micros, ev.quantity);
    c.spend_micros = AddLineValue(c.spend_micros, ev.price_micros, ev.quantity);
  }
  // An order counts once per category it has a line in (its first 8 categories).
  if (ev.category.valid() && c.order_categories.size() < 8 &&
      std::find(c.order_categories.begin(), c.order_categories.end(), ev.category) ==
          c.order_categories.end()) {
    c.order_categories.push_back(ev.category);
    Predict(c, ev.category, t);
  }
  Anomaly(c, ev);
}

void InsightState::Anomaly(Customer& c, const Event& ev) {
  // This order's insight, if it has one: the newest anomaly, when it is of this order (an
  // order without orderId has one line: never an earlier one's).
  Insight* mine = nullptr;
  for (auto it = c.insights.rbegin(); c.order.valid() && it != c.insights.rend(); ++it) {
    if (it->type != Insight::kAnomaly) continue;
    if (it->order == c.order) mine = &*it;
    break;
  }
  if (c.priced_orders < options_.anomaly_min_orders || c.order_value <= 0) return;
  const int64_t mean = c.history_micros / c.priced_orders;
  if (mean <= 0) return;
  const double deviation = 100.0 *
                           std::fabs(static_cast<double>(c.order_value) - static_cast<double>(mean)) /
                           static_cast<double>(mean);
  if (deviation <= options_.anomaly_percent) {
    if (mine != nullptr && !mine->alerted) {
      c.insights.erase(c.insights.begin() + (mine - c.insights.data()));
    }
    return;
  }
  const bool above = c.order_value > mean;
  InsightPriority p = InsightPriority::kMedium;
  if (above && deviation >= options_.anomaly_critical_percent) {
    p = InsightPriority::kCritical;
  } else if (above && deviation >= options_.anomaly_high_percent) {
    p = InsightPriority::kHigh;
  }
  if (mine == nullptr) {
    Insight in;
    in.type = Insight::kAnomaly;
    in.time_ms = ev.time.millis();
    in.order = c.order;
    Add(c, in);
    mine = &c.insights.back();
  }
  mine->value_micros = c.order_value;
  mine->mean_micros = mean;
  mine->priority = std::max(mine->priority, p);
  MaybeAlert(c, *mine, ev.user);
}

void InsightState::Predict(Customer& c, CategoryId category, int64_t t) {
  auto it = std::find_if(c.categories.begin(), c.categories.end(),
                         [category](const CategoryBuys& k) { return k.category == category; });
  CategoryBuys k;
  if (it != c.categories.end()) {
    k = std::move(*it);
    c.categories.erase(it);
  } else {
    k.category = category;
    if (c.categories.size() >= options_.max_categories) c.categories.erase(c.categories.begin());
  }
  k.times.insert(std::upper_bound(k.times.begin(), k.times.end(), t), t);
  if (k.times.size() > CategoryBuys::kTimes) k.times.erase(k.times.begin());
  if (k.times.size() >= options_.prediction_min_purchases) {
    const size_t n = k.times.size() - 1;  // intervals
    double mean = 0;
    for (size_t i = 1; i < k.times.size(); ++i) mean += static_cast<double>(k.times[i] - k.times[i - 1]);
    mean /= static_cast<double>(n);
    double var = 0;
    for (size_t i = 1; i < k.times.size(); ++i) {
      const double d = static_cast<double>(k.times[i] - k.times[i - 1]) - mean;
      var += d * d;
    }
    var /= static_cast<double>(n);
    k.predicted_ms = t;
    k.interval_ms = std::llround(mean);
    k.next_ms = k.times.back() + k.interval_ms;
    k.confidence = mean > 0 ? std::clamp(1.0 - std::sqrt(var) / mean, 0.0, 1.0) : 0.0;
  }
  c.categories.push_back(std::move(k));
}

void InsightState::SaveTo(SerialWriter& w) {
  w.U64(users_.evicted());
  w.U64(users_.size());
  users_.ForEach([&w](UserId id, const Customer& c) {  // least recent first: Load appends
    w.U64(id.value());
    w.U64(c.orders);
    w.I64(c.spend_micros);
    w.I64(c.last_purchase);
    w.U64(c.priced_orders);
    w.I64(c.history_micros);
    w.U64(c.order.value());
    w.I64(c.order_value);
    w.U64(c.order_categories.size());
    for (CategoryId k : c.order_categories) w.U64(k.value());
    w.I64(c.rule);
    w.U64(c.producer.value());
    w.U64(c.insights.size());
    for (const Insight& in : c.insights) {
      w.U8(in.type);
      w.U8(static_cast<uint8_t>(in.priority));
      w.U8(in.alerted ? 1 : 0);
      w.I64(in.time_ms);
      w.U64(in.order.value());
      w.I64(in.value_micros);
      w.I64(in.mean_micros);
      w.I64(in.from_rule);
      w.I64(in.to_rule);
      w.U64(in.from_producer.value());
      w.U64(in.to_producer.value());
    }
    w.U64(c.categories.size());
    for (const CategoryBuys& k : c.categories) {
      w.U64(k.category.value());
      w.U64(k.times.size());
      for (int64_t t : k.times) w.I64(t);
      w.I64(k.predicted_ms);
      w.I64(k.next_ms);
      w.I64(k.interval_ms);
      w.F64(k.confidence);
    }
  });
}

bool InsightState::LoadFrom(SerialReader& r, uint32_t) {
  users_.Clear();
  heap_ = 0;
  users_.set_evicted(r.U64());
  const uint64_t n = r.Count(13);  // the smallest customer: thirteen one-byte fields
  const int64_t rules = static_cast<int64_t>(options_.segments.size());
  const auto rule_ok = [rules](int64_t v) { return v >= 0 && v <= rules; };
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const UserId id = ReadUserId(r);
    Customer* c = users_.Append(id);
    if (c == nullptr || !id.valid()) return false;
    c->orders = r.U32();
    c->spend_micros = r.I64();
    c->last_purchase = r.I64();
    c->priced_orders = r.U32();
    c->history_micros = r.I64();
    c->order = ReadOrderId(r);
    c->order_value = r.I64();
    const uint64_t oc = r.Count(1);
    if (oc > 8) return false;
    for (uint64_t k = 0; k < oc && r.ok(); ++k) c->order_categories.push_back(ReadCategoryId(r));
    const int64_t rule = r.I64();
    if (!rule_ok(rule)) return false;
    c->rule = static_cast<int16_t>(rule);
    c->producer = ReadStringId(r);
    const uint64_t ni = r.Count(11);
    if (ni > options_.max_insights) return false;
    for (uint64_t k = 0; k < ni && r.ok(); ++k) {
      Insight in;
      const uint8_t type = r.U8(), priority = r.U8();
      if (type > Insight::kMigration || priority > static_cast<uint8_t>(InsightPriority::kCritical)) {
        return false;
      }
      in.type = static_cast<Insight::Type>(type);
      in.priority = static_cast<InsightPriority>(priority);
      in.alerted = r.U8() != 0;
      in.time_ms = r.I64();
      in.order = ReadOrderId(r);
      in.value_micros = r.I64();
      in.mean_micros = r.I64();
      const int64_t from = r.I64(), to = r.I64();
      if (!rule_ok(from) || !rule_ok(to)) return false;
      in.from_rule = static_cast<int16_t>(from);
      in.to_rule = static_cast<int16_t>(to);
      in.from_producer = ReadStringId(r);
      in.to_producer = ReadStringId(r);
      c->insights.push_back(in);
    }
    const uint64_t nc = r.Count(13);
    if (nc > options_.max_categories) return false;
    for (uint64_t k = 0; k < nc && r.ok(); ++k) {
      CategoryBuys b;
      b.category = ReadCategoryId(r);
      const uint64_t nt = r.Count(1);
      if (nt > CategoryBuys::kTimes) return false;
      for (uint64_t j = 0; j < nt && r.ok(); ++j) b.times.push_back(r.I64());
      b.predicted_ms = r.I64();
      b.next_ms = r.I64();
      b.interval_ms = r.I64();
      b.confidence = r.F64();
      if (!std::is_sorted(b.times.begin(), b.times.end()) || !(b.confidence >= 0 && b.confidence <= 1)) {
        return false;
      }
      c->categories.push_back(std::move(b));
    }
    heap_ += HeapOf(*c);
  }
  return r.ok() && users_.size() == n;
}

void InsightState::VisitIds(IdMarks& marks) {
  users_.ForEach([&marks](UserId id, const Customer& c) {
    marks.Mark(id);
    if (c.order.valid()) marks.Mark(c.order);
    for (CategoryId k : c.order_categories) marks.Mark(k);
    if (c.producer.valid()) marks.Mark(c.producer);
    for (const Insight& in : c.insights) {
      if (in.order.valid()) marks.Mark(in.order);
      if (in.from_producer.valid()) marks.Mark(in.from_producer);
      if (in.to_producer.valid()) marks.Mark(in.to_producer);
    }
    for (const CategoryBuys& k : c.categories) marks.Mark(k.category);
  });
}

StateMemory InsightState::Memory() const {
  return {users_.size(), users_.bytes() + heap_, users_.evicted()};
}

void InsightState::DescribeSettings(std::string* out) const {
  const InsightOptions& o = options_;
  Setting(out, "enabled", o.enabled);
  Setting(out, "anomaly", o.anomaly_percent);
  Setting(out, "anomaly_min", o.anomaly_min_orders);
  Setting(out, "anomaly_high", o.anomaly_high_percent);
  Setting(out, "anomaly_critical", o.anomaly_critical_percent);
  for (const SegmentRule& r : o.segments) {
    out->append("|segment=").append(r.name);
    Setting(out, "f", r.min_orders);
    Setting(out, "F", r.max_orders);
    Setting(out, "r", r.min_recency_ms);
    Setting(out, "R", r.max_recency_ms);
    Setting(out, "m", r.min_spend_micros);
    Setting(out, "M", r.max_spend_micros);
    Setting(out, "p", static_cast<int>(r.priority));
  }
  Setting(out, "prediction_min", o.prediction_min_purchases);
  Setting(out, "prediction_medium", o.prediction_medium_confidence);
  Setting(out, "max_categories", o.max_categories);
  Setting(out, "max_insights", o.max_insights);
  Setting(out, "max_users", users_.max_keys());
}

}  // namespace eddy
