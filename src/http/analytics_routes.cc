// The commerce routes: the item catalog (PUT / PATCH / DELETE / GET /v1/items/{itemId}), a
// user's sessions, the funnel, revenue windows (SPEC §3.8-3.9).
#include <algorithm>
#include <memory>
#include <string>

#include <simdjson.h>

#include "config/loader.h"
#include "http/cluster_routes.h"
#include "http/json_writer.h"
#include "http/params.h"
#include "http/router.h"
#include "util/json.h"
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

// A catalog change is an event of its own kind through the ingest path (same log, store,
// ack level and reply). The item comes from the path; the body of PUT / PATCH is one
// object of catalog fields; DELETE has none.
void Router::CatalogWrite(Request& req, IngestContext& ctx, std::string_view item_raw,
                          Respond respond, std::string_view client) {
  const unsigned v = req.version();
  std::optional<std::string> item = PathId(item_raw, "itemId", v, respond);
  if (!item) return;
  if (*item == "popular") {  // GET /v1/items/popular could never show it
    return respond(ErrorResponse(http::status::bad_request, v,
                                 "itemId: 'popular' is reserved (GET /v1/items/popular lists "
                                 "the popular items)"));
  }
  std::string body = "{\"itemId\":" + JsonString(*item);
  DefaultType type = DefaultType::kNone;
  if (req.method() == http::verb::delete_) {
    body += ",\"type\":\"catalog_delete\"}";
  } else {
    type = req.method() == http::verb::put ? DefaultType::kCatalogPut : DefaultType::kCatalogPatch;
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(req.body()).get(obj) != simdjson::SUCCESS) {
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "body: must be one JSON object of catalog fields (category, "
                                   "price, stock, hidden, lowStockThreshold, attributes)"));
    }
    // (A `type` under any alias is refused by the decoder for these routes.)
    for (auto [key, value] : obj) {
      if (key == "itemId" || key == "item_id" || key == "productId" || key == "product_id" ||
          key == "offerId" || key == "offer_id" || key == "itemid") {
        std::string_view named;
        if (value.get(named) != simdjson::SUCCESS || named != *item) {
          return respond(ErrorResponse(http::status::bad_request, v,
                                       std::string(key) + ": differs from the item in the path"));
        }
      }
    }
    const std::string_view text = req.body();
    const size_t open = text.find('{');
    std::string_view rest = text.substr(open + 1);
    const size_t first = rest.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && rest[first] != '}') body += ",";
    body.append(rest);
  }
  req.body() = std::move(body);
  req.set(http::field::content_type, "application/json");
  Ingest(req, ctx, type, std::move(respond), client);
}

// The catalog record and the engagement of one item; 404 when eddy knows neither.
void Router::Item(const Request& req, std::string_view item_raw, Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> item = PathId(item_raw, "itemId", v, respond);
  if (!item) return;
  std::vector<int64_t> windows = engine_.options().windows.minutes;
  Engine* engine = &engine_;
  const bool part = IsPartRequest(req);
  engine_.ItemCatalog(*item, [v, engine, item = *item, windows = std::move(windows), part,
                              respond = std::move(respond)](CatalogRecord c) mutable {
    // The engagement read runs after the catalog's answer, from its callback.
    engine->ItemEngagement(item, [v, item, c = std::move(c), windows = std::move(windows), part,
                                  respond = std::move(respond)](EngagementAnswer a) {
      respond(ItemResponse(v, item, c, a, part, windows));
    });
  });
}

Response ItemResponse(unsigned v, const std::string& item, const CatalogRecord& c, const EngagementAnswer& a,
                      bool part, const std::vector<int64_t>& windows) {
  int64_t events = 0;
  for (int64_t n : a.all_time) events += n;
  // A cluster node's part is never 404: the item may be known on another node only.
  if (!c.found && events == 0 && !part) {
    return ErrorResponse(http::status::not_found, v, "item " + item + ": not in the catalog and no event seen");
  }
  JsonWriter w;
  w.BeginObject().Key("itemId").String(item).Key("catalog");
  if (!c.found) {
    w.Null();
  } else {
    w.BeginObject().Key("deleted").Bool(c.deleted).Key("hidden").Bool(c.hidden);
    if (!c.category.empty()) w.Key("category").String(c.category);
    if (c.price_micros) w.Key("price").Micros(*c.price_micros);
    if (c.stock) w.Key("stock").Int(*c.stock);
    if (c.low_stock_threshold) w.Key("lowStockThreshold").Uint(*c.low_stock_threshold);
    w.Key("attributes").RawJson(c.attributes);
    w.Key("updated").String(FormatIso8601(c.updated));
    if (part) w.Key("updated_ms").Int(c.updated.millis());
    w.EndObject();
  }
  w.Key("engagement").BeginObject();
  WriteEngagementFields(w, a, part, windows);
  w.EndObject().EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

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
    respond(FunnelResponse(v, a));
  });
}

