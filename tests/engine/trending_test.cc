// Trending categories and velocity (SPEC §3.1-3.2) against a brute-force recomputation,
// and their independence of partitions, shards and batch boundaries (SPEC §5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "eddy/engine.h"
#include "engine/random_stream.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::EventBuilder;
using test::IngestAll;
using test::kT0;
using test::RandomStream;
using test::RawEvent;
using test::TypeOf;

int64_t Minute(int64_t ms) { return ms / 60'000; }

Options TrendingOptions(uint32_t partitions, int shards) {
  return test::OracleOptions(partitions, shards);
}

// The oracle: weighted sums over the raw events with minute in [g - W + 1, g].
std::vector<TrendingCategory> Expected(const std::vector<RawEvent>& events, const Options& o,
                                       int64_t window) {
  int64_t newest = INT64_MIN;
  for (const RawEvent& e : events) newest = std::max(newest, e.time_ms);
  const int64_t g = Minute(newest);
  std::map<std::string, TrendingCategory> by;
  for (const RawEvent& e : events) {
    const int64_t m = Minute(e.time_ms);
    TrendingCategory& t = by[e.category];
    t.category = e.category;
    if (m == g) ++t.this_minute;
    if (m == g - 1) ++t.previous_minute;
    if (m < g - window + 1 || m > g) continue;
    EventType type = e.type == "view" ? EventType::kView
                     : e.type == "click" ? EventType::kClick
                     : e.type == "add_to_cart" ? EventType::kAddToCart
                     : e.type == "wishlist" ? EventType::kWishlist
                     : e.type == "purchase" ? EventType::kPurchase
                                            : EventType::kRemoveFromCart;
    t.score += std::llround(o.weights[static_cast<size_t>(type)] * 1e6);  // micros for now
    ++t.events;
  }
  std::vector<TrendingCategory> out;
  for (auto& [name, t] : by) {
    if (t.events == 0) continue;
    t.score /= 1e6;
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const TrendingCategory& a, const TrendingCategory& b) {
    return a.score != b.score ? a.score > b.score : a.category < b.category;
  });
  return out;
}

void Ingest(Engine& engine, const std::vector<RawEvent>& events, size_t batch) {
  IngestAll(engine, events, batch);
}

void ExpectEqual(const std::vector<TrendingCategory>& got,
                 const std::vector<TrendingCategory>& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].category, want[i].category) << where << " rank " << i;
    EXPECT_EQ(got[i].score, want[i].score) << where << " " << got[i].category;
    EXPECT_EQ(got[i].events, want[i].events) << where << " " << got[i].category;
    EXPECT_EQ(got[i].this_minute, want[i].this_minute) << where << " " << got[i].category;
    EXPECT_EQ(got[i].previous_minute, want[i].previous_minute) << where << " " << got[i].category;
  }
}

TEST(TrendingTest, MatchesBruteForceOnRandomStreams) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::vector<RawEvent> events = RandomStream(seed, 4000);
    Options o = TrendingOptions(8, 2);
    auto engine = std::move(Engine::Open(o)).value();
    Ingest(*engine, events, 50);
    for (size_t w = 0; w < o.windows.minutes.size(); ++w) {
      TrendingAnswer a = engine->TrendingCategoriesSync(w, 1000);
      ExpectEqual(a.top, Expected(events, o, o.windows.minutes[w]),
                  "seed " + std::to_string(seed) + " window " + std::to_string(w));
    }
    // The stream is longer than the short windows: they must see fewer events.
    int64_t in5 = 0, in60 = 0, in1440 = 0;
    for (const auto& t : engine->TrendingCategoriesSync(0, 1000).top) in5 += t.events;
    for (const auto& t : engine->TrendingCategoriesSync(1, 1000).top) in60 += t.events;
    for (const auto& t : engine->TrendingCategoriesSync(2, 1000).top) in1440 += t.events;
    EXPECT_LT(in5, in60);
    EXPECT_LT(in60, in1440);
    EXPECT_EQ(in1440, 4000);
    TrendingAnswer top3 = engine->TrendingCategoriesSync(1, 3);
    EXPECT_EQ(top3.top.size(), 3u);
  }
}

