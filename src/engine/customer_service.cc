#include "engine/customer_service.h"

#include <optional>

#include "engine/alert_feed.h"
#include "fraud/fraud.h"
#include "insights/insights.h"

namespace eddy {
namespace {

FraudOrder ToFraudOrder(const ScoredOrder& s, UserId user, const Interners& in,
                        const FraudOptions& o) {
  FraudOrder out;
  if (s.order.valid()) out.order_id = std::string(in.orders.Lookup(s.order.value()));
  out.user_id = std::string(in.users.Lookup(user.value()));
  out.time = EventTime(s.time_ms);
  out.value = static_cast<double>(s.value_micros) / 1e6;
  out.lines = s.lines;
  out.score = FraudScore(o, s.reasons);
  out.alerted = s.alerted;
  out.reasons = FraudReasons(s.reasons, o);
  out.ip_orders = s.ip_orders;
  out.user_orders = s.user_orders;
  out.new_user = s.new_user;
  return out;
}

// An orderId several users used: the answer is the order with the newest first line (then
// the greatest userId), whatever the layout of shards.
bool Newer(const FraudOrder& a, const FraudOrder& b) {
  if (a.time != b.time) return a.time > b.time;
  return a.user_id > b.user_id;
}

}  // namespace

CustomerService::CustomerService(const Options& options, const ShardSet& shards,
                                 const Interners& interners, const PartitionedLog& log,
                                 const EngineClock& clock)
    : options_(options), shards_(shards), interners_(interners), log_(log), clock_(clock) {}

void CustomerService::OrderFraud(std::string_view order,
                              std::function<void(OrderFraudAnswer)> done) const {
  const uint32_t id = interners_.orders.Find(order);
  if (id == 0 || !options_.fraud.enabled) return done({});
  shards_.ScatterGather<std::optional<FraudOrder>>(
      [this, id](ShardState& st) -> std::optional<FraudOrder> {
        const FraudState& fraud = st.Get<FraudState>();
        std::optional<FraudOrder> best;
        const auto* users = fraud.UsersOf(OrderId(id));
        for (size_t i = 0; users != nullptr && i < users->size(); ++i) {
          const FraudUser* u = fraud.Find((*users)[i]);
          for (size_t k = 0; u != nullptr && k < u->scored.size(); ++k) {
            if (u->scored[k].order != OrderId(id)) continue;
            FraudOrder o = ToFraudOrder(u->scored[k], (*users)[i], interners_, fraud.options());
            if (!best || Newer(o, *best)) best = std::move(o);
          }
        }
        return best;
      },
      [done = std::move(done)](std::vector<std::optional<FraudOrder>>& parts) {
        OrderFraudAnswer answer;
        for (auto& p : parts) {
          if (p && (!answer.found || Newer(*p, answer.order))) {
            answer.found = true;
            answer.order = std::move(*p);
          }
        }
        done(std::move(answer));
      });
}

void CustomerService::UserFraud(std::string_view user, uint32_t k,
                             std::function<void(UserFraudAnswer)> done) const {
  const uint32_t uid = interners_.users.Find(user);
  if (uid == 0 || !options_.fraud.enabled) return done({});
  const PartitionId p = log_.PartitionOfKey(user);
  shards_.OnShard(shards_.ShardOf(p), [this, p, uid, k, done = std::move(done)](ShardState& st) {
    st.CatchUp(p);
    UserFraudAnswer answer;
    if (const FraudUser* u = st.Get<FraudState>().Find(UserId(uid))) {
      answer.found = true;
      answer.bot = u->marks & FraudUser::kBot;
      answer.flagged = u->marks & FraudUser::kFlagged;
      if (u->marks != 0) answer.marked = EventTime(u->marked_ms);
      answer.orders = u->orders;
      answer.first_seen = EventTime(u->first_seen);
      for (auto s = u->scored.rbegin(); s != u->scored.rend() && answer.recent.size() < k; ++s) {
        answer.recent.push_back(
            ToFraudOrder(*s, UserId(uid), interners_, st.Get<FraudState>().options()));
      }
    }
    done(std::move(answer));
  });
}

void CustomerService::UserInsights(std::string_view user, int64_t hours,
                                   std::function<void(InsightsAnswer)> done) const {
  InsightsAnswer answer;
  const int64_t now_ms = clock_.NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  const uint32_t uid = interners_.users.Find(user);
  if (uid == 0 || !options_.insights.enabled) return done(std::move(answer));
  const PartitionId p = log_.PartitionOfKey(user);
  shards_.OnShard(shards_.ShardOf(p), [this, p, uid, hours, now_ms, answer = std::move(answer),
                                       done = std::move(done)](ShardState& st) mutable {
    st.CatchUp(p);
    const InsightState& state = st.Get<InsightState>();
    const Customer* c = state.Find(UserId(uid));
    if (c != nullptr) {
      const auto& rules = options_.insights.segments;
      const auto rule_name = [&](int16_t r) { return r > 0 ? rules[r - 1].name : std::string(); };
      const auto text = [&](StringId s) {
        return s.valid() ? std::string(interners_.strings.Lookup(s.value())) : std::string();
      };
      answer.found = true;
      // The clock after the catch-up (the read's own events included).
      const int64_t now = std::max(now_ms, clock_.NowMs());
      answer.segment = rule_name(state.SegmentAt(*c, now));
      answer.producer_segment = text(c->producer);
      answer.orders = c->orders;
      answer.spend = static_cast<double>(c->spend_micros) / 1e6;
      if (c->orders > 0) answer.last_purchase = EventTime(c->last_purchase);
      const int64_t from = hours > 0 && now != INT64_MIN ? now - hours * 3'600'000 : INT64_MIN;
      for (const Insight& in : c->insights) {
        if (in.time_ms < from) continue;
        CustomerInsight& out = answer.insights.emplace_back();
        out.priority = std::string(InsightPriorityName(in.priority));
        out.time = EventTime(in.time_ms);
        if (in.type == Insight::kAnomaly) {
          out.type = "spending_anomaly";
          if (in.order.valid()) out.order_id = std::string(interners_.orders.Lookup(in.order.value()));
          out.value = static_cast<double>(in.value_micros) / 1e6;
          out.mean = static_cast<double>(in.mean_micros) / 1e6;
          out.deviation_percent = 100.0 *
                                  (static_cast<double>(in.value_micros) - static_cast<double>(in.mean_micros)) /
                                  static_cast<double>(in.mean_micros);
        } else {
          out.type = "segment_migration";
          const bool producer = in.to_producer.valid();
          out.source = producer ? "producer" : "rules";
          out.from = producer ? text(in.from_producer) : rule_name(in.from_rule);
          out.to = producer ? text(in.to_producer) : rule_name(in.to_rule);
        }
      }
      for (const CategoryBuys& k : c->categories) {
        if (k.predicted_ms == INT64_MIN || k.predicted_ms < from) continue;
        CustomerInsight& out = answer.insights.emplace_back();
        out.type = "consumption_prediction";
        out.priority = k.confidence >= st.Get<InsightState>().options().prediction_medium_confidence
                           ? "medium"
                           : "low";
        out.time = EventTime(k.predicted_ms);
        out.category = std::string(interners_.categories.Lookup(k.category.value()));
        out.next_purchase = EventTime(k.next_ms);
        out.interval_days = static_cast<double>(k.interval_ms) / 86'400'000.0;
        out.confidence = k.confidence;
        out.purchases = static_cast<uint32_t>(k.times.size());
      }
      // Newest first; ties in a fixed order (type, then category).
      std::stable_sort(answer.insights.begin(), answer.insights.end(),
                       [](const CustomerInsight& a, const CustomerInsight& b) {
                         if (a.time != b.time) return a.time > b.time;
                         if (a.type != b.type) return a.type < b.type;
                         return a.category < b.category;
                       });
    }
    done(std::move(answer));
  });
}

}  // namespace eddy
