#pragma once
// eddy::Options: every tunable of the engine and daemon, with the defaults of
// config/eddy.toml. Loaded and validated by src/config (toml++, env, CLI overrides).
// A plain value type.

#include <array>
#include <climits>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/event.h"
#include "eddy/ranking.h"

namespace eddy {

enum class AckLevel : uint8_t { kMemory, kWal, kFsync };
// The config spelling: "memory", "wal", "fsync".
constexpr std::string_view AckLevelName(AckLevel a) {
  return a == AckLevel::kMemory ? "memory" : a == AckLevel::kWal ? "wal" : "fsync";
}

// The CPU priority of the event store's background work (RocksDB's flushes and
// compactions): idle (Linux SCHED_IDLE: only a core nothing else wants), low (nice 19),
// normal (as eddy's other threads).
enum class BackgroundPriority : uint8_t { kIdle, kLow, kNormal };
// The config spelling: "idle", "low", "normal".
constexpr std::string_view BackgroundPriorityName(BackgroundPriority p) {
  return p == BackgroundPriority::kIdle ? "idle" : p == BackgroundPriority::kLow ? "low" : "normal";
}

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int io_threads = 0;
  uint64_t body_limit_bytes = 16ull << 20;
  int read_timeout_ms = 30'000;   // also the keep-alive idle timeout
  int write_timeout_ms = 30'000;
  int retry_after_s = 1;          // Retry-After of a 429
  int drain_timeout_ms = 10'000;  // how long SIGTERM waits for in-flight requests
  int max_connections = 10'000;   // open connections; more are answered 503 and closed
  int read_deadline_ms = 2'000;   // a read not answered by then gets 503
  // Record request durations, ingest freshness and commit latency for GET /metrics (the
  // figures read from status are served either way).
  bool metrics = true;
  // Origins a browser page may call eddy from (CORS): exact origins such as
  // "https://shop.example", or "*" for any. Empty: no CORS headers, preflights refused.
  std::vector<std::string> cors_origins;
  // One JSON line per request (time, method, route, status, duration, credential, client):
  // "" = off, "-" = standard output, else a file appended to.
  std::string access_log;
  bool operator==(const ServerOptions&) const = default;
};

// Credential scopes (AuthOptions): bit set of these.
enum AuthScope : uint8_t { kScopeRead = 1, kScopeIngest = 2, kScopeAdmin = 4 };
// The scope named `name` ("read", "ingest", "admin"; in keys and JWTs); 0 for any other.
inline uint8_t AuthScopeOf(std::string_view name) {
  if (name == "read") return kScopeRead;
  if (name == "ingest") return kScopeIngest;
  if (name == "admin") return kScopeAdmin;
  return 0;
}

// An API key: clients send the secret, the config holds only its SHA-256.
struct ApiKey {
  std::string id;       // names the key in logs, metrics and rate limits
  uint8_t scopes = 0;   // AuthScope bits
  std::string sha256;   // 64 lowercase hex digits
  bool operator==(const ApiKey&) const = default;
};

// Authentication (off by default; binding a non-loopback host without it needs
// allow_unauthenticated). With it on every route but /healthz and /readyz needs a
// credential — an API key or an HS256 JWT — with the route's scope.
struct AuthOptions {
  bool enabled = false;
  bool allow_unauthenticated = false;
  std::vector<ApiKey> keys;
  std::string jwt_secret;            // HS256 key; "" = JWTs are not accepted
  std::string jwt_audience = "eddy";  // a JWT's aud must be (or contain) this
  std::string jwt_issuer;            // "" = iss not checked
  int64_t jwt_leeway_s = 30;         // clock skew allowed on exp and nbf
  bool operator==(const AuthOptions&) const = default;
};

