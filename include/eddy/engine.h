#pragma once
// eddy::Engine — the one facade over ingest, the partitioned log, the shards and their
// aggregates. The HTTP server, tests, benches and tools all drive this class, so anything
// the daemon does can be done without a socket.
//
// Threading: every public method is thread-safe unless it says otherwise. Callbacks passed
// to asynchronous calls run exactly once, either on the calling thread before the call
// returns or on a shard thread — or, an ingest's reply with ack wal, on a thread inside
// another Ingest call (which stored it: docs/architecture.md, "Inline commits"); they must be
// quick, must not block and must not take a lock held around Ingest (post work elsewhere).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/clock.h"
#include "eddy/event.h"
#include "eddy/event_loop.h"
#include "eddy/options.h"
#include "eddy/ranking.h"
#include "eddy/result.h"
#include "eddy/status.h"

namespace eddy {

struct IngestReply {
  // OK (some events may still be rejected), or the reason nothing was taken:
  // InvalidArgument = malformed body (400), TooLarge (413), ResourceExhausted = log full
  // (429), Unavailable = stopping (503).
  Status status;
  uint32_t accepted = 0;    // events appended (including duplicates)
  uint32_t duplicates = 0;  // accepted events whose eventId was already seen
  std::vector<Rejection> rejected;
  int64_t error_offset = -1;  // byte offset of a malformed body's syntax error
};

using IngestCallback = std::function<void(IngestReply)>;

struct RecentItem {
  std::string item;
  EventTime time;  // time of the user's last touch of the item
};

struct TrendingCategory {
  std::string category;
  double score = 0;          // sum of event weights in the window
  int64_t events = 0;        // events in the window
  int64_t this_minute = 0;   // events in now's minute
  int64_t previous_minute = 0;
};

struct TrendingAnswer {
  int64_t window_minutes = 0;
  EventTime now;  // the engine clock the answer was computed at
  std::vector<TrendingCategory> top;
};

struct VelocityAnswer {
  EventTime now;
  std::vector<int64_t> per_minute;  // events per minute, oldest first, ending at now's minute
};

struct EngagementAnswer {
  EventTime now;
  // The category and unit price of the item's latest event (event time) carrying them;
  // empty / nullopt when no event had one.
  std::string category;
  std::optional<int64_t> price_micros;
  // The event times they come from (INT64_MIN: none): what a cluster's merge picks by.
  int64_t category_ms = INT64_MIN, price_ms = INT64_MIN;
  std::array<int64_t, kEventTypeCount> all_time{};               // by EventType
  std::vector<std::array<int64_t, kEventTypeCount>> per_window;  // by window, by EventType
};

// A name with a decayed score (popular items, affinity categories).
struct ScoredName {
  std::string name;
  double score = 0;
};

struct PopularAnswer {
  EventTime now;
  std::vector<ScoredName> top;  // items, best first; ties by name
};

struct AffinityAnswer {
  EventTime now;
  std::vector<ScoredName> top;  // categories, best first; ties by name
};

struct SimilarItem {
  std::string item;
  uint64_t count = 0;  // co-view pair count (an upper bound when error > 0)
  uint64_t error = 0;  // possible overcount from the bounded sketch (0 = exact)
};

struct SimilarAnswer {
  std::vector<SimilarItem> top;  // by count, best first; ties by name
};

// Request filters of the ranked reads on the item catalog: every attribute must be in the
// item's catalog record with that value (a number matches numerically), and no excluded
// item is ranked.
struct ItemFilter {
  std::vector<std::pair<std::string, std::string>> attributes;  // attr.<name>=<value>
  std::vector<std::string> exclude;
  bool empty() const { return attributes.empty() && exclude.empty(); }
};

// Settles a race between whoever answers a request and whoever gives up on it: the engine
// about to send an answer that has a side effect (a recommendation recorded as served under
// an experiment), and the server whose read deadline passed (it answers 503 instead). Only
// one of them wins, so an answer the client does not get is not recorded, and one it gets
// is. Thread-safe.
class AnswerClaim {
 public:
  using Clock = std::chrono::steady_clock;
  AnswerClaim() = default;
  // Given up on by itself from `deadline` on (a claim that crosses threads or nodes cannot
  // count on the server's sweep to run first).
  explicit AnswerClaim(Clock::time_point deadline) : deadline_(deadline) {}
  // The answering side: true when the answer goes out (it did, or this call settles it).
  bool Answer() {
    if (deadline_ != Clock::time_point::max() && Clock::now() >= deadline_) GiveUp();
    return Settle(kAnswered);
  }
  // The server: true when the request is given up (it was, or this call settles it); false
  // when its answer is on its way.
  bool GiveUp() { return Settle(kGivenUp); }
  Clock::time_point deadline() const { return deadline_; }

