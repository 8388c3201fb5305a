#pragma once
// Parsing and formatting of event timestamps.

#include <optional>
#include <string>
#include <string_view>

#include "eddy/event.h"

namespace eddy {

// ISO-8601 / RFC 3339: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff...]]" with an optional
// "Z" or "+HH:MM"/"-HH:MM" (no zone = UTC); 'T' may be a space. nullopt when malformed.
std::optional<EventTime> ParseIso8601(std::string_view s);

// Epoch seconds or milliseconds, told apart by magnitude: |v| < 1e11 is seconds
// (1e11 s is the year 5138), anything larger is milliseconds.
EventTime FromEpochNumber(double v);

// "2025-01-19T10:30:00.000Z"
std::string FormatIso8601(EventTime t);

// The minute an epoch-millisecond instant falls in (rounded down, also before 1970): the
// unit of the windowed aggregates.
inline int64_t MinuteOf(int64_t ms) { return ms >= 0 ? ms / 60'000 : -((-ms + 59'999) / 60'000); }
inline int64_t MinuteOf(EventTime t) { return MinuteOf(t.millis()); }

}  // namespace eddy
