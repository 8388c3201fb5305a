// Cluster mode's reads (http/cluster_routes.h; docs/scale-out.md): a read that needs one
// partition goes to its owner, a global one to every node with its part merged here.
#include "http/cluster_routes.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <sstream>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <simdjson.h>

#include "config/loader.h"
#include "http/json_writer.h"
#include "http/offers_body.h"
#include "http/params.h"
#include "util/time.h"

namespace eddy {
namespace {

template <bool kIsRequest>
std::optional<http::message<kIsRequest, http::string_body>> Parse(std::string_view bytes) {
  http::parser<kIsRequest, http::string_body> p;
  p.eager(true);
  p.body_limit(std::numeric_limits<uint64_t>::max());
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !p.is_done()) p.put_eof(ec);
  if (ec || !p.is_done()) return std::nullopt;
  return p.release();
}

template <typename Message>
std::string Serialize(const Message& m) {
  std::ostringstream os;
  os << m;
  return std::move(os).str();
}

// A JSON number's text as millionths (revenue amounts are printed exactly so).
int64_t MicrosOf(std::string_view text) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  const size_t dot = text.find('.');
  int64_t whole = 0, frac = 0;
  std::from_chars(text.data(), text.data() + std::min(dot, text.size()), whole);
  if (dot != std::string_view::npos) {
    std::string digits(text.substr(dot + 1, 6));
    digits.resize(6, '0');
    std::from_chars(digits.data(), digits.data() + 6, frac);
  }
  const int64_t v = whole * 1'000'000 + frac;
  return negative ? -v : v;
}

int64_t Int(simdjson::dom::element e, std::string_view key) {
  int64_t v = 0;
  return e[key].get(v) == simdjson::SUCCESS ? v : 0;
}
double Num(simdjson::dom::element e, std::string_view key) {
  double v = 0;
  return e[key].get(v) == simdjson::SUCCESS ? v : 0;
}
std::string Str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}
EventTime Time(simdjson::dom::element e, std::string_view key) {
  return ParseIso8601(Str(e, key)).value_or(EventTime(0));
}
int64_t WindowMinutes(simdjson::dom::element e) {
  return ParseDurationMinutes(Str(e, "window")).value_or(0);
}
int64_t Micros(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::element v;
  if (e[key].get(v) != simdjson::SUCCESS) return 0;
  std::ostringstream os;
  os << v;  // the number as printed
  return MicrosOf(os.str());
}

void AddFigures(simdjson::dom::element e, RevenueWindow* into) {
  RevenueWindow x;
  x.start = Time(e, "start");
  x.end = Time(e, "end");
  x.orders = Int(e, "orders");
  x.priced_orders = Int(e, "priced_orders");
  x.units = Int(e, "units");
  x.revenue_micros = Micros(e, "revenue");
  x.unpriced = Int(e, "unpriced");
  x.cancelled = Int(e, "cancelled");
  x.late = Int(e, "late");
  x.late_revenue_micros = Micros(e, "late_revenue");
  into->start = x.start;
  into->end = x.end;
  into->Add(x);
}

// The global reads merged across nodes, from each node's part (every entry). Sums are of
// what a shard's partial holds, in the same units, then ordered and cut as one node does.
enum class Merged : uint8_t {
  kNone, kTrending, kVelocity, kPopular, kFunnel, kRevenue, kEngagement, kItem, kLowStock,
  kOrderFraud, kAlerts
};

struct MergeArgs {
  unsigned v = 11;
  uint32_t k = 10;
  std::string category;  // velocity, popular, funnel, revenue
  std::string item;      // engagement, item
  std::vector<int64_t> windows;  // engagement.windows (the labels of its counts)
};

