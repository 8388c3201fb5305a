// The fraud routes (SPEC §3.10): GET /v1/orders/{orderId}/fraud and
// GET /v1/users/{userId}/fraud.
#include <string>

#include "http/json_writer.h"
#include "http/params.h"
#include "http/router.h"
#include "util/time.h"

namespace eddy {
namespace {

void WriteFraudOrder(JsonWriter& w, const FraudOrder& o) {
  w.BeginObject();
  w.Key("orderId");
  if (o.order_id.empty()) {
    w.Null();
  } else {
    w.String(o.order_id);
  }
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
    if (a.marked) {
      w.String(FormatIso8601(*a.marked));
    } else {
      w.Null();
    }
    w.Key("firstSeen");
    if (a.first_seen) {
      w.String(FormatIso8601(*a.first_seen));
    } else {
      w.Null();
    }
    w.Key("orders").Uint(a.orders).Key("recent").BeginArray();
    for (const FraudOrder& o : a.recent) WriteFraudOrder(w, o);
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

}  // namespace eddy
