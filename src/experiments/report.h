#pragma once
// The experiment report (GET /v1/experiments, issue 19): rates with intervals and the
// probability that each variant is best, from the attribution counts summed over shards;
// and the Thompson-sampling shares of auto-allocation. Pure functions of their inputs
// (the Monte Carlo draws use a fixed seed), so one set of counts always gives one report.
//
// - A rate (click-through, add-to-cart, conversion) is a proportion of shown answers;
//   its 95% interval is Wilson's score interval, which holds its coverage near 0 and 1
//   and for small n, where the normal approximation does not.
// - Revenue per shown answer: mean ± 1.96 · s / √n (s from Σ revenue²: the normal
//   approximation to the mean, fine from tens of answers up).
// - P(best): each variant's rate ~ Beta(1 + x, 1 + n − x) (a uniform prior), the share of
//   kBestDraws joint draws in which that variant's draw is the highest.
// - Thompson shares: floor + (1 − V · floor) · P(best on the goal).
//
// Thread-safety: pure functions.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/engine.h"
#include "eddy/options.h"

namespace eddy {

// Draws for P(best): a standard error of at most 0.007 (√(0.25 / 5000)), at ~0.6 ms for two
// variants — it runs on the shard thread that merges the counts, so it is kept short.
inline constexpr int kBestDraws = 5'000;

// x of n with its 95% Wilson interval; n == 0 gives all zero.
Proportion WilsonProportion(uint64_t x, uint64_t n);

// For (x, n) per variant: the probability that each one's rate is the highest.
std::vector<double> ProbabilityBest(const std::vector<std::pair<uint64_t, uint64_t>>& xn,
                                    uint64_t seed, int draws = kBestDraws);

// Shares from P(best): each at least `floor`, summing to 1.
std::vector<double> ThompsonShares(const std::vector<double>& p_best, double floor);

// The report of experiment `name` from the counts of every variant key (experiment,
// kServedSep, variant) summed over shards. `config` is its configuration, or nullptr when
// only its recorded answers remain; `allocation` the current shares (by the config's
// variants) or empty for the configured ones. (The allocation history is the caller's.)
ExperimentReport BuildReport(std::string_view name, const Experiment* config, bool running,
                             const std::map<std::string, ExperimentCounts>& counts,
                             const std::vector<double>& allocation);

}  // namespace eddy
