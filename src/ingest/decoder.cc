#include "ingest/decoder.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

#include <simdjson.h>

#include "ingest/event_types.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/time.h"

namespace eddy {
namespace {

namespace od = simdjson::ondemand;
static_assert(Decoder::kPadding >= simdjson::SIMDJSON_PADDING);

enum class Field : uint8_t {
  kIgnored,
  kEventId,
  kUser,
  kSession,
  kType,
  kTimestamp,
  kItem,
  kCategory,
  kPrice,
  kQuantity,
  kOrder,
  kQuery,
  kDevice,
  kIp,
  kLocation,
  kStock,
  kTotalAmount,
  kNewSegment,
  kEventIdHash,
  kAcceptLag,
  kIpOrders,
  kHidden,
  kThreshold,
  kAttributes,
  kRecommId,
  kRecommIdHash,
};

struct KeyField {
  std::string_view key;
  Field field;
};

// Field names and their aliases (SPEC §1.3). Keys are case-sensitive, as in JSON.
constexpr KeyField kKeys[] = {
    {"eventId", Field::kEventId},       {"event_id", Field::kEventId},
    {"userId", Field::kUser},           {"user_id", Field::kUser},
    {"customerId", Field::kUser},       {"visitorid", Field::kUser},
    {"sessionId", Field::kSession},     {"session_id", Field::kSession},
    {"type", Field::kType},             {"event_type", Field::kType},
    {"eventType", Field::kType},        {"event", Field::kType},
    {"behavior", Field::kType},         {"timestamp", Field::kTimestamp},
    {"itemId", Field::kItem},           {"item_id", Field::kItem},
    {"productId", Field::kItem},        {"product_id", Field::kItem},
    {"offer_id", Field::kItem},         {"offerId", Field::kItem},
    {"itemid", Field::kItem},           {"category", Field::kCategory},
    {"productCategory", Field::kCategory}, {"categoryid", Field::kCategory},
    {"category_id", Field::kCategory},  {"price", Field::kPrice},
    {"quantity", Field::kQuantity},     {"orderId", Field::kOrder},
    {"order_id", Field::kOrder},        {"transactionid", Field::kOrder},
    {"query", Field::kQuery},           {"deviceType", Field::kDevice},
    {"device_type", Field::kDevice},    {"ip", Field::kIp},
    {"location", Field::kLocation},     {"stock", Field::kStock},
    {"totalAmount", Field::kTotalAmount}, {"newSegment", Field::kNewSegment},
    {"eventIdHash", Field::kEventIdHash},  {"acceptLagMs", Field::kAcceptLag},
    {"ipOrders", Field::kIpOrders},
    {"hidden", Field::kHidden},         {"lowStockThreshold", Field::kThreshold},
    {"attributes", Field::kAttributes},
    {"recommId", Field::kRecommId},     {"recomm_id", Field::kRecommId},
    {"recommendationId", Field::kRecommId}, {"recommIdHash", Field::kRecommIdHash},
};

Field FieldFor(std::string_view key) {
  for (const KeyField& kf : kKeys) {
    if (kf.key == key) return kf.field;
  }
  return Field::kIgnored;
}

}  // namespace

std::string_view CanonicalFieldName(std::string_view key) {
  const Field f = FieldFor(key);
  if (f == Field::kIgnored) return {};
  for (const KeyField& kf : kKeys) {
    if (kf.field == f) return kf.key;  // the canonical name is listed first
  }
  return {};
}

namespace {

// A string field's value; numeric IDs are formatted into `buf`.
struct Str {
  std::string_view v;
  bool present = false;
  char buf[24];
};

// What one event's fields said, before validation across fields and interning.
struct Raw {
  Str event_id, user, session, item, category, order, recomm;
  std::string_view type_name, query, device, ip, segment, event_id_hash, recomm_hash;
  std::string_view type_key = "type";  // as the producer spelled it
  std::string_view country, region, city, location;
  bool has_type = false, has_query = false, has_device = false, has_ip = false;
  bool has_segment = false, has_location = false, has_quantity = false, has_stock = false;
  bool has_event_id_hash = false, has_recomm_hash = false, has_accept_lag = false, has_ip_orders = false;
  bool has_hidden = false, hidden = false, has_threshold = false, has_attributes = false;
  int64_t threshold = 0;
  std::string attributes;  // canonical JSON object (keys sorted)
  std::optional<EventTime> time;
  std::optional<double> price, total_amount;
  int64_t quantity = 1;
  int64_t stock = 0;
  int64_t accept_lag = 0;
  int64_t ip_orders = 0;
};

}  // namespace

struct Decoder::Impl {
  Interners& interners;
  const IngestOptions& options;
  Clock* clock;
  od::parser parser;
  EventTime now;
  std::string location_buf;
  // Every kind goes through a per-thread cache first: users, items and categories are
  // Zipf-hot in real traffic; a session's events come in bursts; devices, locations and
  // countries have few values. A hit costs no lock (issue 14's profile of seed-shaped
  // ingest had the interners' locked lookups at ~16 % of the daemon's CPU).
  InternCache users, items, categories, sessions, orders, strings;

