#include "http/router.h"

#include <algorithm>
#include <optional>

#include "http/cluster_routes.h"
#include "http/dashboard.h"
#include "http/json_writer.h"
#include "http/metrics.h"
#include "http/params.h"
#include "util/time.h"

namespace eddy {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void WriteScored(JsonWriter& w, std::string_view key, const std::vector<ScoredName>& top) {
  w.BeginArray();
  int rank = 0;
  for (const ScoredName& s : top) {
    w.BeginObject().Key("rank").Int(++rank).Key(key).String(s.name).Key("score").Double(s.score);
    w.EndObject();
  }
  w.EndArray();
}

struct IngestRoute {
  std::string_view path;
  DefaultType type;
};
constexpr IngestRoute kIngestRoutes[] = {
    {"/v1/events", DefaultType::kNone},
    {"/v1/streaming/events/purchase", DefaultType::kPurchase},
    {"/v1/streaming/events/batch", DefaultType::kSeedBatch},
    {"/v1/streaming/events/segment-update", DefaultType::kSegmentUpdate},
    {"/v1/items", DefaultType::kCatalogBulk},
};

std::string IngestReplyJson(const IngestReply& r, std::string_view error) {
  JsonWriter w;
  w.BeginObject();
  if (!error.empty()) w.Key("error").String(error);
  w.Key("accepted").Uint(r.accepted).Key("duplicates").Uint(r.duplicates);
  w.Key("rejected").BeginArray();
  for (const Rejection& rej : r.rejected) {
    w.BeginObject().Key("index").Uint(rej.index).Key("error").String(rej.error).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace

Response ErrorResponse(http::status status, unsigned version, std::string_view message,
                       std::string_view detail_json) {
  std::string body = "{\"error\":";
  JsonWriter::AppendEscaped(&body, message);
  if (!detail_json.empty()) {
    body += ",\"detail\":";
    body += detail_json;
  }
  body += '}';
  return JsonResponse(status, version, std::move(body));
}

std::optional<BodyFormat> BodyFormatFor(std::string_view content_type) {
  std::string media = Lower(content_type.substr(0, content_type.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  while (!media.empty() && media.front() == ' ') media.erase(0, 1);
  if (media.empty() || media == "application/json") return BodyFormat::kAuto;
  if (media == "application/x-ndjson" || media == "application/ndjson" ||
      media == "application/jsonl" || media == "application/x-jsonlines" ||
      media == "application/jsonlines") {
    return BodyFormat::kNdjson;
  }
  return std::nullopt;
}

bool IsIngestRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  for (const IngestRoute& r : kIngestRoutes) {
    if (r.path == path) return true;
  }
  return false;
}

// The routes besides ingest: an exact path, or "<prefix>{id}<suffix>" with a non-empty id
// (one path segment). `read` routes ask the engine's shards and are admission-checked.
struct Router::Route {
  std::string_view prefix;
  std::string_view suffix;  // "" for an exact path
  http::verb method;
  bool read;
  void (*handle)(Router& r, Request& req, std::string_view id, std::string_view query,
                 Respond respond);
};

const Router::Route Router::kRoutes[] = {
    // The dashboard page: open (it holds no data; its stream needs a read credential,
    // which the page takes from its own ?access_token=).
    {"/", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       Response res{http::status::ok, req.version()};
       res.set(http::field::server, "eddy");
       res.set(http::field::content_type, "text/html; charset=utf-8");
       res.set(http::field::cache_control, "no-cache");
       res.body() = std::string(DashboardPage());
       res.prepare_payload();
       respond(std::move(res));
     }},
    {"/v1/dashboard/stream", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       respond(ErrorResponse(http::status::bad_request, req.version(),
                             "/v1/dashboard/stream is a Server-Sent Events stream: it needs the "
                             "HTTP server's streaming connection"));
     }},
    {"/healthz", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       respond(JsonResponse(http::status::ok, req.version(), "{\"status\":\"ok\"}"));
     }},
    {"/readyz", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) { r.Ready(req, std::move(respond)); }},
    {"/v1/admin/checkpoint", "", http::verb::post, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       r.Checkpoint(req, std::move(respond));
     }},
    {"/v1/admin/reload", "", http::verb::post, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       if (!r.reload_) {
         return respond(ErrorResponse(http::status::service_unavailable, req.version(),
                                      "reload is not available in this process"));
       }
       auto [applied, body] = r.reload_();
       respond(JsonResponse(applied ? http::status::ok : http::status::bad_request, req.version(),
                            std::move(body)));
     }},
    {"/metrics", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       Response res{http::status::ok, req.version()};
       res.set(http::field::server, "eddy");
       res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
       res.body() = RenderMetrics(r.engine_.Status(), r.metrics_, RouteLabels());
       res.prepare_payload();
       respond(std::move(res));
     }},
    {"/v1/stream/status", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       respond(r.StreamStatusResponse(req.version()));
     }},
    {"/v1/recommendations", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Recommendations(req, q, std::move(respond));
     }},
    {"/v1/admin/experiments/", "/reallocate", http::verb::post, true,
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.Reallocate(req, id, std::move(respond));
     }},
    {"/v1/experiments", "", http::verb::get, true,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       r.Experiments(req, {}, std::move(respond));
     }},
    {"/v1/experiments/", "", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.Experiments(req, id, std::move(respond));
     }},
    {"/v1/offers/rank", "", http::verb::post, true,
     [](Router& r, Request& req, auto, auto, Respond respond) { r.Offers(req, std::move(respond)); }},
    {"/v1/items/popular", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Popular(req, q, std::move(respond));
     }},
    {"/v1/trending/categories", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Trending(req, q, std::move(respond));
     }},
    {"/v1/categories/", "/velocity", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Velocity(req, id, q, std::move(respond));
     }},
    {"/v1/items/", "/engagement", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.Engagement(req, id, std::move(respond));
     }},
    {"/v1/items/", "/similar", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Similar(req, id, q, std::move(respond));
     }},
    {"/v1/users/", "/recent", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Recent(req, id, q, std::move(respond));
     }},
    {"/v1/users/", "/affinity", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Affinity(req, id, q, std::move(respond));
     }},
    {"/v1/items/", "", http::verb::get, true,  // after /v1/items/popular
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.Item(req, id, std::move(respond));
     }},
    {"/v1/users/", "/sessions", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Sessions(req, id, q, std::move(respond));
     }},
    {"/v1/users/", "/fraud", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.UserFraud(req, id, q, std::move(respond));
     }},
    {"/v1/users/", "/insights", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Insights(req, id, q, std::move(respond));
     }},
    // Seed 002's routes: aliases of the native ones, the same answers.
    {"/v1/streaming/insights/", "", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, std::string_view q, Respond respond) {
       r.Insights(req, id, q, std::move(respond));
     }},
    {"/v1/streaming/stream/status", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       respond(r.StreamStatusResponse(req.version()));
     }},
    {"/v1/orders/", "/fraud", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.OrderFraud(req, id, std::move(respond));
     }},
    {"/v1/analytics/funnel", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Funnel(req, q, std::move(respond));
     }},
    {"/v1/analytics/revenue", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Revenue(req, q, std::move(respond));
     }},
    {"/v1/items/", "/inventory", http::verb::get, true,
     [](Router& r, Request& req, std::string_view id, auto, Respond respond) {
       r.Inventory(req, id, std::move(respond));
     }},
    {"/v1/inventory/low", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.LowStock(req, q, std::move(respond));
     }},
    {"/v1/alerts", "", http::verb::get, true,
     [](Router& r, Request& req, auto, std::string_view q, Respond respond) {
       r.Alerts(req, q, std::move(respond));
     }},
    // Served by the HTTP server as a Server-Sent Events stream (StreamOf); listed here for
    // the method check.
    {"/v1/alerts/stream", "", http::verb::get, false,
     [](Router& r, Request& req, auto, auto, Respond respond) {
       respond(ErrorResponse(http::status::bad_request, req.version(),
                             "/v1/alerts/stream is a Server-Sent Events stream: it needs the "
                             "HTTP server's streaming connection"));
     }},
};