// Token-bucket rate limits per client (the credential's id with auth, else the client's
// IP). 0 = no limit. Ingest is charged per event accepted and refused (429 + Retry-After)
// while a client's bucket is empty; reads cost one token each.
struct LimitOptions {
  double ingest_events_per_second = 0;
  double ingest_burst_events = 0;  // bucket size; 0 = one second's worth
  double reads_per_second = 0;
  double reads_burst = 0;          // bucket size; 0 = one second's worth
  uint64_t max_clients = 100'000;  // buckets kept; idle (full) ones are forgotten first
  bool operator==(const LimitOptions&) const = default;
};

struct LogOptions {
  uint32_t partitions = 16;
  uint32_t capacity_per_partition = 32'768;  // events; rounded up to a power of two
  bool operator==(const LogOptions&) const = default;
};

struct RuntimeOptions {
  int shards = 0;  // 0 = one per core
  // Read tasks queued on one shard; past it reads are refused (429 + Retry-After) instead
  // of queueing without bound.
  int max_queued_reads = 4096;
  // Interned ids (users, items, categories, sessions, orders, free text) no state
  // references any more are recycled by a sweep that starts once this many ids, or as
  // many as were live after the previous sweep if that is more, were made since it.
  uint64_t id_sweep_after = 1'000'000;
  bool operator==(const RuntimeOptions&) const = default;
};

struct IngestOptions {
  int64_t max_future_skew_ms = 300'000;  // timestamps further ahead are rejected
  int64_t dedup_horizon_ms = 86'400'000; // eventIds remembered this long (event time)
  uint64_t dedup_max_ids = 10'000'000;   // and at most this many; oldest forgotten first
  bool operator==(const IngestOptions&) const = default;
};

struct RecentOptions {
  uint32_t max_items = 50;       // distinct items kept per user
  uint64_t max_users = 2'000'000;  // users tracked; least recently active evicted first
  bool operator==(const RecentOptions&) const = default;
};

// Windows of the windowed aggregates, in minutes (SPEC §3): each a whole number of
// minutes, at most 7 days.
struct WindowOptions {
  std::vector<int64_t> minutes = {60, 1440};
  bool operator==(const WindowOptions&) const = default;
};

// Affinity (SPEC §3.5): decayed category scores per user.
struct AffinityOptions {
  int64_t half_life_minutes = 7 * 1440;
  uint32_t max_categories = 64;    // per user; the lowest score is dropped past it
  uint64_t max_users = 2'000'000;  // past it the least recently active user goes, one per new user
  bool operator==(const AffinityOptions&) const = default;
};

// Popularity (SPEC §3.4): decayed item scores, global and per category.
struct PopularityOptions {
  int64_t half_life_minutes = 1440;
  uint32_t candidates = 1000;      // per shard: best items kept ordered for top-k reads
  uint64_t max_items = 2'000'000;  // past it ~the lowest-scoring eighth is swept out
  bool operator==(const PopularityOptions&) const = default;
};

// Co-view (SPEC §3.7).
struct CoViewOptions {
  uint32_t recent_items = 10;       // N: a touch pairs with the user's N latest items
  int64_t window_minutes = 30;      // T: ... touched at most this long before
  uint32_t max_neighbours = 100;    // counters per item (space-saving sketch)
  uint64_t max_items = 1'000'000;   // past it the least recently updated item goes, one per new item
  bool operator==(const CoViewOptions&) const = default;
};

// Item embeddings (learn/embedding.h): a random projection of each item's user column.
struct EmbeddingOptions {
  bool enabled = true;
  uint32_t dimensions = 64;       // D, a multiple of 16 in [16, 256]
  uint64_t seed = 1;              // of the users' random sign vectors
  uint64_t max_items = 1'000'000; // past it the least recently touched item goes, one per new item
  bool operator==(const EmbeddingOptions&) const = default;
};

// Engagement (SPEC §3.3).
struct EngagementOptions {
  uint64_t max_items = 2'000'000;  // all-time counts kept; least recently seen item goes, one per new item
  bool operator==(const EngagementOptions&) const = default;
};

