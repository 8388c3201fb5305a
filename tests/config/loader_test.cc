#include "config/loader.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "testutil/testutil.h"

namespace eddy {
namespace {

std::string ErrorOf(std::string_view toml) {
  Result<Options> r = ParseOptions(toml, "t.toml");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(ConfigTest, ShippedDefaultConfigMatchesBuiltInDefaults) {
  ConfigSources src;
  src.file = std::string(EDDY_SOURCE_DIR) + "/config/eddy.toml";
  src.use_env = false;
  Result<Options> r = LoadOptions(src);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Options d;
  EXPECT_EQ(r->server.port, d.server.port);
  EXPECT_EQ(r->server.host, d.server.host);
  EXPECT_EQ(r->server.io_threads, d.server.io_threads);
  EXPECT_EQ(r->server.body_limit_bytes, d.server.body_limit_bytes);
  EXPECT_EQ(r->log.partitions, d.log.partitions);
  EXPECT_EQ(r->log.capacity_per_partition, 32768u);
  EXPECT_EQ(r->ingest.max_future_skew_ms, d.ingest.max_future_skew_ms);
  EXPECT_EQ(r->ingest.dedup_horizon_ms, d.ingest.dedup_horizon_ms);
  EXPECT_EQ(r->recent.max_items, d.recent.max_items);
  EXPECT_EQ(r->weights, d.weights);
  EXPECT_EQ(r->fraud.threshold, d.fraud.threshold);
  EXPECT_EQ(r->fraud.weight_ip_burst, d.fraud.weight_ip_burst);
  EXPECT_EQ(r->fraud.ip_orders, d.fraud.ip_orders);
  EXPECT_EQ(r->fraud.ip_window_minutes, d.fraud.ip_window_minutes);
  EXPECT_EQ(r->fraud.high_value, d.fraud.high_value);
  EXPECT_EQ(r->fraud.new_user_minutes, d.fraud.new_user_minutes);
  EXPECT_EQ(r->fraud.travel_minutes, d.fraud.travel_minutes);
  EXPECT_EQ(r->fraud.velocity_orders, d.fraud.velocity_orders);
  EXPECT_EQ(r->fraud.velocity_window_minutes, d.fraud.velocity_window_minutes);
  EXPECT_EQ(r->fraud.instant_checkout_s, d.fraud.instant_checkout_s);
  EXPECT_EQ(r->fraud.filter_bots, d.fraud.filter_bots);
  EXPECT_EQ(r->fraud.bot_events_per_second, d.fraud.bot_events_per_second);
  EXPECT_EQ(r->fraud.bot_events_per_minute, d.fraud.bot_events_per_minute);
  EXPECT_EQ(r->fraud.orders_per_user, d.fraud.orders_per_user);
  EXPECT_EQ(r->insights.anomaly_percent, d.insights.anomaly_percent);
  EXPECT_EQ(r->insights.anomaly_min_orders, d.insights.anomaly_min_orders);
  EXPECT_EQ(r->insights.anomaly_high_percent, d.insights.anomaly_high_percent);
  EXPECT_EQ(r->insights.anomaly_critical_percent, d.insights.anomaly_critical_percent);
  EXPECT_EQ(r->insights.prediction_min_purchases, d.insights.prediction_min_purchases);
  EXPECT_EQ(r->insights.prediction_medium_confidence, d.insights.prediction_medium_confidence);
  ASSERT_EQ(r->insights.segments.size(), d.insights.segments.size());
  for (size_t i = 0; i < d.insights.segments.size(); ++i) {
    const SegmentRule &a = r->insights.segments[i], &b = d.insights.segments[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.min_orders, b.min_orders) << a.name;
    EXPECT_EQ(a.max_orders, b.max_orders) << a.name;
    EXPECT_EQ(a.min_recency_ms, b.min_recency_ms) << a.name;
    EXPECT_EQ(a.max_recency_ms, b.max_recency_ms) << a.name;
    EXPECT_EQ(a.min_spend_micros, b.min_spend_micros) << a.name;
    EXPECT_EQ(a.max_spend_micros, b.max_spend_micros) << a.name;
    EXPECT_EQ(a.priority, b.priority) << a.name;
  }
  EXPECT_EQ(r->sessions.enabled, d.sessions.enabled);
  EXPECT_EQ(r->sessions.gap_ms, d.sessions.gap_ms);
  EXPECT_EQ(r->sessions.max_per_user, d.sessions.max_per_user);
  EXPECT_EQ(r->sessions.max_items, d.sessions.max_items);
  EXPECT_EQ(r->sessions.max_categories, d.sessions.max_categories);
  EXPECT_EQ(r->sessions.max_users, d.sessions.max_users);
  EXPECT_EQ(r->sessions.funnel_retention_minutes, d.sessions.funnel_retention_minutes);
  EXPECT_EQ(r->revenue.enabled, d.revenue.enabled);
  EXPECT_EQ(r->revenue.window_minutes, d.revenue.window_minutes);
  EXPECT_EQ(r->revenue.lateness_ms, d.revenue.lateness_ms);
  EXPECT_EQ(r->revenue.retention_minutes, d.revenue.retention_minutes);
  EXPECT_EQ(r->revenue.max_orders, d.revenue.max_orders);
  EXPECT_EQ(r->catalog.max_items, d.catalog.max_items);
  EXPECT_EQ(r->inventory.enabled, d.inventory.enabled);
  EXPECT_EQ(r->inventory.velocity_window_minutes, d.inventory.velocity_window_minutes);
  EXPECT_EQ(r->inventory.lead_time_days, d.inventory.lead_time_days);
  EXPECT_EQ(r->inventory.safety_days, d.inventory.safety_days);
  EXPECT_EQ(r->inventory.default_threshold, d.inventory.default_threshold);
  EXPECT_EQ(r->inventory.max_items, d.inventory.max_items);
  EXPECT_EQ(r->inventory.max_orders, d.inventory.max_orders);
  EXPECT_EQ(r->alerts.max_kept, d.alerts.max_kept);
  EXPECT_EQ(r->ranking.exclude_out_of_stock, d.ranking.exclude_out_of_stock);
  EXPECT_EQ(r->durability.data_dir, "./data");
  EXPECT_EQ(r->durability.ack, AckLevel::kWal);
  EXPECT_EQ(r->durability.background_priority, BackgroundPriority::kIdle);
  EXPECT_EQ(r->durability.commit_delay_us, 1000);
}

TEST(ConfigTest, ParsesValues) {
  Result<Options> r = ParseOptions(R"(
[server]
port = 9090
host = "0.0.0.0"
[log]
partitions = 8
[weights]
view = 2.5
[ingest]
max_future_skew_s = 60
[auth]
allow_unauthenticated = true
)",
                                   "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server.port, 9090);
  EXPECT_EQ(r->server.host, "0.0.0.0");
  EXPECT_EQ(r->log.partitions, 8u);
  EXPECT_DOUBLE_EQ(r->weights[static_cast<size_t>(EventType::kView)], 2.5);
  EXPECT_EQ(r->ingest.max_future_skew_ms, 60'000);
}

// Segment rules: bounds from each condition (strict ones shifted by one unit), the
// priority, and a clear error naming the rule for each kind of mistake.
TEST(ConfigTest, SegmentRulesParseAndBadOnesAreNamed) {
  Result<Options> r = ParseOptions(
      "[insights]\nsegments = [\"VIP: orders > 9, spend >= 1000.5, recency < 2d; priority = critical\", "
      "\"Rest\"]\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->insights.segments.size(), 2u);
  const SegmentRule& vip = r->insights.segments[0];
  EXPECT_EQ(vip.name, "VIP");
  EXPECT_EQ(vip.min_orders, 10);
  EXPECT_EQ(vip.max_orders, INT64_MAX);
  EXPECT_EQ(vip.min_spend_micros, 1'000'500'000);
  EXPECT_EQ(vip.max_recency_ms, 2 * 86'400'000 - 1);
  EXPECT_EQ(vip.priority, InsightPriority::kCritical);
  EXPECT_EQ(r->insights.segments[1].name, "Rest");
  EXPECT_EQ(r->insights.segments[1].priority, InsightPriority::kLow);
  const std::string base = "[insights]\nsegments = [\"";
  EXPECT_NE(ErrorOf(base + "X: visits >= 2\"]").find("unknown measure \"visits\""), std::string::npos);
  EXPECT_NE(ErrorOf(base + "X: orders = 2\"]").find("needs >=, <=, > or <"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "X: recency <= 30 days\"]").find("recency takes a duration"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "X; priority = urgent\"]").find("priority is low, medium, high or critical"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + ": orders >= 1\"]").find("needs a name"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "A\", \"A\"]").find("named twice"), std::string::npos);
  EXPECT_NE(ErrorOf("[insights]\nsegments = \"A\"\n").find("expected a list of strings"),
            std::string::npos);
}

TEST(ConfigTest, UnknownKeyNamesKeyAndKnownKeys) {
  EXPECT_EQ(ErrorOf("[server]\nprot = 1\n"),
            "config t.toml: unknown key 'server.prot' (known keys in [server]: host, port, "
            "io_threads, body_limit_bytes, read_timeout_ms, write_timeout_ms, retry_after_s, "
            "drain_timeout_ms, max_connections, read_deadline_ms, metrics, cors_origins, access_log)");
}

TEST(ConfigTest, AuthKeysLimitsAndCors) {
  const std::string hash(64, 'a');
  Result<Options> r = ParseOptions(R"(
[server]
cors_origins = ["https://shop.example", "http://localhost:3000"]
[auth]
enabled = true
keys = ["shop:ingest,read:)" + hash + R"(", "ops:admin:)" + std::string(64, 'B') + R"("]
jwt_secret = "0123456789abcdef0123456789abcdef"
[limits]
ingest_events_per_second = 5000
reads_per_second = 100
)",
                                   "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->auth.keys.size(), 2u);
  EXPECT_EQ(r->auth.keys[0].id, "shop");
  EXPECT_EQ(r->auth.keys[0].scopes, kScopeIngest | kScopeRead);
  EXPECT_EQ(r->auth.keys[0].sha256, hash);
  EXPECT_EQ(r->auth.keys[1].scopes, kScopeAdmin);
  EXPECT_EQ(r->auth.keys[1].sha256, std::string(64, 'b'));  // stored lowercase
  EXPECT_EQ(r->server.cors_origins.size(), 2u);
  EXPECT_DOUBLE_EQ(r->limits.ingest_events_per_second, 5000);

  EXPECT_NE(ErrorOf("[auth]\nkeys = [\"shop:read:secret\"]\n").find("never the key itself"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[auth]\nkeys = [\"shop:write:" + hash + "\"]\n").find("unknown scope \"write\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("[auth]\nkeys = [\"a:read:" + hash + "\", \"b:read:" + hash + "\"]\n")
                .find("the same hash"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[auth]\nenabled = true\n").find("needs auth.keys or auth.jwt_secret"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[auth]\njwt_secret = \"short\"\n").find("at least 32"), std::string::npos);
  EXPECT_NE(ErrorOf("[server]\ncors_origins = [\"shop.example\"]\n").find("is not an origin"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[webhooks]\nurls = [\"https://hooks.example/x\"]\n").find("https is not supported"),
            std::string::npos);
  EXPECT_TRUE(ParseOptions("[webhooks]\nurls = [\"http://127.0.0.1:9000/hook\"]\n", "t.toml").ok());
  // Beyond loopback without auth: refused unless said explicitly.
  EXPECT_NE(ErrorOf("[server]\nhost = \"10.0.0.5\"\n").find("auth.allow_unauthenticated"),
            std::string::npos);
  EXPECT_TRUE(ParseOptions("[server]\nhost = \"::1\"\n", "t.toml").ok());
}

TEST(ConfigTest, UnknownSection) {
  EXPECT_NE(ErrorOf("[srv]\nport = 1\n").find("unknown section [srv] (known sections: server"),
            std::string::npos);
}

TEST(ConfigTest, WrongTypeNamesKeyAndAllowedValues) {
  EXPECT_EQ(ErrorOf("[server]\nport = \"80\"\n"),
            "config t.toml: server.port: expected an integer in [0, 65535], got \"80\"");
  EXPECT_EQ(ErrorOf("[weights]\nview = \"heavy\"\n"),
            "config t.toml: weights.view: expected a number in [0, 1000], got \"heavy\"");
  EXPECT_EQ(ErrorOf("[server]\nhost = 5\n"),
            "config t.toml: server.host: expected a string, got 5");
}

TEST(ConfigTest, OutOfRangeNamesKey) {
  EXPECT_EQ(ErrorOf("[server]\nport = 70000\n"),
            "config t.toml: server.port: expected an integer in [0, 65535], got 70000");
  EXPECT_EQ(ErrorOf("[log]\npartitions = 0\n"),
            "config t.toml: log.partitions: expected an integer in [1, 4096], got 0");
  EXPECT_EQ(ErrorOf("[logging]\nlevel = \"loud\"\n"),
            "config t.toml: logging.level: expected one of \"trace\", \"debug\", \"info\", "
            "\"warn\", \"error\", \"critical\", \"off\", got \"loud\"");
}

TEST(ConfigTest, AckLevelsNeedADataDirExceptMemory) {
  EXPECT_EQ(ErrorOf("[durability]\nack = \"fsync\"\ndata_dir = \"\"\n"),
            "config: durability.ack = \"fsync\" needs durability.data_dir (the event store "
            "lives there); set a directory, or ack = \"memory\" to run without a store");
  EXPECT_EQ(ErrorOf("[durability]\nack = \"sometimes\"\n"),
            "config t.toml: durability.ack: expected one of \"memory\", \"wal\", \"fsync\", "
            "got \"sometimes\"");
}

TEST(ConfigTest, CrossKeyShardsVsPartitions) {
  EXPECT_EQ(ErrorOf("[log]\npartitions = 2\n[runtime]\nshards = 4\n"),
            "config: runtime.shards (4) must not exceed log.partitions (2): a shard owns whole "
            "partitions");
}

TEST(ConfigTest, ClusterNamesAreSubjectTokens) {
  EXPECT_EQ(ErrorOf("[cluster]\nnode_id = \"eddy.a\"\n"),
            "config: cluster.node_id (\"eddy.a\") may hold only letters, digits, '-' and '_' (it "
            "names NATS subjects and JetStream streams)");
  EXPECT_EQ(ErrorOf("[cluster]\nstream = \"ev>\"\n"),
            "config: cluster.stream (\"ev>\") may hold only letters, digits, '-' and '_' (it "
            "names NATS subjects and JetStream streams)");
}

TEST(ConfigTest, SessionsAndRevenue) {
  Result<Options> r = ParseOptions(
      "[sessions]\ngap_s = 600\nmax_categories = 4\nfunnel_retention = \"2d\"\n"
      "[revenue]\nenabled = false\nwindows = [\"1h\", \"5m\"]\nlateness_s = 30\n"
      "retention = \"1d\"\n",
      "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sessions.gap_ms, 600'000);
  EXPECT_EQ(r->sessions.max_categories, 4u);
  EXPECT_EQ(r->sessions.funnel_retention_minutes, 2 * 1440);
  EXPECT_FALSE(r->revenue.enabled);
  EXPECT_EQ(r->revenue.window_minutes, (std::vector<int64_t>{5, 60}));
  EXPECT_EQ(r->revenue.lateness_ms, 30'000);
  EXPECT_EQ(r->revenue.retention_minutes, 1440);
  EXPECT_EQ(ErrorOf("[revenue]\nwindows = [\"1d\"]\nretention = \"1h\"\n"),
            "config: revenue.retention must be at least the longest revenue window");
  EXPECT_EQ(ErrorOf("[revenue]\nwindows = [\"1m\", \"2m\", \"3m\", \"4m\", \"5m\", "
                    "\"6m\", \"7m\", \"8m\", \"9m\"]\n"),
            "config: revenue.windows holds 9 sizes; at most 8");
  EXPECT_NE(ErrorOf("[sessions]\nmax_categories = 33\n").find("sessions.max_categories"),
            std::string::npos);
}

TEST(ConfigTest, InventoryAndAlerts) {
  Result<Options> r = ParseOptions(
      "[inventory]\nenabled = false\nvelocity_window = \"14d\"\nlead_time_days = 2.5\n"
      "safety_days = 1\ndefault_threshold = 4\nmax_items = 10\nmax_orders = 20\n"
      "[alerts]\nmax_kept = 50\n",
      "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->inventory.enabled);
  EXPECT_EQ(r->inventory.velocity_window_minutes, 14 * 1440);
  EXPECT_EQ(r->inventory.lead_time_days, 2.5);
  EXPECT_EQ(r->inventory.safety_days, 1.0);
  EXPECT_EQ(r->inventory.default_threshold, 4u);
  EXPECT_EQ(r->inventory.max_items, 10u);
  EXPECT_EQ(r->inventory.max_orders, 20u);
  EXPECT_EQ(r->alerts.max_kept, 50u);
  EXPECT_NE(ErrorOf("[inventory]\nvelocity_window = \"1h\"\n").find("inventory.velocity_window"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[inventory]\nlead_time_days = -1\n").find("inventory.lead_time_days"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[alerts]\nmax_kept = 0\n").find("alerts.max_kept"), std::string::npos);
}

TEST(ConfigTest, WindowDurationsAndClock) {
  Result<Options> r = ParseOptions("[windows]\ndurations = [\"24h\", \"5m\", \"1h\", \"1h\"]\n"
                                   "[clock]\nmode = \"event\"\n",
                                   "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->windows.minutes, (std::vector<int64_t>{5, 60, 1440}));  // sorted, unique
  EXPECT_EQ(r->clock, ClockMode::kEvent);
  const std::string what =
      "config t.toml: windows.durations: expected a list of durations such as [\"1h\", "
      "\"24h\"] (units m, h, d; whole minutes, 1m to 7d), got ";
  EXPECT_EQ(ErrorOf("[windows]\ndurations = [\"8d\"]\n"), what + "an array");
  EXPECT_EQ(ErrorOf("[windows]\ndurations = [\"90s\"]\n"), what + "an array");
  EXPECT_EQ(ErrorOf("[windows]\ndurations = \"1h\"\n"), what + "\"1h\"");
  EXPECT_EQ(ParseDurationMinutes("90m"), 90);
  EXPECT_EQ(ParseDurationMinutes("7d"), 7 * 1440);
  EXPECT_EQ(ParseDurationMinutes("0h"), 0);  // each key's minimum decides whether 0 is allowed
  // Minutes past int64 are no duration (they overflowed: tests/fuzz/regressions/config).
  EXPECT_EQ(ParseDurationMinutes("192609000000000001h"), std::nullopt);
  EXPECT_EQ(ParseDurationMinutes("7953708281833659505d"), std::nullopt);
  EXPECT_EQ(ParseDurationMinutes("6405119470038038m"), 6405119470038038);
  EXPECT_EQ(ErrorOf("[windows]\ndurations = [\"0m\"]\n"), what + "an array");
  EXPECT_FALSE(ParseDurationMinutes("-5m").has_value());
  EXPECT_FALSE(ParseDurationMinutes("h").has_value());
  Result<Options> env = LoadOptions(ConfigSources{"", false, {{"windows.durations", "5m,2h"}}});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->windows.minutes, (std::vector<int64_t>{5, 120}));
}

TEST(ConfigTest, SyntaxErrorHasLine) {
  EXPECT_EQ(ErrorOf("[server]\nport = = 1\n").rfind("config t.toml:2:", 0), 0u);
}

TEST(ConfigTest, EnvironmentOverridesFileAndFlagsOverrideEnvironment) {
  test::TempDir dir;
  std::string file = (dir.path() / "e.toml").string();
  std::ofstream(file) << "[server]\nport = 1000\nhost = \"127.0.0.1\"\n[auth]\nallow_unauthenticated = true\n";
  setenv("EDDY_SERVER_PORT", "2000", 1);
  setenv("EDDY_SERVER_HOST", "0.0.0.0", 1);
  ConfigSources src;
  src.file = file;
  Result<Options> env = LoadOptions(src);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->server.port, 2000);
  EXPECT_EQ(env->server.host, "0.0.0.0");
  src.overrides = {{"server.port", "3000"}};
  Result<Options> flags = LoadOptions(src);
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->server.port, 3000);

  setenv("EDDY_SERVER_PORT", "http", 1);
  Result<Options> bad = LoadOptions(ConfigSources{file, true, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "config environment EDDY_SERVER_PORT: server.port: expected an integer in [0, "
            "65535], got \"http\"");
  unsetenv("EDDY_SERVER_PORT");
  unsetenv("EDDY_SERVER_HOST");
}

TEST(ConfigTest, MisspeltEnvironmentVariableIsAnError) {
  setenv("EDDY_SERVER_PROT", "1", 1);
  Result<Options> r = LoadOptions(ConfigSources{"", true, {}});
  unsetenv("EDDY_SERVER_PROT");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("EDDY_SERVER_PROT: no such key"), std::string::npos);
}

TEST(ConfigTest, UnknownOverrideKey) {
  Result<Options> r = LoadOptions(ConfigSources{"", false, {{"server.nope", "1"}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "config --set server.nope: unknown key (expected section.key, e.g. server.port)");
}

TEST(ConfigTest, MissingFile) {
  Result<Options> r = LoadOptions(ConfigSources{"/nonexistent/eddy.toml", false, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "config /nonexistent/eddy.toml: cannot open file");
}

}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

TEST(ConfigTest, CheckpointSettings) {
  Result<Options> r = ParseOptions(
      "[durability]\ncheckpoint_interval = \"0m\"\ncheckpoints_kept = 5\nack = \"fsync\"\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->durability.checkpoint_interval_minutes, 0);  // only at shutdown
  EXPECT_EQ(r->durability.checkpoints_kept, 5u);
  EXPECT_EQ(r->durability.ack, AckLevel::kFsync);
  EXPECT_EQ(Options().durability.checkpoint_interval_minutes, 5);
  for (BackgroundPriority p : {BackgroundPriority::kIdle, BackgroundPriority::kLow, BackgroundPriority::kNormal}) {
    Result<Options> b = ParseOptions(
        "[durability]\nbackground_priority = \"" + std::string(BackgroundPriorityName(p)) + "\"\n", "t.toml");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->durability.background_priority, p);
  }
  EXPECT_EQ(ParseOptions("[durability]\nbackground_priority = \"high\"\n", "t.toml").status().message(),
            "config t.toml: durability.background_priority: expected one of \"idle\", \"low\", "
            "\"normal\", got \"high\"");
  Result<Options> d = ParseOptions("[durability]\ncommit_delay_us = 0\n", "t.toml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->durability.commit_delay_us, 0);  // every request wakes the store thread
  EXPECT_EQ(ParseOptions("[durability]\ncommit_delay_us = 40000\n", "t.toml").status().message(),
            "config t.toml: durability.commit_delay_us: expected an integer in [0, 32000], got "
            "40000");
  EXPECT_NE(ParseOptions("[durability]\ncheckpoints_kept = 0\n", "t.toml").status().message().find(
                "durability.checkpoints_kept: expected an integer in [1, 100], got 0"),
            std::string::npos);
}

}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

// [[experiments]] (issue 19): the layout the issue gives, each variant's ranking = the
// final [ranking] (file, then --set) with its overrides; and each mistake named.
TEST(ConfigTest, ExperimentsParseWithRankingOverridesOverTheFinalRanking) {
  const std::string toml = R"(
[ranking]
weight_coview = 0.4
[[experiments]]
name = "weights-2026-12"
salt = "s1"
[[experiments.variants]]
name = "A"
share = 0.5
[experiments.variants.ranking]
weight_coview = 0.5
exclude_seen = true
[[experiments.variants]]
name = "B"
share = 0.5
[[experiments]]
name = "off"
enabled = false
[[experiments.variants]]
name = "x"
share = 0.25
[[experiments.variants]]
name = "y"
share = 0.75
)";
  Result<Options> r = ParseOptions(toml, "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->experiments.size(), 2u);
  const Experiment& e = r->experiments[0];
  EXPECT_EQ(e.name, "weights-2026-12");
  EXPECT_EQ(e.salt, "s1");
  EXPECT_TRUE(e.enabled);
  ASSERT_EQ(e.variants.size(), 2u);
  EXPECT_EQ(e.variants[0].name, "A");
  EXPECT_DOUBLE_EQ(e.variants[0].share, 0.5);
  EXPECT_DOUBLE_EQ(e.variants[0].ranking.weights[kCoView], 0.5);
  EXPECT_TRUE(e.variants[0].ranking.exclude_seen);
  EXPECT_DOUBLE_EQ(e.variants[0].ranking.weights[kEmbed], r->ranking.weights[kEmbed]);  // kept
  EXPECT_EQ(e.variants[1].ranking, r->ranking);  // no overrides: the [ranking] itself
  EXPECT_EQ(r->experiments[1].salt, "off");      // the name by default
  EXPECT_FALSE(r->experiments[1].enabled);

  // Overrides apply over [ranking] as it ends up: a --set of a key the variant does not
  // override reaches the variant; one it overrides does not.
  test::TempDir dir;
  const std::string file = (dir.path() / "eddy.toml").string();
  test::WriteFile(file, toml);
  ConfigSources sources;
  sources.file = file;
  sources.overrides = {{"ranking.weight_embed", "0.9"}, {"ranking.weight_coview", "0.1"}};
  Result<Options> loaded = LoadOptions(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_DOUBLE_EQ(loaded->experiments[0].variants[0].ranking.weights[kEmbed], 0.9);
  EXPECT_DOUBLE_EQ(loaded->experiments[0].variants[0].ranking.weights[kCoView], 0.5);
  EXPECT_DOUBLE_EQ(loaded->experiments[0].variants[1].ranking.weights[kCoView], 0.1);
}

TEST(ConfigTest, ExperimentMistakesAreNamed) {
  const auto error = [](const std::string& toml) {
    Result<Options> r = ParseOptions(toml, "t.toml");
    return r.ok() ? std::string("accepted") : std::string(r.status().message());
  };
  const std::string two = "[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n"
                          "[[experiments.variants]]\nname = \"B\"\nshare = 0.5\n";
  EXPECT_EQ(error("[[experiments]]\nname = \"e\"\n" + two), "accepted");
  EXPECT_NE(error("[[experiments]]\n" + two).find("experiments[0].name: required"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"a b\"\n" + two).find("1-64 characters"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n" + two + "[[experiments]]\nname = \"e\"\n" + two)
                .find("\"e\": named twice"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\ncolour = 1\n" + two).find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\nshare = 1\n")
                .find("needs at least 2"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n"
                  "[[experiments.variants]]\nname = \"B\"\nshare = 0.4\n")
                .find("shares sum to 0.9, not 1"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\nshare = 1.5\n"
                  "[[experiments.variants]]\nname = \"B\"\nshare = 0.5\n")
                .find("expected a number in (0, 1]"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n"
                  "[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n")
                .find("variant \"A\": named twice"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\n"
                  "[[experiments.variants]]\nname = \"B\"\nshare = 1\n")
                .find("share is required"), std::string::npos);
  const std::string with = "[[experiments]]\nname = \"e\"\n[[experiments.variants]]\nname = \"A\"\n"
                           "share = 0.5\n[experiments.variants.ranking]\n";
  const std::string b = "[[experiments.variants]]\nname = \"B\"\nshare = 0.5\n";
  EXPECT_NE(error(with + "weight_colour = 1\n" + b).find("unknown ranking key 'weight_colour'"),
            std::string::npos);
  EXPECT_NE(error(with + "weight_coview = -1\n" + b).find("ranking.weight_coview"), std::string::npos);
  EXPECT_NE(error(with + "weight_coview = -1\n" + b).find("experiments \"e\" variant \"A\""),
            std::string::npos);
  EXPECT_NE(error(with + "max_k = 5\n" + b).find("cannot differ per variant"), std::string::npos);
  EXPECT_NE(error("experiments = 3\n").find("array of tables"), std::string::npos);
  EXPECT_NE(error("[[experiments]]\nname = \"e\"\n" + two + "[[experiments]]\nname = \"f\"\n" + two)
                .find("at most one may be enabled at a time"), std::string::npos);
  EXPECT_EQ(error("[[experiments]]\nname = \"e\"\n" + two +
                  "[[experiments]]\nname = \"f\"\nenabled = false\n" + two), "accepted");
}

}  // namespace
}  // namespace eddy
