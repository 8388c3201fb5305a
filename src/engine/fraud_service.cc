#include "engine/fraud_service.h"

#include <optional>

#include "engine/alert_feed.h"
#include "fraud/fraud.h"

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

FraudService::FraudService(const Options& options, const ShardSet& shards,
                           const Interners& interners, const PartitionedLog& log)
    : options_(options), shards_(shards), interners_(interners), log_(log) {}

void FraudService::OrderFraud(std::string_view order,
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
            FraudOrder o = ToFraudOrder(u->scored[k], (*users)[i], interners_, options_.fraud);
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

void FraudService::UserFraud(std::string_view user, uint32_t k,
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
        answer.recent.push_back(ToFraudOrder(*s, UserId(uid), interners_, options_.fraud));
      }
    }
    done(std::move(answer));
  });
}

}  // namespace eddy
