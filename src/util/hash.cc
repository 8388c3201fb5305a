#include "util/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace eddy {

uint64_t StableHash64(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

EventIdHash StableHash128(std::string_view s) {
  XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
  EventIdHash out{h.low64, h.high64};
  if (!out.present()) out.lo = 1;  // all-zero is reserved for "no eventId"
  return out;
}

}  // namespace eddy
