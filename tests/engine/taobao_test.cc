// Replays the real Taobao sample (../shared/evaldata) and checks trending categories
// against a brute-force recomputation. Skipped when the data set is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "eddy/engine.h"
#include "engine/random_stream.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

const char* kPath = EDDY_EVALDATA_DIR "/taobao-userbehavior-sample/UserBehavior.csv";

struct Row {
  std::string user, item, category, behavior;
  int64_t ts;
};

const std::vector<Row>* Rows() {
  static const std::vector<Row>* rows = [] () -> std::vector<Row>* {
    std::ifstream in(kPath);
    if (!in) return nullptr;
    auto* out = new std::vector<Row>;
    std::string line;
    while (std::getline(in, line)) {
      std::stringstream ss(line);
      Row r;
      std::string ts;
      std::getline(ss, r.user, ',');
      std::getline(ss, r.item, ',');
      std::getline(ss, r.category, ',');
      std::getline(ss, r.behavior, ',');
      std::getline(ss, ts);
      r.ts = std::stoll(ts);
      out->push_back(r);
    }
    return out;
  }();
  return rows;
}

// Replays the rows in file order, batches of 1000, retrying a full log (429).
std::unique_ptr<Engine> Replay(const std::vector<Row>& rows) {
  Options o = test::TestOptions(16, 2);
  o.clock = ClockMode::kEvent;  // replaying history: now = newest event time
  o.log.capacity_per_partition = 1 << 14;
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  for (size_t i = 0; i < rows.size(); i += 1000) {
    std::string body;
    for (size_t j = i; j < std::min(rows.size(), i + 1000); ++j) {
      const Row& r = rows[j];  // the CSV's own column names are accepted aliases
      body += "{\"user_id\":\"" + r.user + "\",\"item_id\":\"" + r.item + "\",\"category_id\":\"" +
              r.category + "\",\"behavior\":\"" + r.behavior + "\",\"timestamp\":" +
              std::to_string(r.ts) + "}\n";
    }
    IngestReply rep = test::IngestRetrying(*engine, *ctx, body, BodyFormat::kNdjson);
    EXPECT_TRUE(rep.status.ok()) << rep.status.ToString();
    EXPECT_TRUE(rep.rejected.empty()) << rep.rejected[0].error;
  }
  return engine;
}

TEST(TaobaoReplayTest, TrendingTop10MatchesBruteForce) {
  if (Rows() == nullptr) GTEST_SKIP() << kPath << " not found";
  const std::vector<Row>& rows = *Rows();
  ASSERT_GT(rows.size(), 90'000u);
  auto engine = Replay(rows);

  // Brute force: pv 1, fav (wishlist) 4, cart 5, buy 10; minutes of [g - 59, g].
  int64_t newest = 0;
  for (const Row& r : rows) newest = std::max(newest, r.ts);
  const int64_t g = newest / 60;
  std::map<std::string, std::pair<int64_t, int64_t>> sums;
  for (const Row& r : rows) {
    if (r.ts / 60 < g - 59) continue;
    int64_t w = r.behavior == "pv" ? 1 : r.behavior == "fav" ? 4 : r.behavior == "cart" ? 5 : 10;
    sums[r.category].first += w;
    ++sums[r.category].second;
  }
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> want(sums.begin(), sums.end());
  std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
    return a.second.first != b.second.first ? a.second.first > b.second.first : a.first < b.first;
  });
  TrendingAnswer got = engine->TrendingCategoriesSync(0, 10);  // window 0 = 1h
  EXPECT_EQ(got.now.millis(), newest * 1000);
  ASSERT_EQ(got.top.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(got.top[i].category, want[i].first) << "rank " << i + 1;
    EXPECT_EQ(got.top[i].score, static_cast<double>(want[i].second.first)) << "rank " << i + 1;
    EXPECT_EQ(got.top[i].events, want[i].second.second) << "rank " << i + 1;
  }
}

TEST(TaobaoReplayTest, SimilarItemsOfTheMostViewedMatchBruteForce) {
  if (Rows() == nullptr) GTEST_SKIP() << kPath << " not found";
  const std::vector<Row>& rows = *Rows();
  auto engine = Replay(rows);
  std::vector<test::RawEvent> events;
  std::map<std::string, int64_t> views;
  for (const Row& r : rows) {
    const char* type = r.behavior == "pv" ? "view" : r.behavior == "fav" ? "wishlist"
                       : r.behavior == "cart" ? "add_to_cart" : "purchase";
    events.push_back({r.user, type, r.item, r.category, r.ts * 1000, ""});
    views[r.item] += r.behavior == "pv";
  }
  std::vector<std::pair<int64_t, std::string>> by_views;
  for (const auto& [item, n] : views) by_views.push_back({-n, item});
  std::sort(by_views.begin(), by_views.end());
  auto truth = test::BruteCoView(events, engine->options());
  for (size_t i = 0; i < 5; ++i) {
    const std::string& item = by_views[i].second;
    std::vector<SimilarItem> want = test::ExpectedSimilar(truth[item], 10);
    std::vector<SimilarItem> got = engine->SimilarItemsSync(item, 10).top;
    ASSERT_FALSE(want.empty()) << item;
    ASSERT_EQ(got.size(), want.size()) << item;
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].item, want[r].item) << item << " rank " << r;
      EXPECT_EQ(got[r].count, want[r].count) << item << " rank " << r;
      EXPECT_EQ(got[r].error, 0u) << item << " rank " << r;
    }
  }
}

}  // namespace
}  // namespace eddy
