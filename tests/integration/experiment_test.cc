// Experiments end to end through the real daemon's HTTP API (issue 19): simulated users
// with known click and purchase rates per variant ask for recommendations, post
// impressions, clicks (naming the recommId) and purchases (last touch), and the report
// must count exactly what the simulation did, with the true rates inside its intervals,
// bucketing shares within binomial bounds; Thompson auto-allocation must move the shares
// to the better variant; and a restart must give the same report and shares (recorded
// in the log like every event). The simulation's randomness has a fixed seed and
// bucketing is a stable hash, so each run is the same run.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <array>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "testutil/daemon.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::Daemon;
using test::EventBuilder;
using test::HttpClient;
using test::HttpResult;

// `ack`: with "wal" (the default) the shards apply only durable offsets, so eddy's own
// records (served answers, reallocations), which nobody acknowledges, are visible to the
// report once the store wrote them (a millisecond later); a test that reads the report
// right after serving, with no acknowledged event after the serve in that partition, runs
// with "memory" (the store still writes everything, and a stop flushes it).
std::string Config(const std::string& experiment, const std::string& ack = "wal") {
  return "[server]\nio_threads = 0\n[log]\npartitions = 4\n[runtime]\nshards = 2\n"
         "[durability]\nack = \"" + ack + "\"\n"
         "[[experiments]]\nname = \"sim\"\nsalt = \"s1\"\n" + experiment +
         "[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n"
         "[[experiments.variants]]\nname = \"B\"\nshare = 0.5\n"
         "[experiments.variants.ranking]\nweight_popularity = 2.0\n";
}

// Items to recommend: 30 items viewed by seed users (cold-start users get the popular ones).
void Seed(HttpClient& c) {
  std::vector<std::string> events;
  for (int i = 0; i < 30; ++i) {
    for (int u = 0; u <= i % 5; ++u) {
      events.push_back(EventBuilder().User("seed" + std::to_string(u)).Type("view")
                           .Item("item" + std::to_string(i)).Category("c").Json());
    }
  }
  ASSERT_EQ(c.Post("/v1/events", test::JsonArray(events)).status, 200);
}

struct Truth {
  double click, buy;  // P(click | shown), P(purchase | click)
};

// What the simulation did per variant.
struct Tally {
  uint64_t served = 0, clicked = 0, bought = 0;
};

// One simulated user: asks, sees (impression), maybe clicks (naming the answer) and maybe
// buys (last touch: no id). Returns the variant index.
int Visit(HttpClient& c, const std::string& user, const std::array<Truth, 2>& truth,
          std::mt19937_64& rng, std::array<Tally, 2>& tally, bool post_impression) {
  HttpResult r = c.Get("/v1/recommendations?userId=" + user + "&k=5");
  EXPECT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(r.body);
  const std::string variant{std::string_view(e["variant"])};
  const std::string recomm{std::string_view(e["recommId"])};
  simdjson::dom::array items = e["items"];
  EXPECT_GT(items.size(), 0u);
  const std::string first{std::string_view(items.at(0)["itemId"])};
  const int v = variant == "A" ? 0 : 1;
  ++tally[v].served;
  std::uniform_real_distribution<double> u01(0, 1);
  std::vector<std::string> events;
  if (post_impression) {
    events.push_back(EventBuilder().User(user).Type("impression").Str("recommId", recomm).Json());
  }
  if (u01(rng) < truth[v].click) {
    ++tally[v].clicked;
    events.push_back(EventBuilder().User(user).Type("click").Item(first).Str("recommId", recomm).Json());
    if (u01(rng) < truth[v].buy) {
      ++tally[v].bought;
      events.push_back(EventBuilder().User(user).Type("purchase").Item(first).Price(10)
                           .Str("orderId", "o-" + user).Json());
    }
  }
  if (!events.empty()) {
    HttpResult p = c.Post("/v1/events", test::JsonArray(events));
    EXPECT_EQ(p.status, 200) << p.body;
  }
  return v;
}

// The user's variant, from a recommendation (which records an answer).
std::string VariantOf(HttpClient& c, const std::string& user) {
  HttpResult r = c.Get("/v1/recommendations?userId=" + user);
  EXPECT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  return std::string(std::string_view(parser.parse(r.body)["variant"]));
}

struct Rate {
  double rate, low, high;
};
Rate RateOf(simdjson::dom::element v, const char* key) {
  return {double(v[key]["rate"]), double(v[key]["low"]), double(v[key]["high"])};
}