 private:
  enum : uint8_t { kOpen, kAnswered, kGivenUp };
  bool Settle(uint8_t to) {
    uint8_t was = kOpen;
    return state_.compare_exchange_strong(was, to, std::memory_order_acq_rel) || was == to;
  }
  std::atomic<uint8_t> state_{kOpen};
  Clock::time_point deadline_ = Clock::time_point::max();
};

// A recommendation request (SPEC §6.1). Prices in millionths of the currency unit.
struct RecommendRequest {
  std::string user;                     // may be unknown: cold start
  std::string variant;                  // forces this variant of the running experiment
                                        // (debugging; "" = the user's own bucket)
  uint32_t k = 10;
  std::string category;                 // only items of this category ("" = any)
  std::optional<int64_t> min_price_micros, max_price_micros;
  ItemFilter filter;
  // When set, the answer is recorded under a running experiment only if claim->Answer()
  // (the server may have given up on the request meanwhile); null: always recorded.
  std::shared_ptr<AnswerClaim> claim;
};

// One ranked item with its score breakdown (recommendations and ranked similar items).
struct RankedItem {
  std::string item;
  double score = 0;
  std::string category;                 // "" when no event named one
  std::optional<int64_t> price_micros;  // the item's last seen unit price
  std::string source;                   // candidate sources, e.g. "coview+popular"
  std::array<SignalBreakdown, kRankSignalCount> signals{};  // by RankSignal
  uint64_t coview_count = 0;            // co-view count (similar items: with the query item)
  uint64_t coview_error = 0;            // its possible overcount (SimilarAnswer::error)
};

struct RecommendAnswer {
  EventTime now;
  std::vector<RankedItem> items;  // best first; ties by item name
  std::string recomm_id;          // this answer's id (unique per answer)
  std::string experiment, variant;  // the running experiment and the user's variant, if any
  Status status;  // cluster mode: not ok when a node's part could not be had (answer 503)
};

// Similar items ranked by the scorer: co-view neighbours first, then popular items of the
// item's category as the fallback.
struct RankedSimilarAnswer {
  std::string category;  // the query item's
  std::vector<RankedItem> items;
  std::string recomm_id;  // this answer's id (unique per answer)
  Status status;          // as RecommendAnswer's
};

struct Offer {
  std::string offer_id;
  std::string category;
  double priority = 0;
};

struct RankedOffer {
  std::string offer_id;
  std::string category;
  double score = 0;
  double priority = 0, trending = 0, affinity = 0, bandit = 0;
  double sample = 0;        // the Thompson sample θ of the conversion rate
  int trending_rank = -1;   // 0 = the top trending category; -1 = not among the best
  uint64_t views = 0, conversions = 0;
};

struct OffersAnswer {
  EventTime now;
  std::vector<RankedOffer> top;  // best first
  std::string recomm_id;            // this answer's id (unique per answer)
  std::string experiment, variant;  // the running experiment and the user's variant, if any
  Status status;                    // as RecommendAnswer's
};

// What a variant's answers brought (experiments/attribution.h): one shard's share, or
// the sum over shards.
struct ExperimentCounts {
  uint64_t served = 0;   // answers served
  uint64_t shown = 0;    // of them shown (an impression, served with impressions = "serve",
                         // or an outcome attributed to it)
  uint64_t clicked = 0;  // shown answers with at least one attributed click (or view)
  uint64_t carted = 0;   // ... add to cart
  uint64_t bought = 0;   // ... purchase line not cancelled
  uint64_t clicks = 0, carts = 0, purchases = 0;  // attributed events (purchases: lines)
  uint64_t cancelled = 0;  // purchase lines a cancel took back (or that came after it)
  uint64_t by_id = 0;      // attributions by an explicit recommId (the rest: last touch)
  int64_t revenue_micros = 0;
  // Σ over answers of (the answer's revenue in millionths)², saturating: for the variance
  // of revenue per shown answer. An integer, so that any order of adding (shards, the
  // interleaving of a shard's partitions) gives the same sum.
  __int128 revenue_sq = 0;
  void Add(const ExperimentCounts& o);
  bool operator==(const ExperimentCounts&) const = default;
};

// A proportion of shown answers with its 95% Wilson score interval.
struct Proportion {
  double rate = 0, low = 0, high = 0;
};

struct VariantReport {
  std::string name;
  double share = 0;       // configured
  double allocation = 0;  // the share new bucketing uses now (Thompson), else `share`
  ExperimentCounts counts;
  Proportion ctr, cart_rate, conversion;  // clicked, carted, bought / shown
  // Revenue per shown answer, with a 95% normal interval (mean ± 1.96 · s / √n).
  double revenue_per_impression = 0, rpi_low = 0, rpi_high = 0;
  // The posterior probability that this variant's rate is the highest (Beta(1 + x,
  // 1 + n − x) per variant, Monte Carlo with a fixed seed).
  double p_best_ctr = 0, p_best_conversion = 0;
};

// One Thompson reallocation: when, and each variant's share (in the report's order).
struct AllocationPoint {
  int64_t time_ms = 0;
  std::vector<double> shares;
};

struct ExperimentReport {
  std::string name;
  bool configured = false;  // in the config (else only its recorded answers remain)
  bool running = false;     // the enabled one
  std::string impressions, allocation, goal;  // as configured ("client", "fixed", "ctr")
  std::vector<VariantReport> variants;  // configured order, then recorded-only by name
  std::vector<AllocationPoint> allocations;  // oldest first (Thompson)
};

struct ReallocateAnswer {
  eddy::Status status;
  std::vector<std::pair<std::string, double>> shares;  // by variant, configured order
};

struct ExperimentsAnswer {
  EventTime now;
  std::vector<ExperimentReport> experiments;
  uint64_t unmatched = 0;  // impressions and events naming a recommId no remembered answer has
  Status status;  // cluster mode: not ok when a node's counts could not be had (answer 503)
};

// One session of a user (SPEC §3.8, commerce/sessions.h).
struct SessionSummary {
  std::string session_id;  // the producer's sessionId, or "auto-<start ms>" for one split by gaps
  bool from_producer = false;
  EventTime start, end;    // its first and last event time
  bool open = false;       // the engine clock is less than sessions.gap after its end
  std::array<uint32_t, kEventTypeCount> counts{};  // events by EventType
  std::vector<std::string> items;  // distinct items, earliest first touch first (capped)
  int64_t revenue_micros = 0;      // Σ price · quantity of its priced purchases
};

struct SessionsAnswer {
  EventTime now;
  std::vector<SessionSummary> sessions;  // newest start first
};

// Sessions started in the window that reached each funnel step (SPEC §3.8).
struct FunnelAnswer {
  EventTime now;
  int64_t window_minutes = 0;
  std::string category;  // "" = overall
  int64_t sessions = 0;  // sessions with an event (of the category)
  int64_t viewed = 0, carted = 0, purchased = 0;  // reached view, then cart, then purchase
};

// The figures of revenue windows (SPEC §3.9, commerce/revenue.h); amounts in millionths.
struct RevenueFigures {
  int64_t orders = 0, priced_orders = 0, units = 0, revenue_micros = 0;
  int64_t unpriced = 0, cancelled = 0, late = 0, late_revenue_micros = 0;

