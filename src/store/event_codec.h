#pragma once
// The persistent form of one event (the value of a log record in RocksDB): a version byte,
// then a compact binary encoding that carries the strings, not the interned IDs (IDs are
// per process run; a replay interns the strings again).
//
// Format version 1:
//   u8  version (= 1)
//   u8  type (EventType)
//   u8  flags (Event::Flags)
//   varint presence bits: 0 eventId hash, 1 user, 2 item, 3 category, 4 session, 5 order,
//          6 query, 7 device, 8 ip, 9 location, 10 country, 11 recommId hash
//   varint zigzag event time (ms since the epoch)
//   [16 bytes eventId hash, lo then hi, little-endian]   if bit 0
//   [8 bytes recommId hash, little-endian]               if bit 11 (came later within
//                                                        version 1, with issue 19)
//   varint length + bytes, for each present string field in bit order
//   varint quantity
//   [varint zigzag price in millionths]                  if flags has kHasPrice
//   [varint zigzag absolute stock]                       if flags has kHasStock
//   [varint accept lag in ms]                            if flags has kHasAcceptLag
// (kHasAcceptLag came later within version 1: a value without it reads as lag 0.)
// The partition key hash is recomputed from the user (or item) string on decode.

#include <cstdint>
#include <string>
#include <string_view>

#include "eddy/event.h"
#include "eddy/status.h"
#include "util/interners.h"

namespace eddy {

inline constexpr uint8_t kEventCodecVersion = 1;

// Appends the encoding of `ev` (whose IDs belong to `interners`) to `out`.
void EncodeEvent(const Event& ev, const Interners& interners, std::string* out);

// One decoded event with its strings as views into the encoded bytes (no interning): for
// tools that print the log. `ids` fields are unused (zero).
struct StoredEventView {
  Event event;  // everything but the string ids
  std::string_view user, item, category, session, order, query, device, ip, location, country;
};
Status DecodeStoredEventView(std::string_view in, StoredEventView* out);

// Decodes one encoded event, interning its strings; a clear error for a truncated or
// malformed value or an unknown version.
Status DecodeStoredEvent(std::string_view in, Interners& interners, Event* ev);

}  // namespace eddy
