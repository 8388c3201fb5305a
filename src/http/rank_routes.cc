// The ranker's routes (SPEC §6): recommendations, ranked similar items and offers.
#include <algorithm>
#include <cmath>

#include <simdjson.h>

#include "http/cluster_routes.h"
#include "http/json_writer.h"
#include "http/offers_body.h"
#include "http/params.h"
#include "http/router.h"
#include "util/time.h"

namespace eddy {
namespace {

// One ranked item; with `explain`, every signal's raw, normalised and contribution.
void WriteRankedItem(JsonWriter& w, int rank, const RankedItem& item, bool explain,
                     bool with_coview) {
  w.BeginObject().Key("rank").Int(rank).Key("itemId").String(item.item);
  w.Key("score").Double(item.score);
  if (!item.category.empty()) w.Key("category").String(item.category);
  if (item.price_micros) w.Key("price").Double(static_cast<double>(*item.price_micros) / 1e6);
  if (with_coview) w.Key("count").Uint(item.coview_count).Key("error").Uint(item.coview_error);
  w.Key("source").String(item.source);
  if (explain) {
    w.Key("signals").BeginObject();
    for (size_t i = 0; i < kRankSignalCount; ++i) {
      const SignalBreakdown& s = item.signals[i];
      w.Key(kRankSignalNames[i]).BeginObject().Key("raw").Double(s.raw);
      w.Key("normalised").Double(s.normalised).Key("contribution").Double(s.contribution);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
}

void WriteProportion(JsonWriter& w, std::string_view key, const Proportion& p) {
  w.Key(key).BeginObject().Key("rate").Double(p.rate).Key("low").Double(p.low);
  w.Key("high").Double(p.high).EndObject();
}

void WriteExperiment(JsonWriter& w, const ExperimentReport& e) {
  w.BeginObject().Key("name").String(e.name).Key("configured").Bool(e.configured);
  w.Key("running").Bool(e.running);
  if (e.configured) {
    w.Key("impressions").String(e.impressions).Key("allocation").String(e.allocation);
    w.Key("goal").String(e.goal);
  }
  w.Key("variants").BeginArray();
  for (const VariantReport& v : e.variants) {
    const ExperimentCounts& c = v.counts;
    w.BeginObject().Key("name").String(v.name);
    if (e.configured) w.Key("share").Double(v.share).Key("allocated").Double(v.allocation);
    w.Key("served").Uint(c.served).Key("impressions").Uint(c.shown);
    w.Key("clicks").Uint(c.clicks).Key("clicked").Uint(c.clicked);
    w.Key("addToCart").Uint(c.carts).Key("carted").Uint(c.carted);
    w.Key("purchases").Uint(c.purchases).Key("converted").Uint(c.bought);
    w.Key("cancelled").Uint(c.cancelled).Key("byRecommId").Uint(c.by_id);
    w.Key("revenue").Double(static_cast<double>(c.revenue_micros) / 1e6);
    WriteProportion(w, "ctr", v.ctr);
    WriteProportion(w, "addToCartRate", v.cart_rate);
    WriteProportion(w, "conversion", v.conversion);
    w.Key("revenuePerImpression").BeginObject().Key("mean").Double(v.revenue_per_impression);
    w.Key("low").Double(v.rpi_low).Key("high").Double(v.rpi_high).EndObject();
    w.Key("pBest").BeginObject().Key("ctr").Double(v.p_best_ctr);
    w.Key("conversion").Double(v.p_best_conversion).EndObject();
    w.EndObject();
  }
  w.EndArray().Key("allocations").BeginArray();
  for (const AllocationPoint& a : e.allocations) {
    w.BeginObject().Key("timestamp").String(FormatIso8601(EventTime(a.time_ms)));
    w.Key("shares").BeginObject();
    for (size_t i = 0; i < a.shares.size() && i < e.variants.size(); ++i) {
      w.Key(e.variants[i].name).Double(a.shares[i]);
    }
    w.EndObject().EndObject();
  }
  w.EndArray().EndObject();
}

}  // namespace

void Router::Experiments(const Request& req, std::string_view name_raw, Respond respond) {
  const unsigned v = req.version();
  std::string name;
  if (!name_raw.empty()) {
    std::optional<std::string> n = PathId(name_raw, "experiment", v, respond);
    if (!n) return;
    name = std::move(*n);
  }
  engine_.Experiments(name, [v, name, respond = std::move(respond)](ExperimentsAnswer a) {
    if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
    JsonWriter w;
    if (!name.empty()) {
      if (a.experiments.empty()) {
        return respond(ErrorResponse(http::status::not_found, v,
                                     "experiment \"" + name + "\": not configured and no answers recorded"));
      }
      WriteExperiment(w, a.experiments.front());
      return respond(JsonResponse(http::status::ok, v, w.Take()));
    }
    w.BeginObject().Key("now").String(FormatIso8601(a.now)).Key("unmatched").Uint(a.unmatched);
    w.Key("experiments").BeginArray();
    for (const ExperimentReport& e : a.experiments) WriteExperiment(w, e);
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Reallocate(const Request& req, std::string_view name_raw, Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> name = PathId(name_raw, "experiment", v, respond);
  if (!name) return;
  engine_.Reallocate(*name, [v, respond = std::move(respond)](ReallocateAnswer a) {
    if (!a.status.ok()) {
      return respond(ErrorResponse(a.status.code() == StatusCode::kInvalidArgument
                                       ? http::status::bad_request
                                       : http::status::service_unavailable,
                                   v, std::string(a.status.message())));
    }
    JsonWriter w;
    w.BeginObject().Key("shares").BeginObject();
    for (const auto& [variant, share] : a.shares) w.Key(variant).Double(share);
    w.EndObject().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Recommendations(const Request& req, std::string_view query, Respond respond) {
  const unsigned v = req.version();
  RecommendRequest r;
  std::optional<std::string_view> user_raw = QueryParam(query, "userId");
  if (!user_raw) {
    return respond(ErrorResponse(http::status::bad_request, v, "userId: required"));
  }
  std::optional<std::string> user = PathId(*user_raw, "userId", v, respond);
  if (!user) return;
  r.user = std::move(*user);
  if (!IntParam(query, "k", 1, engine_.options().ranking.max_k, &r.k, v, respond)) return;
  if (!IdParam(query, "category", &r.category, v, respond)) return;
  if (!MicrosParam(query, "minPrice", &r.min_price_micros, v, respond)) return;
  if (!MicrosParam(query, "maxPrice", &r.max_price_micros, v, respond)) return;
  if (r.min_price_micros && r.max_price_micros && *r.min_price_micros > *r.max_price_micros) {
    return respond(ErrorResponse(http::status::bad_request, v,
                                 "minPrice: must not exceed maxPrice"));
  }
  bool explain = false;
  if (!BoolParam(query, "explain", &explain, v, respond)) return;
  if (!FilterParams(query, &r.filter, v, respond)) return;
  if (std::optional<std::string_view> forced = QueryParam(query, "variant")) {
    // Debugging: this answer as the variant would give it, whatever the user's bucket.
    const auto experiments = engine_.ExperimentsInForce();
    const Experiment* running = RunningExperiment(*experiments);
    if (running == nullptr) {
      return respond(ErrorResponse(http::status::bad_request, v, "variant: no experiment is running"));
    }
    std::string names;
    for (const ExperimentVariant& ev : running->variants) {
      if (ev.name == *forced) r.variant = ev.name;
      names += (names.empty() ? "" : ", ") + ev.name;
    }
    if (r.variant.empty()) {
      return respond(ErrorResponse(http::status::bad_request, v,
                                   "variant: not a variant of experiment \"" + running->name +
                                       "\" (its variants: " + names + ")"));
    }
  }
  r.claim = respond.claim();
  std::string user_id = r.user;
  engine_.Recommend(r, [v, explain, user_id = std::move(user_id),
                        respond = std::move(respond)](RecommendAnswer a) {
    if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
    JsonWriter w;
    w.BeginObject().Key("userId").String(user_id).Key("now").String(FormatIso8601(a.now));
    w.Key("recommId").String(a.recomm_id);
    if (!a.experiment.empty()) w.Key("experiment").String(a.experiment).Key("variant").String(a.variant);
    w.Key("items").BeginArray();
    int rank = 0;
    for (const RankedItem& item : a.items) WriteRankedItem(w, ++rank, item, explain, false);
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Similar(const Request& req, std::string_view item_raw, std::string_view query,
                     Respond respond) {
  const unsigned v = req.version();
  std::optional<std::string> item = PathId(item_raw, "itemId", v, respond);
  if (!item) return;
  uint32_t k = 10;
  if (!IntParam(query, "k", 1, engine_.options().ranking.max_k, &k, v, respond)) return;
  bool explain = false;
  if (!BoolParam(query, "explain", &explain, v, respond)) return;
  ItemFilter filter;
  if (!FilterParams(query, &filter, v, respond)) return;
  engine_.SimilarItemsRanked(*item, k, std::move(filter), [v, explain, item = *item,
                                        respond = std::move(respond)](RankedSimilarAnswer a) {
    if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
    JsonWriter w;
    w.BeginObject().Key("itemId").String(item);
    if (!a.category.empty()) w.Key("category").String(a.category);
    w.Key("recommId").String(a.recomm_id);
    w.Key("items").BeginArray();
    int rank = 0;
    for (const RankedItem& it : a.items) WriteRankedItem(w, ++rank, it, explain, true);
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

void Router::Offers(const Request& req, Respond respond) {
  const unsigned v = req.version();
  OffersRequest r;
  if (std::string error = ParseOffers(req.body(), &r); !error.empty()) {
    return respond(ErrorResponse(http::status::bad_request, v, error));
  }
  std::string user = r.user;
  engine_.RankOffers(r.user, std::move(r.offers), r.k,
                     [v, user = std::move(user), respond = std::move(respond)](OffersAnswer a) {
    if (!a.status.ok()) return respond(NodesUnavailable(v, a.status.message()));
    JsonWriter w;
    w.BeginObject();
    if (!user.empty()) w.Key("userId").String(user);
    w.Key("now").String(FormatIso8601(a.now)).Key("recommId").String(a.recomm_id);
    if (!a.experiment.empty()) w.Key("experiment").String(a.experiment).Key("variant").String(a.variant);
    w.Key("offers").BeginArray();
    int rank = 0;
    for (const RankedOffer& o : a.top) {
      w.BeginObject().Key("rank").Int(++rank).Key("offerId").String(o.offer_id);
      if (!o.category.empty()) w.Key("category").String(o.category);
      w.Key("score").Double(o.score).Key("breakdown").BeginObject();
      w.Key("priority").Double(o.priority).Key("trending").Double(o.trending);
      w.Key("affinity").Double(o.affinity).Key("bandit").Double(o.bandit).EndObject();
      if (o.trending_rank >= 0) w.Key("trending_rank").Int(o.trending_rank + 1);
      w.Key("bandit").BeginObject().Key("views").Uint(o.views);
      w.Key("conversions").Uint(o.conversions).Key("sample").Double(o.sample).EndObject();
      w.EndObject();
    }
    w.EndArray().EndObject();
    respond(JsonResponse(http::status::ok, v, w.Take()));
  });
}

}  // namespace eddy