  Impl(Interners& i, const IngestOptions& o, Clock* c)
      : interners(i),
        options(o),
        clock(c),
        users(i.users),
        items(i.items),
        categories(i.categories),
        sessions(i.sessions),
        orders(i.orders),
        strings(i.strings) {
    location_buf.reserve(3 * kMaxIdBytes + 2);
  }

  // The outcome of one object: a syntax error poisons the whole array it is in.
  enum class Outcome { kOk, kRejected, kSyntax };

  static bool TooLong(std::string_view s, size_t max) { return s.size() > max; }

  // `eddy dump` prints an eventId as its 128-bit hash (the store keeps no text): hi then lo,
  // 16 hex digits each. Posting the dump back keeps the events' idempotency.
  static bool ParseEventIdHash(std::string_view hex, EventIdHash* out) {
    if (hex.size() != 32) return false;
    uint64_t half[2] = {0, 0};
    for (size_t i = 0; i < 32; ++i) {
      const char c = hex[i];
      const int d = c >= '0' && c <= '9' ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      half[i / 16] = half[i / 16] << 4 | static_cast<uint64_t>(d);
    }
    *out = EventIdHash{half[1], half[0]};
    return out->present();
  }

  // `eddy dump` prints a recommId as its 64-bit hash, 16 hex digits.
  static bool ParseRecommHash(std::string_view hex, uint64_t* out) {
    if (hex.size() != 16) return false;
    const auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), *out, 16);
    return ec == std::errc() && end == hex.data() + hex.size() && *out != 0;
  }

  // Reads an identifier: a string, or an integer (formatted as decimal). `null` = absent.
  static bool ReadId(od::value v, std::string_view key, Str* out, std::string* err) {
    od::json_type t;
    if (v.type().get(t)) return Fail(err, key, "must be a string");
    if (t == od::json_type::null) return true;
    if (t == od::json_type::string) {
      if (v.get_string().get(out->v)) return Fail(err, key, "must be a valid string");
    } else if (t == od::json_type::number) {
      int64_t i;
      uint64_t u;
      char* end;
      if (!v.get_int64().get(i)) {
        end = std::to_chars(out->buf, out->buf + sizeof out->buf, i).ptr;
      } else if (!v.get_uint64().get(u)) {
        end = std::to_chars(out->buf, out->buf + sizeof out->buf, u).ptr;
      } else {
        return Fail(err, key, "must be a string or an integer");
      }
      out->v = std::string_view(out->buf, end - out->buf);
    } else {
      return Fail(err, key, "must be a string");
    }
    if (out->v.empty()) return Fail(err, key, "must not be empty");
    if (TooLong(out->v, kMaxIdBytes)) return Fail(err, key, "longer than 128 bytes");
    out->present = true;
    return true;
  }

  static bool ReadText(od::value v, std::string_view key, std::string_view* out, bool* present,
                       std::string* err) {
    od::json_type t;
    if (v.type().get(t)) return Fail(err, key, "must be a string");
    if (t == od::json_type::null) return true;
    if (t != od::json_type::string || v.get_string().get(*out)) {
      return Fail(err, key, "must be a string");
    }
    if (TooLong(*out, kMaxTextBytes)) return Fail(err, key, "longer than 1024 bytes");
    *present = true;
    return true;
  }

  static bool Fail(std::string* err, std::string_view key, std::string_view what) {
    if (err->empty()) {
      err->append(key);
      err->append(": ");
      err->append(what);
    }
    return false;
  }

  static bool IsNull(od::value v) {
    od::json_type t;
    return !v.type().get(t) && t == od::json_type::null;
  }

  bool ReadNumber(od::value v, std::string_view key, std::optional<double>* out,
                  std::string* err) {
    if (IsNull(v)) return true;
    double d;
    if (v.get_double().get(d)) return Fail(err, key, "must be a number");
    if (d < 0) return Fail(err, key, "must be >= 0");
    if (d > kMaxPrice) return Fail(err, key, "must be <= 1e12");
    *out = d;
    return true;
  }

  bool ReadInteger(od::value v, std::string_view key, int64_t min, int64_t max, int64_t* out,
                   bool* present, std::string* err) {
    if (IsNull(v)) return true;
    int64_t i;
    if (v.get_int64().get(i) || i < min || i > max) {
      return Fail(err, key,
                  min == 1 ? "must be an integer >= 1" : "must be an integer >= 0");
    }
    *out = i;
    *present = true;
    return true;
  }

  static bool ReadBool(od::value v, std::string_view key, bool* out, bool* present,
                       std::string* err) {
    if (IsNull(v)) return true;
    if (v.get_bool().get(*out)) return Fail(err, key, "must be true or false");
    *present = true;
    return true;
  }

  // A flat object of strings and numbers, kept as canonical JSON: keys sorted, numbers in
  // their shortest form. null clears the attributes (an empty object).
  static bool ReadAttributes(od::value v, std::string_view key, Raw* r, std::string* err) {
    static constexpr size_t kMaxAttributes = 64, kMaxAttributeBytes = 256;
    od::json_type t;
    if (v.type().get(t)) return Fail(err, key, "must be an object");
    r->has_attributes = true;
    r->attributes = "{}";
    if (t == od::json_type::null) return true;
    od::object obj;
    if (t != od::json_type::object || v.get_object().get(obj)) {
      return Fail(err, key, "must be an object of strings and numbers");
    }
    std::map<std::string, std::string, std::less<>> sorted;
    for (auto f : obj) {
      std::string_view k;
      od::value fv;
      od::json_type ft;
      if (f.unescaped_key().get(k) || f.value().get(fv) || fv.type().get(ft)) {
        return Fail(err, key, "must be an object of strings and numbers");
      }
      std::string name = "attributes.";
      name.append(k);
      if (k.empty() || TooLong(k, kMaxIdBytes) || !IsValidUtf8(k)) {
        return Fail(err, name, "name must be 1 to 128 bytes of UTF-8");
      }
      std::string value;
      if (ft == od::json_type::string) {
        std::string_view sv;
        if (fv.get_string().get(sv)) return Fail(err, name, "must be a string or a number");
        if (TooLong(sv, kMaxAttributeBytes)) return Fail(err, name, "longer than 256 bytes");
        AppendJsonString(&value, sv);
      } else if (ft == od::json_type::number) {
        double d;
        if (fv.get_double().get(d) || !std::isfinite(d)) return Fail(err, name, "must be finite");
        char buf[32];
        value.assign(buf, std::to_chars(buf, buf + sizeof buf, d).ptr);
      } else {
        return Fail(err, name, "must be a string or a number");
      }
      sorted[std::string(k)] = std::move(value);
      if (sorted.size() > kMaxAttributes) return Fail(err, key, "more than 64 attributes");
    }
    r->attributes = "{";
    for (const auto& [k, value] : sorted) {
      if (r->attributes.size() > 1) r->attributes += ',';
      AppendJsonString(&r->attributes, k);
      r->attributes += ':';
      r->attributes += value;
    }
    r->attributes += '}';
    return true;
  }

  bool ReadTimestamp(od::value v, std::string_view key, Raw* r, std::string* err) {
    static constexpr std::string_view kWhat =
        "must be an ISO-8601 string or epoch seconds/milliseconds";
    od::json_type t;
    if (v.type().get(t)) return Fail(err, key, kWhat);
    if (t == od::json_type::null) return true;
    if (t == od::json_type::number) {
      double d;
      if (v.get_double().get(d)) return Fail(err, key, kWhat);
      r->time = FromEpochNumber(d);
    } else if (t == od::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s)) return Fail(err, key, kWhat);
      bool digits = !s.empty() && s.size() <= 16 &&
                    s.find_first_not_of("0123456789") == std::string_view::npos;
      if (digits) {
        int64_t n = 0;
        std::from_chars(s.data(), s.data() + s.size(), n);
        r->time = FromEpochNumber(static_cast<double>(n));
      } else {
        r->time = ParseIso8601(s);
        if (!r->time) return Fail(err, key, kWhat);
      }
    } else {
      return Fail(err, key, kWhat);
    }
    if (r->time->millis() < 0) return Fail(err, key, "must not be before 1970-01-01");
    return true;
  }

  bool ReadLocation(od::value v, std::string_view key, Raw* r, std::string* err) {
    od::json_type t;
    if (v.type().get(t)) return Fail(err, key, "must be a string or an object");
    if (t == od::json_type::null) return true;
    if (t == od::json_type::string) {
      return ReadText(v, key, &r->location, &r->has_location, err);
    }
    if (t != od::json_type::object) return Fail(err, key, "must be a string or an object");
    od::object obj;
    if (v.get_object().get(obj)) return Fail(err, key, "must be a string or an object");
    for (auto f : obj) {
      std::string_view k;
      if (f.unescaped_key().get(k)) return false;  // syntax error: caught by the caller
      std::string_view* dst = k == "country" ? &r->country
                              : k == "region" ? &r->region
                              : k == "city"   ? &r->city
                                              : nullptr;
      if (dst == nullptr) continue;
      bool present = false;
      od::value fv;
      if (f.value().get(fv)) return false;
      if (!ReadText(fv, k, dst, &present, err)) {
        err->insert(0, "location.");
        return false;
      }
      if (TooLong(*dst, kMaxIdBytes)) return Fail(err, key, "part longer than 128 bytes");
    }
    r->has_location = true;
    return true;
  }

  // Reads the fields of one object into `r`. On a field error, records the first one in
  // `err` and keeps iterating so that the parser stays in step with the document.
  Outcome ReadObject(od::object obj, Raw* r, std::string* err) {
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return Outcome::kSyntax;
      od::value v;
      if (field.value().get(v)) return Outcome::kSyntax;
      od::json_type vt;
      if (v.type().get(vt)) return Outcome::kSyntax;  // no value where one must be
      if (!err->empty()) continue;  // already rejected; skip to the end of the object
      switch (FieldFor(key)) {
        case Field::kIgnored: break;
        case Field::kEventId: ReadId(v, key, &r->event_id, err); break;
        case Field::kUser: ReadId(v, key, &r->user, err); break;
        case Field::kSession: ReadId(v, key, &r->session, err); break;
        case Field::kItem: ReadId(v, key, &r->item, err); break;
        case Field::kCategory: ReadId(v, key, &r->category, err); break;
        case Field::kOrder: ReadId(v, key, &r->order, err); break;
        case Field::kType:
          r->type_key = key;
          ReadText(v, key, &r->type_name, &r->has_type, err);
          break;
        case Field::kQuery: ReadText(v, key, &r->query, &r->has_query, err); break;
        case Field::kDevice: ReadText(v, key, &r->device, &r->has_device, err); break;
        case Field::kIp: ReadText(v, key, &r->ip, &r->has_ip, err); break;
        case Field::kNewSegment: ReadText(v, key, &r->segment, &r->has_segment, err); break;
        case Field::kEventIdHash:
          ReadText(v, key, &r->event_id_hash, &r->has_event_id_hash, err);
          break;
        case Field::kTimestamp: ReadTimestamp(v, key, r, err); break;
        case Field::kLocation: ReadLocation(v, key, r, err); break;
        case Field::kPrice: ReadNumber(v, key, &r->price, err); break;
        case Field::kTotalAmount: ReadNumber(v, key, &r->total_amount, err); break;
        case Field::kQuantity:
          ReadInteger(v, key, 1, kMaxQuantity, &r->quantity, &r->has_quantity, err);
          break;
        case Field::kStock:
          ReadInteger(v, key, 0, int64_t{1} << 53, &r->stock, &r->has_stock, err);
          break;
        case Field::kAcceptLag:
          ReadInteger(v, key, 0, UINT32_MAX, &r->accept_lag, &r->has_accept_lag, err);
          break;
        case Field::kIpOrders:
          ReadInteger(v, key, 1, UINT16_MAX, &r->ip_orders, &r->has_ip_orders, err);
          break;
        case Field::kHidden: ReadBool(v, key, &r->hidden, &r->has_hidden, err); break;
        case Field::kThreshold:
          ReadInteger(v, key, 0, INT32_MAX, &r->threshold, &r->has_threshold, err);
          break;
        case Field::kAttributes: ReadAttributes(v, key, r, err); break;
        case Field::kRecommId: ReadId(v, key, &r->recomm, err); break;
        case Field::kRecommIdHash:
          ReadText(v, key, &r->recomm_hash, &r->has_recomm_hash, err);
          break;
      }
    }
    return err->empty() ? Outcome::kOk : Outcome::kRejected;
  }

  template <typename Id, typename In>
  bool InternInto(In& interner, const Str& s, std::string_view name, Id* out,
                  std::string* err) {
    if (!s.present) return true;
    uint32_t id = interner.Intern(s.v, StableHash64(s.v));
    if (id == 0) return Fail(err, name, "too many distinct values");
    *out = Id(id);
    return true;
  }

  bool InternText(std::string_view s, bool present, std::string_view name, StringId* out,
                  std::string* err) {
    if (!present) return true;
    uint32_t id = strings.Intern(s, StableHash64(s));
    if (id == 0) return Fail(err, name, "too many distinct values");
    *out = StringId(id);
    return true;
  }

  // Cross-field validation, then interning. Interning happens only for good events, so a
  // flood of bad events cannot grow the interners.
  // The event's type: its own, or the route's default.
  static bool TypeOf(const Raw& r, DefaultType dt, EventType* type, std::string* err) {
    if (r.has_type && (dt == DefaultType::kCatalogPut || dt == DefaultType::kCatalogPatch)) {
      return Fail(err, r.type_key, "not allowed here; the method says what changes");
    }
    if (r.has_type) {
      std::optional<EventType> t = ParseEventType(r.type_name);
      if (!t) {
        err->append("type: unknown event type '");
        size_t n = std::min<size_t>(64, r.type_name.size());
        while (n > 0 && n < r.type_name.size() && (r.type_name[n] & 0xC0) == 0x80) --n;
        err->append(r.type_name.substr(0, n));  // cut at a UTF-8 boundary
        err->append("' (expected one of ");
        err->append(EventTypeList());
        err->append(")");
        return false;
      }
      if (dt == DefaultType::kCatalogBulk && !IsCatalogChange(*t)) {
        return Fail(err, r.type_key,
                    "must be catalog_put, catalog_patch or catalog_delete on /v1/items");
      }
      *type = *t;
      return true;
    }
    switch (dt) {
      case DefaultType::kNone: return Fail(err, "type", "required");
      case DefaultType::kPurchase: *type = EventType::kPurchase; break;
      case DefaultType::kSegmentUpdate: *type = EventType::kSegmentUpdate; break;
      case DefaultType::kSeedBatch:
        *type = r.has_segment ? EventType::kSegmentUpdate : EventType::kPurchase;
        break;
      case DefaultType::kCatalogBulk:
      case DefaultType::kCatalogPut: *type = EventType::kCatalogPut; break;
      case DefaultType::kCatalogPatch: *type = EventType::kCatalogPatch; break;
    }
    return true;
  }

  // The fields each type requires, and a timestamp not too far ahead.
  bool Validate(const Raw& r, EventType type, EventTime time, std::string* err) const {
    if (!r.user.present && type != EventType::kInventory && !IsCatalogChange(type)) {
      return Fail(err, "userId", "required");
    }
    if (!r.item.present && RequiresItem(type)) {
      err->append("itemId: required for ");
      err->append(EventTypeName(type));
      err->append(" events");
      return false;
    }
    if (type == EventType::kCancel && !r.order.present) {
      return Fail(err, "orderId", "required for cancel events");
    }
    if (type == EventType::kSearch && !r.has_query) {
      return Fail(err, "query", "required for search events");
    }
    if (type == EventType::kInventory && !r.has_stock) {
      return Fail(err, "stock", "required for inventory events");
    }
    if (type == EventType::kImpression && !r.recomm.present && !r.has_recomm_hash) {
      return Fail(err, "recommId", "required for impression events (the answer shown)");
    }
    if (type == EventType::kSegmentUpdate && !r.has_segment) {
      return Fail(err, "newSegment", "required for segment_update events");
    }
    if (time.millis() > now.millis() + options.max_future_skew_ms) {
      err->append("timestamp: more than ");
      err->append(std::to_string(options.max_future_skew_ms / 1000));
      err->append(" s in the future");
      return false;
    }
    return true;
  }

  // Interns the event's strings (the partition key first: the user, or the item for
  // events without one, as inventory).
  bool InternStrings(const Raw& r, EventType type, Event* ev, std::string* err) {
    // A catalog change or an inventory event belongs to its item's partition (where the
    // item's record and stock are kept), whatever user it names; that user is not kept.
    const bool item_keyed = IsCatalogChange(type) || type == EventType::kInventory;
    const bool by_user = r.user.present && !item_keyed;
    const uint64_t user_hash = StableHash64(by_user ? r.user.v : r.item.v);
    ev->user_hash = static_cast<uint32_t>(user_hash);
    if (IsCatalogChange(type)) {
      if (!InternInto(items, r.item, "itemId", &ev->item, err) ||
          !InternInto(categories, r.category, "category", &ev->category, err)) {
        return false;
      }
      return InternText(r.attributes, r.has_attributes, "attributes", &ev->query, err);
    }
    if (by_user) {
      uint32_t id = users.Intern(r.user.v, user_hash);
      if (id == 0) return Fail(err, "userId", "too many distinct values");
      ev->user = UserId(id);
    }
    const bool segment = type == EventType::kSegmentUpdate;
    if (!InternInto(items, r.item, "itemId", &ev->item, err) ||
        !InternInto(categories, r.category, "category", &ev->category, err) ||
        !InternInto(sessions, r.session, "sessionId", &ev->session, err) ||
        !InternInto(orders, r.order, "orderId", &ev->order, err) ||
        !InternText(segment ? r.segment : r.query, segment ? r.has_segment : r.has_query,
                    "query", &ev->query, err) ||
        !InternText(r.device, r.has_device, "deviceType", &ev->device, err) ||
        !InternText(r.ip, r.has_ip, "ip", &ev->ip, err)) {
      return false;
    }
    if (!r.has_location) return true;
    std::string_view loc = r.location;
    if (loc.empty()) {
      location_buf.assign(r.country);
      location_buf.append("/").append(r.region).append("/").append(r.city);
      loc = location_buf;
    }
    return InternText(loc, true, "location", &ev->location, err) &&
           InternText(r.country, !r.country.empty(), "location.country", &ev->country, err);
  }

  bool Finish(Raw& r, DefaultType dt, Event* ev, std::string* err) {
    EventType type = EventType::kView;
    if (!TypeOf(r, dt, &type, err)) return false;
    const EventTime time = r.time.value_or(now);
    if (!Validate(r, type, time, err)) return false;
    *ev = Event{};
    ev->type = type;
    ev->time = time;
    ev->quantity = static_cast<uint32_t>(r.quantity);
    if (r.price || r.total_amount) {
      double unit = r.price ? *r.price : *r.total_amount / static_cast<double>(r.quantity);
      ev->price_micros = static_cast<int64_t>(std::llround(unit * 1e6));
      ev->flags |= Event::kHasPrice;
    }
    if (r.has_stock) {
      ev->stock = r.stock;
      ev->flags |= Event::kHasStock;
    }
    if (r.has_accept_lag && type == EventType::kPurchase) {
      ev->accept_lag_ms = static_cast<uint32_t>(r.accept_lag);
      ev->flags |= Event::kHasAcceptLag;
    }
    if (r.has_ip_orders && type == EventType::kPurchase && r.has_ip) {
      ev->ip_orders = static_cast<uint16_t>(r.ip_orders);
      ev->flags |= Event::kHasIpOrders;
    }
    if (IsCatalogChange(type)) {
      if (r.has_hidden) ev->flags |= Event::kHasHidden | (r.hidden ? Event::kHidden : 0);
      if (r.has_threshold) {
        ev->flags |= Event::kHasThreshold;
        ev->quantity = static_cast<uint32_t>(r.threshold);
      }
    }
    if (r.event_id.present) {
      ev->event_id = StableHash128(r.event_id.v);
    } else if (r.has_event_id_hash && !ParseEventIdHash(r.event_id_hash, &ev->event_id)) {
      return Fail(err, "eventIdHash", "must be 32 hex digits (as eddy dump prints it), not 0");
    }
    if (r.recomm.present) {
      ev->recomm = RecommHash(r.recomm.v);
    } else if (r.has_recomm_hash && !ParseRecommHash(r.recomm_hash, &ev->recomm)) {
      return Fail(err, "recommIdHash", "must be 16 hex digits (as eddy dump prints it), not 0");
    }
    return InternStrings(r, type, ev, err);
  }

  // Decodes the object `v` as event `index`. kSyntax means the document is broken.
  Outcome DecodeValue(od::value v, uint32_t index, DefaultType dt, std::vector<Event>* events,
                      std::vector<Rejection>* rejected) {
    od::json_type t;
    if (v.type().get(t)) return Outcome::kSyntax;
    std::string err;
    if (t != od::json_type::object) {
      rejected->push_back({index, "event: must be a JSON object"});
      return Outcome::kRejected;
    }
    od::object obj;
    if (v.get_object().get(obj)) return Outcome::kSyntax;
    Raw raw;
    Outcome o = ReadObject(obj, &raw, &err);
    if (o == Outcome::kSyntax) return o;
    Event ev;
    if (o == Outcome::kOk && Finish(raw, dt, &ev, &err)) {
      events->push_back(ev);
      return Outcome::kOk;
    }
    rejected->push_back({index, std::move(err)});
    return Outcome::kRejected;
  }

  int64_t Location(od::document& doc, const char* base, size_t size) {
    const char* p;
    if (doc.current_location().get(p)) return static_cast<int64_t>(size);
    return p - base;
  }

  // An unterminated document is reported at its end, where the missing bracket belongs.
  DecodeResult Malformed(simdjson::error_code e, int64_t offset, std::vector<Event>* events,
                         size_t body_size) {
    events->clear();
    if (e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) offset = static_cast<int64_t>(body_size);
    DecodeResult r;
    r.status = Status::InvalidArgument(std::string("malformed JSON: ") +
                                       simdjson::error_message(e));
    r.error_offset = offset;
    return r;
  }

  DecodeResult DecodeArray(std::string_view body, size_t capacity, DefaultType dt,
                           std::vector<Event>* events, std::vector<Rejection>* rejected) {
    od::document doc;
    if (auto e = parser.iterate(body.data(), body.size(), capacity).get(doc)) {
      return Malformed(e, -1, events, body.size());
    }
    od::array arr;
    if (auto e = doc.get_array().get(arr)) {
      return Malformed(e, Location(doc, body.data(), body.size()), events, body.size());
    }
    uint32_t index = 0;
    for (auto elem : arr) {
      od::value v;
      simdjson::error_code e = elem.get(v);
      if (e || DecodeValue(v, index, dt, events, rejected) == Outcome::kSyntax) {
        if (!e) e = simdjson::TAPE_ERROR;
        rejected->clear();
        return Malformed(e, Location(doc, body.data(), body.size()), events, body.size());
      }
      ++index;
    }
    const char* p;
    if (!doc.current_location().get(p)) {
      rejected->clear();
      return Malformed(simdjson::TRAILING_CONTENT, p - body.data(), events, body.size());
    }
    return {};
  }

  // One line of NDJSON (or a lone object): kSyntax when the line is not a JSON object.
  Outcome DecodeDocument(std::string_view text, size_t capacity, uint32_t index,
                         DefaultType dt, std::vector<Event>* events,
                         std::vector<Rejection>* rejected, simdjson::error_code* syntax,
                         const char** where) {
    od::document doc;
    simdjson::error_code e = parser.iterate(text.data(), text.size(), capacity).get(doc);
    if (e) {  // stage 1 failed (e.g. invalid UTF-8): no position inside the document
      *syntax = e;
      *where = text.data();
      return Outcome::kSyntax;
    }
    Outcome o = Outcome::kSyntax;
    if (!e) {
      od::json_type t;
      e = doc.type().get(t);
      if (!e && t != od::json_type::object) {
        rejected->push_back({index, "event: must be a JSON object"});
        return Outcome::kRejected;
      }
      od::object obj;
      if (!e) e = doc.get_object().get(obj);
      if (!e) {
        Raw raw;
        std::string err;
        o = ReadObject(obj, &raw, &err);
        const char* p;
        if (o != Outcome::kSyntax && !doc.current_location().get(p)) {
          e = simdjson::TRAILING_CONTENT;
          *where = p;
          o = Outcome::kSyntax;
        } else if (o == Outcome::kOk) {
          Event ev;
          if (Finish(raw, dt, &ev, &err)) {
            events->push_back(ev);
            return Outcome::kOk;
          }
          o = Outcome::kRejected;
        }
        if (o == Outcome::kRejected) {
          rejected->push_back({index, std::move(err)});
          return o;
        }
      }
    }
    if (!e) e = simdjson::TAPE_ERROR;
    *syntax = e;
    if (*where == nullptr) {
      const char* p;
      *where = doc.current_location().get(p) ? text.data() + text.size() : p;
    }
    return Outcome::kSyntax;
  }

  DecodeResult DecodeLines(std::string_view body, size_t capacity, DefaultType dt,
                           std::vector<Event>* events, std::vector<Rejection>* rejected) {
    uint32_t index = 0;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      size_t end = nl == std::string_view::npos ? body.size() : nl;
      std::string_view line = body.substr(pos, end - pos);
      size_t line_start = pos;
      pos = end + 1;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
        line.remove_suffix(1);
      }
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      simdjson::error_code e = simdjson::SUCCESS;
      const char* where = nullptr;
      if (DecodeDocument(line, capacity - line_start, index, dt, events, rejected, &e, &where) ==
          Outcome::kSyntax) {
        std::string err = "json: ";
        err += simdjson::error_message(e);
        err += " at byte ";
        const char* at = e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT ? line.data() + line.size() : where;
        err += std::to_string(at - body.data());
        rejected->push_back({index, std::move(err)});
      }
      ++index;
    }
    return {};
  }

  DecodeResult Decode(std::string_view body, size_t capacity, BodyFormat format,
                      DefaultType dt, std::vector<Event>* events,
                      std::vector<Rejection>* rejected) {
    events->clear();
    rejected->clear();
    now = clock->Now();
    size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
      return {Status::InvalidArgument("empty body: expected a JSON object, an array of "
                                      "objects, or NDJSON"),
              -1};
    }
    if (format == BodyFormat::kNdjson) return DecodeLines(body, capacity, dt, events, rejected);
    if (body[first] == '[') return DecodeArray(body, capacity, dt, events, rejected);
    if (body[first] != '{') {
      return {Status::InvalidArgument(
                  "body: expected a JSON object, an array of objects, or NDJSON"),
              static_cast<int64_t>(first)};
    }
    // One object, possibly pretty-printed over many lines; or several objects, one per
    // line, sent as application/json: then it is NDJSON.
    simdjson::error_code e = simdjson::SUCCESS;
    const char* where = nullptr;
    Outcome o = DecodeDocument(body, capacity, 0, dt, events, rejected, &e, &where);
    if (o != Outcome::kSyntax) return {};
    if (e == simdjson::TRAILING_CONTENT) {
      events->clear();
      rejected->clear();
      return DecodeLines(body, capacity, dt, events, rejected);
    }
    return Malformed(e, where - body.data(), events, body.size());
  }
};

Decoder::Decoder(Interners& interners, const IngestOptions& options, Clock* clock)
    : impl_(std::make_unique<Impl>(interners, options, clock)) {}

Decoder::~Decoder() = default;

DecodeResult Decoder::Decode(std::string_view body, size_t capacity, BodyFormat format,
                             DefaultType default_type, std::vector<Event>* events,
                             std::vector<Rejection>* rejected) {
  DecodeResult r = impl_->Decode(body, capacity, format, default_type, events, rejected);
  for (Rejection& rej : *rejected) rej.reason = RejectionReason(rej.error);
  return r;
}

std::string_view RejectionReason(std::string_view error) {
  std::string_view field = error.substr(0, error.find(':'));
  field = field.substr(0, field.find('.'));  // "location.city" -> "location"
  if (field == "json" || field == "event") return field == "json" ? "json" : "event";
  for (const KeyField& k : kKeys) {
    if (k.key != field) continue;
    for (const KeyField& canonical : kKeys) {  // the field's first name in the table
      if (canonical.field == k.field) return canonical.key;
    }
  }
  return "other";
}

}  // namespace eddy