TEST(ExperimentTest, TheReportCountsWhatUsersDidAndHoldsTheTrueRatesInItsIntervals) {
  Daemon d(Config("impressions = \"client\"\n"));
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  Seed(c);
  const std::array<Truth, 2> truth = {Truth{0.10, 0.30}, Truth{0.25, 0.50}};
  std::array<Tally, 2> tally{};
  std::mt19937_64 rng(20261204);
  constexpr int kUsers = 1200;
  for (int i = 0; i < kUsers; ++i) Visit(c, "user" + std::to_string(i), truth, rng, tally, true);
  // Unrelated traffic: a click on a recommended item by a user who was never served one.
  ASSERT_EQ(c.Post("/v1/events", EventBuilder().User("nobody").Type("click").Item("item1").Json()).status, 200);

  HttpResult r = c.Get("/v1/experiments/sim");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element report = parser.parse(r.body);
  EXPECT_TRUE(bool(report["running"]));
  simdjson::dom::array variants = report["variants"];
  ASSERT_EQ(variants.size(), 2u);
  // Bucketing: each variant's share of the users within 4 binomial standard deviations
  // (0.5 ± 4 · √(0.25 / 1200) = 0.5 ± 0.058).
  const double share_a = static_cast<double>(tally[0].served) / kUsers;
  EXPECT_NEAR(share_a, 0.5, 0.058);
  for (size_t v = 0; v < 2; ++v) {
    simdjson::dom::element x = variants.at(v);
    SCOPED_TRACE(std::string(std::string_view(x["name"])));
    // Exactly what the simulation did: every answer served and shown, every click
    // attributed by its id, every purchase by last touch.
    EXPECT_EQ(uint64_t(x["served"]), tally[v].served);
    EXPECT_EQ(uint64_t(x["impressions"]), tally[v].served);
    EXPECT_EQ(uint64_t(x["clicked"]), tally[v].clicked);
    EXPECT_EQ(uint64_t(x["clicks"]), tally[v].clicked);
    EXPECT_EQ(uint64_t(x["byRecommId"]), tally[v].clicked);
    EXPECT_EQ(uint64_t(x["converted"]), tally[v].bought);
    EXPECT_DOUBLE_EQ(double(x["revenue"]), 10.0 * static_cast<double>(tally[v].bought));
    // The true rates inside the report's 95% intervals.
    const Rate ctr = RateOf(x, "ctr"), conversion = RateOf(x, "conversion");
    EXPECT_LE(ctr.low, truth[v].click);
    EXPECT_GE(ctr.high, truth[v].click);
    EXPECT_LE(conversion.low, truth[v].click * truth[v].buy);
    EXPECT_GE(conversion.high, truth[v].click * truth[v].buy);
    const double rpi_truth = 10 * truth[v].click * truth[v].buy;
    EXPECT_LE(double(x["revenuePerImpression"]["low"]), rpi_truth);
    EXPECT_GE(double(x["revenuePerImpression"]["high"]), rpi_truth);
  }
  // B is better on both goals, clearly so at these counts.
  EXPECT_GT(double(variants.at(1)["pBest"]["ctr"]), 0.99);
  EXPECT_GT(double(variants.at(1)["pBest"]["conversion"]), 0.95);
}