// Recommendations (SPEC §6.1). Weights are indexed by RankSignal (eddy/ranking.h):
// coview, embed, popularity, recency, trending, affinity.
struct RankingOptions {
  std::array<double, kRankSignalCount> weights = {0.4, 0.3, 0.2, 0.1, 0.1, 0.2};
  uint32_t max_per_category = 0;   // at most this many items of one category (0 = no limit)
  bool exclude_bought = true;      // never recommend what the user already bought
  bool exclude_seen = false;       // never recommend the user's recent items
  bool exclude_out_of_stock = true;  // never rank an item whose stock is 0 or less
  uint32_t seed_items = 10;        // the user's latest items whose co-view neighbours count
  double session_weight = 2;       // a seed of the user's current session counts this many
                                   // times more in the embedding profile
  uint32_t affinity_categories = 3;  // the user's top categories whose popular items count
  uint32_t popular_candidates = 100;  // popular items taken per shard per source
  uint32_t coview_candidates = 300;   // co-view neighbours kept (the most co-viewed)
  uint32_t bought_items = 100;     // items remembered as bought per user (newest kept)
  uint32_t max_k = 1000;           // largest k a request may ask for
  bool operator==(const RankingOptions&) const = default;
};
// An online experiment (issue 19): users are bucketed into variants by a stable hash of
// the salt and their id; a variant's ranking is [ranking] with its own overrides.
struct ExperimentVariant {
  std::string name;
  double share = 0;  // of the users; an experiment's shares sum to 1
  // The variant's [experiments.variants.ranking] keys as written (key, TOML value text),
  // applied over the final [ranking] into `ranking` when the config is loaded.
  std::vector<std::pair<std::string, std::string>> overrides;
  RankingOptions ranking;
  bool operator==(const ExperimentVariant&) const = default;
};
enum class ImpressionMode : uint8_t {
  kClient,  // an answer counts as shown when the client posts an `impression` event
  kServe,   // every answer served counts as shown
};
enum class AllocationMode : uint8_t {
  kFixed,     // the configured shares
  kThompson,  // shares follow each variant's probability of being best on `goal`
};
enum class ExperimentGoal : uint8_t { kCtr, kConversion };
struct Experiment {
  std::string name;
  std::string salt;  // defaults to the name
  bool enabled = true;
  std::vector<ExperimentVariant> variants;
  ImpressionMode impressions = ImpressionMode::kClient;
  AllocationMode allocation = AllocationMode::kFixed;
  ExperimentGoal goal = ExperimentGoal::kCtr;       // what Thompson sampling maximises
  double min_share = 0.05;                          // no variant's share falls below it
  uint32_t reallocate_seconds = 60;                 // how often Thompson shares are redrawn
  bool operator==(const Experiment&) const = default;
};
// Attribution of events to the answers served under an experiment (issue 19).
struct AttributionOptions {
  int64_t window_minutes = 24 * 60;    // an answer takes events this long after it was served
  uint64_t max_users = 1'000'000;      // users with answers remembered; least recent forgotten
  uint32_t answers_per_user = 8;       // newest kept per user
  uint32_t orders_per_user = 16;       // attributed (or cancelled) orders kept per user
  bool operator==(const AttributionOptions&) const = default;
};
// The enabled experiment (the config loader allows at most one), or nullptr.
inline const Experiment* RunningExperiment(const std::vector<Experiment>& experiments) {
  for (const Experiment& e : experiments) {
    if (e.enabled) return &e;
  }
  return nullptr;
}