  void Add(const RevenueFigures& o) {
    orders += o.orders;
    priced_orders += o.priced_orders;
    units += o.units;
    revenue_micros += o.revenue_micros;
    unpriced += o.unpriced;
    cancelled += o.cancelled;
    late += o.late;
    late_revenue_micros += o.late_revenue_micros;
  }
  bool empty() const {
    return (orders | priced_orders | units | revenue_micros | unpriced | cancelled | late |
            late_revenue_micros) == 0;
  }
};

// One tumbling revenue window.
struct RevenueWindow : RevenueFigures {
  EventTime start, end;
};

struct RevenueRequest {
  int64_t window_minutes = 5;  // one of revenue.windows
  // Windows starting in [from, to); absent: `to` = the end of the engine clock's window,
  // `from` = 12 windows before `to`.
  std::optional<int64_t> from_ms, to_ms;
  std::string category;        // "" = overall
};

// The most windows one revenue answer lists (a longer range answers none).
inline constexpr int64_t kMaxRevenueWindows = 10'000;

struct RevenueAnswer {
  EventTime now;
  int64_t window_minutes = 0;
  std::string category;
  std::vector<RevenueWindow> windows;  // every window starting in [from, to), oldest first
  RevenueWindow total;                 // their sum (start/end: the range)
};

// An item's catalog record (commerce/catalog.h).
struct CatalogRecord {
  bool found = false;    // the catalog has a record (perhaps a tombstone)
  bool deleted = false;  // withdrawn by DELETE
  bool hidden = false;
  std::string category;  // "" = none
  std::optional<int64_t> price_micros, stock;
  std::optional<uint32_t> low_stock_threshold;
  std::string attributes;  // a JSON object ("{}" when none)
  EventTime updated;       // event time of the last change
};

// An item's stock (SPEC §3.12, commerce/inventory.h) as of the engine clock.
struct InventoryAnswer {
  EventTime now;
  bool found = false;             // inventory knows the item (a level or a sale)
  std::optional<int64_t> stock;   // none until an absolute level was given
  int64_t oversold = 0;           // units purchased beyond the stock, all time
  int64_t sold_in_window = 0;     // units sold (net of cancels) in the velocity window
  int64_t window_days = 0;
  double velocity = 0;            // units per day
  std::optional<double> days_of_cover;  // stock / velocity (none at velocity 0)
  std::optional<int64_t> reorder;       // units to cover lead time + safety days
  uint32_t threshold = 0;         // the low-stock threshold in force (0: none)
  bool low = false;               // stock < threshold
  EventTime updated;              // event time of the last change
};

// An item below its low-stock threshold.
struct LowStockItem {
  std::string item_id;
  int64_t stock = 0;
  uint32_t threshold = 0;
  EventTime since;  // event time it fell below
};
struct LowStockAnswer {
  EventTime now;
  std::vector<LowStockItem> items;  // lowest stock first (then by threshold, item id)
};

// A fired fraud reason and what it adds to the score (its configured weight).
struct FraudReasonScore {
  std::string code;  // "ip_burst", "new_user_high_value", "impossible_travel", "velocity",
                     // "instant_checkout"
  double contribution = 0;
};

// An alert (commerce/alerts.h): inventory and fraud ones; the anomaly kind later.
struct Alert {
  std::string id;     // "<kind>-<subject>-<time>-<n>": stable across restarts and replays
  std::string kind;   // "inventory", "fraud"
  std::string item_id;  // inventory
  std::string user_id;  // fraud
  std::string order_id; // fraud ("" for a purchase without orderId)
  EventTime time;     // event time of what raised it
  bool active = true;
  std::optional<EventTime> cleared;  // event time of what cleared it
  int64_t stock = 0;      // inventory: the stock when raised
  int64_t threshold = 0;  // inventory: the threshold it fell below
  double score = 0;       // fraud: the order's score when it reached...
  double score_threshold = 0;  // ...fraud.threshold
  std::vector<FraudReasonScore> reasons;  // fraud
  std::string priority;   // anomaly, insight: "high" or "critical"
  double order_value = 0, mean_value = 0;  // anomaly: the order's value, the customer's mean
  std::string segment_from, segment_to;    // insight: a segment migration
};
// A scored order (SPEC §3.10, src/fraud/fraud.h): score = min(1, Σ contributions).
struct FraudOrder {
  std::string order_id;   // "" for a purchase without orderId (an order of its own)
  std::string user_id;
  EventTime time;         // its first line's
  double value = 0;       // Σ price × quantity of its priced lines
  uint32_t lines = 0;
  double score = 0;
  bool alerted = false;   // reached fraud.threshold: one fraud alert was raised
  std::vector<FraudReasonScore> reasons;  // the fired ones, in code order
  uint32_t ip_orders = 0;    // orders from its IP within fraud.ip_window (0: no ip given)
  uint32_t user_orders = 0;  // the user's orders within fraud.velocity_window, itself included
  bool new_user = false;     // the user was new at its first line
};
struct OrderFraudAnswer {
  bool found = false;  // listed under a user fraud still tracks (fraud.orders_per_user)
  FraudOrder order;
};
struct UserFraudAnswer {
  bool found = false;            // the user is tracked (fraud.max_users)
  bool bot = false;              // above fraud.bot_events_per_second or _per_minute once
  bool flagged = false;          // one of their orders raised a fraud alert
  std::optional<EventTime> marked;  // the event that first marked them (bot or flagged)
  uint32_t orders = 0;           // orders seen
  std::optional<EventTime> first_seen;
  std::vector<FraudOrder> recent;  // newest first
};

// One customer insight (SPEC §3.11, src/insights/insights.h).
struct CustomerInsight {
  std::string type;      // "spending_anomaly", "segment_migration", "consumption_prediction"
  std::string priority;  // "low", "medium", "high", "critical"
  EventTime time;        // of the event that raised it (a prediction: the latest order)
  // spending_anomaly
  std::string order_id;
  double value = 0, mean = 0, deviation_percent = 0;  // below the mean: negative
  // segment_migration
  std::string from, to, source;  // source "rules" (insights.segments) or "producer"
  // consumption_prediction (per category)
  std::string category;
  EventTime next_purchase;
  double interval_days = 0, confidence = 0;
  uint32_t purchases = 0;  // orders in the category the prediction is made from
};
struct InsightsAnswer {
  EventTime now;
  bool found = false;             // a customer (a purchase or a segment update seen)
  std::string segment;            // by insights.segments at now ("": none)
  std::string producer_segment;   // the producer's last segment_update ("": none)
  uint32_t orders = 0;
  double spend = 0;
  std::optional<EventTime> last_purchase;
  std::vector<CustomerInsight> insights;  // newest first
};

// The alert kinds GET /v1/alerts knows (SPEC §2; "insight": customer insights other than
// spending anomalies).
inline constexpr std::array<std::string_view, 4> kAlertKinds = {"inventory", "fraud", "anomaly",
                                                                "insight"};
struct AlertsRequest {
  std::string kind;              // "" = every kind
  int64_t since_ms = INT64_MIN;  // raised at or after
  uint32_t k = 100;
};
struct AlertsAnswer {
  std::vector<Alert> alerts;  // newest first (event time; then last raised first)
};
// Receives each alert as it is raised or cleared, on a shard thread (one Alert shared by
// every listener); must only hand it over (no blocking, no formatting there).
using AlertListener = std::function<void(std::shared_ptr<const Alert>)>;

// One aggregate's memory, summed over shards (figures published about once a second).
struct AggregateMemory {
  std::string aggregate;
  uint64_t keys = 0;     // tracked users / items / categories / ids
  uint64_t bytes = 0;    // estimate of the heap it holds
  uint64_t evicted = 0;  // keys forgotten by its cap since start
};

struct PartitionStatus {
  uint32_t partition = 0;
  int shard = 0;
  uint64_t head = 0;     // next offset to be written
  uint64_t applied = 0;  // offsets below this are applied by the owning shard
  uint64_t durable = 0;  // offsets below this are in the event store (0 without one)
};

// The RocksDB event store (SPEC §4); all zero when the engine runs without a data_dir.
// A latency histogram at one moment (Prometheus' shape): `cumulative[i]` observations
// took at most `upper_bounds_seconds[i]`; `count` of them in all (the +Inf bucket).
struct HistogramSnapshot {
  std::vector<double> upper_bounds_seconds;
  std::vector<uint64_t> cumulative;
  uint64_t count = 0;
  double sum_seconds = 0;
};

struct StoreStatus {
  bool enabled = false;
  bool failing = false;       // the last group commit failed; ingest answers 503
  std::string last_error;     // of the last failed commit, if any
  uint64_t persisted_events = 0, batches = 0, syncs = 0, bytes = 0;
  uint64_t wal_bytes = 0, wal_syncs = 0, live_sst_bytes = 0, memtable_bytes = 0;
  uint64_t estimated_keys = 0, pending_compaction_bytes = 0, stall_micros = 0;
  uint64_t recovered_events = 0;  // replayed from the store at start-up
  double recovery_seconds = 0;
  uint64_t recovered_from_checkpoint = 0;  // its sequence; 0 = full replay
  uint64_t checkpoints_taken = 0, checkpoint_failures = 0;
  uint64_t last_checkpoint = 0, last_checkpoint_bytes = 0;  // sequence, file size
  double last_checkpoint_ms = 0;        // to take and write it
  double last_checkpoint_pause_ms = 0;  // the longest any shard stopped applying for it
  uint64_t retention_deleted = 0;       // log offsets deleted by retention since start
  HistogramSnapshot commit_latency;     // the group commits' write (+ sync) time
};

// Interned strings of one kind (users, items, ...) and their recycling.
struct IdKindStatus {
  std::string kind;
  uint64_t live = 0;   // ids held now
  uint64_t freed = 0;  // ids recycled since start
};

struct IdStatus {
  std::vector<IdKindStatus> kinds;
  uint64_t sweeps = 0;  // sweeps finished since start
  double last_sweep_ms = 0;
};

struct ShardStatus {
  int shard = 0;
  uint64_t applied_events = 0;  // events (not skips) applied since start
  uint64_t lag_events = 0;      // published but not yet applied, over its partitions
};

// Cluster mode (issue 20; docs/scale-out.md): this node's view.
struct ClusterStatus {
  bool enabled = false;
  std::string node;
  std::vector<std::string> live_nodes;  // heartbeats seen (this node included)
  std::vector<uint32_t> owned;          // partitions this node applies
  std::vector<std::string> owners;      // per partition: its owner ("" none)
  uint64_t feed_errors = 0;             // messages or events that could not be decoded
  uint64_t checkpoints_saved = 0;       // partition checkpoints this node stored in JetStream
  uint64_t checkpoints_loaded = 0;      // partitions it started from a checkpoint
  uint64_t checkpoint_errors = 0;       // checkpoints not stored, or not usable when loading
};

// One node's answer to a read sent to it (Engine::ClusterRead).
struct NodeAnswer {
  Status status;                  // the request failed (node gone, timed out, partition moved)
  std::string node;
  std::vector<uint32_t> covered;  // the partitions the answer covers
  std::string response;           // the HTTP response the node gave, as bytes
};
// Cluster mode, inside the engine: sends a part request (engine/recommender.h,
// engine/experiment_service.h) to every node and hands back their answers.
using ClusterGather =
    std::function<void(std::string request, std::function<void(std::vector<NodeAnswer>)> done)>;
// Answers a read another node sent (the bytes of an HTTP request) with the bytes of the
// HTTP response, exactly once, from any thread.
using ClusterReadHandler =
    std::function<void(std::string request, std::function<void(std::string response)> reply)>;

struct StreamStatus {
  ClusterStatus cluster;
  uint32_t partitions = 0;
  int shards = 0;
  uint32_t capacity_per_partition = 0;
  uint64_t accepted_total = 0;
  std::vector<std::pair<std::string, uint64_t>> accepted_by_type;  // interactions, in type order
  uint64_t duplicates_total = 0;
  // Events of marked bots and fraud-flagged users kept out of trending, velocity,
  // popularity and co-view (fraud.filter_bots), since start (recovery's replay included).
  uint64_t filtered_total = 0;
  double events_per_second_10s = 0;  // applied events/s over the last 10 whole seconds
  uint64_t popular_full_scans = 0;   // popular-item reads whose threshold test fell back
  // Experiment records (answers served under an experiment, reallocations) that could not
  // be appended (a full partition, a failing store): those answers go unattributed.
  uint64_t experiment_records_dropped = 0;
  // Ingest → visible: from an ingest call publishing its events to the owning shard
  // having applied them (readable), sampled: at most one event per partition in flight.
  HistogramSnapshot freshness;
  // Alerts raised and cleared since start, by kind (AlertsRequest's kinds).
  std::vector<std::pair<std::string, uint64_t>> alerts_raised, alerts_cleared;
  std::vector<PartitionStatus> partition;
  std::vector<ShardStatus> shard;
  std::vector<AggregateMemory> memory;
  IdStatus ids;
  StoreStatus store;
};

// Per-thread decoding state (parser, scratch buffers, intern caches). Create one per
// I/O thread with Engine::NewIngestContext(); never share one between threads.
class IngestContext {
 public:
  virtual ~IngestContext() = default;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const Options& options,
                                              Clock* clock = Clock::System());
  virtual ~Engine() = default;

