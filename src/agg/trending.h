#pragma once
// Trending categories and velocity (SPEC §3.1-3.2): weighted sums and counts per category
// per minute, with running totals per window. See WindowedSums.

#include "agg/windowed_sums.h"
#include "eddy/ids.h"

namespace eddy {

using CategoryWindows = WindowedSums<CategoryId>;

}  // namespace eddy
