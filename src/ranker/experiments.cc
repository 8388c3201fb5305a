#include "ranker/experiments.h"

#include <string>

#include "util/hash.h"

namespace eddy::ranker {

size_t VariantOf(const Experiment& e, std::string_view user) {
  return VariantOf(e, user, {});
}

size_t VariantOf(const Experiment& e, std::string_view user, const std::vector<double>& shares) {
  const bool own = shares.size() == e.variants.size();
  std::string key;
  key.reserve(e.salt.size() + 1 + user.size());
  key.append(e.salt).push_back('\x1f');
  key.append(user);
  // The top 53 bits as a double in [0, 1): exact, so the cut points are the shares'.
  const double u = static_cast<double>(StableHash64(key) >> 11) * 0x1.0p-53;
  double cumulative = 0;
  for (size_t i = 0; i + 1 < e.variants.size(); ++i) {
    cumulative += own ? shares[i] : e.variants[i].share;
    if (u < cumulative) return i;
  }
  return e.variants.size() - 1;  // the last takes the rest (shares sum to 1 ± 1e-9)
}

}  // namespace eddy::ranker