// An item's engagement parts summed, its category and price picked as one node's shards
// are (engine/item_facts.h: the newest by event time, ties by name / lower price).
EngagementAnswer MergeEngagement(const std::vector<simdjson::dom::element>& parts) {
  EngagementAnswer a;
  a.now = Time(parts[0], "now");
  const auto add = [](simdjson::dom::element counts, std::array<int64_t, kEventTypeCount>* into) {
    for (int t = 0; t < kEventTypeCount; ++t) (*into)[t] += Int(counts, EventTypeName(static_cast<EventType>(t)));
  };
  for (simdjson::dom::element part : parts) {
    add(part["all_time"], &a.all_time);
    size_t i = 0;
    simdjson::dom::object windows;
    if (part["windows"].get(windows) == simdjson::SUCCESS) {
      for (auto [label, counts] : windows) {
        if (a.per_window.size() <= i) a.per_window.emplace_back();
        add(counts, &a.per_window[i++]);
      }
    }
    const std::string category = Str(part, "category");
    const int64_t category_ms = Int(part, "category_ms");
    if (!category.empty() &&
        (category_ms > a.category_ms || (category_ms == a.category_ms && category < a.category))) {
      a.category = category;
      a.category_ms = category_ms;
    }
    const int64_t price_ms = Int(part, "price_ms");
    const int64_t price = Int(part, "price_micros");
    if (price_ms != INT64_MIN && (part["price_micros"].error() == simdjson::SUCCESS) &&
        (price_ms > a.price_ms || (price_ms == a.price_ms && price < *a.price_micros))) {
      a.price_micros = price;
      a.price_ms = price_ms;
    }
  }
  return a;
}

// The catalog record a node's part holds (the item's owner's; null elsewhere).
CatalogRecord CatalogOf(simdjson::dom::element part) {
  CatalogRecord c;
  simdjson::dom::element e;
  if (part["catalog"].get(e) != simdjson::SUCCESS || e.is_null()) return c;
  c.found = true;
  bool flag = false;
  c.deleted = e["deleted"].get(flag) == simdjson::SUCCESS && flag;
  c.hidden = e["hidden"].get(flag) == simdjson::SUCCESS && flag;
  c.category = Str(e, "category");
  if (e["price"].error() == simdjson::SUCCESS) c.price_micros = Micros(e, "price");
  if (e["stock"].error() == simdjson::SUCCESS) c.stock = Int(e, "stock");
  if (e["lowStockThreshold"].error() == simdjson::SUCCESS) {
    c.low_stock_threshold = static_cast<uint32_t>(Int(e, "lowStockThreshold"));
  }
  simdjson::dom::element attributes;
  c.attributes = e["attributes"].get(attributes) == simdjson::SUCCESS ? simdjson::minify(attributes) : "{}";
  c.updated = EventTime(Int(e, "updated_ms"));
  return c;
}

// The newest scored order among the nodes' answers (ties: the greater user id), as one
// node picks among its shards (engine/customer_service.cc): its index.
size_t NewestOrder(const std::vector<simdjson::dom::element>& parts) {
  size_t best = 0;
  EventTime best_time;
  std::string best_user;
  for (size_t i = 0; i < parts.size(); ++i) {
    const EventTime t = Time(parts[i], "time");
    std::string user = Str(parts[i], "userId");
    if (i == 0 || t > best_time || (t == best_time && user > best_user)) {
      best = i;
      best_time = t;
      best_user = std::move(user);
    }
  }
  return best;
}