Router::Stream Router::StreamOf(const Request& req) {
  if (req.method() != http::verb::get) return Stream::kNone;
  std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/v1/alerts/stream") return Stream::kAlerts;
  if (path == "/v1/dashboard/stream") return Stream::kDashboard;
  return Stream::kNone;
}

std::optional<std::string_view> Router::CatalogWriteItem(http::verb method, std::string_view path) {
  constexpr std::string_view kItems = "/v1/items/";
  if (method != http::verb::put && method != http::verb::patch && method != http::verb::delete_) {
    return std::nullopt;
  }
  if (!path.starts_with(kItems)) return std::nullopt;
  const std::string_view id = path.substr(kItems.size());
  if (id.empty() || id.find('/') != std::string_view::npos) return std::nullopt;
  return id;
}

namespace {
// Whether a route's prefix is followed by an id segment ("/v1/items/" + "{id}"); "/" is
// the exact path of the dashboard page.
bool HasId(std::string_view prefix) { return prefix.ends_with('/') && prefix != "/"; }
}  // namespace

const Router::Route* Router::Find(std::string_view path, std::string_view* id) {
  for (const Route& r : kRoutes) {
    if (r.suffix.empty() && !HasId(r.prefix)) {
      if (path == r.prefix) return &r;
      continue;
    }
    if (path.size() <= r.prefix.size() + r.suffix.size() || !path.starts_with(r.prefix) ||
        !path.ends_with(r.suffix)) {
      continue;
    }
    std::string_view middle =
        path.substr(r.prefix.size(), path.size() - r.prefix.size() - r.suffix.size());
    if (middle.find('/') != std::string_view::npos) continue;
    *id = middle;
    return &r;
  }
  return nullptr;
}

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kOpen: return "open";
    case Scope::kRead: return "read";
    case Scope::kIngest: return "ingest";
    case Scope::kAdmin: return "admin";
  }
  return "?";
}

