// The commerce analytics routes (SPEC §3.8-3.9): a user's sessions, the funnel, revenue
// windows.
#include <algorithm>
#include <string>

#include "config/loader.h"
#include "http/json_writer.h"
#include "http/params.h"
#include "http/router.h"
#include "util/time.h"

namespace eddy {
namespace {

// `numerator / denominator`, or null when there is nothing to divide by.
void Rate(JsonWriter& w, std::string_view key, int64_t numerator, int64_t denominator) {
  w.Key(key);
  if (denominator == 0) {
    w.Null();
  } else {
    w.Double(static_cast<double>(numerator) / static_cast<double>(denominator));
  }
}

void WriteRevenueFigures(JsonWriter& w, const RevenueWindow& x) {
  w.Key("start").String(FormatIso8601(x.start)).Key("end").String(FormatIso8601(x.end));
  w.Key("orders").Int(x.orders).Key("priced_orders").Int(x.priced_orders);
  w.Key("units").Int(x.units).Key("revenue").Micros(x.revenue_micros);
  w.Key("average_order_value");
  if (x.priced_orders > 0) {
    w.Micros(x.revenue_micros / x.priced_orders);
  } else {
    w.Null();
  }
  w.Key("unpriced").Int(x.unpriced).Key("cancelled").Int(x.cancelled);
  w.Key("late").Int(x.late).Key("late_revenue").Micros(x.late_revenue_micros);
}

}  // namespace

void Router::Sessions(const Request& req, std::string_view user_raw, std::string_view query,
                      Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> user = PathId(user_raw, "userId", v, respond);
  if (!user) return;
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, engine_.options().sessions.max_per_user, &k, v, respond)) return;
  engine_.UserSessions(*user, k, [v, user = *user, respond = std::move(respond)](SessionsAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("userId").String(user).Key("now").String(FormatIso8601(a.now));
    w.Key("sessions").BeginArray();
    for (const SessionSummary& s : a.sessions) {
      w.BeginObject().Key("sessionId").String(s.session_id);
      w.Key("source").String(s.from_producer ? "producer" : "gap");
      w.Key("start").String(FormatIso8601(s.start)).Key("end").String(FormatIso8601(s.end));
      w.Key("duration_ms").Int(s.end.millis() - s.start.millis()).Key("open").Bool(s.open);
      int64_t events = 0;
      w.Key("counts").BeginObject();
      for (int t = 0; t < kEventTypeCount; ++t) {
        if (s.counts[t] == 0) continue;
        w.Key(EventTypeName(static_cast<EventType>(t))).Uint(s.counts[t]);
        events += s.counts[t];
      }
      w.EndObject().Key("events").Int(events);
      w.Key("page_views").Uint(s.counts[static_cast<size_t>(EventType::kView)]);
      w.Key("items").BeginArray();
      for (const std::string& item : s.items) w.String(item);
      w.EndArray();
      w.Key("converted").Bool(s.counts[static_cast<size_t>(EventType::kPurchase)] > 0);
      w.Key("revenue").Micros(s.revenue_micros).EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Funnel(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  const int64_t retention = engine_.options().sessions.funnel_retention_minutes;
  int64_t minutes = 60;
  if (std::optional<std::string_view> w = QueryParam(query, "window")) {
    std::optional<int64_t> m = ParseDurationMinutes(*w);
    if (!m || *m < 1 || *m > retention) {
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "window: must be a duration such as 30m, 1h or 7d, at most "
                                   "sessions.funnel_retention (" + WindowLabel(retention) + ")"));
    }
    minutes = *m;
  }
  std::string category;
  if (!IdParam(query, "category", &category, v, respond)) return;
  engine_.Funnel(minutes, category, [v, respond = std::move(respond)](FunnelAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("window").String(WindowLabel(a.window_minutes));
    w.Key("now").String(FormatIso8601(a.now));
    if (!a.category.empty()) w.Key("category").String(a.category);
    w.Key("sessions").Int(a.sessions).Key("viewed").Int(a.viewed);
    w.Key("carted").Int(a.carted).Key("purchased").Int(a.purchased);
    w.Key("rates").BeginObject();
    Rate(w, "view_to_cart", a.carted, a.viewed);
    Rate(w, "cart_to_purchase", a.purchased, a.carted);
    Rate(w, "view_to_purchase", a.purchased, a.viewed);
    w.EndObject().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Revenue(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  const std::vector<int64_t>& sizes = engine_.options().revenue.window_minutes;
  RevenueRequest r;
  r.window_minutes = sizes.front();
  if (std::optional<std::string_view> w = QueryParam(query, "window")) {
    std::optional<int64_t> m = ParseDurationMinutes(*w);
    if (!m || std::find(sizes.begin(), sizes.end(), *m) == sizes.end()) {
      std::string known;
      for (int64_t s : sizes) known += (known.empty() ? "" : ", ") + WindowLabel(s);
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "window: must be one of revenue.windows: " + known));
    }
    r.window_minutes = *m;
  }
  if (!TimeParam(query, "from", &r.from_ms, v, respond) ||
      !TimeParam(query, "to", &r.to_ms, v, respond) ||
      !IdParam(query, "category", &r.category, v, respond)) {
    return;
  }
  if (r.from_ms && r.to_ms) {
    if (*r.to_ms <= *r.from_ms) {
      return respond(ErrorResponse(http::status::bad_request, v, "to: must be after from"));
    }
    if ((*r.to_ms - *r.from_ms) / (r.window_minutes * 60'000) > kMaxRevenueWindows) {
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "from, to: the range holds more than " +
                                       std::to_string(kMaxRevenueWindows) + " windows"));
    }
  } else if (r.from_ms.has_value() != r.to_ms.has_value()) {
    return respond(ErrorResponse(http::status::bad_request, v,
                                 "from, to: give both, or neither (the last 12 windows)"));
  }
  engine_.Revenue(r, [v, respond = std::move(respond)](RevenueAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("window").String(WindowLabel(a.window_minutes));
    w.Key("now").String(FormatIso8601(a.now));
    if (!a.category.empty()) w.Key("category").String(a.category);
    w.Key("total").BeginObject();
    WriteRevenueFigures(w, a.total);
    w.EndObject().Key("windows").BeginArray();
    for (const RevenueWindow& x : a.windows) {
      w.BeginObject();
      WriteRevenueFigures(w, x);
      w.EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

}  // namespace eddy
