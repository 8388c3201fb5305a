// Recommendations, ranked similar items and offers through the Engine (SPEC §6): the
// candidate sources, every business rule, explain, cold start, freshness, determinism
// over shard counts, and raw signals equal to the aggregates they come from.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "eddy/engine.h"
#include "ranker/experiments.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace eddy {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class RecommendTest : public ::testing::Test {
 protected:
  void Open(Options o) {
    o.clock = ClockMode::kEvent;  // answers depend on the events only
    engine_ = std::move(Engine::Open(o)).value();
    ctx_ = engine_->NewIngestContext();
  }
  void SetUp() override { Open(test::TestOptions(4, 2)); }

  // user touches item (category, price) at kT0 + minute minutes.
  void Ev(std::string_view user, std::string_view type, std::string_view item,
          std::string_view category, double price, int minute) {
    events_.push_back(test::EventBuilder()
                          .User(user)
                          .Type(type)
                          .Item(item)
                          .Category(category)
                          .Price(price)
                          .Time(kT0 + minute * 60'000)
                          .Json());
  }
  void Flush() {
    IngestReply r = engine_->IngestSync(*ctx_, test::Ndjson(events_));
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    ASSERT_EQ(r.accepted, events_.size());
    events_.clear();
  }
  std::vector<std::string> Names(const RecommendAnswer& a) {
    std::vector<std::string> out;
    for (const RankedItem& i : a.items) out.push_back(i.item);
    return out;
  }
  const RankedItem* Find(const RecommendAnswer& a, std::string_view item) {
    for (const RankedItem& i : a.items) {
      if (i.item == item) return &i;
    }
    return nullptr;
  }

  // A small shop: u1 browses shoes; others co-view shoes with socks; hats are popular.
  void Shop() {
    for (int u = 0; u < 6; ++u) {
      const std::string user = "o" + std::to_string(u);
      Ev(user, "view", "shoe1", "shoes", 50, u);
      Ev(user, "view", "sock1", "socks", 5, u);
      Ev(user, "view", "hat" + std::to_string(u % 3), "hats", 20, u);
      Ev(user, "click", "hat0", "hats", 20, u);
    }
    Ev("u1", "view", "shoe2", "shoes", 80, 10);
    Ev("u1", "purchase", "shoe2", "shoes", 80, 11);
    Ev("u1", "view", "shoe1", "shoes", 50, 12);
    Ev("z", "view", "shoe3", "shoes", 40, 13);  // never co-viewed with anything
    Flush();
  }

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<IngestContext> ctx_;
  std::vector<std::string> events_;
};

TEST_F(RecommendTest, ColdStartUserGetsKPopularItems) {
  Shop();
  RecommendAnswer a = engine_->RecommendSync(test::Req("never-seen", 4));
  ASSERT_EQ(a.items.size(), 4u);
  std::map<std::string, double> popularity;
  for (const ScoredName& p : engine_->PopularItemsSync("", 100).top) popularity[p.name] = p.score;
  for (const RankedItem& i : a.items) {
    EXPECT_EQ(i.source, "popular") << i.item;
    EXPECT_DOUBLE_EQ(i.signals[kPopularity].raw, popularity.at(i.item));
    EXPECT_EQ(i.signals[kCoView].raw + i.signals[kRecency].raw + i.signals[kAffinity].raw, 0);
  }
  // Ranked by popularity and trending (the only signals a stranger has).
  EXPECT_EQ(a.items[0].item, "hat0");
  // No events at all: nothing to recommend, and no error.
  Open(test::TestOptions(4, 2));
  EXPECT_TRUE(engine_->RecommendSync(test::Req("u", 4)).items.empty());
}

