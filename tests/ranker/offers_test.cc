// The offer decision engine's arithmetic and its Thompson-sampling bandit (SPEC §6.3).
#include "ranker/offers.h"

#include <gtest/gtest.h>

#include <cmath>

namespace eddy::ranker {
namespace {

TEST(BanditTest, BetaSamplesHaveTheRightMeanAndVariance) {
  std::mt19937_64 rng(7);
  for (auto [a, b] : {std::pair{1.0, 1.0}, {2.0, 8.0}, {31.0, 11.0}, {0.5, 0.5}}) {
    const int n = 40'000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const double x = SampleBeta(a, b, rng);
      ASSERT_GE(x, 0);
      ASSERT_LE(x, 1);
      sum += x;
      sq += x * x;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    const double want_mean = a / (a + b), want_var = a * b / ((a + b) * (a + b) * (a + b + 1));
    // Five standard errors of the mean: a fixed seed makes this deterministic anyway.
    EXPECT_NEAR(mean, want_mean, 5 * std::sqrt(want_var / n)) << a << "," << b;
    EXPECT_NEAR(var, want_var, 0.05 * want_var + 1e-4) << a << "," << b;
  }
}

TEST(BanditTest, ScoreIsPriorityPlusTrendingPlusAffinityPlusBandit) {
  OfferOptions o;  // boost 30 over the top 5, affinity 10, bandit 20
  std::vector<OfferInput> offers = {{"a", "fashion", 90, 0, 0},
                                    {"b", "electronics", 85, 10, 5},
                                    {"c", "garden", 10, 0, 0},
                                    {"d", "books", 50, 0, 0}};
  OfferContext ctx;
  ctx.user = "u";
  ctx.trending = {"electronics", "toys", "books"};
  ctx.affinity = {{"books", 4.0}, {"garden", 2.0}};
  std::vector<OfferScore> r = RankOffers(offers, ctx, o, 4);
  ASSERT_EQ(r.size(), 4u);
  for (const OfferScore& s : r) {
    const OfferInput& in = offers[s.index];
    SCOPED_TRACE(in.offer_id);
    EXPECT_EQ(s.priority, in.priority);
    EXPECT_DOUBLE_EQ(s.score, s.priority + s.trending + s.affinity + s.bandit);
    EXPECT_DOUBLE_EQ(s.bandit, 20 * s.sample);
    const double trending = in.offer_id == "b"   ? 30.0           // rank 0 of 5
                            : in.offer_id == "d" ? 30.0 * 3 / 5  // rank 2 of 5
                                                 : 0.0;
    EXPECT_EQ(s.trending, trending);
    // d: the user's best category; c: half of it.
    const double affinity = in.offer_id == "d" ? 10.0 : in.offer_id == "c" ? 5.0 : 0.0;
    EXPECT_EQ(s.affinity, affinity);
  }
  for (size_t i = 1; i < r.size(); ++i) EXPECT_GE(r[i - 1].score, r[i].score);
  // k cuts the answer.
  EXPECT_EQ(RankOffers(offers, ctx, o, 2).size(), 2u);
}

TEST(BanditTest, AFixedSeedIsReproducibleAndTheSeedMatters) {
  std::vector<OfferInput> offers = {{"a", "", 0, 100, 7}, {"b", "", 0, 3, 1}, {"c", "", 0, 0, 0}};
  OfferContext ctx;
  ctx.user = "u1";
  OfferOptions o;
  auto samples = [&](const OfferOptions& opt, std::string_view user) {
    OfferContext c = ctx;
    c.user = user;
    std::vector<double> out(offers.size());
    for (const OfferScore& s : RankOffers(offers, c, opt, 3)) out[s.index] = s.sample;
    return out;
  };
  EXPECT_EQ(samples(o, "u1"), samples(o, "u1"));
  EXPECT_NE(samples(o, "u1"), samples(o, "u2"));  // users explore differently
  OfferOptions other = o;
  other.seed = 43;
  EXPECT_NE(samples(other, "u1"), samples(o, "u1"));
}

// Three offers with conversion rates 4 %, 8 % and 12 %, equal priorities: each round one
// user sees the top offer, which converts with its rate, and the outcome is counted. The
// bandit must find the best offer: most pulls go to it, and the regret of the second
// half is well below that of the first (sub-linear growth).
TEST(BanditTest, ThompsonSamplingConvergesToTheBestOffer) {
  const double rates[] = {0.04, 0.08, 0.12};
  std::vector<OfferInput> offers = {{"low", "", 0, 0, 0}, {"mid", "", 0, 0, 0}, {"high", "", 0, 0, 0}};
  OfferOptions o;
  std::mt19937_64 world(2026);
  std::uniform_real_distribution<double> coin(0, 1);
  const int rounds = 6000;
  int best_pulls_second_half = 0;
  double regret_first = 0, regret_second = 0;
  for (int t = 0; t < rounds; ++t) {
    OfferContext ctx;
    const std::string user = "user" + std::to_string(t);
    ctx.user = user;
    const size_t arm = RankOffers(offers, ctx, o, 1)[0].index;
    offers[arm].views++;
    if (coin(world) < rates[arm]) offers[arm].conversions++;
    const double regret = rates[2] - rates[arm];
    if (t < rounds / 2) {
      regret_first += regret;
    } else {
      regret_second += regret;
      best_pulls_second_half += arm == 2;
    }
  }
  EXPECT_GT(best_pulls_second_half, 0.8 * rounds / 2)
      << "pulls of the best offer in the second half";
  EXPECT_LT(regret_second, 0.5 * regret_first);
  EXPECT_GT(offers[2].views, offers[0].views + offers[1].views);
}

}  // namespace
}  // namespace eddy::ranker
