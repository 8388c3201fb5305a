#include "experiments/report.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace eddy {
namespace {

constexpr double kZ = 1.959963984540054;  // the 97.5th percentile of the standard normal

// xoshiro256** seeded by splitmix64: the same draws on every platform (std's
// distributions are not specified bit for bit).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Standard normal (Box–Muller; one of the pair).
  double Normal() {
    return std::sqrt(-2 * std::log(Uniform())) * std::cos(6.283185307179586 * Uniform());
  }
  // Gamma(shape, 1), Marsaglia and Tsang; shape < 1 through the boost U^(1/shape).
  double Gamma(double shape) {
    if (shape < 1) return Gamma(shape + 1) * std::pow(Uniform(), 1 / shape);
    const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = Uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
    }
  }
  double Beta(double a, double b) {
    const double x = Gamma(a), y = Gamma(b);
    return x / (x + y);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

std::string_view ImpressionName(ImpressionMode m) { return m == ImpressionMode::kServe ? "serve" : "client"; }
std::string_view AllocationName(AllocationMode m) {
  return m == AllocationMode::kThompson ? "thompson" : "fixed";
}
std::string_view GoalName(ExperimentGoal g) { return g == ExperimentGoal::kConversion ? "conversion" : "ctr"; }

}  // namespace

Proportion WilsonProportion(uint64_t x, uint64_t n) {
  if (n == 0) return {};
  const double nn = static_cast<double>(n), p = static_cast<double>(std::min(x, n)) / nn;
  const double z2 = kZ * kZ;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = kZ * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  // At 0 of n or n of n the bound is exactly 0 or 1 (rounding would leave 1e-19).
  return {p, x == 0 ? 0.0 : std::max(0.0, centre - half), x >= n ? 1.0 : std::min(1.0, centre + half)};
}

std::vector<double> ProbabilityBest(const std::vector<std::pair<uint64_t, uint64_t>>& xn,
                                    uint64_t seed, int draws) {
  std::vector<double> wins(xn.size(), 0);
  if (xn.empty()) return wins;
  Rng rng(seed);
  std::vector<double> sample(xn.size());
  for (int d = 0; d < draws; ++d) {
    for (size_t i = 0; i < xn.size(); ++i) {
      const auto [x, n] = xn[i];
      const uint64_t hit = std::min(x, n);
      sample[i] = rng.Beta(1 + static_cast<double>(hit), 1 + static_cast<double>(n - hit));
    }
    wins[static_cast<size_t>(std::max_element(sample.begin(), sample.end()) - sample.begin())] += 1;
  }
  for (double& w : wins) w /= draws;
  return wins;
}

std::vector<double> ThompsonShares(const std::vector<double>& p_best, double floor) {
  const double v = static_cast<double>(p_best.size());
  const double free = std::max(0.0, 1 - v * floor);
  std::vector<double> shares;
  for (double p : p_best) shares.push_back(floor + free * p);
  return shares;
}

ExperimentReport BuildReport(std::string_view name, const Experiment* config, bool running,
                             const std::map<std::string, ExperimentCounts>& counts,
                             const std::vector<double>& allocation) {
  ExperimentReport out;
  out.name = std::string(name);
  out.configured = config != nullptr;
  out.running = running;
  if (config != nullptr) {
    out.impressions = ImpressionName(config->impressions);
    out.allocation = AllocationName(config->allocation);
    out.goal = GoalName(config->goal);
    for (size_t i = 0; i < config->variants.size(); ++i) {
      VariantReport v;
      v.name = config->variants[i].name;
      v.share = config->variants[i].share;
      v.allocation = i < allocation.size() ? allocation[i] : v.share;
      out.variants.push_back(std::move(v));
    }
  }
  // The recorded counts: a key is experiment, kServedSep, variant.
  std::string prefix(name);
  prefix.push_back(kServedSep);
  for (auto it = counts.lower_bound(prefix); it != counts.end() && it->first.starts_with(prefix); ++it) {
    const std::string_view variant = std::string_view(it->first).substr(prefix.size());
    auto v = std::find_if(out.variants.begin(), out.variants.end(),
                          [&](const VariantReport& r) { return r.name == variant; });
    if (v == out.variants.end()) {
      out.variants.push_back({});
      v = out.variants.end() - 1;
      v->name = std::string(variant);
    }
    v->counts = it->second;
  }
  std::vector<std::pair<uint64_t, uint64_t>> clicks, buys;
  for (VariantReport& v : out.variants) {
    const ExperimentCounts& c = v.counts;
    v.ctr = WilsonProportion(c.clicked, c.shown);
    v.cart_rate = WilsonProportion(c.carted, c.shown);
    v.conversion = WilsonProportion(c.bought, c.shown);
    if (c.shown > 0) {
      const double n = static_cast<double>(c.shown);
      const double mean = static_cast<double>(c.revenue_micros) / 1e6 / n;
      const double sq = static_cast<double>(c.revenue_sq) / 1e12;  // in currency units²
      const double var = c.shown > 1 ? std::max(0.0, (sq - n * mean * mean) / (n - 1)) : 0;
      const double half = kZ * std::sqrt(var / n);
      v.revenue_per_impression = mean;
      v.rpi_low = mean - half;
      v.rpi_high = mean + half;
    }
    clicks.emplace_back(c.clicked, c.shown);
    buys.emplace_back(c.bought, c.shown);
  }
  const uint64_t seed = StableHash64(name);
  const std::vector<double> best_ctr = ProbabilityBest(clicks, seed);
  const std::vector<double> best_conversion = ProbabilityBest(buys, seed + 1);
  for (size_t i = 0; i < out.variants.size(); ++i) {
    out.variants[i].p_best_ctr = best_ctr[i];
    out.variants[i].p_best_conversion = best_conversion[i];
  }
  return out;
}

}  // namespace eddy