// The offer decision engine (SPEC §6.3): score = priority + trending boost + affinity boost
// + bandit term.
struct OfferOptions {
  double trending_boost = 30;        // for the top trending category; rank r of the top
                                     // `trending_categories` gets boost * (n - r) / n
  uint32_t trending_categories = 5;
  double affinity_boost = 10;        // * the user's affinity for the category / their top one
  double bandit_weight = 20;         // * a Thompson sample of the offer's conversion rate
  uint64_t seed = 42;                // same seed + same state + same request = same answer
  bool operator==(const OfferOptions&) const = default;
};
// Sessions and the funnel (SPEC §3.8). A user's events with a producer sessionId form that
// session; the others split where two consecutive events (in event time) are `gap_ms` or
// more apart.
struct SessionOptions {
  bool enabled = true;             // false: no sessions or funnel kept (reads answer empty)
  int64_t gap_ms = 30 * 60'000;
  uint32_t max_per_user = 20;      // sessions kept per user; the oldest (by start) dropped
  uint32_t max_items = 20;         // distinct items listed per session (earliest touched)
  uint32_t max_categories = 8;     // categories a session's per-category funnel follows
  uint64_t max_users = 2'000'000;  // users tracked; least recently active evicted first
  int64_t funnel_retention_minutes = 7 * 1440;  // longest funnel window a read may ask
  bool operator==(const SessionOptions&) const = default;
};

// Revenue windows (SPEC §3.9): tumbling, aligned to the epoch, one series per size.
struct RevenueOptions {
  bool enabled = true;                // false: no revenue kept (reads answer empty)
  std::vector<int64_t> window_minutes = {5, 60};
  int64_t lateness_ms = 10 * 60'000;  // a purchase accepted later than this after its
                                      // window closed counts in `late` only
  int64_t retention_minutes = 7 * 1440;  // windows kept (event time)
  uint64_t max_orders = 1'000'000;    // orders remembered for cancels; oldest dropped
  bool operator==(const RevenueOptions&) const = default;
};

// The item catalog (PUT/PATCH/DELETE /v1/items/{itemId}).
struct CatalogOptions {
  uint64_t max_items = 2'000'000;  // records kept; the one changed longest ago forgotten
  bool operator==(const CatalogOptions&) const = default;
};

// Inventory (SPEC §3.12): stock per item from catalog `stock` and `inventory` events
// (absolute), minus purchased quantities, plus cancelled ones, in the order the item's
// partition accepted them.
struct InventoryOptions {
  bool enabled = true;                    // false: no stock kept (reads answer empty)
  int64_t velocity_window_minutes = 7 * 1440;  // sales velocity = units sold in it / its days
  double lead_time_days = 7;              // a reorder covers the lead time...
  double safety_days = 3;                 // ...plus this many days of sales
  uint32_t default_threshold = 0;         // low-stock threshold of items without their own
                                          // lowStockThreshold (0: none)
  uint64_t max_items = 2'000'000;         // items tracked; the one changed longest ago forgotten
  uint64_t max_orders = 1'000'000;        // orders remembered for cancels; oldest dropped
  bool operator==(const InventoryOptions&) const = default;
};

