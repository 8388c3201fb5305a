#include "load/zipf.h"

#include <algorithm>
#include <cmath>

namespace eddy::load {

Zipf::Zipf(uint64_t n, double s) : cdf_(std::max<uint64_t>(n, 1)) {
  double sum = 0;
  for (uint64_t k = 1; k <= cdf_.size(); ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k), s);
    cdf_[k - 1] = sum;
  }
  for (double& c : cdf_) c /= sum;
  cdf_.back() = 1.0;
}

uint64_t Zipf::Sample(std::mt19937_64& rng) const {
  return RankFor(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

uint64_t Zipf::RankFor(double u) const {
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return std::min<uint64_t>(static_cast<uint64_t>(it - cdf_.begin()) + 1, cdf_.size());
}

double Zipf::Probability(uint64_t k) const {
  if (k < 1 || k > cdf_.size()) return 0;
  return cdf_[k - 1] - (k >= 2 ? cdf_[k - 2] : 0.0);
}

}  // namespace eddy::load
