// Popularity and affinity (SPEC §3.4-3.5) against a brute-force recomputation of
// Σ weight · 2^(−age / half-life) over the raw events, and their independence of
// partitions, shards and batch boundaries (SPEC §5).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/random_stream.h"

namespace eddy {
namespace {

using test::IngestAll;
using test::RandomStream;
using test::RawEvent;

constexpr double kRel = 1e-9;

// Brute force: scores by key at now, in long double, straight from the definition.
template <typename KeyOf>
std::map<std::string, long double> Decayed(const std::vector<RawEvent>& events, const Options& o,
                                           int64_t half_life_ms, int64_t now_ms, KeyOf key_of) {
  std::map<std::string, long double> score;
  for (const RawEvent& e : events) {
    const double w = o.weights[static_cast<size_t>(test::TypeOf(e.type))];
    if (w <= 0) continue;
    std::string key = key_of(e);
    if (key.empty()) continue;
    score[key] += w * std::exp2l(-static_cast<long double>(now_ms - e.time_ms) / half_life_ms);
  }
  return score;
}

std::vector<ScoredName> Ranked(const std::map<std::string, long double>& m) {
  std::vector<ScoredName> v;
  for (const auto& [k, s] : m) v.push_back({k, static_cast<double>(s)});
  std::sort(v.begin(), v.end(), [](const ScoredName& a, const ScoredName& b) {
    return a.score != b.score ? a.score > b.score : a.name < b.name;
  });
  return v;
}

bool Close(double a, double b, double rel) {
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

// `got` is the top of `truth`: same length, every score equal to the brute force one for
// that name and to the brute force score at that rank (names may differ only between
// scores equal to 1e-9).
void ExpectTop(const std::vector<ScoredName>& got, const std::map<std::string, long double>& truth,
               size_t k, const std::string& where) {
  std::vector<ScoredName> want = Ranked(truth);
  if (want.size() > k) want.resize(k);
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    auto it = truth.find(got[i].name);
    ASSERT_NE(it, truth.end()) << where << " " << got[i].name;
    EXPECT_TRUE(Close(got[i].score, static_cast<double>(it->second), kRel))
        << where << " " << got[i].name << ": " << got[i].score << " vs " << static_cast<double>(it->second);
    EXPECT_TRUE(Close(got[i].score, want[i].score, kRel))
        << where << " rank " << i << ": " << got[i].name << " " << got[i].score << " vs "
        << want[i].name << " " << want[i].score;
  }
}

Options DecayOptions(uint32_t partitions, int shards) {
  Options o = test::OracleOptions(partitions, shards);
  o.popularity.half_life_minutes = 30;
  o.affinity.half_life_minutes = 45;
  o.popularity.candidates = 10;  // small: the engine's threshold test and fallback both run
  return o;
}

TEST(PopularityTest, MatchesBruteForceGlobalAndPerCategory) {
  for (uint32_t seed : {1u, 2u}) {
    std::vector<RawEvent> events = RandomStream(seed, 4000);
    const int64_t now = test::NewestMs(events);
    Options o = DecayOptions(8, 2);
    auto engine = std::move(Engine::Open(o)).value();
    IngestAll(*engine, events, 50);
    const int64_t hl = o.popularity.half_life_minutes * 60'000;
    auto global = Decayed(events, o, hl, now, [](const RawEvent& e) { return e.item; });
    for (uint32_t k : {1u, 5u, 10u, 50u, 1000u}) {
      PopularAnswer a = engine->PopularItemsSync("", k);
      EXPECT_EQ(a.now.millis(), now);
      ExpectTop(a.top, global, k, "seed " + std::to_string(seed) + " k " + std::to_string(k));
    }
    for (const char* cat : {"c0", "c1", "c9", "c24"}) {
      auto want = Decayed(events, o, hl, now, [cat](const RawEvent& e) {
        return e.category == cat ? e.item : std::string();
      });
      ExpectTop(engine->PopularItemsSync(cat, 20).top, want, 20, cat);
    }
    EXPECT_TRUE(engine->PopularItemsSync("no-such-category", 5).top.empty());
    // Both ways of answering ran: the threshold test over the candidate sets (small k)
    // and the full scan (k past the 10 candidates kept per shard).
    const uint64_t full_scans = engine->Status().popular_full_scans;
    EXPECT_GT(full_scans, 0u);
    EXPECT_LT(full_scans, 9u);
  }
}

TEST(PopularityTest, RebasesOverManyHalfLivesWithoutDrift) {
  // Half-life 1 minute over a ~2 hour stream: sums are rebased many times (every 64
  // half-lives) and old events underflow toward zero; scores still match.
  std::vector<RawEvent> events = RandomStream(5, 3000);
  Options o = DecayOptions(4, 2);
  o.popularity.half_life_minutes = 1;
  o.affinity.half_life_minutes = 1;
  auto engine = std::move(Engine::Open(o)).value();
  IngestAll(*engine, events, 100);
  const int64_t now = test::NewestMs(events);
  auto global = Decayed(events, o, 60'000, now, [](const RawEvent& e) { return e.item; });
  ExpectTop(engine->PopularItemsSync("", 30).top, global, 30, "global");
  auto aff = Decayed(events, o, 60'000, now,
                     [](const RawEvent& e) { return e.user == "u3" ? e.category : std::string(); });
  ExpectTop(engine->UserAffinitySync("u3", 64).top, aff, 64, "u3");
}

TEST(AffinityTest, MatchesBruteForcePerUser) {
  std::vector<RawEvent> events = RandomStream(3, 4000);
  const int64_t now = test::NewestMs(events);
  Options o = DecayOptions(7, 2);
  auto engine = std::move(Engine::Open(o)).value();
  IngestAll(*engine, events, 64);
  const int64_t hl = o.affinity.half_life_minutes * 60'000;
  for (int u = 0; u < 40; ++u) {
    const std::string user = "u" + std::to_string(u);
    auto want = Decayed(events, o, hl, now,
                        [&](const RawEvent& e) { return e.user == user ? e.category : std::string(); });
    ExpectTop(engine->UserAffinitySync(user, 64).top, want, 64, user);
    ExpectTop(engine->UserAffinitySync(user, 3).top, want, 3, user + " k 3");
  }
  AffinityAnswer none = engine->UserAffinitySync("nobody", 5);
  EXPECT_TRUE(none.top.empty());
}

TEST(AffinityTest, KeepsAtMostMaxCategoriesDroppingTheLowest) {
  Options o = test::TestOptions(2, 1);
  o.clock = ClockMode::kEvent;
  o.affinity.max_categories = 3;
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  std::vector<std::string> evs;
  // Purchases (10) in a and b, a click (3) in c, then a view (1) in d: a fourth category
  // is one too many, and the lowest score at that moment is d's own.
  for (auto [cat, type] : {std::pair{"a", "purchase"}, {"b", "purchase"}, {"c", "click"},
                           {"d", "view"}}) {
    test::EventBuilder b;
    b.User("u").Type(type).Item(std::string("i") + cat).Category(cat).Time(test::kT0);
    if (std::string(type) == "purchase") b.Price(1);
    evs.push_back(b.Json());
  }
  ASSERT_TRUE(engine->IngestSync(*ctx, test::Ndjson(evs), BodyFormat::kNdjson).status.ok());
  AffinityAnswer a = engine->UserAffinitySync("u", 10);
  ASSERT_EQ(a.top.size(), 3u);
  EXPECT_EQ(a.top[0].name, "a");
  EXPECT_EQ(a.top[1].name, "b");
  EXPECT_EQ(a.top[2].name, "c");
  EXPECT_DOUBLE_EQ(a.top[0].score, 10);
  EXPECT_DOUBLE_EQ(a.top[2].score, 3);
}

TEST(DecayedTest, SameAnswersForAnyLayoutAndBatching) {
  std::vector<RawEvent> events = RandomStream(11, 2000);
  std::vector<std::vector<ScoredName>> reference;
  bool first = true;
  for (uint32_t partitions : {1u, 7u, 16u}) {
    for (int shards : {1, 2, 4}) {
      for (size_t batch : {size_t{1}, size_t{13}, size_t{1000}}) {
        Options o = DecayOptions(partitions, shards);
        auto engine = std::move(Engine::Open(o)).value();
        IngestAll(*engine, events, batch);
        std::vector<std::vector<ScoredName>> answers = {
            engine->PopularItemsSync("", 50).top, engine->PopularItemsSync("c2", 50).top,
            engine->UserAffinitySync("u0", 64).top, engine->UserAffinitySync("u17", 64).top};
        if (first) {
          reference = answers;
          first = false;
          continue;
        }
        const std::string where = std::to_string(partitions) + " partitions, " +
                                  std::to_string(shards) + " shards, batch " +
                                  std::to_string(batch);
        for (size_t q = 0; q < answers.size(); ++q) {
          ASSERT_EQ(answers[q].size(), reference[q].size()) << where << " query " << q;
          for (size_t i = 0; i < answers[q].size(); ++i) {
            EXPECT_EQ(answers[q][i].name, reference[q][i].name) << where << " query " << q;
            // Sums over shards add in a different order: equal to rounding.
            EXPECT_TRUE(Close(answers[q][i].score, reference[q][i].score, 1e-12))
                << where << " query " << q << " rank " << i;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace eddy