namespace {
constexpr size_t kIngestLabels = std::size(kIngestRoutes);
}  // namespace

const std::vector<std::string>& Router::RouteLabels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> l = {"unmatched"};
    for (const IngestRoute& r : kIngestRoutes) l.emplace_back(r.path);
    for (const Route& r : kRoutes) {
      l.push_back(std::string(r.prefix) + (HasId(r.prefix) ? "{id}" : "") + std::string(r.suffix));
    }
    return l;
  }();
  return labels;
}

RouteMatch Router::Match(http::verb method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (size_t i = 0; i < kIngestLabels; ++i) {
    if (path == kIngestRoutes[i].path) return {static_cast<uint16_t>(1 + i), Scope::kIngest, false};
  }
  if (CatalogWriteItem(method, path)) {
    // Labelled as the item route, GET /v1/items/{id}.
    static const uint16_t item_label = [] {
      for (const Route& r : kRoutes) {
        if (r.prefix == "/v1/items/" && r.suffix.empty()) {
          return static_cast<uint16_t>(1 + kIngestLabels + (&r - kRoutes));
        }
      }
      return uint16_t{0};
    }();
    return {item_label, Scope::kIngest, false};
  }
  std::string_view id;
  const Route* route = Find(path, &id);
  if (route == nullptr) return {};
  RouteMatch m;
  m.label = static_cast<uint16_t>(1 + kIngestLabels + (route - kRoutes));
  if (route->prefix == "/healthz" || route->prefix == "/readyz" || route->prefix == "/") {
    m.scope = Scope::kOpen;
  } else if (route->prefix.starts_with("/v1/admin/")) {
    m.scope = Scope::kAdmin;
  }
  m.read = route->read && method == route->method;
  return m;
}

