#pragma once
// The offer decision engine (SPEC §6.3), free of engine plumbing:
//
//   score = priority + trending + affinity + bandit
//
//   trending = trending_boost * (n - r) / n   when the offer's category is r-th (0 = top)
//                                             of the n = trending_categories best
//   affinity = affinity_boost * aff(user, category) / max over the user's categories
//   bandit   = bandit_weight * θ,  θ ~ Beta(1 + conversions, 1 + max(0, views - conversions))
//
// Thompson sampling: an offer with no outcomes samples from Beta(1,1) (uniform), so new
// offers keep being tried; as views and conversions accumulate θ concentrates on the
// observed conversion rate and the better offers win more often.
//
// Reproducibility: each offer's θ comes from a generator seeded with (seed, user, offer,
// views, conversions), with a fixed Gamma sampler (Marsaglia-Tsang) over std::mt19937_64,
// whose output the C++ standard fixes. So the same request on the same state gives the
// same answer on every platform, and the answer moves as outcomes arrive.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/options.h"

namespace eddy::ranker {

// A sample of Beta(a, b), a, b > 0.
double SampleBeta(double a, double b, std::mt19937_64& rng);

struct OfferInput {
  std::string offer_id;
  std::string category;
  double priority = 0;
  uint64_t views = 0;        // events of type view whose itemId is the offer
  uint64_t conversions = 0;  // redemptions and purchases of it
};

// What the engine knows about the user and the moment.
struct OfferContext {
  std::string_view user;
  std::vector<std::string> trending;  // the best categories, best first
  // The user's affinity per category (any scale; only ratios to the best one count).
  std::vector<std::pair<std::string, double>> affinity;
};

struct OfferScore {
  size_t index = 0;  // into the inputs
  double score = 0;
  double priority = 0, trending = 0, affinity = 0, bandit = 0;
  double sample = 0;       // θ
  int trending_rank = -1;  // r, or -1 when the category is not among the best
};

// The top `k` offers, best first (ties: lower offer id).
std::vector<OfferScore> RankOffers(const std::vector<OfferInput>& offers, const OfferContext& ctx,
                                   const OfferOptions& options, uint32_t k);

}  // namespace eddy::ranker
