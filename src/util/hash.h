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
EventIdHash StableHash128(std::string_view s);

// `bytes` as lowercase hex, two digits a byte.
std::string HexOf(std::string_view bytes);

}  // namespace eddy