void Router::Handle(Request& req, IngestContext& ctx, Respond respond, std::string_view client,
                    bool from_node) {
  const unsigned v = req.version();
  std::string_view target(req.target().data(), req.target().size());
  const size_t qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  const std::string_view query = qpos == std::string_view::npos ? "" : target.substr(qpos + 1);
  auto wrong_method = [&](std::string_view allowed) {
    Response res = ErrorResponse(http::status::method_not_allowed, v,
                                 "method " + std::string(req.method_string()) +
                                     " not allowed on " + std::string(path) + "; use " +
                                     std::string(allowed));
    res.set(http::field::allow, allowed);
    respond(std::move(res));
  };
  for (const IngestRoute& r : kIngestRoutes) {
    if (path != r.path) continue;
    if (req.method() != http::verb::post) return wrong_method("POST");
    return Ingest(req, ctx, r.type, std::move(respond), client);
  }
  if (std::optional<std::string_view> item = CatalogWriteItem(req.method(), path)) {
    return CatalogWrite(req, ctx, *item, std::move(respond), client);
  }
  std::string_view id;
  const Route* route = Find(path, &id);
  if (route == nullptr) {
    return respond(ErrorResponse(http::status::not_found, v,
                                 "no route " + std::string(req.method_string()) + " " +
                                     std::string(path)));
  }
  if (req.method() != route->method) {
    // /v1/items/{itemId} also takes the catalog writes (dispatched above).
    const bool item = route->prefix == "/v1/items/" && route->suffix.empty();
    return wrong_method(item ? "GET, PUT, PATCH, DELETE" : http::to_string(route->method));
  }
  if (route->read) {
    // Backpressure: a read that would queue past the shards' bound is refused now rather
    // than answered late (or never) behind the ones already waiting.
    if (eddy::Status st = engine_.AdmitRead(); !st.ok()) {
      Response res = ErrorResponse(http::status::too_many_requests, v, std::string(st.message()));
      res.set(http::field::retry_after, std::to_string(options_.retry_after_s));
      return respond(std::move(res));
    }
  }
  if (route->read && !from_node && engine_.Clustered() && Distribute(req, path, id, query, respond)) {
    return;
  }
  route->handle(*this, req, id, query, std::move(respond));
}

void Router::Ready(const Request& req, Respond respond) {
  const unsigned v = req.version();
  if (engine_.Ready()) return respond(JsonResponse(http::status::ok, v, "{\"ready\":true}"));
  respond(ErrorResponse(http::status::service_unavailable, v, "not ready", "{\"ready\":false}"));
}

