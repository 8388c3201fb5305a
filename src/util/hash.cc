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

std::string HexOf(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace eddy