Response MergeParts(Merged kind, const MergeArgs& args, const std::vector<simdjson::dom::element>& parts) {
  const unsigned v = args.v;
  const uint32_t k = args.k;
  const std::string& category = args.category;
  switch (kind) {
    case Merged::kTrending: {
      TrendingAnswer a;
      a.window_minutes = WindowMinutes(parts[0]);
      a.now = Time(parts[0], "now");
      struct Sum { int64_t micros = 0, events = 0, this_minute = 0, previous = 0; };
      std::map<std::string, Sum> sum;
      for (simdjson::dom::element part : parts) {
        for (simdjson::dom::element c : part["categories"].get_array()) {
          Sum& s = sum[Str(c, "category")];
          s.micros += std::llround(Num(c, "score") * 1e6);  // the state's integer weights
          s.events += Int(c, "events");
          s.this_minute += Int(c["velocity"], "this_minute");
          s.previous += Int(c["velocity"], "previous_minute");
        }
      }
      for (const auto& [name, s] : sum) {
        a.top.push_back({name, static_cast<double>(s.micros) / 1e6, s.events, s.this_minute, s.previous});
      }
      std::sort(a.top.begin(), a.top.end(), [](const TrendingCategory& x, const TrendingCategory& y) {
        return x.score != y.score ? x.score > y.score : x.category < y.category;
      });
      if (a.top.size() > k) a.top.resize(k);
      return TrendingResponse(v, a);
    }
    case Merged::kVelocity: {
      VelocityAnswer a;
      a.now = Time(parts[0], "now");
      for (simdjson::dom::element part : parts) {
        size_t i = 0;
        for (simdjson::dom::element m : part["minutes"].get_array()) {
          if (a.per_minute.size() <= i) a.per_minute.push_back(0);
          a.per_minute[i++] += Int(m, "events");
        }
      }
      return VelocityResponse(v, category, a);
    }
    case Merged::kPopular: {
      PopularAnswer a;
      a.now = Time(parts[0], "now");
      std::map<std::string, double> sum;
      for (simdjson::dom::element part : parts) {
        for (simdjson::dom::element it : part["items"].get_array()) sum[Str(it, "itemId")] += Num(it, "score");
      }
      for (const auto& [name, score] : sum) a.top.push_back({name, score});
      std::sort(a.top.begin(), a.top.end(), [](const ScoredName& x, const ScoredName& y) {
        return x.score != y.score ? x.score > y.score : x.name < y.name;
      });
      if (a.top.size() > k) a.top.resize(k);
      return PopularResponse(v, category, a);
    }
    case Merged::kFunnel: {
      FunnelAnswer a;
      a.window_minutes = WindowMinutes(parts[0]);
      a.now = Time(parts[0], "now");
      a.category = category;
      for (simdjson::dom::element part : parts) {
        a.sessions += Int(part, "sessions");
        a.viewed += Int(part, "viewed");
        a.carted += Int(part, "carted");
        a.purchased += Int(part, "purchased");
      }
      return FunnelResponse(v, a);
    }
    case Merged::kRevenue: {
      RevenueAnswer a;
      a.window_minutes = WindowMinutes(parts[0]);
      a.now = Time(parts[0], "now");
      a.category = category;
      for (simdjson::dom::element part : parts) {
        AddFigures(part["total"], &a.total);
        size_t i = 0;
        for (simdjson::dom::element w : part["windows"].get_array()) {
          if (a.windows.size() <= i) a.windows.emplace_back();
          AddFigures(w, &a.windows[i++]);
        }
      }
      return RevenueResponse(v, a);
    }
    case Merged::kEngagement:
      return EngagementResponse(v, args.item, MergeEngagement(parts), false, args.windows);
    case Merged::kItem: {
      std::vector<simdjson::dom::element> engagement;
      CatalogRecord c;
      for (simdjson::dom::element part : parts) {
        engagement.push_back(part["engagement"]);
        if (!c.found) c = CatalogOf(part);  // one node holds it: the item's partition's owner
      }
      return ItemResponse(v, args.item, c, MergeEngagement(engagement), false, args.windows);
    }
    case Merged::kLowStock: {
      // Each item is in one node's partitions, so every node's k lowest hold the k lowest.
      LowStockAnswer a;
      a.now = Time(parts[0], "now");
      for (simdjson::dom::element part : parts) {
        for (simdjson::dom::element x : part["items"].get_array()) {
          a.items.push_back({Str(x, "itemId"), Int(x, "stock"), static_cast<uint32_t>(Int(x, "threshold")),
                             Time(x, "since")});
        }
      }
      std::sort(a.items.begin(), a.items.end(), [](const LowStockItem& x, const LowStockItem& y) {
        if (x.stock != y.stock) return x.stock < y.stock;
        if (x.threshold != y.threshold) return x.threshold > y.threshold;
        return x.item_id < y.item_id;
      });
      if (a.items.size() > k) a.items.resize(k);
      return LowStockResponse(v, a);
    }
    case Merged::kAlerts: {
      // Each alert is raised in one partition: every node's k newest hold the k newest.
      struct Printed {
        int64_t ms;
        std::string id, json;
      };
      std::vector<Printed> all;
      for (simdjson::dom::element part : parts) {
        for (simdjson::dom::element x : part["alerts"].get_array()) all.push_back({Int(x, "ms"), Str(x, "id"), Str(x, "json")});
      }
      // As one node orders them (engine/analytics_service.cc): newest first, ties by id.
      std::sort(all.begin(), all.end(), [](const Printed& a, const Printed& b) {
        return a.ms != b.ms ? a.ms > b.ms : a.id > b.id;
      });
      if (all.size() > k) all.resize(k);
      JsonWriter w;
      w.BeginObject().Key("alerts").BeginArray();
      for (const Printed& x : all) w.RawJson(x.json);
      w.EndArray().EndObject();
      return JsonResponse(http::status::ok, v, w.Take());
    }
    case Merged::kOrderFraud:  // one node's answer, picked whole (NewestOrder), not merged
    case Merged::kNone:
      break;
  }
  return ErrorResponse(http::status::internal_server_error, v, "no merge for this read");
}

}  // namespace

