// The config schema: each key, its type, its range and where it goes in eddy::Options.
#include "config/schema.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

#include "config/loader.h"

namespace eddy {
namespace {

std::string ParseSegmentRule(std::string_view text, SegmentRule* out);  // below

// "<id>:<scopes>:<sha256 hex>" -> `out`; "" or what is wrong.
std::string ParseApiKey(std::string_view text, ApiKey* out) {
  const size_t a = text.find(':');
  const size_t b = a == std::string_view::npos ? a : text.find(':', a + 1);
  if (b == std::string_view::npos) {
    return "\"" + std::string(text.substr(0, 40)) + "\" is not <id>:<scopes>:<sha256 hex>";
  }
  out->id = std::string(text.substr(0, a));
  if (out->id.empty() || out->id.size() > 64) return "a key id must be 1 to 64 characters";
  std::string_view scopes = text.substr(a + 1, b - a - 1);
  out->scopes = 0;
  while (!scopes.empty()) {
    const std::string_view s = scopes.substr(0, scopes.find(','));
    scopes.remove_prefix(std::min(scopes.size(), s.size() + 1));
    const uint8_t scope = AuthScopeOf(s);
    if (scope == 0) {
      return "key \"" + out->id + "\": unknown scope \"" + std::string(s) +
             "\" (read, ingest, admin)";
    }
    out->scopes |= scope;
  }
  if (out->scopes == 0) return "key \"" + out->id + "\" has no scope (read, ingest, admin)";
  out->sha256 = std::string(text.substr(b + 1));
  for (char& c : out->sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out->sha256.size() != 64 ||
      out->sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return "key \"" + out->id + "\": the hash must be 64 hex digits (SHA-256 of the key; "
           "eddy keygen prints it), never the key itself";
  }
  return "";
}

KeySpec Spec(std::string_view section, std::string_view key, KeySpec::Kind kind,
             int64_t min = 0, int64_t max = 0, std::vector<std::string_view> allowed = {}) {
  KeySpec s;
  s.section = section;
  s.key = key;
  s.kind = kind;
  s.min = min;
  s.max = max;
  s.allowed = std::move(allowed);
  return s;
}

template <typename T>
KeySpec Int(std::string_view section, std::string_view key, int64_t min, int64_t max,
            T Options::*group, auto field, int64_t scale = 1) {
  KeySpec s = Spec(section, key, KeySpec::kInt, min, max);
  s.set_int = [group, field, scale](Options& o, int64_t v) {
    (o.*group).*field = static_cast<std::remove_reference_t<decltype((o.*group).*field)>>(v * scale);
  };
  return s;
}

// A duration key ("30m", "24h", "7d") stored as whole minutes in an Options field.
template <typename T>
KeySpec Minutes(std::string_view section, std::string_view key, int64_t min, int64_t max,
                T Options::*group, auto field) {
  KeySpec s = Int(section, key, min, max, group, field);
  s.kind = KeySpec::kDuration;
  return s;
}

KeySpec Weight(std::string_view key, EventType type) {
  KeySpec s = Spec("weights", key, KeySpec::kDouble, 0, 1000);
  s.set_double = [type](Options& o, double v) { o.weights[static_cast<size_t>(type)] = v; };
  return s;
}

template <typename T>
KeySpec Double(std::string_view section, std::string_view key, int64_t min, int64_t max,
               T Options::*group, double T::*field) {
  KeySpec s = Spec(section, key, KeySpec::kDouble, min, max);
  s.set_double = [group, field](Options& o, double v) { (o.*group).*field = v; };
  return s;
}

template <typename T>
KeySpec Str(std::string_view section, std::string_view key, T Options::*group,
            std::string T::*field) {
  KeySpec s = Spec(section, key, KeySpec::kString);
  s.set_string = [group, field](Options& o, const std::string& v) { (o.*group).*field = v; };
  return s;
}

template <typename T>
KeySpec Bool(std::string_view section, std::string_view key, T Options::*group, bool T::*field) {
  KeySpec s = Spec(section, key, KeySpec::kBool);
  s.set_bool = [group, field](Options& o, bool v) { (o.*group).*field = v; };
  return s;
}

// A key whose value is one of an enum's spellings (`name` of each of `values`, in order).
template <typename T, typename E>
KeySpec Enum(std::string_view section, std::string_view key, T Options::*group, E T::*field,
             std::initializer_list<E> values, std::string_view (*name)(E)) {
  std::vector<std::string_view> allowed;
  for (E e : values) allowed.push_back(name(e));
  KeySpec s = Spec(section, key, KeySpec::kEnum, 0, 0, std::move(allowed));
  s.set_string = [group, field, all = std::vector<E>(values), name](Options& o, const std::string& v) {
    for (E e : all) {
      if (v == name(e)) (o.*group).*field = e;
    }
  };
  return s;
}

// ranking.weight_<signal>: the weight of one signal of the recommendation score.
KeySpec RankWeight(RankSignal signal) {
  static const std::array<std::string, kRankSignalCount> keys = [] {
    std::array<std::string, kRankSignalCount> k;
    for (size_t i = 0; i < kRankSignalCount; ++i) k[i] = "weight_" + std::string(kRankSignalNames[i]);
    return k;
  }();
  KeySpec s = Spec("ranking", keys[signal], KeySpec::kDouble, 0, 1000);
  s.set_double = [signal](Options& o, double v) { o.ranking.weights[signal] = v; };
  return s;
}

std::vector<KeySpec> MakeSchema() {
  std::vector<KeySpec> k;
  k.push_back(Str("server", "host", &Options::server, &ServerOptions::host));
  k.push_back(Int("server", "port", 0, 65535, &Options::server, &ServerOptions::port));
  k.push_back(Int("server", "io_threads", 0, 256, &Options::server, &ServerOptions::io_threads));
  k.push_back(Int("server", "body_limit_bytes", 1024, int64_t{1} << 30, &Options::server,
                  &ServerOptions::body_limit_bytes));
  k.push_back(Int("server", "read_timeout_ms", 1, 3'600'000, &Options::server,
                  &ServerOptions::read_timeout_ms));
  k.push_back(Int("server", "write_timeout_ms", 1, 3'600'000, &Options::server,
                  &ServerOptions::write_timeout_ms));
  k.push_back(Int("server", "retry_after_s", 1, 3600, &Options::server,
                  &ServerOptions::retry_after_s));
  k.push_back(Int("server", "drain_timeout_ms", 0, 600'000, &Options::server,
                  &ServerOptions::drain_timeout_ms));
  k.push_back(Int("server", "max_connections", 1, 1'000'000, &Options::server,
                  &ServerOptions::max_connections));
  k.push_back(Int("server", "read_deadline_ms", 1, 3'600'000, &Options::server,
                  &ServerOptions::read_deadline_ms));
  k.push_back(Bool("server", "metrics", &Options::server, &ServerOptions::metrics));
  k.push_back(Spec("server", "cors_origins", KeySpec::kStringList));
  k.back().describe = "an origin such as \"https://shop.example\" (scheme://host[:port]), or \"*\"";
  k.back().set_strings = [](Options& o, const std::vector<std::string>& v) -> std::string {
    for (const std::string& origin : v) {
      if (origin == "*") continue;
      const size_t scheme = origin.find("://");
      if (scheme == std::string::npos || scheme == 0 || origin.size() == scheme + 3 ||
          origin.find('/', scheme + 3) != std::string::npos) {
        return "\"" + origin + "\" is not an origin (scheme://host[:port], no path) or \"*\"";
      }
    }
    o.server.cors_origins = v;
    return "";
  };
  k.push_back(Str("server", "access_log", &Options::server, &ServerOptions::access_log));
  k.push_back(Bool("auth", "enabled", &Options::auth, &AuthOptions::enabled));
  k.push_back(Bool("auth", "allow_unauthenticated", &Options::auth,
                   &AuthOptions::allow_unauthenticated));
  k.push_back(Spec("auth", "keys", KeySpec::kStringList));
  k.back().describe =
      "\"<id>:<scopes>:<sha256 hex of the key>\" with scopes a comma list of read, ingest, "
      "admin (eddy keygen prints one)";
  k.back().set_strings = [](Options& o, const std::vector<std::string>& v) -> std::string {
    std::vector<ApiKey> keys;
    for (const std::string& text : v) {
      ApiKey key;
      if (std::string why = ParseApiKey(text, &key); !why.empty()) return why;
      for (const ApiKey& other : keys) {
        if (other.id == key.id) return "key id \"" + key.id + "\" named twice";
        if (other.sha256 == key.sha256) return "keys \"" + other.id + "\" and \"" + key.id + "\" have the same hash";
      }
      keys.push_back(std::move(key));
    }
    o.auth.keys = std::move(keys);
    return "";
  };
  k.push_back(Str("auth", "jwt_secret", &Options::auth, &AuthOptions::jwt_secret));
  k.push_back(Str("auth", "jwt_audience", &Options::auth, &AuthOptions::jwt_audience));
  k.push_back(Str("auth", "jwt_issuer", &Options::auth, &AuthOptions::jwt_issuer));
  k.push_back(Int("auth", "jwt_leeway_s", 0, 3600, &Options::auth, &AuthOptions::jwt_leeway_s));
  k.push_back(Double("limits", "ingest_events_per_second", 0, 1'000'000'000, &Options::limits,
                     &LimitOptions::ingest_events_per_second));
  k.push_back(Double("limits", "ingest_burst_events", 0, 1'000'000'000, &Options::limits,
                     &LimitOptions::ingest_burst_events));
  k.push_back(Double("limits", "reads_per_second", 0, 1'000'000'000, &Options::limits,
                     &LimitOptions::reads_per_second));
  k.push_back(Double("limits", "reads_burst", 0, 1'000'000'000, &Options::limits,
                     &LimitOptions::reads_burst));
  k.push_back(Int("limits", "max_clients", 1, 100'000'000, &Options::limits,
                  &LimitOptions::max_clients));
  k.push_back(Int("log", "partitions", 1, 4096, &Options::log, &LogOptions::partitions));
  k.push_back(Int("log", "capacity_per_partition", 16, int64_t{1} << 24, &Options::log,
                  &LogOptions::capacity_per_partition));
  k.push_back(Int("runtime", "shards", 0, 256, &Options::runtime, &RuntimeOptions::shards));
  k.push_back(Int("runtime", "max_queued_reads", 1, 1'000'000, &Options::runtime,
                  &RuntimeOptions::max_queued_reads));
  k.push_back(Int("runtime", "id_sweep_after", 1, int64_t{1} << 28, &Options::runtime,
                  &RuntimeOptions::id_sweep_after));
  k.push_back(Int("ingest", "max_future_skew_s", 0, 366 * 86400, &Options::ingest,
                  &IngestOptions::max_future_skew_ms, 1000));
  k.push_back(Int("ingest", "dedup_horizon_s", 0, 30 * 86400, &Options::ingest,
                  &IngestOptions::dedup_horizon_ms, 1000));
  k.push_back(Int("ingest", "dedup_max_ids", 1, 1'000'000'000, &Options::ingest,
                  &IngestOptions::dedup_max_ids));
  k.push_back(Int("recent", "max_items", 1, 1000, &Options::recent, &RecentOptions::max_items));
  k.push_back(Int("recent", "max_users", 1, 1'000'000'000, &Options::recent,
                  &RecentOptions::max_users));
  k.push_back(Weight("view", EventType::kView));
  k.push_back(Weight("click", EventType::kClick));
  k.push_back(Weight("wishlist", EventType::kWishlist));
  k.push_back(Weight("add_to_cart", EventType::kAddToCart));
  k.push_back(Weight("remove_from_cart", EventType::kRemoveFromCart));
  k.push_back(Weight("purchase", EventType::kPurchase));
  k.push_back(Weight("redemption", EventType::kRedemption));
  k.push_back(Weight("search", EventType::kSearch));
  k.push_back(Weight("cancel", EventType::kCancel));
  k.push_back(Weight("inventory", EventType::kInventory));
  k.push_back(Weight("segment_update", EventType::kSegmentUpdate));
  k.push_back(Spec("windows", "durations", KeySpec::kDurationList, 1, 7 * 24 * 60));
  k.back().set_minutes = [](Options& o, std::vector<int64_t> v) { o.windows.minutes = std::move(v); };
  k.push_back(Minutes("affinity", "half_life", 1, 366 * 1440, &Options::affinity,
                      &AffinityOptions::half_life_minutes));
  k.push_back(Int("affinity", "max_categories", 1, 100'000, &Options::affinity,
                  &AffinityOptions::max_categories));
  k.push_back(Int("affinity", "max_users", 1, 1'000'000'000, &Options::affinity,
                  &AffinityOptions::max_users));
  k.push_back(Minutes("popularity", "half_life", 1, 366 * 1440, &Options::popularity,
                      &PopularityOptions::half_life_minutes));
  k.push_back(Int("popularity", "candidates", 10, 100'000, &Options::popularity,
                  &PopularityOptions::candidates));
  k.push_back(Int("popularity", "max_items", 1, 1'000'000'000, &Options::popularity,
                  &PopularityOptions::max_items));
  k.push_back(Bool("sessions", "enabled", &Options::sessions, &SessionOptions::enabled));
  k.push_back(Int("sessions", "gap_s", 1, 7 * 86400, &Options::sessions,
                  &SessionOptions::gap_ms, 1000));
  k.push_back(Int("sessions", "max_per_user", 1, 10'000, &Options::sessions,
                  &SessionOptions::max_per_user));
  k.push_back(Int("sessions", "max_items", 1, 10'000, &Options::sessions,
                  &SessionOptions::max_items));
  k.push_back(Int("sessions", "max_categories", 0, 32, &Options::sessions,
                  &SessionOptions::max_categories));
  k.push_back(Int("sessions", "max_users", 1, 1'000'000'000, &Options::sessions,
                  &SessionOptions::max_users));
  k.push_back(Minutes("sessions", "funnel_retention", 1, 366 * 1440, &Options::sessions,
                      &SessionOptions::funnel_retention_minutes));
  k.push_back(Bool("revenue", "enabled", &Options::revenue, &RevenueOptions::enabled));
  k.push_back(Spec("revenue", "windows", KeySpec::kDurationList, 1, 7 * 24 * 60));
  k.back().set_minutes = [](Options& o, std::vector<int64_t> v) {
    o.revenue.window_minutes = std::move(v);
  };
  k.push_back(Int("revenue", "lateness_s", 0, 30 * 86400, &Options::revenue,
                  &RevenueOptions::lateness_ms, 1000));
  k.push_back(Minutes("revenue", "retention", 1, 366 * 1440, &Options::revenue,
                      &RevenueOptions::retention_minutes));
  k.push_back(Int("revenue", "max_orders", 1, 1'000'000'000, &Options::revenue,
                  &RevenueOptions::max_orders));
  k.push_back(Int("catalog", "max_items", 1, 1'000'000'000, &Options::catalog,
                  &CatalogOptions::max_items));
  k.push_back(Bool("inventory", "enabled", &Options::inventory, &InventoryOptions::enabled));
  k.push_back(Minutes("inventory", "velocity_window", 1440, 366 * 1440, &Options::inventory,
                      &InventoryOptions::velocity_window_minutes));
  k.push_back(Double("inventory", "lead_time_days", 0, 365, &Options::inventory,
                     &InventoryOptions::lead_time_days));
  k.push_back(Double("inventory", "safety_days", 0, 365, &Options::inventory,
                     &InventoryOptions::safety_days));
  k.push_back(Int("inventory", "default_threshold", 0, 1'000'000'000, &Options::inventory,
                  &InventoryOptions::default_threshold));
  k.push_back(Int("inventory", "max_items", 1, 1'000'000'000, &Options::inventory,
                  &InventoryOptions::max_items));
  k.push_back(Int("inventory", "max_orders", 1, 1'000'000'000, &Options::inventory,
                  &InventoryOptions::max_orders));
  k.push_back(Spec("webhooks", "urls", KeySpec::kStringList));
  k.back().describe = "an http:// URL such as \"http://alerts.internal:9000/eddy\"";
  k.back().set_strings = [](Options& o, const std::vector<std::string>& v) -> std::string {
    for (const std::string& url : v) {
      if (!url.starts_with("http://") || url.size() == 7 || url[7] == '/' || url[7] == ':') {
        return "\"" + url + "\" is not an http:// URL with a host" +
               (url.starts_with("https://") ? " (https is not supported: relay through a local proxy)" : "");
      }
    }
    o.webhooks.urls = v;
    return "";
  };
  k.push_back(Int("webhooks", "timeout_ms", 100, 600'000, &Options::webhooks,
                  &WebhookOptions::timeout_ms));
  k.push_back(Int("webhooks", "max_backoff_ms", 100, 3'600'000, &Options::webhooks,
                  &WebhookOptions::max_backoff_ms));
  k.push_back(Int("alerts", "max_kept", 1, 100'000'000, &Options::alerts,
                  &AlertOptions::max_kept));
  k.push_back(Bool("fraud", "enabled", &Options::fraud, &FraudOptions::enabled));
  k.push_back(Double("fraud", "threshold", 0, 1, &Options::fraud, &FraudOptions::threshold));
  k.push_back(Double("fraud", "weight_ip_burst", 0, 1, &Options::fraud,
                     &FraudOptions::weight_ip_burst));
  k.push_back(Int("fraud", "ip_orders", 2, 64, &Options::fraud, &FraudOptions::ip_orders));
  k.push_back(Minutes("fraud", "ip_window", 1, 1440, &Options::fraud,
                      &FraudOptions::ip_window_minutes));
  k.push_back(Int("fraud", "max_ips", 1, 1'000'000'000, &Options::fraud, &FraudOptions::max_ips));
  k.push_back(Double("fraud", "weight_new_user_high_value", 0, 1, &Options::fraud,
                     &FraudOptions::weight_new_user_high_value));
  k.push_back(Double("fraud", "high_value", 0, 1'000'000'000, &Options::fraud,
                     &FraudOptions::high_value));
  k.push_back(Minutes("fraud", "new_user_age", 0, 366 * 1440, &Options::fraud,
                      &FraudOptions::new_user_minutes));
  k.push_back(Double("fraud", "weight_impossible_travel", 0, 1, &Options::fraud,
                     &FraudOptions::weight_impossible_travel));
  k.push_back(Minutes("fraud", "travel_time", 1, 7 * 1440, &Options::fraud,
                      &FraudOptions::travel_minutes));
  k.push_back(Double("fraud", "weight_velocity", 0, 1, &Options::fraud,
                     &FraudOptions::weight_velocity));
  k.push_back(Int("fraud", "velocity_orders", 2, 64, &Options::fraud,
                  &FraudOptions::velocity_orders));
  k.push_back(Minutes("fraud", "velocity_window", 1, 7 * 1440, &Options::fraud,
                      &FraudOptions::velocity_window_minutes));
  k.push_back(Double("fraud", "weight_instant_checkout", 0, 1, &Options::fraud,
                     &FraudOptions::weight_instant_checkout));
  k.push_back(Int("fraud", "instant_checkout_s", 0, 86'400, &Options::fraud,
                  &FraudOptions::instant_checkout_s));
  k.push_back(Bool("insights", "enabled", &Options::insights, &InsightOptions::enabled));
  k.push_back(Double("insights", "anomaly_percent", 0, 1'000'000, &Options::insights,
                     &InsightOptions::anomaly_percent));
  k.push_back(Int("insights", "anomaly_min_orders", 1, 1'000'000, &Options::insights,
                  &InsightOptions::anomaly_min_orders));
  k.push_back(Double("insights", "anomaly_high_percent", 0, 1'000'000, &Options::insights,
                     &InsightOptions::anomaly_high_percent));
  k.push_back(Double("insights", "anomaly_critical_percent", 0, 1'000'000, &Options::insights,
                     &InsightOptions::anomaly_critical_percent));
  k.push_back(Spec("insights", "segments", KeySpec::kStringList));
  k.back().describe =
      "\"Name: cond, cond; priority = p\" with conds such as \"orders >= 2\", \"recency <= 30d\", "
      "\"spend > 500\" and p low, medium, high or critical";
  k.back().set_strings = [](Options& o, const std::vector<std::string>& v) -> std::string {
    std::vector<SegmentRule> rules(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::string why = ParseSegmentRule(v[i], &rules[i]); !why.empty()) return why;
      for (size_t j = 0; j < i; ++j) {
        if (rules[j].name == rules[i].name) return "segment \"" + rules[i].name + "\" named twice";
      }
    }
    if (rules.size() > 64) return "at most 64 segments";
    o.insights.segments = std::move(rules);
    return "";
  };
  k.push_back(Int("insights", "prediction_min_purchases", 3, 1000, &Options::insights,
                  &InsightOptions::prediction_min_purchases));
  k.push_back(Double("insights", "prediction_medium_confidence", 0, 1, &Options::insights,
                     &InsightOptions::prediction_medium_confidence));
  k.push_back(Int("insights", "max_categories", 1, 64, &Options::insights,
                  &InsightOptions::max_categories));
  k.push_back(Int("insights", "max_insights", 1, 1000, &Options::insights,
                  &InsightOptions::max_insights));
  k.push_back(Int("insights", "max_users", 1, 1'000'000'000, &Options::insights,
                  &InsightOptions::max_users));
  k.push_back(Bool("fraud", "filter_bots", &Options::fraud, &FraudOptions::filter_bots));
  k.push_back(Int("fraud", "bot_events_per_second", 1, 1'000'000, &Options::fraud,
                  &FraudOptions::bot_events_per_second));
  k.push_back(Int("fraud", "bot_events_per_minute", 1, 100'000'000, &Options::fraud,
                  &FraudOptions::bot_events_per_minute));
  k.push_back(Int("fraud", "max_users", 1, 1'000'000'000, &Options::fraud,
                  &FraudOptions::max_users));
  k.push_back(Int("fraud", "orders_per_user", 1, 1000, &Options::fraud,
                  &FraudOptions::orders_per_user));
  k.push_back(Int("coview", "recent_items", 1, 1000, &Options::coview,
                  &CoViewOptions::recent_items));
  k.push_back(Minutes("coview", "window", 1, 7 * 1440, &Options::coview,
                      &CoViewOptions::window_minutes));
  k.push_back(Int("coview", "max_neighbours", 100, 100'000, &Options::coview,
                  &CoViewOptions::max_neighbours));
  k.push_back(Int("coview", "max_items", 1, 1'000'000'000, &Options::coview,
                  &CoViewOptions::max_items));
  k.push_back(Bool("embedding", "enabled", &Options::embedding, &EmbeddingOptions::enabled));
  k.push_back(Int("embedding", "dimensions", 16, 256, &Options::embedding,
                  &EmbeddingOptions::dimensions));
  k.push_back(Int("embedding", "seed", 0, int64_t{1} << 53, &Options::embedding,
                  &EmbeddingOptions::seed));
  k.push_back(Int("embedding", "max_items", 1, 1'000'000'000, &Options::embedding,
                  &EmbeddingOptions::max_items));
  k.push_back(Int("engagement", "max_items", 1, 1'000'000'000, &Options::engagement,
                  &EngagementOptions::max_items));
  k.push_back(Bool("cluster", "enabled", &Options::cluster, &ClusterOptions::enabled));
  k.push_back(Spec("cluster", "servers", KeySpec::kStringList));
  k.back().describe = "a NATS URL such as \"nats://127.0.0.1:4222\"";
  k.back().set_strings = [](Options& o, const std::vector<std::string>& v) -> std::string {
    for (const std::string& url : v) {
      if (!url.starts_with("nats://") || url.size() == 7) return "\"" + url + "\" is not a nats:// URL";
    }
    o.cluster.servers = v;
    return "";
  };
  k.push_back(Str("cluster", "node_id", &Options::cluster, &ClusterOptions::node_id));
  k.push_back(Str("cluster", "stream", &Options::cluster, &ClusterOptions::stream));
  k.push_back(Int("cluster", "replicas", 1, 5, &Options::cluster, &ClusterOptions::replicas));
  k.push_back(Int("cluster", "duplicate_window_s", 1, 86400, &Options::cluster,
                  &ClusterOptions::duplicate_window_s));
  k.push_back(Int("cluster", "publish_timeout_ms", 1, 600'000, &Options::cluster,
                  &ClusterOptions::publish_timeout_ms));
  k.push_back(Int("cluster", "connect_timeout_ms", 0, 600'000, &Options::cluster,
                  &ClusterOptions::connect_timeout_ms));
  k.push_back(Int("cluster", "lease_ms", 500, 600'000, &Options::cluster, &ClusterOptions::lease_ms));
  k.push_back(Int("cluster", "forward_timeout_ms", 1, 600'000, &Options::cluster,
                  &ClusterOptions::forward_timeout_ms));
  k.push_back(Int("cluster", "checkpoint_interval_ms", 0, 86'400'000, &Options::cluster,
                  &ClusterOptions::checkpoint_interval_ms));
  k.push_back(Minutes("attribution", "window", 1, 30 * 1440, &Options::attribution,
                      &AttributionOptions::window_minutes));
  k.push_back(Int("attribution", "max_users", 1, 1'000'000'000, &Options::attribution,
                  &AttributionOptions::max_users));
  k.push_back(Int("attribution", "answers_per_user", 1, 1000, &Options::attribution,
                  &AttributionOptions::answers_per_user));
  k.push_back(Int("attribution", "orders_per_user", 1, 1000, &Options::attribution,
                  &AttributionOptions::orders_per_user));
  for (size_t i = 0; i < kRankSignalCount; ++i) k.push_back(RankWeight(static_cast<RankSignal>(i)));
  k.push_back(Int("ranking", "max_per_category", 0, 1'000'000, &Options::ranking,
                  &RankingOptions::max_per_category));
  k.push_back(Bool("ranking", "exclude_bought", &Options::ranking, &RankingOptions::exclude_bought));
  k.push_back(Bool("ranking", "exclude_seen", &Options::ranking, &RankingOptions::exclude_seen));
  k.push_back(Bool("ranking", "exclude_out_of_stock", &Options::ranking,
                   &RankingOptions::exclude_out_of_stock));
  k.push_back(Int("ranking", "seed_items", 1, 1000, &Options::ranking, &RankingOptions::seed_items));
  k.push_back(Double("ranking", "session_weight", 1, 100, &Options::ranking,
                     &RankingOptions::session_weight));
  k.push_back(Int("ranking", "affinity_categories", 0, 100, &Options::ranking,
                  &RankingOptions::affinity_categories));
  k.push_back(Int("ranking", "popular_candidates", 1, 10'000, &Options::ranking,
                  &RankingOptions::popular_candidates));
  k.push_back(Int("ranking", "coview_candidates", 1, 100'000, &Options::ranking,
                  &RankingOptions::coview_candidates));
  k.push_back(Int("ranking", "bought_items", 1, 10'000, &Options::ranking,
                  &RankingOptions::bought_items));
  k.push_back(Int("ranking", "max_k", 1, 10'000, &Options::ranking, &RankingOptions::max_k));
  k.push_back(Double("offers", "trending_boost", 0, 1'000'000, &Options::offers,
                     &OfferOptions::trending_boost));
  k.push_back(Int("offers", "trending_categories", 1, 1000, &Options::offers,
                  &OfferOptions::trending_categories));
  k.push_back(Double("offers", "affinity_boost", 0, 1'000'000, &Options::offers,
                     &OfferOptions::affinity_boost));
  k.push_back(Double("offers", "bandit_weight", 0, 1'000'000, &Options::offers,
                     &OfferOptions::bandit_weight));
  k.push_back(Int("offers", "seed", 0, std::numeric_limits<int64_t>::max(), &Options::offers,
                  &OfferOptions::seed));
  k.push_back(Spec("clock", "mode", KeySpec::kEnum, 0, 0, {"live", "event"}));
  k.back().set_string = [](Options& o, const std::string& v) {
    o.clock = v == "event" ? ClockMode::kEvent : ClockMode::kLive;
  };
  k.push_back(Str("durability", "data_dir", &Options::durability, &DurabilityOptions::data_dir));
  k.push_back(Enum("durability", "ack", &Options::durability, &DurabilityOptions::ack,
                   {AckLevel::kMemory, AckLevel::kWal, AckLevel::kFsync}, AckLevelName));
  k.push_back(Enum("durability", "background_priority", &Options::durability,
                   &DurabilityOptions::background_priority,
                   {BackgroundPriority::kIdle, BackgroundPriority::kLow, BackgroundPriority::kNormal},
                   BackgroundPriorityName));
  k.push_back(Int("durability", "commit_delay_us", 0, 32'000, &Options::durability,
                  &DurabilityOptions::commit_delay_us));
  k.push_back(Minutes("durability", "checkpoint_interval", 0, 7 * 1440, &Options::durability,
                      &DurabilityOptions::checkpoint_interval_minutes));
  k.push_back(Int("durability", "checkpoints_kept", 1, 100, &Options::durability,
                  &DurabilityOptions::checkpoints_kept));
  k.push_back(Minutes("durability", "retention", 0, 3660 * 1440, &Options::durability,
                      &DurabilityOptions::retention_minutes));
  k.push_back(Spec("logging", "level", KeySpec::kEnum, 0, 0,
                   {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  k.back().set_string = [](Options& o, const std::string& v) { o.logging.level = v; };
  return k;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One segment rule: "Name[: cond[, cond]...][; priority = low|medium|high|critical]", a
// cond "orders|recency|spend >=|<=|>|< value" (orders an integer, recency a duration such as
// "30d", spend a number). "" when parsed, else what is wrong.
std::string ParseSegmentRule(std::string_view text, SegmentRule* out) {
  const std::string quoted = "\"" + std::string(text) + "\": ";
  std::string_view rest = text;
  const size_t semi = rest.find(';');
  std::string_view tail = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
  rest = rest.substr(0, semi);
  const size_t colon = rest.find(':');
  out->name = std::string(Trim(rest.substr(0, colon)));
  if (out->name.empty()) return quoted + "a segment needs a name before its conditions";
  std::string_view conds = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  while (!Trim(conds).empty()) {
    const size_t comma = conds.find(',');
    std::string_view c = Trim(conds.substr(0, comma));
    conds = comma == std::string_view::npos ? std::string_view() : conds.substr(comma + 1);
    size_t op_at = c.find_first_of("<>");
    if (op_at == std::string_view::npos) {
      return quoted + "condition \"" + std::string(c) + "\" needs >=, <=, > or <";
    }
    const std::string_view metric = Trim(c.substr(0, op_at));
    const bool inclusive = op_at + 1 < c.size() && c[op_at + 1] == '=';
    const bool at_least = c[op_at] == '>';
    const std::string value(Trim(c.substr(op_at + (inclusive ? 2 : 1))));
    int64_t v = 0;
    int64_t* lo = nullptr;
    int64_t* hi = nullptr;
    if (metric == "orders") {
      char* end = nullptr;
      errno = 0;
      const long long n = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 0 || errno == ERANGE || n > UINT32_MAX) {
        return quoted + "orders takes a whole number up to 4294967295, got \"" + value + "\"";
      }
      v = n;
      lo = &out->min_orders;
      hi = &out->max_orders;
    } else if (metric == "recency") {
      std::optional<int64_t> m = ParseDurationMinutes(value);
      if (!m || *m > 100 * 366 * 1440) {
        return quoted + "recency takes a duration such as \"30d\" (up to 100 years), got \"" +
               value + "\"";
      }
      v = *m * 60'000;
      lo = &out->min_recency_ms;
      hi = &out->max_recency_ms;
    } else if (metric == "spend") {
      char* end = nullptr;
      const double d = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(d) || std::fabs(d) > 1e12) {
        return quoted + "spend takes a number, got \"" + value + "\"";
      }
      v = std::llround(d * 1e6);
      lo = &out->min_spend_micros;
      hi = &out->max_spend_micros;
    } else {
      return quoted + "unknown measure \"" + std::string(metric) + "\" (orders, recency or spend)";
    }
    if (at_least) {
      *lo = std::max(*lo, inclusive ? v : v + 1);
    } else {
      *hi = std::min(*hi, inclusive ? v : v - 1);
    }
  }
  tail = Trim(tail);
  if (!tail.empty()) {
    const size_t eq = tail.find('=');
    const std::string_view key = Trim(tail.substr(0, eq));
    const std::string_view p = eq == std::string_view::npos ? std::string_view() : Trim(tail.substr(eq + 1));
    if (key != "priority") return quoted + "after ';' only \"priority = ...\" may follow";
    bool found = false;
    for (auto q : {InsightPriority::kLow, InsightPriority::kMedium, InsightPriority::kHigh,
                   InsightPriority::kCritical}) {
      if (InsightPriorityName(q) == p) out->priority = q, found = true;
    }
    if (!found) return quoted + "priority is low, medium, high or critical";
  }
  return "";
}

}  // namespace

const std::vector<KeySpec>& ConfigSchema() {
  static const std::vector<KeySpec> schema = MakeSchema();
  return schema;
}

}  // namespace eddy
