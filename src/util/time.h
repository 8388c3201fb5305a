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

// a / b rounded towards minus infinity (b > 0), and rounded up.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// The minute an epoch-millisecond instant falls in (rounded down, also before 1970): the
// unit of the windowed aggregates.
inline int64_t MinuteOf(int64_t ms) { return FloorDiv(ms, 60'000); }

// How far behind a shard's newest minute the windowed states keep what a read may still
// ask for: a read's clock may trail a shard's newest event by a few minutes.
inline constexpr int64_t kReadSlackMinutes = 15;
inline int64_t MinuteOf(EventTime t) { return MinuteOf(t.millis()); }

}  // namespace eddy
