// Bucketing users into experiment variants (src/ranker/experiments.h): stable, shares
// within binomial bounds, another salt reshuffles, shares of 1 and of tiny variants.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ranker/experiments.h"

namespace eddy::ranker {
namespace {

Experiment Make(const std::string& salt, std::vector<double> shares) {
  Experiment e;
  e.name = "exp";
  e.salt = salt;
  for (size_t i = 0; i < shares.size(); ++i) {
    ExperimentVariant v;
    v.name = "v" + std::to_string(i);
    v.share = shares[i];
    e.variants.push_back(v);
  }
  return e;
}

std::string User(int i) { return "user-" + std::to_string(i); }

TEST(ExperimentsTest, SharesHoldWithinBinomialBoundsAndTheSameUserStays) {
  const Experiment e = Make("s1", {0.5, 0.3, 0.2});
  constexpr int kUsers = 100'000;
  std::vector<int> count(3);
  for (int i = 0; i < kUsers; ++i) ++count[VariantOf(e, User(i))];
  for (size_t v = 0; v < 3; ++v) {
    const double p = e.variants[v].share;
    const double sd = std::sqrt(kUsers * p * (1 - p));
    // 4 standard deviations (the hash is fixed, so this either always holds or never).
    EXPECT_NEAR(count[v], kUsers * p, 4 * sd) << "variant " << v << ": " << count[v];
  }
  // Stable: asked again (a restart, another node, another Experiment object) -> the same.
  const Experiment again = Make("s1", {0.5, 0.3, 0.2});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(VariantOf(e, User(i)), VariantOf(again, User(i))) << i;
  // The user id is the key, not the position: "user-1" never depends on other users.
  EXPECT_EQ(VariantOf(e, "user-1"), VariantOf(e, std::string("user-") + "1"));
}

TEST(ExperimentsTest, AnotherSaltReshufflesTheUsers) {
  const Experiment a = Make("s1", {0.5, 0.5}), b = Make("s2", {0.5, 0.5});
  int same = 0;
  constexpr int kUsers = 20'000;
  for (int i = 0; i < kUsers; ++i) same += VariantOf(a, User(i)) == VariantOf(b, User(i));
  // Independent halves agree for about half the users.
  EXPECT_NEAR(same, kUsers / 2, 4 * std::sqrt(kUsers * 0.25)) << same;
}

TEST(ExperimentsTest, AWholeShareTakesEveryoneAndATinyOneSome) {
  const Experiment all = Make("s", {1.0, 0.0});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(VariantOf(all, User(i)), 0u);
  const Experiment tiny = Make("s", {0.99, 0.01});
  int in_tiny = 0;
  for (int i = 0; i < 100'000; ++i) in_tiny += VariantOf(tiny, User(i)) == 1;
  EXPECT_NEAR(in_tiny, 1000, 4 * std::sqrt(100'000 * 0.01 * 0.99)) << in_tiny;
}

}  // namespace
}  // namespace eddy::ranker