TEST_F(RecommendTest, RawSignalsAreTheAggregatesAndExplainSumsToTheScore) {
  Shop();
  RecommendAnswer a = engine_->RecommendSync(test::Req("u1", 50));
  ASSERT_FALSE(a.items.empty());
  const std::vector<RecentItem> recent = engine_->RecentItemsSync("u1", 50);
  ASSERT_EQ(recent.size(), 2u);  // shoe1 (newest), shoe2
  std::map<std::string, uint64_t> coview;  // summed over the user's seed items
  for (const RecentItem& r : recent) {
    for (const SimilarItem& s : engine_->SimilarItemsSync(r.item, 1000).top) coview[s.item] += s.count;
  }
  std::map<std::string, double> popularity, trending, affinity;
  for (const ScoredName& p : engine_->PopularItemsSync("", 1000).top) popularity[p.name] = p.score;
  for (const TrendingCategory& c : engine_->TrendingCategoriesSync(0, 100).top) trending[c.category] = c.score;
  for (const ScoredName& c : engine_->UserAffinitySync("u1", 100).top) affinity[c.name] = c.score;
  for (const RankedItem& i : a.items) {
    SCOPED_TRACE(i.item);
    EXPECT_EQ(i.signals[kCoView].raw, static_cast<double>(coview[i.item]));
    EXPECT_DOUBLE_EQ(i.signals[kPopularity].raw, popularity[i.item]);
    EXPECT_DOUBLE_EQ(i.signals[kTrending].raw, trending[i.category]);
    EXPECT_DOUBLE_EQ(i.signals[kAffinity].raw, affinity[i.category]);
    // A cosine (of the candidate's embedding with the user's profile; tests/learn), 0 when
    // negative.
    EXPECT_GE(i.signals[kEmbed].raw, 0);
    EXPECT_LE(i.signals[kEmbed].raw, 1 + 1e-12);
    double sum = 0;
    for (size_t s = 0; s < kRankSignalCount; ++s) {
      EXPECT_GE(i.signals[s].normalised, 0);
      EXPECT_LE(i.signals[s].normalised, 1);
      EXPECT_DOUBLE_EQ(i.signals[s].contribution,
                       engine_->options().ranking.weights[s] * i.signals[s].normalised);
      sum += i.signals[s].contribution;
    }
    EXPECT_NEAR(i.score, sum, 1e-12);
  }
  // The recent items carry recency 1/(1 + position): shoe1 newest.
  EXPECT_EQ(Find(a, "shoe1")->signals[kRecency].raw, 1.0);
  // shoe1 is also a co-view neighbour of shoe2 (u1 viewed one after the other).
  EXPECT_EQ(Find(a, "shoe1")->source, "recent+coview+popular+affinity");
  // sock1 comes from co-view with shoe1 (6 users viewed both within the window).
  ASSERT_NE(Find(a, "sock1"), nullptr);
  EXPECT_EQ(Find(a, "sock1")->signals[kCoView].raw, 6);
  EXPECT_EQ(Find(a, "sock1")->source, "coview+popular");
  // Best first; ties by name.
  for (size_t i = 1; i < a.items.size(); ++i) {
    EXPECT_TRUE(a.items[i - 1].score > a.items[i].score ||
                (a.items[i - 1].score == a.items[i].score && a.items[i - 1].item < a.items[i].item));
  }
}

TEST_F(RecommendTest, BusinessRules) {
  Shop();
  // Bought items are excluded (shoe2), by default.
  RecommendAnswer all = engine_->RecommendSync(test::Req("u1", 50));
  EXPECT_EQ(Find(all, "shoe2"), nullptr);
  EXPECT_NE(Find(all, "shoe1"), nullptr);
  // Category filter: only hats, and popular hats are candidates even if u1 never saw one.
  RecommendAnswer hats = engine_->RecommendSync(test::Req("u1", 50, "hats"));
  // hat0 is the most viewed; hat2's views are newer than hat1's (decayed popularity).
  EXPECT_EQ(Names(hats), (std::vector<std::string>{"hat0", "hat2", "hat1"}));
  EXPECT_TRUE(engine_->RecommendSync(test::Req("u1", 5, "no-such")).items.empty());
  // Price range, inclusive; items without a price are out when a bound is set.
  RecommendAnswer cheap = engine_->RecommendSync(
      test::Req("u1", 50, "", 5'000'000, 20'000'000));
  for (const RankedItem& i : cheap.items) {
    ASSERT_TRUE(i.price_micros.has_value());
    EXPECT_GE(*i.price_micros, 5'000'000);
    EXPECT_LE(*i.price_micros, 20'000'000);
  }
  EXPECT_NE(Find(cheap, "sock1"), nullptr);  // 5: on the bound
  EXPECT_NE(Find(cheap, "hat0"), nullptr);   // 20: on the bound
  // k caps the answer.
  EXPECT_EQ(engine_->RecommendSync(test::Req("u1", 2)).items.size(), 2u);

  // With exclude_bought off the purchase comes back; with exclude_seen the recent items go;
  // max_per_category keeps at most n of one category.
  Options o = test::TestOptions(4, 2);
  o.ranking.exclude_bought = false;
  o.ranking.exclude_seen = true;
  o.ranking.max_per_category = 1;
  Open(o);
  Shop();
  RecommendAnswer r = engine_->RecommendSync(test::Req("u1", 50));
  EXPECT_EQ(Find(r, "shoe1"), nullptr);  // seen
  EXPECT_EQ(Find(r, "shoe2"), nullptr);  // seen (and bought, but that is allowed now)
  std::set<std::string> categories;
  for (const RankedItem& i : r.items) EXPECT_TRUE(categories.insert(i.category).second) << i.item;
  o.ranking.exclude_seen = false;
  o.ranking.max_per_category = 0;
  Open(o);
  Shop();
  EXPECT_NE(Find(engine_->RecommendSync(test::Req("u1", 50)), "shoe2"), nullptr);
}

