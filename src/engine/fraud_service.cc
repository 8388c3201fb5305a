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
        const UserId user = fraud.UserOf(OrderId(id));
        const FraudUser* u = user.valid() ? fraud.Find(user) : nullptr;
        if (u == nullptr) return std::nullopt;
        for (const ScoredOrder& s : u->scored) {
          if (s.order == OrderId(id)) return ToFraudOrder(s, user, interners_, options_.fraud);
        }
        return std::nullopt;
      },
      [done = std::move(done)](std::vector<std::optional<FraudOrder>>& parts) {
        OrderFraudAnswer answer;
        for (auto& p : parts) {
          if (p) {  // listed under one user (the latest to use the orderId)
            answer.found = true;
            answer.order = std::move(*p);
            break;
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