  virtual std::unique_ptr<IngestContext> NewIngestContext() = 0;

  // The threads that apply the log (runtime.shards of them) can each host an event loop
  // (server.io_threads = 0: the HTTP server's I/O runs on them, one thread per core).
  // 0: this engine has none to lend.
  virtual size_t LoopThreads() const { return 0; }
  // Runs `loop` on apply thread `thread` (< LoopThreads()) between its slices of applying,
  // or with nullptr stops; returns once that thread took the change. After Stop() no loop
  // is run: its owner must run it elsewhere or stop it. Not from an apply thread.
  virtual void HostLoop(size_t thread, EventLoop* loop) { (void)thread, (void)loop; }

  // Decodes and validates `body`, appends the good events to the log and calls `done` once
  // they reached the configured ack level (and, for events with an eventId, once their
  // duplicate status is known). May grow `body`'s capacity (simdjson needs padding).
  virtual void Ingest(IngestContext& ctx, std::string& body, BodyFormat format,
                      DefaultType default_type, IngestCallback done) = 0;

  // Blocking convenience for tests, benches and tools. Not from a shard thread or a read's
  // callback: a reply may wait for the apply (eventIds; ack memory with a partition filling).
  IngestReply IngestSync(IngestContext& ctx, std::string body,
                         BodyFormat format = BodyFormat::kAuto,
                         DefaultType default_type = DefaultType::kNone);