TEST_F(RecommendTest, FreshEveryRequest) {
  Shop();
  RecommendAnswer before = engine_->RecommendSync(test::Req("u9", 10));
  EXPECT_EQ(Find(before, "sock1") == nullptr || Find(before, "sock1")->signals[kCoView].raw == 0, true);
  // u9 views shoe1: sock1 (co-viewed with it) is recommended right away, from co-view.
  Ev("u9", "view", "shoe1", "shoes", 50, 20);
  Flush();
  RecommendAnswer after = engine_->RecommendSync(test::Req("u9", 10));
  ASSERT_NE(Find(after, "sock1"), nullptr);
  EXPECT_GT(Find(after, "sock1")->signals[kCoView].raw, 0);
  // u9 buys sock1: it disappears from the next answer.
  Ev("u9", "purchase", "sock1", "socks", 5, 21);
  Flush();
  EXPECT_EQ(Find(engine_->RecommendSync(test::Req("u9", 10)), "sock1"), nullptr);
}

TEST_F(RecommendTest, SameAnswersWhateverTheShardAndPartitionCounts) {
  auto run = [&](uint32_t partitions, int shards) {
    Options o = test::TestOptions(partitions, shards);
    // Small candidate lists, so that each shard's proposals are cut to the same global set.
    o.ranking.popular_candidates = 2;
    o.ranking.coview_candidates = 2;
    Open(o);
    Shop();
    std::string out;
    for (std::string user : {"u1", "o0", "o3", "nobody"}) {
      for (const RankedItem& i : engine_->RecommendSync(test::Req(user, 10)).items) {
        out += i.item + "=" + std::to_string(i.score) + " " + i.source + ";";
      }
    }
    for (const RankedItem& i : engine_->SimilarItemsRankedSync("shoe1", 10).items) {
      out += i.item + "=" + std::to_string(i.score) + " " + i.source + ";";
    }
    return out;
  };
  const std::string one = run(1, 1);
  EXPECT_EQ(run(4, 2), one);
  EXPECT_EQ(run(7, 3), one);
}

// Step 3 fetches trending sums only for the categories the proposing shards know their
// candidates by. Here x is proposed by shard 0 (co-view), which knows it as "old"; only
// shard 1 saw its newer category "new" (by an event of weight 0, so shard 1 does not
// propose x), and nothing shard 1 proposes is in "new": the answer takes one more step
// for "new", and x's trending signal is still exactly the category's window sum.
TEST_F(RecommendTest, TrendingOfACategoryOnlyAnotherShardKnowsAnItemBy) {
  Options o = test::TestOptions(4, 2);
  o.ranking.popular_candidates = 1;
  o.weights[static_cast<size_t>(EventType::kWishlist)] = 0;
  Open(o);
  auto on_shard = [&](int shard, std::string_view prefix) {
    for (int i = 0;; ++i) {
      const std::string user = std::string(prefix) + std::to_string(i);
      if (static_cast<uint32_t>(StableHash64(user)) % 4 % 2 == static_cast<uint32_t>(shard)) return user;
    }
  };
  const std::string r = on_shard(0, "r"), a = on_shard(0, "a"), b = on_shard(1, "b"),
                    c = on_shard(1, "c");
  Ev(a, "view", "seed", "s", 10, 0);
  Ev(a, "view", "x", "old", 10, 1);   // shard 0: seed <-> x, x is "old"
  Ev(r, "view", "seed", "s", 10, 2);  // r's seed
  Ev(b, "wishlist", "x", "new", 10, 5);  // shard 1 knows x as "new" (newer), weight 0
  Ev(c, "view", "y", "new", 10, 5);      // "new" trends on shard 1 through y...
  for (int i = 0; i < 3; ++i) Ev(c, "view", "z", "other", 10, 5);  // ...but z is its top
  Flush();
  RecommendAnswer ans = engine_->RecommendSync(test::Req(r, 10));
  const RankedItem* x = Find(ans, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->category, "new");
  EXPECT_EQ(x->source, "coview");
  EXPECT_EQ(Find(ans, "y"), nullptr);  // nothing proposed is in "new"
  std::map<std::string, double> trending;
  for (const TrendingCategory& t : engine_->TrendingCategoriesSync(0, 100).top) trending[t.category] = t.score;
  ASSERT_GT(trending["new"], 0);
  EXPECT_DOUBLE_EQ(x->signals[kTrending].raw, trending["new"]);
  ASSERT_NE(Find(ans, "seed"), nullptr);
  EXPECT_DOUBLE_EQ(Find(ans, "seed")->signals[kTrending].raw, trending["s"]);
}

