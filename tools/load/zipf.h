#pragma once
// Zipf sampler over ranks 1..n with exponent s: P(k) ∝ 1 / k^s. Exact: a precomputed CDF
// and a binary search (8 bytes per rank; n up to a few million is fine for a load tool).
// Thread-safety: Sample() is const; each thread brings its own random engine.

#include <cstdint>
#include <random>
#include <vector>

namespace eddy::load {

class Zipf {
 public:
  Zipf(uint64_t n, double s);
  // A rank in [1, n]; rank 1 is the most frequent.
  uint64_t Sample(std::mt19937_64& rng) const;
  // The rank whose CDF interval holds u in [0, 1): a deterministic draw.
  uint64_t RankFor(double u) const;
  // P(rank == k).
  double Probability(uint64_t k) const;
  uint64_t n() const { return cdf_.size(); }

 private:
  std::vector<double> cdf_;
};

}  // namespace eddy::load