Response NodesUnavailable(unsigned v, std::string_view why) {
  Response res = ErrorResponse(http::status::service_unavailable, v, why);
  res.set(http::field::retry_after, "1");
  return res;
}

bool IsPartRequest(const Request& req) { return req.find(kPartHeader) != req.end(); }

void SetAnswerWithin(Request& req, AnswerClaim::Clock::time_point by) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(by - AnswerClaim::Clock::now());
  req.set(kAnswerWithinHeader, std::to_string(std::max<int64_t>(left.count(), 0)));
}

std::shared_ptr<AnswerClaim> ClaimOfForwarded(const Request& req) {
  const auto it = req.find(kAnswerWithinHeader);
  if (it == req.end()) return nullptr;
  int64_t within_ms = 0;
  const std::string_view text(it->value().data(), it->value().size());
  if (std::from_chars(text.data(), text.data() + text.size(), within_ms).ec != std::errc()) return nullptr;
  return std::make_shared<AnswerClaim>(AnswerClaim::Clock::now() + std::chrono::milliseconds(within_ms));
}

std::string SerializeRequest(const Request& req) { return Serialize(req); }
std::optional<Request> ParseRequest(std::string_view bytes) { return Parse<true>(bytes); }
std::string SerializeResponse(const Response& res) { return Serialize(res); }
std::optional<Response> ParseResponse(std::string_view bytes) { return Parse<false>(bytes); }