TEST_F(RecommendTest, RankedReadsStillAnswerAfterStop) {
  Shop();
  const std::vector<std::string> before = Names(engine_->RecommendSync(test::Req("u1", 5)));
  const size_t similar = engine_->SimilarItemsRankedSync("shoe1", 5).items.size();
  engine_->Stop();  // the steps now run on the caller's thread, one after the other
  EXPECT_EQ(Names(engine_->RecommendSync(test::Req("u1", 5))), before);
  EXPECT_EQ(engine_->SimilarItemsRankedSync("shoe1", 5).items.size(), similar);
  EXPECT_EQ(engine_->RankOffersSync("u1", {{"A", "hats", 1}}, 1).top.size(), 1u);
  EXPECT_EQ(engine_->PopularItemsSync("", 3).top.size(), 3u);
}

TEST_F(RecommendTest, SimilarRankedIsCoViewFirstThenTheCategoryFallback) {
  Shop();
  RankedSimilarAnswer s = engine_->SimilarItemsRankedSync("shoe1", 10);
  EXPECT_EQ(s.category, "shoes");
  ASSERT_GE(s.items.size(), 2u);
  // Co-view neighbours first (sock1, the hats seen in the same sessions, shoe2), then
  // shoe3 from the same category's popular items.
  size_t i = 0;
  for (; i < s.items.size() && s.items[i].coview_count > 0; ++i) {
    EXPECT_NE(s.items[i].source.find("coview"), std::string::npos);
  }
  ASSERT_LT(i, s.items.size());
  EXPECT_EQ(s.items[i].item, "shoe3");
  EXPECT_EQ(s.items[i].source, "category");
  for (const RankedItem& it : s.items) EXPECT_NE(it.item, "shoe1");
  // hat0: viewed by two users and clicked by all six after shoe1: 8 pairs; sock1: 6.
  EXPECT_EQ(s.items[0].item, "hat0");
  EXPECT_EQ(s.items[0].coview_count, 8u);
  EXPECT_EQ(s.items[1].item, "sock1");
  EXPECT_EQ(s.items[1].coview_count, 6u);
  EXPECT_TRUE(engine_->SimilarItemsRankedSync("unknown", 10).items.empty());
}

TEST_F(RecommendTest, TrendingBoostOrdersOffersAsTheSeedExample) {
  // The seed's example: A (fashion, 90) beats B (electronics, 85) until electronics trends;
  // then B gets +30 and wins with 115.
  std::vector<Offer> offers = {{"A", "fashion", 90}, {"B", "electronics", 85}};
  Options o = test::TestOptions(4, 2);
  o.offers.bandit_weight = 0;  // the example has no bandit term
  Open(o);
  Ev("x", "view", "p1", "fashion", 10, 0);
  Flush();
  OffersAnswer before = engine_->RankOffersSync("u", offers, 2);
  ASSERT_EQ(before.top.size(), 2u);
  EXPECT_EQ(before.top[0].offer_id, "A");
  EXPECT_EQ(before.top[0].score, 90 + 30);  // fashion is the only trending category
  EXPECT_EQ(before.top[1].score, 85);
  for (int i = 0; i < 5; ++i) Ev("y" + std::to_string(i), "click", "tv", "electronics", 500, 1);
  Flush();
  OffersAnswer after = engine_->RankOffersSync("u", offers, 2);
  EXPECT_EQ(after.top[0].offer_id, "B");
  EXPECT_EQ(after.top[0].score, 115);
  EXPECT_EQ(after.top[0].trending, 30);
  EXPECT_EQ(after.top[0].trending_rank, 0);
  EXPECT_EQ(after.top[1].offer_id, "A");
  EXPECT_EQ(after.top[1].trending, 30.0 * 4 / 5);  // second of the top 5
  EXPECT_EQ(after.top[1].score, 90 + 24);
}