// Fraud scoring (SPEC §3.10) and bot filtering. Each purchase (an order: its lines share
// the orderId) is scored score = min(1, Σ weight_r over the reasons r that fire); each
// reason fires on a rule below. A score at or above `threshold` raises one fraud alert per
// order and marks the user as flagged.
struct FraudOptions {
  bool enabled = true;       // false: nothing scored, marked or filtered (reads answer empty)
  double threshold = 0.7;
  // ip_burst: at least `ip_orders` distinct orders (this one included) from one IP within
  // `ip_window_minutes` of event time before this one, whatever their users.
  double weight_ip_burst = 0.4;
  uint32_t ip_orders = 5;
  int64_t ip_window_minutes = 10;
  uint64_t max_ips = 1'000'000;  // IPs remembered; the one seen longest ago forgotten first
  // new_user_high_value: the order's value (Σ price × quantity of its lines) at least
  // `high_value` and the user new: no earlier order, or first seen less than
  // `new_user_minutes` before.
  double weight_new_user_high_value = 0.3;
  double high_value = 500;
  int64_t new_user_minutes = 1440;
  // impossible_travel: the user's country (from `location`) changed between two of their
  // events less than `travel_minutes` apart, at most `travel_minutes` before this order.
  double weight_impossible_travel = 0.4;
  int64_t travel_minutes = 120;
  // velocity: at least `velocity_orders` orders of the user (this one included) within
  // `velocity_window_minutes`.
  double weight_velocity = 0.3;
  uint32_t velocity_orders = 4;
  int64_t velocity_window_minutes = 10;
  // instant_checkout: the order came less than `instant_checkout_s` seconds after the
  // start of the user's visit (their events with gaps under sessions.gap_s).
  double weight_instant_checkout = 0.2;
  int64_t instant_checkout_s = 10;
  // Bots: a user with more than `bot_events_per_second` events in one second or
  // `bot_events_per_minute` in one minute (event time) is marked a bot; with
  // `filter_bots`, the events of bots (from the one that crossed the rate on) and of users
  // flagged by fraud (from the one after the order that raised the alert) stop counting
  // in trending, velocity, popularity and co-view.
  bool filter_bots = false;
  uint32_t bot_events_per_second = 20;
  uint32_t bot_events_per_minute = 300;
  uint64_t max_users = 2'000'000;  // users tracked; least recently active forgotten first
  // Scored orders kept per user (the newest); GET /v1/orders/{orderId}/fraud finds those.
  uint32_t orders_per_user = 20;
  bool operator==(const FraudOptions&) const = default;
};

// Customer insights (SPEC §3.11): priorities, RFM segment rules.
enum class InsightPriority : uint8_t { kLow = 0, kMedium, kHigh, kCritical };
constexpr std::string_view InsightPriorityName(InsightPriority p) {
  return p == InsightPriority::kLow      ? "low"
         : p == InsightPriority::kMedium ? "medium"
         : p == InsightPriority::kHigh   ? "high"
                                         : "critical";
}
// One RFM segment: a customer is in the first segment whose every bound holds (inclusive),
// with R = ms since their last purchase, F = their orders, M = their spend (millionths).
struct SegmentRule {
  std::string name;
  int64_t min_orders = 0, max_orders = INT64_MAX;
  int64_t min_recency_ms = 0, max_recency_ms = INT64_MAX;
  int64_t min_spend_micros = INT64_MIN, max_spend_micros = INT64_MAX;
  InsightPriority priority = InsightPriority::kLow;  // of a migration into it
  bool operator==(const SegmentRule&) const = default;
};
// The rules of config/eddy.toml [insights] segments.
inline std::vector<SegmentRule> DefaultSegmentRules() {
  constexpr int64_t kDay = 86'400'000;
  std::vector<SegmentRule> r(7);
  r[0] = {"New", 0, 1, 0, 30 * kDay, INT64_MIN, INT64_MAX, InsightPriority::kLow};
  r[1] = {"Loyal", 5, INT64_MAX, 0, 30 * kDay, 500'000'000, INT64_MAX, InsightPriority::kLow};
  r[2] = {"Potential Loyalist", 2, INT64_MAX, 0, 30 * kDay, INT64_MIN, INT64_MAX,
          InsightPriority::kLow};
  r[3] = {"Can't Lose Them", 5, INT64_MAX, 0, 180 * kDay, 1'000'000'000, INT64_MAX,
          InsightPriority::kCritical};
  r[4] = {"At Risk", 2, INT64_MAX, 0, 90 * kDay, INT64_MIN, INT64_MAX, InsightPriority::kHigh};
  r[5] = {"About to Sleep", 0, INT64_MAX, 0, 90 * kDay, INT64_MIN, INT64_MAX,
          InsightPriority::kMedium};
  r[6] = {"Hibernating", 0, INT64_MAX, 0, INT64_MAX, INT64_MIN, INT64_MAX,
          InsightPriority::kMedium};
  return r;
}
struct InsightOptions {
  bool enabled = true;  // false: no insights kept (reads answer empty)
  // Spending anomaly: an order's value off the customer's mean order value (of their
  // earlier priced orders, at least anomaly_min_orders of them) by more than
  // anomaly_percent; priority critical from anomaly_critical_percent, high from
  // anomaly_high_percent, else medium (an order below the mean: medium at most).
  double anomaly_percent = 50;
  uint32_t anomaly_min_orders = 3;
  double anomaly_high_percent = 100;
  double anomaly_critical_percent = 300;
  std::vector<SegmentRule> segments = DefaultSegmentRules();
  // Consumption prediction per category: from prediction_min_purchases orders in it on;
  // priority medium from prediction_medium_confidence, else low.
  uint32_t prediction_min_purchases = 3;
  double prediction_medium_confidence = 0.8;
  uint32_t max_categories = 8;     // predicted categories per customer (least recent dropped)
  uint32_t max_insights = 20;      // anomalies and migrations kept per customer (newest)
  uint64_t max_users = 2'000'000;  // customers tracked; least recently active forgotten
  bool operator==(const InsightOptions&) const = default;
};

