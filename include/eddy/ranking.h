#pragma once
// The signals of the recommendation score (SPEC §6.1), shared by the ranker, the engine's
// answers and the config.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eddy {

enum RankSignal : uint8_t { kCoView, kEmbed, kPopularity, kRecency, kTrending, kAffinity };
inline constexpr size_t kRankSignalCount = 6;
// Names used in explanations and config keys (weight_<name>), indexed by RankSignal.
inline constexpr std::array<std::string_view, kRankSignalCount> kRankSignalNames = {
    "coview", "embed", "popularity", "recency", "trending", "affinity"};

// One signal of one ranked item: its raw value, the value normalised to [0,1] over the
// candidates, and weight * normalised (the item's score is the sum of contributions).
struct SignalBreakdown {
  double raw = 0;
  double normalised = 0;
  double contribution = 0;
};

}  // namespace eddy