  // The user's last `k` distinct touched items, newest first (SPEC §3.6). Reflects every
  // event acknowledged before the call.
  virtual void RecentItems(std::string_view user, uint32_t k,
                           std::function<void(std::vector<RecentItem>)> done) = 0;
  std::vector<RecentItem> RecentItemsSync(std::string_view user, uint32_t k);

  // Top-k categories by weighted event count in window `window` (an index into
  // options().windows.minutes), SPEC §3.1; ties broken by category name.
  virtual void TrendingCategories(size_t window, uint32_t k,
                                  std::function<void(TrendingAnswer)> done) = 0;
  TrendingAnswer TrendingCategoriesSync(size_t window, uint32_t k);

  // Events of `category` per minute for the last `minutes` minutes, SPEC §3.2.
  virtual void CategoryVelocity(std::string_view category, uint32_t minutes,
                                std::function<void(VelocityAnswer)> done) = 0;
  VelocityAnswer CategoryVelocitySync(std::string_view category, uint32_t minutes);

  // Counts per event type of one item, all-time and per window, SPEC §3.3.
  virtual void ItemEngagement(std::string_view item,
                              std::function<void(EngagementAnswer)> done) = 0;
  EngagementAnswer ItemEngagementSync(std::string_view item);

  // Top-k items by decayed popularity at the engine clock (SPEC §3.4), over all items or,
  // when `category` is not empty, over that category's events.
  virtual void PopularItems(std::string_view category, uint32_t k,
                            std::function<void(PopularAnswer)> done) = 0;
  PopularAnswer PopularItemsSync(std::string_view category, uint32_t k);