TEST_F(RecommendTest, OffersLearnFromEventsOnTheOfferIdAndAffinity) {
  std::vector<Offer> offers = {{"A", "fashion", 0}, {"B", "books", 0}};
  for (int i = 0; i < 40; ++i) Ev("v" + std::to_string(i), "view", "A", "fashion", 0, 0);
  for (int i = 0; i < 40; ++i) Ev("v" + std::to_string(i), "view", "B", "books", 0, 0);
  for (int i = 0; i < 30; ++i) Ev("v" + std::to_string(i), "redemption", "B", "books", 0, 1);
  Ev("reader", "purchase", "novel", "books", 12, 2);
  Flush();
  OffersAnswer a = engine_->RankOffersSync("reader", offers, 2);
  ASSERT_EQ(a.top.size(), 2u);
  const RankedOffer& b = a.top[0].offer_id == "B" ? a.top[0] : a.top[1];
  const RankedOffer& f = a.top[0].offer_id == "A" ? a.top[0] : a.top[1];
  EXPECT_EQ(b.views, 40u);
  EXPECT_EQ(b.conversions, 30u);
  EXPECT_EQ(f.views, 40u);
  EXPECT_EQ(f.conversions, 0u);
  EXPECT_EQ(b.affinity, engine_->options().offers.affinity_boost);  // reader's top category
  EXPECT_EQ(f.affinity, 0);
  EXPECT_EQ(a.top[0].offer_id, "B");  // 30/40 converts, 0/40 does not
  // Reproducible: the same request on the same state gives the same answer.
  OffersAnswer again = engine_->RankOffersSync("reader", offers, 2);
  EXPECT_EQ(again.top[0].sample, a.top[0].sample);
  EXPECT_EQ(again.top[1].sample, a.top[1].sample);
  for (const RankedOffer& r : a.top) {
    EXPECT_DOUBLE_EQ(r.score, r.priority + r.trending + r.affinity + r.bandit);
    EXPECT_DOUBLE_EQ(r.bandit, engine_->options().offers.bandit_weight * r.sample);
  }
}

// Under an experiment each user's answer is ranked by their variant's weights (here one
// variant ranks by popularity only, the other by recency only), names the variant, and a
// forced variant ranks as that variant; every answer has its own recommId.
TEST_F(RecommendTest, AnExperimentRanksEachUserByTheirVariantsWeights) {
  Options o = test::TestOptions(4, 2);
  Experiment e;
  e.name = "exp";
  e.salt = "s";
  for (auto [name, signal] : {std::pair{"pop", kPopularity}, std::pair{"rec", kRecency}}) {
    ExperimentVariant v;
    v.name = name;
    v.share = 0.5;
    v.ranking = o.ranking;
    v.ranking.weights = {};
    v.ranking.weights[signal] = 1;
    e.variants.push_back(v);
  }
  o.experiments.push_back(e);
  Open(o);
  Shop();
  std::set<std::string> ids, seen_variants;
  for (int u = 0; u < 6; ++u) {
    const std::string user = "o" + std::to_string(u);
    const size_t want = ranker::VariantOf(e, user);
    for (const std::string& forced : {std::string(), e.variants[1 - want].name}) {
      RecommendRequest r = test::Req(user, 5);
      r.variant = forced;
      RecommendAnswer a = engine_->RecommendSync(r);
      const size_t got = forced.empty() ? want : 1 - want;
      EXPECT_EQ(a.experiment, "exp");
      EXPECT_EQ(a.variant, e.variants[got].name) << user << " forced " << forced;
      seen_variants.insert(a.variant);
      EXPECT_TRUE(ids.insert(a.recomm_id).second) << a.recomm_id;
      ASSERT_FALSE(a.items.empty());
      const RankSignal only = got == 0 ? kPopularity : kRecency;
      for (const RankedItem& i : a.items) {
        for (size_t s = 0; s < kRankSignalCount; ++s) {
          if (s == only) continue;
          EXPECT_EQ(i.signals[s].contribution, 0) << user << " " << i.item << " " << s;
        }
        EXPECT_DOUBLE_EQ(i.score, i.signals[only].contribution);
      }
    }
  }
  EXPECT_EQ(seen_variants.size(), 2u);
}

}  // namespace

}  // namespace eddy