// How a read is spread in cluster mode: to its partition's owner (a user's, or an item's:
// the catalog record and stock live there), to every node (merged here), or not yet.
bool Router::Distribute(Request& req, std::string_view path, std::string_view id,
                        std::string_view query, Respond& respond) {
  const unsigned v = req.version();
  auto starts = [&](std::string_view p) { return path.starts_with(p); };
  auto ends = [&](std::string_view s) { return path.ends_with(s); };
  std::optional<std::string> key;  // the partition key of a one-partition read
  Merged merged = Merged::kNone;
  if (starts("/v1/users/")) {
    key = PathId(id, "userId", v, respond);
    if (!key) return true;
  } else if (path == "/v1/recommendations") {
    std::optional<std::string_view> raw = QueryParam(query, "userId");
    if (!raw) return false;  // the route says what is missing
    key = PathId(*raw, "userId", v, respond);
    if (!key) return true;
  } else if (path == "/v1/offers/rank") {
    OffersRequest r;
    if (!ParseOffers(req.body(), &r).empty()) return false;  // the route says what is wrong
    if (r.user.empty()) return false;  // no user: no personal signal, any node answers
    key = r.user;
  } else if ((starts("/v1/items/") && ends("/similar")) || starts("/v1/experiments") ||
             starts("/v1/admin/experiments/")) {
    // Here: each step of a ranked read, and an experiment's counts, ask every node
    // (engine/recommender.h, engine/experiment_service.h).
    return false;
  } else if (starts("/v1/items/") && ends("/inventory")) {
    key = PathId(id, "itemId", v, respond);
    if (!key) return true;
  } else if (starts("/v1/items/") && id.size() > 0 &&
             (ends("/engagement") || path == "/v1/items/" + std::string(id))) {
    // The catalog record is the owner's, but an item's events come from every partition.
    merged = ends("/engagement") ? Merged::kEngagement : Merged::kItem;
  } else if (path == "/v1/inventory/low") {
    merged = Merged::kLowStock;
  } else if (starts("/v1/orders/") && ends("/fraud")) {
    // An order id may be any user's: every node looks among its users.
    std::optional<std::string> order = PathId(id, "orderId", v, respond);
    if (!order) return true;
    merged = Merged::kOrderFraud;
  } else if (path == "/v1/trending/categories") {
    merged = Merged::kTrending;
  } else if (starts("/v1/categories/") && ends("/velocity")) {
    merged = Merged::kVelocity;
  } else if (path == "/v1/items/popular") {
    merged = Merged::kPopular;
  } else if (path == "/v1/analytics/funnel") {
    merged = Merged::kFunnel;
  } else if (path == "/v1/analytics/revenue") {
    merged = Merged::kRevenue;
  } else if (path == "/v1/alerts") {
    merged = Merged::kAlerts;
  } else {
    respond(ErrorResponse(http::status::not_implemented, v,
                          std::string(path) + " is not served in cluster mode yet (docs/scale-out.md "
                          "lists the reads a cluster answers)"));
    return true;
  }
  if (key) {
    const int64_t p = engine_.PartitionOfKey(*key);
    if (const std::shared_ptr<AnswerClaim>& claim = respond.claim()) {
      // The owner's answer is wanted until this node's deadline or its forward timeout.
      SetAnswerWithin(req, std::min(claim->deadline(),
                                AnswerClaim::Clock::now() + std::chrono::milliseconds(
                                                                engine_.options().cluster.forward_timeout_ms)));
    }
    engine_.ClusterRead(p, SerializeRequest(req), [v, respond](std::vector<NodeAnswer> answers) {
      const NodeAnswer& a = answers.front();
      if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
      std::optional<Response> res = ParseResponse(a.response);
      if (!res) return respond(NodesUnavailable(v, "node " + a.node + " gave a malformed answer"));
      res->set("X-Eddy-Node", a.node);
      respond(std::move(*res));
    });
    return true;
  }
  MergeArgs args;
  args.v = v;
  if (merged == Merged::kTrending || merged == Merged::kPopular) {
    if (!IntParam(query, "k", 1, 1000, &args.k, v, respond)) return true;
  } else if (merged == Merged::kLowStock || merged == Merged::kAlerts) {
    args.k = merged == Merged::kLowStock ? 50 : AlertsRequest{}.k;
    if (!IntParam(query, "k", 1, 1000, &args.k, v, respond)) return true;
  }
  if (merged == Merged::kEngagement || merged == Merged::kItem) {
    std::optional<std::string> item = PathId(id, "itemId", v, respond);
    if (!item) return true;
    args.item = *item;
    args.windows = engine_.options().windows.minutes;
  } else if (merged == Merged::kVelocity) {
    std::optional<std::string> c = PathId(id, "category", v, respond);
    if (!c) return true;
    args.category = *c;
  } else if (!IdParam(query, "category", &args.category, v, respond)) {
    return true;
  }
  Request part = req;
  part.set(kPartHeader, "1");
  engine_.ClusterRead(-1, SerializeRequest(part), [v, merged, args = std::move(args), respond](std::vector<NodeAnswer> answers) {
    std::vector<Response> responses;
    std::vector<std::string> from;  // the node of each response
    std::optional<Response> not_found;  // an order's fraud: the nodes that do not know it
    for (const NodeAnswer& a : answers) {
      if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
      std::optional<Response> res = ParseResponse(a.response);
      if (!res) return respond(NodesUnavailable(v, "node " + a.node + " gave a malformed answer"));
      if (merged == Merged::kOrderFraud && res->result() == http::status::not_found) {
        if (!not_found) not_found = std::move(*res);
        continue;
      }
      // A client error (a bad parameter) is every node's: pass the first one on.
      if (res->result() != http::status::ok) return respond(std::move(*res));
      responses.push_back(std::move(*res));
      from.push_back(a.node);
    }
    if (merged == Merged::kOrderFraud && responses.empty()) return respond(std::move(*not_found));
    std::vector<simdjson::dom::parser> parsers(responses.size());
    std::vector<simdjson::dom::element> parts;
    for (size_t i = 0; i < responses.size(); ++i) {
      simdjson::dom::element doc;
      if (parsers[i].parse(responses[i].body()).get(doc) != simdjson::SUCCESS) {
        return respond(NodesUnavailable(v, "node " + from[i] + " gave a malformed answer"));
      }
      parts.push_back(doc);
    }
    if (merged == Merged::kOrderFraud) {
      Response res = std::move(responses[NewestOrder(parts)]);
      res.set("X-Eddy-Nodes", std::to_string(answers.size()));
      return respond(std::move(res));
    }
    Response res = MergeParts(merged, args, parts);
    res.set("X-Eddy-Nodes", std::to_string(parts.size()));
    respond(std::move(res));
  });
  return true;
}

}  // namespace eddy