TEST(ExperimentTest, ThompsonAllocationMovesUsersToTheBetterVariantAndSurvivesARestart) {
  test::TempDir data;
  const std::string config = Config(
      "impressions = \"serve\"\nallocation = \"thompson\"\ngoal = \"ctr\"\nmin_share = 0.1\n"
      "reallocate_seconds = 86400\n",  // only when asked, so rounds are the test's
      "memory");
  const std::array<Truth, 2> truth = {Truth{0.05, 0}, Truth{0.20, 0}};
  std::array<Tally, 2> tally{};
  std::mt19937_64 rng(42);
  std::string before;
  std::vector<double> b_share;  // B's allocation after each round
  std::vector<std::string> probes;  // the variants of 20 users at the end
  {
    Daemon d(config, {}, data.path().string());
    ASSERT_TRUE(d.started()) << d.Log();
    HttpClient c(d.port());
    Seed(c);
    constexpr int kRounds = 6, kPerRound = 150;
    std::array<int, 2> last_round{};
    for (int round = 0; round < kRounds; ++round) {
      last_round = {0, 0};
      for (int i = 0; i < kPerRound; ++i) {
        ++last_round[Visit(c, "r" + std::to_string(round) + "u" + std::to_string(i), truth, rng,
                           tally, false)];
      }
      HttpResult re = c.Post("/v1/admin/experiments/sim/reallocate", "");
      ASSERT_EQ(re.status, 200) << re.body;
      simdjson::dom::parser p;
      b_share.push_back(double(p.parse(re.body)["shares"]["B"]));
    }
    // After the first round (75 answers each) B is likely but not surely better; from then
    // on its share only grows towards 1 − min_share = 0.9. Bounds from the seeded run:
    // the last share is above 0.85 and the last round gave B most of the users.
    EXPECT_GT(b_share.back(), 0.85);
    EXPECT_GT(b_share.back(), b_share.front() - 1e-9);
    EXPECT_GT(last_round[1], 2 * last_round[0]);
    // A reallocation of anything but the running Thompson experiment is refused.
    EXPECT_EQ(c.Post("/v1/admin/experiments/other/reallocate", "").status, 400);
    HttpResult r = c.Get("/v1/experiments/sim");
    ASSERT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser p;
    simdjson::dom::element report = p.parse(r.body);
    EXPECT_EQ(simdjson::dom::array(report["allocations"]).size(), static_cast<size_t>(kRounds));
    EXPECT_DOUBLE_EQ(double(report["variants"].at(1)["allocated"]), b_share.back());
    EXPECT_EQ(uint64_t(report["variants"].at(1)["impressions"]), tally[1].served);  // on serve
    for (int i = 0; i < 20; ++i) probes.push_back(VariantOf(c, "probe" + std::to_string(i)));
    before = c.Get("/v1/experiments/sim").body;
    ASSERT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  }
  // The same report after a restart (recovered from the checkpoint taken at shutdown),
  // and after `eddy replay` rebuilt every state from the stored log alone; bucketing uses
  // the recovered shares, so the same users land in the same variants.
  for (const bool replay : {false, true}) {
    SCOPED_TRACE(replay ? "after eddy replay" : "after a restart");
    if (replay) {
      const test::TempDir cfg;
      const std::string file = (cfg.path() / "eddy.toml").string();
      std::ofstream(file) << config;
      auto [code, out] = test::RunCommand(
          {EDDY_BINARY, "replay", "--config", file, "--data-dir", data.path().string()});
      ASSERT_EQ(code, 0) << out;
    }
    Daemon d(config, {}, data.path().string());
    ASSERT_TRUE(d.started()) << d.Log();
    HttpClient c(d.port());
    HttpResult r = c.Get("/v1/experiments/sim");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, before);
    std::vector<std::string> again;
    for (int i = 0; i < 20; ++i) again.push_back(VariantOf(c, "probe" + std::to_string(i)));
    EXPECT_EQ(again, probes);
    // (The probes' answers are recorded too: the next run's report starts from this one.)
    before = c.Get("/v1/experiments/sim").body;
    ASSERT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  }
}

TEST(ExperimentTest, AReloadStartsAndStopsAnExperimentWithoutARestart) {
  const std::string stopped = Config("enabled = false\n", "memory");
  Daemon d(stopped);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  Seed(c);
  const auto variant_of = [&](const std::string& user) {
    HttpResult r = c.Get("/v1/recommendations?userId=" + user);
    EXPECT_EQ(r.status, 200) << r.body;
    const size_t at = r.body.find(R"("variant":")");
    return at == std::string::npos ? std::string() : r.body.substr(at + 11, 1);
  };
  EXPECT_EQ(variant_of("u1"), "");
  std::ofstream((d.dir().path() / "eddy.toml").string(), std::ios::trunc) << Config("", "memory");
  HttpResult re = c.Post("/v1/admin/reload", "");
  ASSERT_EQ(re.status, 200) << re.body;
  EXPECT_NE(re.body.find(R"("applied":["experiments"])"), std::string::npos) << re.body;
  const std::string v = variant_of("u1");
  EXPECT_TRUE(v == "A" || v == "B") << v;
  EXPECT_EQ(variant_of("u1"), v);  // stable
  // Forcing a variant follows the experiments in force.
  EXPECT_EQ(c.Get("/v1/recommendations?userId=u1&variant=B").status, 200);
  std::ofstream((d.dir().path() / "eddy.toml").string(), std::ios::trunc) << stopped;
  re = c.Post("/v1/admin/reload", "");
  ASSERT_EQ(re.status, 200) << re.body;
  EXPECT_EQ(variant_of("u1"), "");
  EXPECT_EQ(c.Get("/v1/recommendations?userId=u1&variant=B").status, 400);
  // What the running experiment recorded stays in the report.
  HttpResult r = c.Get("/v1/experiments/sim");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("running":false)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("served":2)"), std::string::npos) << r.body;
}

TEST(ExperimentTest, UnknownExperimentsAndBadImpressionsGetClearErrors) {
  Daemon d(Config(""));
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  HttpResult r = c.Get("/v1/experiments/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"j({"error":"experiment \"nope\": not configured and no answers recorded"})j");
  r = c.Post("/v1/events", EventBuilder().User("u").Type("impression").Json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("recommId: required for impression events"), std::string::npos) << r.body;
  // The configured experiment is listed before any answer was served.
  r = c.Get("/v1/experiments");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("name":"sim","configured":true,"running":true)"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace eddy
