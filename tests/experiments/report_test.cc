// The experiment report's statistics (src/experiments/report.h): Wilson intervals against
// published values, P(best) from Beta posteriors (certain, even and reproducible cases),
// Thompson shares with their floor, and a report built from counts.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "experiments/attribution.h"
#include "experiments/report.h"

namespace eddy {
namespace {

TEST(ReportTest, WilsonIntervalsMatchTheTextbook) {
  // 50 of 100: 0.5 in [0.4038, 0.5962] (Wilson 1927; Newcombe 1998, method 3).
  Proportion p = WilsonProportion(50, 100);
  EXPECT_DOUBLE_EQ(p.rate, 0.5);
  EXPECT_NEAR(p.low, 0.4038, 1e-4);
  EXPECT_NEAR(p.high, 0.5962, 1e-4);
  // 0 of 10: [0, 0.2775] — not the degenerate [0, 0] of the normal approximation.
  p = WilsonProportion(0, 10);
  EXPECT_EQ(p.rate, 0);
  EXPECT_EQ(p.low, 0);
  EXPECT_NEAR(p.high, 0.2775, 1e-4);
  // 81 of 263 (Newcombe's example): [0.2553, 0.3662].
  p = WilsonProportion(81, 263);
  EXPECT_NEAR(p.low, 0.2553, 1e-4);
  EXPECT_NEAR(p.high, 0.3662, 1e-4);
  p = WilsonProportion(0, 0);
  EXPECT_EQ(p.rate + p.low + p.high, 0);
}

TEST(ReportTest, ProbabilityBestIsCertainForAClearWinnerEvenForEqualsAndReproducible) {
  std::vector<double> p = ProbabilityBest({{900, 1000}, {100, 1000}}, 7);
  EXPECT_GT(p[0], 0.999);
  EXPECT_NEAR(p[0] + p[1], 1, 1e-12);
  p = ProbabilityBest({{500, 1000}, {500, 1000}}, 7);
  EXPECT_NEAR(p[0], 0.5, 0.025);  // 5 000 draws: the standard error is 0.007
  EXPECT_EQ(ProbabilityBest({{30, 100}, {35, 100}, {20, 100}}, 9),
            ProbabilityBest({{30, 100}, {35, 100}, {20, 100}}, 9));
  // With no data every variant is as likely: the uniform prior.
  p = ProbabilityBest({{0, 0}, {0, 0}, {0, 0}, {0, 0}}, 3);
  for (double x : p) EXPECT_NEAR(x, 0.25, 0.02);
}

TEST(ReportTest, ThompsonSharesKeepTheFloorAndSumToOne) {
  std::vector<double> s = ThompsonShares({1, 0}, 0.1);
  EXPECT_DOUBLE_EQ(s[0], 0.9);
  EXPECT_DOUBLE_EQ(s[1], 0.1);
  s = ThompsonShares({0.2, 0.3, 0.5}, 0.05);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1, 1e-12);
  EXPECT_NEAR(s[0], 0.05 + 0.85 * 0.2, 1e-12);
}

TEST(ReportTest, AReportHasTheConfiguredVariantsThenRecordedOnesWithRatesAndIntervals) {
  Experiment e;
  e.name = "exp";
  e.variants = {{"A", 0.5, {}, {}}, {"B", 0.5, {}, {}}};
  std::map<std::string, ExperimentCounts> counts;
  ExperimentCounts a;
  a.served = 120;
  a.shown = 100;
  a.clicked = 30;
  a.carted = 10;
  a.bought = 5;
  a.revenue_micros = 50'000'000;  // 5 answers of 10 each
  a.revenue_sq = static_cast<__int128>(5) * 10'000'000 * 10'000'000;  // micros²
  counts[ExperimentState::KeyOf("exp", "A")] = a;
  counts[ExperimentState::KeyOf("exp", "Z")].served = 1;   // no longer configured
  counts[ExperimentState::KeyOf("other", "A")].served = 9;  // another experiment
  const ExperimentReport r = BuildReport("exp", &e, true, counts, {});
  ASSERT_EQ(r.variants.size(), 3u);
  EXPECT_EQ(r.variants[0].name, "A");
  EXPECT_EQ(r.variants[1].name, "B");
  EXPECT_EQ(r.variants[2].name, "Z");
  EXPECT_EQ(r.variants[0].counts, a);
  EXPECT_DOUBLE_EQ(r.variants[0].ctr.rate, 0.3);
  EXPECT_DOUBLE_EQ(r.variants[0].conversion.rate, 0.05);
  EXPECT_DOUBLE_EQ(r.variants[0].cart_rate.rate, 0.1);
  EXPECT_DOUBLE_EQ(r.variants[0].allocation, 0.5);
  // Revenue per shown answer: mean 0.5; s² = (500 − 100 · 0.25) / 99 = 4.798; half-width
  // 1.96 · √(4.798 / 100) = 0.4293.
  EXPECT_DOUBLE_EQ(r.variants[0].revenue_per_impression, 0.5);
  EXPECT_NEAR(r.variants[0].rpi_high - 0.5, 0.4293, 1e-3);
  EXPECT_NEAR(0.5 - r.variants[0].rpi_low, 0.4293, 1e-3);
  // B and Z have no data: under the uniform prior each could be anything, so each is
  // likelier best than A (whose rate is known to be near 30%) — and they tie.
  EXPECT_LT(r.variants[0].p_best_ctr, r.variants[1].p_best_ctr);
  EXPECT_NEAR(r.variants[1].p_best_ctr, r.variants[2].p_best_ctr, 0.03);
  EXPECT_NEAR(r.variants[0].p_best_ctr + r.variants[1].p_best_ctr + r.variants[2].p_best_ctr, 1, 1e-9);
  EXPECT_EQ(r.impressions, "client");
  EXPECT_EQ(r.allocation, "fixed");
  EXPECT_TRUE(r.running);
}

}  // namespace
}  // namespace eddy