TEST(TrendingTest, VelocityPerMinuteMatchesBruteForce) {
  std::vector<RawEvent> events = RandomStream(7, 3000);
  Options o = TrendingOptions(4, 2);
  auto engine = std::move(Engine::Open(o)).value();
  Ingest(*engine, events, 100);
  int64_t newest = INT64_MIN;
  for (const RawEvent& e : events) newest = std::max(newest, e.time_ms);
  const int64_t g = Minute(newest);
  for (const char* cat : {"c0", "c3", "c17"}) {
    std::vector<int64_t> want(90, 0);
    for (const RawEvent& e : events) {
      int64_t m = Minute(e.time_ms);
      if (e.category == cat && m > g - 90 && m <= g) ++want[m - (g - 89)];
    }
    VelocityAnswer a = engine->CategoryVelocitySync(cat, 90);
    EXPECT_EQ(a.per_minute, want) << cat;
    EXPECT_EQ(a.now.millis(), newest);
  }
  EXPECT_EQ(engine->CategoryVelocitySync("never-seen", 5).per_minute,
            std::vector<int64_t>(5, 0));
}

TEST(TrendingTest, SameAnswersForAnyLayoutAndBatching) {
  std::vector<RawEvent> events = RandomStream(11, 2000);
  std::vector<std::vector<TrendingCategory>> reference;
  bool first = true;
  for (uint32_t partitions : {1u, 7u, 16u}) {
    for (int shards : {1, 2, 4}) {
      for (size_t batch : {size_t{1}, size_t{13}, size_t{1000}}) {
        Options o = TrendingOptions(partitions, shards);
        auto engine = std::move(Engine::Open(o)).value();
        Ingest(*engine, events, batch);
        std::vector<std::vector<TrendingCategory>> answers;
        for (size_t w = 0; w < o.windows.minutes.size(); ++w) {
          answers.push_back(engine->TrendingCategoriesSync(w, 1000).top);
        }
        if (first) {
          reference = answers;
          first = false;
          continue;
        }
        for (size_t w = 0; w < answers.size(); ++w) {
          ExpectEqual(answers[w], reference[w],
                      std::to_string(partitions) + " partitions, " + std::to_string(shards) +
                          " shards, batch " + std::to_string(batch));
        }
      }
    }
  }
}

TEST(EngagementTest, MatchesBruteForceAndAnyLayout) {
  std::vector<RawEvent> events = RandomStream(21, 3000);
  int64_t newest = INT64_MIN;
  for (const RawEvent& e : events) newest = std::max(newest, e.time_ms);
  const int64_t g = Minute(newest);
  for (auto [partitions, shards] : {std::pair{1u, 1}, std::pair{7u, 2}, std::pair{16u, 4}}) {
    Options o = TrendingOptions(partitions, shards);
    auto engine = std::move(Engine::Open(o)).value();
    Ingest(*engine, events, 37);
    for (const char* item : {"i0", "i1", "i7", "i150", "i299"}) {
      EngagementAnswer want;
      want.per_window.resize(o.windows.minutes.size());
      for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].item != item) continue;
        const size_t t = static_cast<size_t>(TypeOf(events[i].type));
        ++want.all_time[t];
        const int64_t m = Minute(events[i].time_ms);
        for (size_t w = 0; w < o.windows.minutes.size(); ++w) {
          if (m >= g - o.windows.minutes[w] + 1 && m <= g) ++want.per_window[w][t];
        }
      }
      EngagementAnswer got = engine->ItemEngagementSync(item);
      EXPECT_EQ(got.all_time, want.all_time) << item;
      EXPECT_EQ(got.per_window, want.per_window) << item << " " << partitions << "/" << shards;
    }
    EngagementAnswer none = engine->ItemEngagementSync("no-such-item");
    EXPECT_EQ(none.all_time, (std::array<int64_t, kEventTypeCount>{}));
  }
}

TEST(TrendingTest, LiveClockSlidesWithWallTime) {
  ManualClock clock{EventTime(kT0)};
  Options o = test::TestOptions(4, 2);
  o.windows.minutes = {60};
  auto engine = std::move(Engine::Open(o, &clock)).value();
  auto ctx = engine->NewIngestContext();
  ASSERT_TRUE(engine->IngestSync(*ctx, EventBuilder().User("u").Type("view").Item("i")
                                            .Category("shoes").Time(kT0).Json())
                  .status.ok());
  ASSERT_EQ(engine->TrendingCategoriesSync(0, 5).top.size(), 1u);
  clock.Advance(59 * 60'000);  // still inside the hour
  EXPECT_EQ(engine->TrendingCategoriesSync(0, 5).top.size(), 1u);
  clock.Advance(60'000);  // the event's minute has left the window
  EXPECT_TRUE(engine->TrendingCategoriesSync(0, 5).top.empty());
}

}  // namespace
}  // namespace eddy