// Alerts (inventory now; fraud and anomaly later): kept newest first, per shard.
struct AlertOptions {
  uint64_t max_kept = 10'000;  // alerts kept; the oldest dropped
  bool operator==(const AlertOptions&) const = default;
};
// Alert webhooks: every alert raised or cleared is POSTed (JSON) to each URL, at least once
// and in order, retried with backoff while the receiver fails; what each URL received is
// remembered in <data_dir>/webhooks, so a restart neither loses nor repeats deliveries.
struct WebhookOptions {
  std::vector<std::string> urls;  // "http://host[:port]/path"
  int timeout_ms = 5'000;         // per delivery attempt
  int max_backoff_ms = 30'000;    // retry delay doubles from 100 ms up to this
  bool operator==(const WebhookOptions&) const = default;
};

// The engine clock (SPEC §3): "live" = max(wall clock, newest event time); "event" = the
// newest event time only (replaying history gives the answers history had).
enum class ClockMode : uint8_t { kLive, kEvent };

// SPEC §4. With a data_dir every accepted event is written to the RocksDB event store in
// <data_dir>/log; `ack` says when a request is answered: kMemory after the in-memory
// append (the store write follows), kWal after the RocksDB write (survives a process
// crash), kFsync after a synced group commit (survives power loss). An empty data_dir
// (tests only) means no store at all, and needs kMemory.
// Checkpoints: the aggregate state is written to <data_dir>/checkpoints every
// `checkpoint_interval_minutes` (0 = only at shutdown) and on clean shutdown; the newest
// `checkpoints_kept` files are kept. Restart loads the newest valid one and replays the
// event store after it.
// Cluster mode (issue 20, in progress; docs/scale-out.md): nodes sharing one stream in
// NATS JetStream. Without `enabled` eddy is one node with its embedded store, as always.
struct ClusterOptions {
  bool enabled = false;
  std::vector<std::string> servers;   // NATS URLs ("nats://127.0.0.1:4222")
  std::string node_id = "eddy-1";     // this node's name (the NATS connection's too)
  std::string stream = "eddy";        // the JetStream stream (subjects "<stream>.p.<n>")
  uint32_t replicas = 1;              // JetStream replication: 3 survives a lost server
  int64_t duplicate_window_s = 120;   // JetStream's de-duplication window for message ids
  int64_t publish_timeout_ms = 5000;  // a publish not acknowledged by then fails
  int64_t connect_timeout_ms = 10000; // how long the first connect and stream set-up retry
  int64_t lease_ms = 3000;            // a partition's owner must renew within this, or lose it
  int64_t forward_timeout_ms = 5000;  // a read forwarded to another node not answered by then: 503
  // The owner checkpoints each partition it applied more of into JetStream this often
  // (0: never); a node taking the partition over loads it and reads the stream after it.
  int64_t checkpoint_interval_ms = 60'000;
  bool operator==(const ClusterOptions&) const = default;
};

