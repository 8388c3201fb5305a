#pragma once
// Bucketing users into an experiment's variants (issue 19): u = the stable 64-bit hash of
// the experiment's salt, a 0x1F separator and the user id, as a fraction of 2^64, against
// the variants' cumulative shares. The same user gets the same variant on every restart
// and every node (the hash is XXH3, never seeded per process); another salt reshuffles.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string_view>
#include <vector>

#include "eddy/options.h"

namespace eddy::ranker {

// The index into e.variants of `user`'s variant (e has at least one variant).
size_t VariantOf(const Experiment& e, std::string_view user);
// The same against `shares` (one per variant, summing to 1: a Thompson allocation) instead
// of the configured ones; the configured ones when `shares` has another size.
size_t VariantOf(const Experiment& e, std::string_view user, const std::vector<double>& shares);

}  // namespace eddy::ranker
