// The per-customer routes: fraud (SPEC §3.10: GET /v1/orders/{orderId}/fraud,
// GET /v1/users/{userId}/fraud) and insights (SPEC §3.11: GET /v1/users/{userId}/insights,
// and seed 002's GET /v1/streaming/insights/{customerId}).
#include <string>

#include "http/json_writer.h"
#include "http/params.h"
#include "http/router.h"
#include "util/time.h"

namespace eddy {
namespace {

void WriteFraudOrder(JsonWriter& w, const FraudOrder& o) {
  w.BeginObject();
  w.Key("orderId").StringOrNull(o.order_id);
  w.Key("userId").String(o.user_id).Key("time").String(FormatIso8601(o.time));
  w.Key("value").Double(o.value).Key("lines").Uint(o.lines);
  w.Key("score").Double(o.score).Key("alerted").Bool(o.alerted);
  w.Key("reasons").BeginArray();
  for (const FraudReasonScore& r : o.reasons) {
    w.BeginObject().Key("code").String(r.code).Key("contribution").Double(r.contribution);
    w.EndObject();
  }
  w.EndArray();
  w.Key("ipOrders").Uint(o.ip_orders).Key("userOrders").Uint(o.user_orders);
  w.Key("newUser").Bool(o.new_user);
  w.EndObject();
}

}  // namespace

void Router::OrderFraud(const Request& req, std::string_view order_raw, Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> order = PathId(order_raw, "orderId", v, respond);
  if (!order) return;
  engine_.OrderFraud(*order, [v, order = *order, respond = std::move(respond)](OrderFraudAnswer a) {
    if (!a.found) {
      return respond(ErrorResponse(
          http::status::not_found, v,
          "order " + order + ": no score (never purchased, fraud scoring off, or no longer "
                             "among its user's fraud.orders_per_user newest orders)"));
    }
    JsonWriter w;
    WriteFraudOrder(w, a.order);
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::UserFraud(const Request& req, std::string_view user_raw, std::string_view query,
                       Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> user = PathId(user_raw, "userId", v, respond);
  if (!user) return;
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, engine_.options().fraud.orders_per_user, &k, v, respond)) return;
  engine_.UserFraud(*user, k, [v, user = *user, respond = std::move(respond)](UserFraudAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("userId").String(user).Key("tracked").Bool(a.found);
    w.Key("bot").Bool(a.bot).Key("flagged").Bool(a.flagged).Key("marked");
    TimeOrNull(w, a.marked);
    w.Key("firstSeen");
    TimeOrNull(w, a.first_seen);
    w.Key("orders").Uint(a.orders).Key("recent").BeginArray();
    for (const FraudOrder& o : a.recent) WriteFraudOrder(w, o);
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Insights(const Request& req, std::string_view user_raw, std::string_view query,
                      Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> user = PathId(user_raw, "userId", v, respond);
  if (!user) return;
  uint32_t hours = 24;
  if (!IntParam(query, "hours", 0, 366 * 24, &hours, v, respond)) return;
  engine_.UserInsights(*user, hours, [v, user = *user, respond = std::move(respond)](InsightsAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("userId").String(user).Key("now").String(FormatIso8601(a.now));
    w.Key("customer").Bool(a.found);
    w.Key("segment").StringOrNull(a.segment);
    w.Key("producerSegment").StringOrNull(a.producer_segment);
    w.Key("orders").Uint(a.orders).Key("spend").Double(a.spend).Key("lastPurchase");
    TimeOrNull(w, a.last_purchase);
    w.Key("insights").BeginArray();
    for (const CustomerInsight& in : a.insights) {
      w.BeginObject().Key("type").String(in.type).Key("priority").String(in.priority);
      w.Key("time").String(FormatIso8601(in.time));
      if (in.type == "spending_anomaly") {
        w.Key("orderId").StringOrNull(in.order_id);
        w.Key("value").Double(in.value).Key("mean").Double(in.mean);
        w.Key("deviationPercent").Double(in.deviation_percent);
      } else if (in.type == "segment_migration") {
        w.Key("from").StringOrNull(in.from);
        w.Key("to").String(in.to).Key("source").String(in.source);
      } else {
        w.Key("category").String(in.category);
        w.Key("nextPurchase").String(FormatIso8601(in.next_purchase));
        w.Key("intervalDays").Double(in.interval_days).Key("confidence").Double(in.confidence);
        w.Key("purchases").Uint(in.purchases);
      }
      w.EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

}  // namespace eddy
