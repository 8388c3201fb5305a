#pragma once
// The recommendation scorer (SPEC §6.1), free of engine plumbing: given candidate items
// with their raw signals, it applies the business rules, normalises each signal to [0,1]
// over the surviving candidates, scores them with the configured weights, orders them and
// enforces diversity. The engine gathers the candidates and raw signals (issue 7).
//
//   score = Σ_s w_s · norm_s,   norm_s = raw_s / max over candidates of raw_s (0 if all 0)
//
// Max-normalisation keeps 0 meaning "no signal" and makes each signal's best candidate 1;
// raw signals must be >= 0 (negative ones are treated as 0). Ties: lower item name first,
// so answers are deterministic.
//
// Business rules, in order: the category filter, the price range (an item whose price was
// never seen is excluded when a bound is set: its price cannot be vouched for), out of
// stock, already bought (when `exclude_bought`); then, walking the ranked list, at most
// `max_per_category` items of one category (0 = no limit).
//
// Candidates must be distinct items (the caller merges an item found by several sources).
//
// Thread-safety: pure functions.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/ranking.h"

namespace eddy::ranker {

inline constexpr size_t kSignalCount = kRankSignalCount;

using SignalValues = std::array<double, kSignalCount>;

// The names are views: the caller keeps them alive while it ranks and reads the result
// (the engine's point into its interners, under the read's epoch guard; Scored points into
// the candidates anyway). A ranked read has hundreds of candidates: copying each name was
// ~5 % of its CPU.
struct Candidate {
  std::string_view item;
  std::string_view category;            // "" when unknown
  std::optional<int64_t> price_micros;  // the item's last seen unit price
  bool in_stock = true;
  bool bought = false;                  // the user already bought it
  SignalValues raw{};
};

struct Rules {
  std::string category;                 // only this category ("" = any)
  std::optional<int64_t> min_price_micros, max_price_micros;
  bool exclude_bought = true;
  uint32_t max_per_category = 0;        // 0 = no limit
};

struct Scored {
  const Candidate* candidate = nullptr;
  double score = 0;
  SignalValues normalised{};
  SignalValues contribution{};          // weight * normalised; they sum to score
};

// The top `k` candidates under `rules`, best first.
std::vector<Scored> Rank(const std::vector<Candidate>& candidates, const SignalValues& weights,
                         const Rules& rules, uint32_t k);

}  // namespace eddy::ranker