void Router::Checkpoint(const Request& req, Respond respond) {
  const unsigned v = req.version();
  engine_.RequestCheckpoint([v, respond = std::move(respond), this](eddy::Status st, uint64_t seq) {
    if (!st.ok()) {
      return respond(ErrorResponse(http::status::service_unavailable, v, std::string(st.message())));
    }
    const StoreStatus s = engine_.Status().store;
    JsonWriter w;
    w.BeginObject().Key("checkpoint").Uint(seq).Key("bytes").Uint(s.last_checkpoint_bytes);
    w.Key("duration_ms").Double(s.last_checkpoint_ms);
    w.Key("longest_shard_pause_ms").Double(s.last_checkpoint_pause_ms).EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Ingest(Request& req, IngestContext& ctx, DefaultType type, Respond respond,
                    std::string_view client) {
  const unsigned v = req.version();
  std::string_view ct(req[http::field::content_type].data(),
                      req[http::field::content_type].size());
  std::optional<BodyFormat> format = BodyFormatFor(ct);
  if (!format) {
    return respond(ErrorResponse(
        http::status::unsupported_media_type, v,
        "unsupported Content-Type '" + std::string(ct) +
            "'; use application/json (an object or an array) or application/x-ndjson"));
  }
  const int retry_after = options_.retry_after_s;
  engine_.Ingest(ctx, req.body(), *format, type,
                 [v, retry_after, this, respond = std::move(respond),
                  charge = limiter_.enabled(RateLimiter::kIngest) ? std::string(client)
                                                                    : std::string()](IngestReply r) {
    metrics_.CountRejections(r.rejected);
    if (!charge.empty()) limiter_.Charge(charge, RateLimiter::kIngest, r.accepted, SteadyNanos());
    const StatusCode code = r.status.code();
    if (code == StatusCode::kOk) {
      if (r.accepted == 0 && !r.rejected.empty()) {
        std::string error = "no event accepted: " + r.rejected.front().error;
        return respond(JsonResponse(http::status::bad_request, v, IngestReplyJson(r, error)));
      }
      return respond(JsonResponse(http::status::ok, v, IngestReplyJson(r, {})));
    }
    std::string msg(r.status.message());
    switch (code) {
      case StatusCode::kInvalidArgument: {
        std::string detail =
            r.error_offset >= 0 ? "{\"offset\":" + std::to_string(r.error_offset) + "}" : "";
        return respond(ErrorResponse(http::status::bad_request, v, msg, detail));
      }
      case StatusCode::kTooLarge:
        return respond(ErrorResponse(http::status::payload_too_large, v, msg));
      case StatusCode::kResourceExhausted: {
        Response res = ErrorResponse(http::status::too_many_requests, v, msg);
        res.set(http::field::retry_after, std::to_string(retry_after));
        return respond(std::move(res));
      }
      case StatusCode::kUnavailable: {
        Response res = ErrorResponse(http::status::service_unavailable, v, msg);
        res.keep_alive(false);
        return respond(std::move(res));
      }
      default:
        return respond(ErrorResponse(http::status::internal_server_error, v, msg));
    }
  });
}

void Router::Recent(const Request& req, std::string_view user_raw, std::string_view query,
                    Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> user = PathId(user_raw, "userId", v, respond);
  if (!user) return;
  const uint32_t max_k = engine_.options().recent.max_items;
  uint32_t k = max_k;
  if (!IntParam(query, "k", 1, max_k, &k, v, respond)) return;
  engine_.RecentItems(*user, k, [v, user = *user, respond = std::move(respond)](
                                    std::vector<RecentItem> items) {
    JsonWriter w;
    w.BeginObject().Key("userId").String(user).Key("items").BeginArray();
    for (const RecentItem& it : items) {
      w.BeginObject().Key("itemId").String(it.item).Key("timestamp").Int(it.time.millis());
      w.Key("time").String(FormatIso8601(it.time));
      w.EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Trending(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  size_t window = 0;
  if (!WindowParam(query, engine_.options().windows.minutes, "the configured windows", &window,
                   v, respond)) {
    return;
  }
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, 1000, &k, v, respond)) return;
  if (IsPartRequest(req)) k = kPartK;
  engine_.TrendingCategories(window, k, [v, respond = std::move(respond)](TrendingAnswer a) {
    respond(TrendingResponse(v, a));
  });
}

Response TrendingResponse(unsigned v, const TrendingAnswer& a) {
  JsonWriter w;
  w.BeginObject().Key("window").String(WindowLabel(a.window_minutes));
  w.Key("now").String(FormatIso8601(a.now)).Key("categories").BeginArray();
  int rank = 0;
  for (const TrendingCategory& c : a.top) {
    w.BeginObject().Key("rank").Int(++rank).Key("category").String(c.category);
    w.Key("score").Double(c.score).Key("events").Int(c.events);
    w.Key("velocity").BeginObject().Key("this_minute").Int(c.this_minute);
    w.Key("previous_minute").Int(c.previous_minute);
    w.Key("change").Int(c.this_minute - c.previous_minute).EndObject();
    w.EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Velocity(const Request& req, std::string_view category_raw, std::string_view query,
                      Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> category = PathId(category_raw, "category", v, respond);
  if (!category) return;
  const std::vector<int64_t>& windows = engine_.options().windows.minutes;
  const uint32_t max_minutes =
      static_cast<uint32_t>(std::max<int64_t>(60, *std::max_element(windows.begin(), windows.end())));
  uint32_t minutes = 60;
  if (!IntParam(query, "minutes", 1, max_minutes, &minutes, v, respond)) return;
  engine_.CategoryVelocity(*category, minutes, [v, category = *category,
                                                respond = std::move(respond)](VelocityAnswer a) {
    respond(VelocityResponse(v, category, a));
  });
}

Response VelocityResponse(unsigned v, const std::string& category, const VelocityAnswer& a) {
  JsonWriter w;
  w.BeginObject().Key("category").String(category).Key("now").String(FormatIso8601(a.now));
  w.Key("minutes").BeginArray();
  const int64_t now_minute = a.now.millis() / 60'000;
  const int64_t n = static_cast<int64_t>(a.per_minute.size());
  for (int64_t i = 0; i < n; ++i) {
    w.BeginObject().Key("minute").String(FormatIso8601(EventTime((now_minute - n + 1 + i) * 60'000)));
    w.Key("events").Int(a.per_minute[i]).EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Engagement(const Request& req, std::string_view item_raw, Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> item = PathId(item_raw, "itemId", v, respond);
  if (!item) return;
  std::vector<int64_t> windows = engine_.options().windows.minutes;
  engine_.ItemEngagement(*item, [v, item = *item, windows = std::move(windows), part = IsPartRequest(req),
                                 respond = std::move(respond)](EngagementAnswer a) {
    respond(EngagementResponse(v, item, a, part, windows));
  });
}

Response EngagementResponse(unsigned v, const std::string& item, const EngagementAnswer& a, bool part,
                            const std::vector<int64_t>& windows) {
  JsonWriter w;
  w.BeginObject().Key("itemId").String(item);
  WriteEngagementFields(w, a, part, windows);
  w.EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

void WriteEngagementFields(JsonWriter& w, const EngagementAnswer& a, bool part,
                           const std::vector<int64_t>& windows) {
  auto counts = [](JsonWriter& w, const std::array<int64_t, kEventTypeCount>& c) {
    w.BeginObject();
    for (int t = 0; t < kEventTypeCount; ++t) {
      w.Key(EventTypeName(static_cast<EventType>(t))).Int(c[t]);
    }
    w.EndObject();
  };
  w.Key("now").String(FormatIso8601(a.now));
  if (!a.category.empty()) w.Key("category").String(a.category);
  if (a.price_micros) w.Key("price").Double(static_cast<double>(*a.price_micros) / 1e6);
  if (part) {
    w.Key("category_ms").Int(a.category_ms).Key("price_ms").Int(a.price_ms);
    if (a.price_micros) w.Key("price_micros").Int(*a.price_micros);
  }
  w.Key("all_time");
  counts(w, a.all_time);
  w.Key("windows").BeginObject();
  for (size_t i = 0; i < windows.size() && i < a.per_window.size(); ++i) {
    w.Key(WindowLabel(windows[i]));
    counts(w, a.per_window[i]);
  }
  w.EndObject();
}

void Router::Popular(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  if (std::optional<std::string_view> w = QueryParam(query, "window"); w && *w != "all") {
    return respond(ErrorResponse(
        http::status::bad_request, v,
        "window: popularity is not windowed, it decays (popularity.half_life); omit window "
        "or use window=all; for counts in a window see /v1/items/{itemId}/engagement"));
  }
  std::string category;
  if (!IdParam(query, "category", &category, v, respond)) return;
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, 1000, &k, v, respond)) return;
  if (IsPartRequest(req)) k = kPartK;
  engine_.PopularItems(category, k, [v, category, respond = std::move(respond)](PopularAnswer a) {
    respond(PopularResponse(v, category, a));
  });
}

Response PopularResponse(unsigned v, const std::string& category, const PopularAnswer& a) {
  JsonWriter w;
  w.BeginObject().Key("now").String(FormatIso8601(a.now));
  if (!category.empty()) w.Key("category").String(category);
  w.Key("items");
  WriteScored(w, "itemId", a.top);
  w.EndObject();
  return JsonResponse(http::status::ok, v, w.Take());
}

void Router::Affinity(const Request& req, std::string_view user_raw, std::string_view query,
                      Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> user = PathId(user_raw, "userId", v, respond);
  if (!user) return;
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, engine_.options().affinity.max_categories, &k, v, respond)) return;
  engine_.UserAffinity(*user, k, [v, user = *user, respond = std::move(respond)](AffinityAnswer a) {
    JsonWriter w;
    w.BeginObject().Key("userId").String(user).Key("now").String(FormatIso8601(a.now));
    w.Key("categories");
    WriteScored(w, "category", a.top);
    w.EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

Response Router::StreamStatusResponse(unsigned version) {
  StreamStatus s = engine_.Status();
  JsonWriter w;
  w.BeginObject();
  w.Key("partitions").Uint(s.partitions).Key("shards").Int(s.shards);
  w.Key("ack").String(AckLevelName(engine_.options().durability.ack));
  w.Key("capacity_per_partition").Uint(s.capacity_per_partition);
  w.Key("accepted_total").Uint(s.accepted_total).Key("duplicates_total").Uint(s.duplicates_total);
  w.Key("filtered_total").Uint(s.filtered_total);
  w.Key("events_per_second_10s").Double(s.events_per_second_10s);
  w.Key("popular_full_scans").Uint(s.popular_full_scans);
  w.Key("experiment_records_dropped").Uint(s.experiment_records_dropped);
  if (s.cluster.enabled) {
    const ClusterStatus& c = s.cluster;
    w.Key("cluster").BeginObject().Key("node").String(c.node);
    w.Key("live_nodes").BeginArray();
    for (const std::string& n : c.live_nodes) w.String(n);
    w.EndArray().Key("owned").BeginArray();
    for (uint32_t p : c.owned) w.Uint(p);
    w.EndArray().Key("owners").BeginArray();
    for (const std::string& n : c.owners) w.String(n);
    w.EndArray().Key("feed_errors").Uint(c.feed_errors);
    w.Key("checkpoints_saved").Uint(c.checkpoints_saved).Key("checkpoints_loaded").Uint(c.checkpoints_loaded);
    w.Key("checkpoint_errors").Uint(c.checkpoint_errors).EndObject();
  }
  w.Key("partition").BeginArray();
  for (const PartitionStatus& p : s.partition) {
    w.BeginObject().Key("partition").Uint(p.partition).Key("shard").Int(p.shard);
    w.Key("head").Uint(p.head).Key("applied").Uint(p.applied).Key("lag").Uint(p.head - p.applied);
    if (s.store.enabled) w.Key("durable").Uint(p.durable);
    w.EndObject();
  }
  w.EndArray().Key("shard").BeginArray();
  for (const ShardStatus& sh : s.shard) {
    w.BeginObject().Key("shard").Int(sh.shard).Key("applied_events").Uint(sh.applied_events);
    w.Key("lag_events").Uint(sh.lag_events).EndObject();
  }
  w.EndArray().Key("memory").BeginObject();
  uint64_t total = 0;
  for (const AggregateMemory& m : s.memory) {
    w.Key(m.aggregate).BeginObject().Key("keys").Uint(m.keys).Key("bytes").Uint(m.bytes);
    w.Key("evicted").Uint(m.evicted).EndObject();
    total += m.bytes;
  }
  w.Key("total_bytes").Uint(total).EndObject();
  w.Key("ids").BeginObject();
  for (const IdKindStatus& k : s.ids.kinds) {
    w.Key(k.kind).BeginObject().Key("live").Uint(k.live).Key("freed").Uint(k.freed).EndObject();
  }
  w.Key("sweeps").Uint(s.ids.sweeps).Key("last_sweep_ms").Double(s.ids.last_sweep_ms).EndObject();
  const StoreStatus& st = s.store;
  w.Key("store").BeginObject().Key("enabled").Bool(st.enabled);
  if (st.enabled) {
    w.Key("failing").Bool(st.failing);
    if (!st.last_error.empty()) w.Key("last_error").String(st.last_error);
    w.Key("persisted_events").Uint(st.persisted_events).Key("batches").Uint(st.batches);
    w.Key("synced_batches").Uint(st.syncs).Key("bytes").Uint(st.bytes);
    w.Key("recovered_events").Uint(st.recovered_events);
    w.Key("recovery_seconds").Double(st.recovery_seconds);
    w.Key("recovered_from_checkpoint").Uint(st.recovered_from_checkpoint);
    w.Key("checkpoints_taken").Uint(st.checkpoints_taken);
    w.Key("checkpoint_failures").Uint(st.checkpoint_failures);
    w.Key("retention_deleted").Uint(st.retention_deleted);
    w.Key("last_checkpoint").BeginObject().Key("sequence").Uint(st.last_checkpoint);
    w.Key("bytes").Uint(st.last_checkpoint_bytes).Key("duration_ms").Double(st.last_checkpoint_ms);
    w.Key("longest_shard_pause_ms").Double(st.last_checkpoint_pause_ms).EndObject();
    w.Key("rocksdb").BeginObject();
    w.Key("wal_bytes").Uint(st.wal_bytes).Key("wal_syncs").Uint(st.wal_syncs);
    w.Key("live_sst_bytes").Uint(st.live_sst_bytes).Key("memtable_bytes").Uint(st.memtable_bytes);
    w.Key("estimated_keys").Uint(st.estimated_keys);
    w.Key("pending_compaction_bytes").Uint(st.pending_compaction_bytes);
    w.Key("stall_micros").Uint(st.stall_micros).EndObject();
  }
  w.EndObject().EndObject();
  return JsonResponse(http::status::ok, version, w.Take());
}

}  // namespace eddy
