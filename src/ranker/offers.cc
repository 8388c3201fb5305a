#include "ranker/offers.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace eddy::ranker {
namespace {

// Uniform in (0, 1): the top 53 bits, never 0.
double Uniform(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

double Normal(std::mt19937_64& rng) {
  // Box-Muller; one of the pair is enough here.
  const double u1 = Uniform(rng), u2 = Uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through the boost
// Gamma(a) = Gamma(a + 1) * U^(1/a).
double SampleGamma(double shape, std::mt19937_64& rng) {
  if (shape < 1) return SampleGamma(shape + 1, rng) * std::pow(Uniform(rng), 1.0 / shape);
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = Normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = Uniform(rng);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
  }
}

// splitmix64's finaliser: every input bit moves every output bit.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

double SampleBeta(double a, double b, std::mt19937_64& rng) {
  const double x = SampleGamma(a, rng), y = SampleGamma(b, rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

std::vector<OfferScore> RankOffers(const std::vector<OfferInput>& offers, const OfferContext& ctx,
                                   const OfferOptions& o, uint32_t k) {
  double best_affinity = 0;
  for (const auto& [c, a] : ctx.affinity) best_affinity = std::max(best_affinity, a);
  const size_t n = std::min<size_t>(o.trending_categories, ctx.trending.size());
  const uint64_t user_hash = StableHash64(ctx.user);
  std::vector<OfferScore> out(offers.size());
  for (size_t i = 0; i < offers.size(); ++i) {
    const OfferInput& in = offers[i];
    OfferScore& s = out[i];
    s.index = i;
    s.priority = in.priority;
    for (size_t r = 0; r < n; ++r) {
      if (ctx.trending[r] == in.category) {
        s.trending_rank = static_cast<int>(r);
        s.trending = o.trending_boost * static_cast<double>(o.trending_categories - r) /
                     static_cast<double>(o.trending_categories);
        break;
      }
    }
    if (best_affinity > 0) {
      for (const auto& [c, a] : ctx.affinity) {
        if (c == in.category) s.affinity = o.affinity_boost * std::max(0.0, a) / best_affinity;
      }
    }
    const uint64_t conversions = in.conversions;
    const uint64_t failures = in.views > conversions ? in.views - conversions : 0;
    uint64_t seed = o.seed;
    for (uint64_t v : {user_hash, StableHash64(in.offer_id), in.views, conversions}) {
      seed = Mix(seed ^ v);
    }
    std::mt19937_64 rng(seed);
    s.sample = SampleBeta(1.0 + static_cast<double>(conversions),
                          1.0 + static_cast<double>(failures), rng);
    s.bandit = o.bandit_weight * s.sample;
    s.score = s.priority + s.trending + s.affinity + s.bandit;
  }
  std::sort(out.begin(), out.end(), [&](const OfferScore& a, const OfferScore& b) {
    return a.score != b.score ? a.score > b.score
                              : offers[a.index].offer_id < offers[b.index].offer_id;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace eddy::ranker