Response FunnelResponse(unsigned v, const FunnelAnswer& a) {
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
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Revenue(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  const std::vector<int64_t>& sizes = engine_.options().revenue.window_minutes;
  size_t size = 0;
  if (!WindowParam(query, sizes, "revenue.windows", &size, v, respond)) return;
  RevenueRequest r;
  r.window_minutes = sizes[size];
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
    respond(RevenueResponse(v, a));
  });
}

Response RevenueResponse(unsigned v, const RevenueAnswer& a) {
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
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Inventory(const Request& req, std::string_view item_raw, Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> item = PathId(item_raw, "itemId", v, respond);
  if (!item) return;
  const InventoryOptions& o = engine_.options().inventory;
  engine_.ItemInventory(*item, [v, o, item = *item, respond = std::move(respond)](InventoryAnswer a) {
    if (!a.found) {
      return respond(ErrorResponse(http::status::not_found, v,
                                   "item " + item + ": no stock given and no sale seen"));
    }
    JsonWriter w;
    w.BeginObject().Key("itemId").String(item).Key("now").String(FormatIso8601(a.now));
    w.Key("stock");
    if (a.stock) w.Int(*a.stock); else w.Null();
    w.Key("oversold").Int(a.oversold);
    w.Key("soldInWindow").Int(a.sold_in_window).Key("windowDays").Int(a.window_days);
    w.Key("velocity").Double(a.velocity).Key("daysOfCover");
    if (a.days_of_cover) w.Double(*a.days_of_cover); else w.Null();
    w.Key("reorder");
    if (a.reorder) w.Int(*a.reorder); else w.Null();
    w.Key("leadTimeDays").Double(o.lead_time_days).Key("safetyDays").Double(o.safety_days);
    w.Key("threshold").Uint(a.threshold).Key("low").Bool(a.low);
    w.Key("updated").String(FormatIso8601(a.updated)).EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::LowStock(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  uint32_t k = 50;
  if (!IntParam(query, "k", 1, 1000, &k, v, respond)) return;
  engine_.LowStock(k, [v, respond = std::move(respond)](LowStockAnswer a) { respond(LowStockResponse(v, a)); });
}

Response LowStockResponse(unsigned v, const LowStockAnswer& a) {
  JsonWriter w;
  w.BeginObject().Key("now").String(FormatIso8601(a.now)).Key("items").BeginArray();
  for (const LowStockItem& x : a.items) {
    w.BeginObject().Key("itemId").String(x.item_id).Key("stock").Int(x.stock);
    w.Key("threshold").Uint(x.threshold).Key("since").String(FormatIso8601(x.since));
    w.EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Alerts(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  AlertsRequest r;
  if (std::optional<std::string_view> kind = QueryParam(query, "kind")) {
    if (std::find(kAlertKinds.begin(), kAlertKinds.end(), *kind) == kAlertKinds.end()) {
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "kind: must be inventory, fraud, anomaly or insight"));
    }
    r.kind = std::string(*kind);
  }
  std::optional<int64_t> since;
  if (!TimeParam(query, "since", &since, v, respond) ||
      !IntParam(query, "k", 1, 1000, &r.k, v, respond)) {
    return;
  }
  if (since) r.since_ms = *since;
  engine_.Alerts(r, [v, part = IsPartRequest(req), respond = std::move(respond)](AlertsAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("alerts").BeginArray();
    for (const Alert& x : a.alerts) {
      if (!part) {
        WriteAlert(w, x);
        continue;
      }
      // Cluster mode, a node's part: each alert as printed, with what the merge orders by.
      JsonWriter one;
      WriteAlert(one, x);
      w.BeginObject().Key("ms").Int(x.time.millis()).Key("id").String(x.id);
      w.Key("json").String(one.Take()).EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

}  // namespace eddy
