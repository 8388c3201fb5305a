#pragma once
// The one JSON string escaper of eddy (HTTP replies, `eddy dump`, `eddy eval`, eddy-load's
// CSV mapping) and the UTF-8 check ids are held to. The output is always valid JSON: a
// byte sequence that is not valid UTF-8 is written as U+FFFD, never as a raw byte.
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>

namespace eddy {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Appends `s` as a quoted JSON string: ", \ and control characters escaped, invalid
// UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string* out, std::string_view s);

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace eddy