  // The user's top-k categories by decayed affinity (SPEC §3.5).
  virtual void UserAffinity(std::string_view user, uint32_t k,
                            std::function<void(AffinityAnswer)> done) = 0;
  AffinityAnswer UserAffinitySync(std::string_view user, uint32_t k);

  // The item's top-k co-view neighbours (SPEC §3.7).
  virtual void SimilarItems(std::string_view item, uint32_t k,
                            std::function<void(SimilarAnswer)> done) = 0;
  SimilarAnswer SimilarItemsSync(std::string_view item, uint32_t k);

  // The item's catalog record, as of every change acknowledged before the call.
  virtual void ItemCatalog(std::string_view item, std::function<void(CatalogRecord)> done) = 0;
  CatalogRecord ItemCatalogSync(std::string_view item);

  // The user's `k` newest sessions (SPEC §3.8), the open one included.
  virtual void UserSessions(std::string_view user, uint32_t k,
                            std::function<void(SessionsAnswer)> done) = 0;
  SessionsAnswer UserSessionsSync(std::string_view user, uint32_t k);

  // The view → add_to_cart → purchase funnel of sessions started in the last
  // `window_minutes` (at most sessions.funnel_retention), overall or of one category.
  virtual void Funnel(int64_t window_minutes, std::string_view category,
                      std::function<void(FunnelAnswer)> done) = 0;
  FunnelAnswer FunnelSync(int64_t window_minutes, std::string_view category);