struct DurabilityOptions {
  std::string data_dir = "./data";
  AckLevel ack = AckLevel::kWal;
  BackgroundPriority background_priority = BackgroundPriority::kIdle;
  // Ack wal/fsync: once a store write finds nothing more to write, the store thread waits
  // this long for more events before it writes again, and is not woken for a request
  // meanwhile (a partition's ring a quarter full, or as many requests waiting as the last
  // write held, at most 8, still wake it): under load, requests
  // share writes instead of each waking the thread. A request may wait this long for its
  // write; once the thread has waited that long with nothing to write it dozes, and an
  // ingesting thread writes its request itself at once (docs/architecture.md, "Group
  // commits"). 0: every request wakes the store thread. 0..32000 (half the longest idle sleep:
  // the sleep after it must be longer, or the thread would never doze).
  int64_t commit_delay_us = 1000;
  int64_t checkpoint_interval_minutes = 5;
  uint32_t checkpoints_kept = 2;
  // Stored events are kept this long after they were written (0 = forever); older ones
  // are deleted once every kept checkpoint covers them.
  int64_t retention_minutes = 7 * 1440;
  bool operator==(const DurabilityOptions&) const = default;
};

// How start-up recovery runs; not config keys (`eddy replay` sets them).
struct RecoveryOptions {
  bool ignore_checkpoints = false;  // rebuild everything from the event store
  // Called from a monitor thread about every 200 ms during the replay, and once at the end.
  std::function<void(uint64_t replayed, uint64_t total)> progress;
};

struct LoggingOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  bool operator==(const LoggingOptions&) const = default;
};

// `running` with the fields of `next` that may change while eddy runs (reload): the
// threshold, the weights and the rules' figures. Not: enabled, ip_window_minutes and the
// caps (max_ips, max_users, orders_per_user), which size or shape the state.
inline FraudOptions WithLiveFraudFields(FraudOptions running, const FraudOptions& next) {
  const FraudOptions kept = running;
  running = next;
  running.enabled = kept.enabled;
  running.ip_window_minutes = kept.ip_window_minutes;
  running.max_ips = kept.max_ips;
  running.max_users = kept.max_users;
  running.orders_per_user = kept.orders_per_user;
  return running;
}
// The same for insights: the anomaly and prediction thresholds. Not: enabled, the segments
// (their numbers are kept in the state) and the caps.
inline InsightOptions WithLiveInsightFields(InsightOptions running, const InsightOptions& next) {
  running.anomaly_percent = next.anomaly_percent;
  running.anomaly_min_orders = next.anomaly_min_orders;
  running.anomaly_high_percent = next.anomaly_high_percent;
  running.anomaly_critical_percent = next.anomaly_critical_percent;
  running.prediction_min_purchases = next.prediction_min_purchases;
  running.prediction_medium_confidence = next.prediction_medium_confidence;
  return running;
}

struct Options {
  ServerOptions server;
  AuthOptions auth;
  LimitOptions limits;
  LogOptions log;
  RuntimeOptions runtime;
  IngestOptions ingest;
  RecentOptions recent;
  WindowOptions windows;
  AffinityOptions affinity;
  PopularityOptions popularity;
  CoViewOptions coview;
  EmbeddingOptions embedding;
  EngagementOptions engagement;
  SessionOptions sessions;
  RevenueOptions revenue;
  CatalogOptions catalog;
  InventoryOptions inventory;
  AlertOptions alerts;
  WebhookOptions webhooks;
  FraudOptions fraud;
  InsightOptions insights;
  RankingOptions ranking;
  std::vector<Experiment> experiments;  // [[experiments]], in the file's order
  AttributionOptions attribution;
  ClusterOptions cluster;
  OfferOptions offers;
  ClockMode clock = ClockMode::kLive;
  DurabilityOptions durability;
  RecoveryOptions recovery;
  LoggingOptions logging;
  EventWeights weights = DefaultEventWeights();
};

}  // namespace eddy
