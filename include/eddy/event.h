#pragma once
// The decoded, validated, interned form of one event (SPEC §1): a fixed-size POD that is
// copied into the log and read by the shards. Strings live in the engine's interners.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/ids.h"

namespace eddy {

// Milliseconds since the Unix epoch, UTC.
class EventTime {
 public:
  constexpr EventTime() = default;
  constexpr explicit EventTime(int64_t ms) : ms_(ms) {}
  constexpr int64_t millis() const { return ms_; }
  constexpr auto operator<=>(const EventTime&) const = default;

 private:
  int64_t ms_ = 0;
};

enum class EventType : uint8_t {
  kView = 0,
  kClick,
  kWishlist,
  kAddToCart,
  kRemoveFromCart,
  kPurchase,
  kRedemption,
  kSearch,
  kCancel,
  kInventory,
  // A customer segment change (seeds/002 `segment-update` route); weight 0.
  kSegmentUpdate,
  // Item catalog changes (PUT / PATCH / DELETE /v1/items/{itemId}): not interactions — no
  // weight, no count; only the catalog state sees them. Outside [0, kEventTypeCount): never
  // an index of a per-type table.
  kCatalogPut = 32,  // the item's whole record (absent fields cleared)
  kCatalogPatch,     // only the fields given
  kCatalogDelete,    // withdrawn from every ranked answer
  // Experiments (issue 19): not interactions either — no weight, no count; only the
  // experiment state sees them. An impression says the answer `recomm` was shown to the
  // user (a client posts it; weight 0: it moves no score). A served event is eddy's own
  // record of an answer under an experiment, appended to the user's partition before the
  // answer is sent (`query`: the experiment, the variant and the items; quantity 1: the
  // answer counts as shown on serve); never posted by a client. An allocation is eddy's
  // record of a Thompson reallocation (`query`: the experiment and each variant's share),
  // in the partition of the experiment's name.
  kImpression = 40,
  kServed,
  kAllocation,
};
inline constexpr char kServedSep = '\x1f';

inline constexpr bool IsExperimentEvent(EventType t) {
  return t == EventType::kImpression || t == EventType::kServed || t == EventType::kAllocation;
}
inline constexpr int kEventTypeCount = 11;  // interaction types: the per-type tables

inline constexpr bool IsCatalogChange(EventType t) {
  return static_cast<uint8_t>(t) >= static_cast<uint8_t>(EventType::kCatalogPut) &&
         static_cast<uint8_t>(t) <= static_cast<uint8_t>(EventType::kCatalogDelete);
}

// Canonical lower-case name ("add_to_cart").
std::string_view EventTypeName(EventType type);

// Per-type weights (SPEC §1.2), indexed by EventType.
using EventWeights = std::array<double, kEventTypeCount>;
EventWeights DefaultEventWeights();

// 128-bit hash of an eventId; all zero means "no eventId".
struct EventIdHash {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool present() const { return (lo | hi) != 0; }
  friend bool operator==(const EventIdHash&, const EventIdHash&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const EventIdHash& e) {
    return H::combine(std::move(h), e.lo, e.hi);
  }
};

// The eventId of a stock move derived from an event with id `id` (none stays none): a
// retried purchase derives the same id, so the item's shard drops its move as a duplicate.
inline EventIdHash DerivedEventId(EventIdHash id) {
  if (!id.present()) return id;
  return {id.lo ^ 0x9e3779b97f4a7c15ull, (id.hi << 17 | id.hi >> 47) ^ 0xd1b54a32d192ed03ull};
}

struct Event {
  enum Flags : uint8_t {
    kHasPrice = 1,
    kHasStock = 2,
    kHasAcceptLag = 4,  // accept_lag_ms is set (purchases; stored only then)
    // Catalog changes: `hidden` given (and its value), `lowStockThreshold` given (in
    // `quantity`).
    kHasHidden = 8,
    kHidden = 16,
    kHasThreshold = 32,
    // A stock move (SPEC §3.12) the ingest path derived from a purchase (a copy in the
    // item's partition) or a cancel (a copy in every partition) — type, time, user, item,
    // order and quantity only: only inventory sees it; it is stored and replayed like an
    // event but never counted, dumped or acknowledged.
    kDerived = 64,
    kHasIpOrders = 128,  // ip_orders is set (purchases with an `ip`; stored only then)
  };

  EventTime time;
  EventIdHash event_id;
  UserId user;
  ItemId item;
  CategoryId category;
  SessionId session;
  OrderId order;
  StringId query;      // search query, the new segment of a segment update, or a catalog
                       // change's attributes (canonical JSON object)
  StringId device;
  StringId ip;
  StringId location;   // the location string, or "country/region/city"
  StringId country;
  uint32_t quantity = 1;  // a catalog change's lowStockThreshold when kHasThreshold
  // How far the engine clock was ahead of `time` when the event was accepted (ms, at
  // most UINT32_MAX): decides, in any replay, whether a purchase came after its revenue
  // window closed (SPEC §3.9). Set for purchases, with kHasAcceptLag.
  uint32_t accept_lag_ms = 0;
  int64_t price_micros = 0;  // unit price in millionths; valid when kHasPrice
  int64_t stock = 0;         // absolute stock level; valid when kHasStock
  EventType type = EventType::kView;
  uint8_t flags = 0;
  // Distinct orders from this purchase's `ip` within fraud.ip_window of it, itself
  // included, among those accepted before it (any user, any partition): counted once at
  // acceptance, so every replay scores the ip_burst reason as the live run did. Set with
  // kHasIpOrders.
  uint16_t ip_orders = 0;
  uint32_t user_hash = 0;    // low bits of hash(userId): the partition key
  // StableHash64 of the recommId the event names (the answer it came from; a served
  // event's own), 0 for none.
  uint64_t recomm = 0;

  bool has_price() const { return flags & kHasPrice; }
  bool derived() const { return flags & kDerived; }
};

// One rejected event of a request: its index in the request and "<field>: <what is wrong>".
struct Rejection {
  uint32_t index = 0;
  std::string error;
  // What it is about (a static string, for metrics): the field the error names
  // ("userId", "timestamp", ...), "json", "event" or "other".
  std::string_view reason = "other";
};

// How a request body holds its events. kAuto: a JSON array, or one object or NDJSON lines.
enum class BodyFormat : uint8_t { kAuto, kNdjson };

// The type an event without a `type` field gets, by route (SPEC §2 seed-compatible routes).
enum class DefaultType : uint8_t {
  kNone,           // `type` is required (POST /v1/events)
  kPurchase,       // POST /v1/streaming/events/purchase
  kSegmentUpdate,  // POST /v1/streaming/events/segment-update
  kSeedBatch,      // POST /v1/streaming/events/batch: segment update if it has newSegment,
                   // else purchase
  kCatalogBulk,    // POST /v1/items: catalog_put, unless the record says catalog_patch or
                   // catalog_delete (no other type)
  kCatalogPut,     // PUT /v1/items/{itemId}: no `type` allowed
  kCatalogPatch,   // PATCH /v1/items/{itemId}: no `type` allowed
};

}  // namespace eddy
