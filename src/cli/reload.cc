#include "cli/reload.h"

#include <spdlog/spdlog.h>

#include "http/json_writer.h"

namespace eddy {

std::string ReloadOutcome::Json() const {
  JsonWriter w;
  w.BeginObject();
  if (!status.ok()) w.Key("error").String(status.message());
  w.Key("reloaded").Bool(status.ok());
  w.Key("applied").BeginArray();
  for (const std::string& s : applied) w.String(s);
  w.EndArray().Key("restart_required").BeginArray();
  for (const std::string& s : restart) w.String(s);
  w.EndArray().EndObject();
  return w.Take();
}

ReloadOutcome Reloader::Reload() {
  ReloadOutcome out;
  Result<Options> loaded = LoadOptions(sources_);
  if (!loaded.ok()) {
    out.status = loaded.status();
    spdlog::error("reload: config refused, nothing changed: {}", out.status.message());
    return out;
  }
  const Options& next = *loaded;
  MutexLock lock(&mu_);
  Options& now = in_force_;
  // Live: the HTTP policy (auth, limits, CORS, access log), then the rest.
  ServerOptions server_live = now.server;
  server_live.cors_origins = next.server.cors_origins;
  server_live.access_log = next.server.access_log;
  const bool auth = !(next.auth == now.auth), limits = !(next.limits == now.limits);
  const bool cors = next.server.cors_origins != now.server.cors_origins;
  const bool access_log = next.server.access_log != now.server.access_log;
  if (auth || limits || cors || access_log) {
    if (Status st = server_.Reconfigure(next); !st.ok()) {
      out.status = st;
      spdlog::error("reload: {}; nothing changed", st.message());
      return out;
    }
  }
  const auto note = [&](bool changed, const char* name, std::vector<std::string>* list) {
    if (changed) list->push_back(name);
  };
  note(auth, "auth", &out.applied);
  note(limits, "limits", &out.applied);
  note(cors, "server.cors_origins", &out.applied);
  note(access_log, "server.access_log", &out.applied);
  if (!(next.logging == now.logging)) {
    spdlog::set_level(spdlog::level::from_str(next.logging.level));
    out.applied.push_back("logging");
  }
  RankingOptions ranking_live = next.ranking;
  ranking_live.bought_items = now.ranking.bought_items;  // a state's cap
  ranking_live.max_k = now.ranking.max_k;                // the HTTP layer's bound of k
  const bool ranking = !(ranking_live == now.ranking), offers = !(next.offers == now.offers);
  const bool experiments = !(next.experiments == now.experiments);
  // Variants are resolved over [ranking] (the config loader did it over the new one).
  if (ranking || offers || experiments) engine_.SetRanking(ranking_live, next.offers, next.experiments);
  note(ranking, "ranking", &out.applied);
  note(offers, "offers", &out.applied);
  note(experiments, "experiments", &out.applied);
  const FraudOptions fraud_live = WithLiveFraudFields(now.fraud, next.fraud);
  const InsightOptions insights_live = WithLiveInsightFields(now.insights, next.insights);
  const bool fraud = !(fraud_live == now.fraud), insights = !(insights_live == now.insights);
  if (fraud || insights) engine_.SetThresholds(next.fraud, next.insights);
  note(fraud, "fraud", &out.applied);
  note(insights, "insights", &out.applied);
  // Needs a restart: everything else that changed (the value in force stays).
  note(!(server_live == next.server), "server", &out.restart);
  note(next.ranking.bought_items != now.ranking.bought_items, "ranking.bought_items", &out.restart);
  note(next.ranking.max_k != now.ranking.max_k, "ranking.max_k", &out.restart);
  note(!(next.webhooks == now.webhooks), "webhooks", &out.restart);
  note(!(next.log == now.log), "log", &out.restart);
  note(!(next.runtime == now.runtime), "runtime", &out.restart);
  note(!(next.ingest == now.ingest), "ingest", &out.restart);
  note(!(next.recent == now.recent), "recent", &out.restart);
  note(!(next.windows == now.windows), "windows", &out.restart);
  note(!(next.affinity == now.affinity), "affinity", &out.restart);
  note(!(next.popularity == now.popularity), "popularity", &out.restart);
  note(!(next.coview == now.coview), "coview", &out.restart);
  note(!(next.embedding == now.embedding), "embedding", &out.restart);
  note(!(next.attribution == now.attribution), "attribution", &out.restart);
  note(!(next.cluster == now.cluster), "cluster", &out.restart);
  note(!(next.engagement == now.engagement), "engagement", &out.restart);
  note(!(next.sessions == now.sessions), "sessions", &out.restart);
  note(!(next.revenue == now.revenue), "revenue", &out.restart);
  note(!(next.catalog == now.catalog), "catalog", &out.restart);
  note(!(next.inventory == now.inventory), "inventory", &out.restart);
  note(!(next.alerts == now.alerts), "alerts", &out.restart);
  note(!(fraud_live == next.fraud), "fraud (enabled, ip_window, caps)", &out.restart);
  note(!(insights_live == next.insights), "insights (enabled, segments, caps)", &out.restart);
  note(next.clock != now.clock, "clock", &out.restart);
  note(!(next.durability == now.durability), "durability", &out.restart);
  note(next.weights != now.weights, "weights", &out.restart);
  // In force now: the live parts of `next`; the restart-only parts stay as they were.
  now.auth = next.auth;
  now.limits = next.limits;
  now.server.cors_origins = next.server.cors_origins;
  now.server.access_log = next.server.access_log;
  now.logging = next.logging;
  now.ranking = ranking_live;
  now.offers = next.offers;
  now.experiments = next.experiments;
  now.fraud = fraud_live;
  now.insights = insights_live;
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("nothing") : s;
  };
  spdlog::info("reload: applied {}; needs a restart: {}", join(out.applied), join(out.restart));
  return out;
}

}  // namespace eddy
