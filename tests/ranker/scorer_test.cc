#include "ranker/scorer.h"

#include <deque>
#include <string>

#include <gtest/gtest.h>

namespace eddy::ranker {
namespace {

const SignalValues kWeights = {0.4, 0.3, 0.2, 0.1, 0.05, 0.15};

// Candidates hold views of their names: the test's names live here for the whole run.
std::string_view Keep(std::string s) {
  static std::deque<std::string> names;
  return names.emplace_back(std::move(s));
}

Candidate Item(std::string name, std::string category, SignalValues raw) {
  Candidate c;
  c.item = Keep(std::move(name));
  c.category = Keep(std::move(category));
  c.raw = raw;
  return c;
}

std::vector<std::string> Names(const std::vector<Scored>& v) {
  std::vector<std::string> out;
  for (const Scored& s : v) out.push_back(std::string(s.candidate->item));
  return out;
}

// Hand-computed: each signal divided by its maximum over the candidates, then weighted.
TEST(ScorerTest, ScoreIsTheWeightedSumOfMaxNormalisedSignals) {
  const std::vector<Candidate> c = {
      Item("a", "x", {8, 0, 50, 1, 0, 2}),
      Item("b", "x", {4, 0, 100, 0.5, 0, 0}),
      Item("c", "y", {0, 0, 25, 0.25, 0, 4}),
  };
  const std::vector<Scored> r = Rank(c, kWeights, Rules{}, 10);
  ASSERT_EQ(Names(r), (std::vector<std::string>{"a", "b", "c"}));
  // a: 0.4*8/8 + 0.2*50/100 + 0.1*1/1 + 0.15*2/4 = 0.4 + 0.1 + 0.1 + 0.075 = 0.675
  EXPECT_DOUBLE_EQ(r[0].score, 0.675);
  // b: 0.4*0.5 + 0.2*1 + 0.1*0.5 = 0.2 + 0.2 + 0.05 = 0.45
  EXPECT_DOUBLE_EQ(r[1].score, 0.45);
  // c: 0.2*0.25 + 0.1*0.25 + 0.15*1 = 0.05 + 0.025 + 0.15 = 0.225
  EXPECT_DOUBLE_EQ(r[2].score, 0.225);
  EXPECT_DOUBLE_EQ(r[0].normalised[kPopularity], 0.5);
  EXPECT_DOUBLE_EQ(r[2].normalised[kAffinity], 1.0);
  EXPECT_DOUBLE_EQ(r[0].normalised[kEmbed], 0.0);  // an all-zero signal contributes nothing
}

TEST(ScorerTest, ContributionsSumToTheScoreAndNormalisedValuesStayInRange) {
  std::vector<Candidate> c;
  for (int i = 0; i < 50; ++i) {
    c.push_back(Item("i" + std::to_string(i), "c" + std::to_string(i % 4),
                     {double(i % 7), double(i % 3), i * 1.5, 1.0 / (1 + i), double(i % 5), 0.1 * i}));
  }
  for (const Scored& s : Rank(c, kWeights, Rules{}, 50)) {
    double sum = 0;
    for (size_t i = 0; i < kSignalCount; ++i) {
      sum += s.contribution[i];
      EXPECT_GE(s.normalised[i], 0.0);
      EXPECT_LE(s.normalised[i], 1.0);
      EXPECT_DOUBLE_EQ(s.contribution[i], kWeights[i] * s.normalised[i]);
    }
    EXPECT_DOUBLE_EQ(sum, s.score);
  }
}

TEST(ScorerTest, TiesGoToTheLowerItemNameAndNegativeSignalsCountAsZero) {
  const std::vector<Candidate> c = {
      Item("b", "x", {1, 0, 0, 0, 0, 0}),
      Item("a", "x", {1, 0, 0, 0, 0, 0}),
      Item("z", "x", {-5, 0, 0, 0, 0, 0}),
  };
  const std::vector<Scored> r = Rank(c, kWeights, Rules{}, 10);
  EXPECT_EQ(Names(r), (std::vector<std::string>{"a", "b", "z"}));
  EXPECT_DOUBLE_EQ(r[2].score, 0.0);
  EXPECT_TRUE(Rank(c, kWeights, Rules{}, 0).empty());
}

TEST(ScorerTest, CategoryAndPriceFilters) {
  std::vector<Candidate> c = {
      Item("cheap", "shoes", {1, 0, 0, 0, 0, 0}),
      Item("dear", "shoes", {2, 0, 0, 0, 0, 0}),
      Item("unpriced", "shoes", {3, 0, 0, 0, 0, 0}),
      Item("hat", "hats", {4, 0, 0, 0, 0, 0}),
  };
  c[0].price_micros = 10'000'000;
  c[1].price_micros = 90'000'000;
  c[3].price_micros = 20'000'000;
  Rules shoes;
  shoes.category = "shoes";
  EXPECT_EQ(Names(Rank(c, kWeights, shoes, 10)),
            (std::vector<std::string>{"unpriced", "dear", "cheap"}));
  Rules price;
  price.min_price_micros = 15'000'000;
  price.max_price_micros = 90'000'000;  // bounds are inclusive; unknown prices excluded
  EXPECT_EQ(Names(Rank(c, kWeights, price, 10)), (std::vector<std::string>{"hat", "dear"}));
  Rules max_only;
  max_only.max_price_micros = 10'000'000;
  EXPECT_EQ(Names(Rank(c, kWeights, max_only, 10)), (std::vector<std::string>{"cheap"}));
}

TEST(ScorerTest, OutOfStockAndBoughtItemsAreExcluded) {
  std::vector<Candidate> c = {
      Item("gone", "x", {3, 0, 0, 0, 0, 0}),
      Item("owned", "x", {2, 0, 0, 0, 0, 0}),
      Item("fine", "x", {1, 0, 0, 0, 0, 0}),
  };
  c[0].in_stock = false;
  c[1].bought = true;
  EXPECT_EQ(Names(Rank(c, kWeights, Rules{}, 10)), (std::vector<std::string>{"fine"}));
  Rules keep_bought;
  keep_bought.exclude_bought = false;
  EXPECT_EQ(Names(Rank(c, kWeights, keep_bought, 10)), (std::vector<std::string>{"owned", "fine"}));
  // Normalisation is over the surviving candidates: "fine" is now the best co-view item.
  EXPECT_DOUBLE_EQ(Rank(c, kWeights, Rules{}, 10)[0].normalised[kCoView], 1.0);
}

TEST(ScorerTest, AtMostMaxPerCategoryOfOneCategory) {
  const std::vector<Candidate> c = {
      Item("x1", "x", {9, 0, 0, 0, 0, 0}), Item("x2", "x", {8, 0, 0, 0, 0, 0}),
      Item("x3", "x", {7, 0, 0, 0, 0, 0}), Item("y1", "y", {2, 0, 0, 0, 0, 0}),
      Item("z1", "z", {1, 0, 0, 0, 0, 0}),
  };
  Rules r;
  r.max_per_category = 2;
  EXPECT_EQ(Names(Rank(c, kWeights, r, 4)), (std::vector<std::string>{"x1", "x2", "y1", "z1"}));
  EXPECT_EQ(Names(Rank(c, kWeights, r, 2)), (std::vector<std::string>{"x1", "x2"}));
  r.max_per_category = 1;
  EXPECT_EQ(Names(Rank(c, kWeights, r, 10)), (std::vector<std::string>{"x1", "y1", "z1"}));
}

// The best k of many (ordered only as far as k when no per-category cap applies) are the
// first k of the whole order, ties included (broken by item name).
TEST(ScorerTest, TheBestKAreTheFirstKOfTheWholeOrder) {
  std::vector<Candidate> c;
  for (int i = 0; i < 500; ++i) {
    // Few distinct values: many ties, decided by name.
    const double v = static_cast<double>((i * 7919) % 13);
    c.push_back(Item("item-" + std::to_string((i * 31) % 500), "cat", {v, v / 2, 0, 0, 0, 0}));
  }
  const std::vector<Scored> all = Rank(c, kWeights, Rules{}, static_cast<uint32_t>(c.size()));
  ASSERT_EQ(all.size(), c.size());
  for (uint32_t k : {1u, 10u, 99u, 499u}) {
    const std::vector<Scored> top = Rank(c, kWeights, Rules{}, k);
    std::vector<std::string> want = Names(all);
    want.resize(k);
    EXPECT_EQ(Names(top), want) << "k " << k;
    for (size_t i = 0; i < top.size(); ++i) EXPECT_EQ(top[i].score, all[i].score);
  }
}

}  // namespace
}  // namespace eddy::ranker
