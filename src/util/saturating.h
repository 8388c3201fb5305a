#pragma once
// Saturating integer arithmetic for money sums: prices are bounded only by what a JSON
// number holds, so a sum of price × quantity lines must not overflow (undefined behaviour)
// but stop at the int64 limits.

#include <cstdint>

namespace eddy {

inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t s = 0;
  return __builtin_add_overflow(a, b, &s) ? (b < 0 ? INT64_MIN : INT64_MAX) : s;
}

// a + price × quantity, saturating.
inline int64_t AddLineValue(int64_t a, int64_t price_micros, uint32_t quantity) {
  int64_t line = 0;
  if (__builtin_mul_overflow(price_micros, static_cast<int64_t>(quantity), &line)) {
    line = price_micros < 0 ? INT64_MIN : INT64_MAX;
  }
  return SaturatingAdd(a, line);
}

}  // namespace eddy
