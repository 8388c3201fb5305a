#pragma once
// Decoder: turns a request body (one JSON object, a JSON array of objects, or NDJSON) into
// validated, interned events (SPEC §1), judging each event on its own. Good events are
// appended to `events` in request order; bad ones become {index, "<field>: <problem>"}.
//
// Thread-safety: one Decoder per thread (it owns a simdjson parser and scratch buffers).
// The Interners it writes to are thread-safe and shared by all decoders of an engine.
// Allocation: none per good event once warm (strings are interned once; numeric IDs are
// formatted on the stack); a rejected event allocates its error string.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/clock.h"
#include "eddy/event.h"
#include "eddy/options.h"
#include "eddy/status.h"
#include "util/interners.h"

namespace eddy {

// The canonical name of an event field given by name or alias (SPEC §1.3), e.g.
// "user_id" -> "userId"; "" for keys eddy ignores.
std::string_view CanonicalFieldName(std::string_view key);

// Longest accepted identifier (eventId, userId, itemId, category, sessionId, orderId) and
// free-text field (query, deviceType, ip, location, segment), in bytes.
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTextBytes = 1024;
// Largest accepted unit price and quantity.
inline constexpr double kMaxPrice = 1e12;
inline constexpr int64_t kMaxQuantity = 1'000'000'000;

struct DecodeResult {
  // OK, or InvalidArgument when the body as a whole is unusable (then `events` is empty).
  Status status;
  int64_t error_offset = -1;  // byte offset of the syntax error when known
};

class Decoder {
 public:
  Decoder(Interners& interners, const IngestOptions& options, Clock* clock);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // `capacity` >= body.size() + 64 bytes must be readable from body.data() (simdjson
  // padding). Clears and fills `events` and `rejected`.
  DecodeResult Decode(std::string_view body, size_t capacity, BodyFormat format,
                      DefaultType default_type, std::vector<Event>* events,
                      std::vector<Rejection>* rejected);

  static constexpr size_t kPadding = 64;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a rejection is about, for the metrics: the field its error names (by its canonical
// name: "userId", "timestamp", ...), "json" (a syntax error), "event" (not an object) or
// "other" (say, an attribute). Always a static string; Decode sets Rejection::reason.
std::string_view RejectionReason(std::string_view error);

}  // namespace eddy