  // Revenue windows (SPEC §3.9). `request.window_minutes` must be one of revenue.windows
  // (else the answer has window_minutes 0 and no windows).
  virtual void Revenue(const RevenueRequest& request, std::function<void(RevenueAnswer)> done) = 0;
  RevenueAnswer RevenueSync(const RevenueRequest& request);

  // The item's stock, velocity, days of cover and reorder suggestion (SPEC §3.12).
  virtual void ItemInventory(std::string_view item, std::function<void(InventoryAnswer)> done) = 0;
  InventoryAnswer ItemInventorySync(std::string_view item);
  // Up to `k` items below their low-stock threshold.
  virtual void LowStock(uint32_t k, std::function<void(LowStockAnswer)> done) = 0;
  LowStockAnswer LowStockSync(uint32_t k);
  // Fraud (SPEC §3.10): one order's score, and a user's marks and latest scored orders.
  virtual void OrderFraud(std::string_view order, std::function<void(OrderFraudAnswer)> done) = 0;
  OrderFraudAnswer OrderFraudSync(std::string_view order);
  virtual void UserFraud(std::string_view user, uint32_t k,
                         std::function<void(UserFraudAnswer)> done) = 0;
  UserFraudAnswer UserFraudSync(std::string_view user, uint32_t k);

  // Customer insights raised in the last `hours` (0: all kept), newest first (SPEC §3.11).
  virtual void UserInsights(std::string_view user, int64_t hours,
                            std::function<void(InsightsAnswer)> done) = 0;
  InsightsAnswer UserInsightsSync(std::string_view user, int64_t hours);

  // Alerts kept (alerts.max_kept), newest first.
  virtual void Alerts(const AlertsRequest& request, std::function<void(AlertsAnswer)> done) = 0;
  AlertsAnswer AlertsSync(const AlertsRequest& request);
  // Calls `listener` with every alert raised or cleared from now on (the SSE feed);
  // returns a handle for UnsubscribeAlerts, after which the listener is never called.
  virtual uint64_t SubscribeAlerts(AlertListener listener) = 0;
  virtual void UnsubscribeAlerts(uint64_t handle) = 0;

  // Recommendations for a user (SPEC §6.1), computed fresh on the user's shard with item
  // signals gathered from every shard. k is capped by ranking.max_k.
  virtual void Recommend(const RecommendRequest& request,
                         std::function<void(RecommendAnswer)> done) = 0;
  RecommendAnswer RecommendSync(const RecommendRequest& request);

