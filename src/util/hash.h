#pragma once
// Stable hashes (XXH3): the same value on every run and machine, so partitioning and
// eventId identity survive restarts. Never use absl::Hash for anything persisted: it is
// seeded per process.

#include <cstdint>
#include <string>
#include <string_view>

#include "eddy/event.h"

namespace eddy {

uint64_t StableHash64(std::string_view s);
// The hash an event keeps of the recommId it names (Event::recomm): never 0 (0 is none).
inline uint64_t RecommHash(std::string_view recomm_id) {
  const uint64_t h = StableHash64(recomm_id);
  return h != 0 ? h : 1;
}
EventIdHash StableHash128(std::string_view s);

// `bytes` as lowercase hex, two digits a byte.
std::string HexOf(std::string_view bytes);

}  // namespace eddy
