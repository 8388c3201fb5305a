#pragma once
// Bench inputs: Taobao-shaped events, read from ../shared/evaldata when present, otherwise
// synthesised with the same shape (ids, category, behaviour, epoch seconds).

#include <string>
#include <vector>

namespace eddy::bench {

// One JSON object per event, in the data set's order; `n` events (cycled if needed).
std::vector<std::string> TaobaoEvents(size_t n);
// Whether TaobaoEvents came from the real data set.
bool HaveTaobao();
std::string JoinNdjson(const std::vector<std::string>& events, size_t from, size_t count);

}  // namespace eddy::bench