  // The item's co-view neighbours, ranked by the scorer, then its category's popular items.
  virtual void SimilarItemsRanked(std::string_view item, uint32_t k, ItemFilter filter,
                                  std::function<void(RankedSimilarAnswer)> done) = 0;
  RankedSimilarAnswer SimilarItemsRankedSync(std::string_view item, uint32_t k,
                                             ItemFilter filter = {});

  // The offer decision engine (SPEC §6.3): the top k of `offers` for `user`.
  virtual void RankOffers(std::string_view user, std::vector<Offer> offers, uint32_t k,
                          std::function<void(OffersAnswer)> done) = 0;
  OffersAnswer RankOffersSync(std::string_view user, std::vector<Offer> offers, uint32_t k);

  // The experiments (issue 19): every configured one and every one with recorded answers
  // (`name` non-empty: that one only; none: an empty list).
  virtual void Experiments(std::string_view name, std::function<void(ExperimentsAnswer)> done) = 0;
  ExperimentsAnswer ExperimentsSync(std::string_view name);
  // Redraws the running experiment's Thompson shares now (it must be `name` and have
  // allocation = "thompson"), recording the reallocation.
  virtual void Reallocate(std::string_view name, std::function<void(ReallocateAnswer)> done) = 0;
  ReallocateAnswer ReallocateSync(std::string_view name);

  // New ranking and offer settings for the ranked reads that start from now on (reload);
  // ranking.bought_items (a state's cap) keeps its value from start.
  // `experiments` ([[experiments]], each variant resolved over `ranking`) start, stop or
  // change with them.
  virtual void SetRanking(const RankingOptions& ranking, const OfferOptions& offers,
                          const std::vector<Experiment>& experiments) = 0;
  // The experiments in force (the config's, or the last reload's).
  virtual std::shared_ptr<const std::vector<Experiment>> ExperimentsInForce() const = 0;
  // New fraud and insight thresholds for the events applied from now on (reload): the
  // threshold, weights and rules' figures; enabled, the IP window, the segments and the
  // caps keep their values from start.
  virtual void SetThresholds(const FraudOptions& fraud, const InsightOptions& insights) = 0;

  // Whether a read may be queued now: ResourceExhausted, naming the shard and the cap,
  // when a shard's queue of waiting reads is at runtime.max_queued_reads (HTTP answers 429
  // with Retry-After). Reads called without asking are never refused.
  virtual eddy::Status AdmitRead() const = 0;

  virtual StreamStatus Status() const = 0;

  // Writes a checkpoint of the aggregate state now (also done periodically and on Stop);
  // Unavailable without a data_dir.
  virtual eddy::Status TakeCheckpoint() = 0;
  // The same on the engine's checkpoint thread; `done` gets the outcome and the new
  // checkpoint's sequence number (from that thread).
  virtual void RequestCheckpoint(std::function<void(eddy::Status, uint64_t)> done) = 0;

  // Recycles now the interned ids no state references any more (a background sweep does it
  // as runtime.id_sweep_after says): the ids freed, or why the sweep gave up.
  virtual Result<uint64_t> RecycleIdsNow() = 0;

  // Tests only: makes the event store's writes fail (as a full disk would) until cleared.
  virtual void FailStoreWritesForTest(bool fail) = 0;

  // Ready to serve (recovery done, not stopping).
  virtual bool Ready() const = 0;

  // Refuses new ingests (Unavailable), applies everything already accepted, joins the
  // shard threads. Idempotent; the destructor calls it.
  virtual void Stop() = 0;

  virtual const Options& options() const = 0;

  // Cluster mode (docs/scale-out.md); a standalone engine is not clustered.
  virtual bool Clustered() const { return false; }
  // The partition a user's (or an item's) events live in.
  virtual uint32_t PartitionOfKey(std::string_view key) const = 0;
  // Sends a read (the bytes of an HTTP request) to the node owning `partition`, or with -1
  // to every live node, after raising every node's clock to the newest one; each answers
  // from its own partitions once it has applied every event JetStream holds for them.
  // done(answers) once: one per node asked, or one failed answer when a partition has no
  // owner or (partition -1) the answers do not cover every partition.
  virtual void ClusterRead(int64_t partition, std::string request,
                           std::function<void(std::vector<NodeAnswer>)> done) {
    (void)partition, (void)request;
    done({NodeAnswer{eddy::Status::Unavailable("not a cluster node"), {}, {}, {}}});
  }
  // How this node answers the reads other nodes send it; set before reads arrive.
  virtual void ServeClusterReads(ClusterReadHandler handler) { (void)handler; }
};

}  // namespace eddy
