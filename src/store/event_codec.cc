#include "store/event_codec.h"

#include "util/hash.h"
#include "util/serial.h"

namespace eddy {
namespace {

enum Field : uint32_t {
  kEventIdBit = 0,
  kUserBit,
  kItemBit,
  kCategoryBit,
  kSessionBit,
  kOrderBit,
  kQueryBit,
  kDeviceBit,
  kIpBit,
  kLocationBit,
  kCountryBit,
  kFieldCount,
};
// Presence bit 11: the recommId hash (8 bytes, after the eventId hash).
constexpr uint32_t kRecommBit = kFieldCount;

// The interner and ID value of each string field, in bit order (1..10).
struct StringField {
  const Interner* interner;
  uint32_t id;
};

}  // namespace

void EncodeEvent(const Event& ev, const Interners& in, std::string* out) {
  const StringField strings[kFieldCount] = {
      {nullptr, 0},
      {&in.users, ev.user.value()},
      {&in.items, ev.item.value()},
      {&in.categories, ev.category.value()},
      {&in.sessions, ev.session.value()},
      {&in.orders, ev.order.value()},
      {&in.strings, ev.query.value()},
      {&in.strings, ev.device.value()},
      {&in.strings, ev.ip.value()},
      {&in.strings, ev.location.value()},
      {&in.strings, ev.country.value()},
  };
  uint64_t present = ev.event_id.present() ? 1u : 0u;
  if (ev.recomm != 0) present |= uint64_t{1} << kRecommBit;
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if (strings[f].id != 0) present |= uint64_t{1} << f;
  }
  SerialWriter w(out);
  w.U8(kEventCodecVersion);
  w.U8(static_cast<uint8_t>(ev.type));
  w.U8(ev.flags);
  w.U64(present);
  w.I64(ev.time.millis());
  if (ev.event_id.present()) {
    w.Fixed64(ev.event_id.lo);
    w.Fixed64(ev.event_id.hi);
  }
  if (ev.recomm != 0) w.Fixed64(ev.recomm);
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if (strings[f].id != 0) w.Bytes(strings[f].interner->Lookup(strings[f].id));
  }
  w.U64(ev.quantity);
  if (ev.flags & Event::kHasPrice) w.I64(ev.price_micros);
  if (ev.flags & Event::kHasStock) w.I64(ev.stock);
  if (ev.flags & Event::kHasAcceptLag) w.U64(ev.accept_lag_ms);
  if (ev.flags & Event::kHasIpOrders) w.U64(ev.ip_orders);
}

Status DecodeStoredEventView(std::string_view value, StoredEventView* out) {
  SerialReader r(value);
  const uint8_t version = r.U8();
  if (!r.ok()) return Status::Corruption("stored event: empty value");
  if (version != kEventCodecVersion) {
    return Status::Corruption("stored event: format version " + std::to_string(version) +
                              " (this eddy reads version " +
                              std::to_string(kEventCodecVersion) + ")");
  }
  const uint8_t type = r.U8(), flags = r.U8();
  const uint64_t present = r.U64();
  const int64_t time_ms = r.I64();
  if (!r.ok()) return Status::Corruption("stored event: truncated header");
  if (type >= kEventTypeCount && !IsCatalogChange(static_cast<EventType>(type)) &&
      !IsExperimentEvent(static_cast<EventType>(type))) {
    return Status::Corruption("stored event: unknown type " + std::to_string(type));
  }
  if (present >> (kRecommBit + 1)) return Status::Corruption("stored event: unknown fields");
  *out = StoredEventView{};  // absent strings stay null views
  Event& ev = out->event;
  ev.type = static_cast<EventType>(type);
  ev.flags = flags;
  ev.time = EventTime(time_ms);
  if (present & 1) {
    ev.event_id.lo = r.Fixed64();
    ev.event_id.hi = r.Fixed64();
    if (!r.ok()) return Status::Corruption("stored event: truncated eventId");
  }
  if (present >> kRecommBit & 1) {
    ev.recomm = r.Fixed64();
    if (!r.ok() || ev.recomm == 0) return Status::Corruption("stored event: bad recommId hash");
  }
  std::string_view* const fields[kFieldCount] = {
      nullptr,        &out->user,  &out->item,   &out->category, &out->session, &out->order,
      &out->query,    &out->device, &out->ip,    &out->location, &out->country};
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if ((present >> f & 1) == 0) continue;
    *fields[f] = r.Bytes();
    if (!r.ok()) {
      return Status::Corruption("stored event: truncated string field " + std::to_string(f));
    }
  }
  const uint64_t quantity = r.U64();
  if (!r.ok() || quantity > UINT32_MAX) return Status::Corruption("stored event: bad quantity");
  if (flags & Event::kHasPrice) {
    ev.price_micros = r.I64();
    if (!r.ok()) return Status::Corruption("stored event: truncated price");
  }
  if (flags & Event::kHasStock) {
    ev.stock = r.I64();
    if (!r.ok()) return Status::Corruption("stored event: truncated stock");
  }
  if (flags & Event::kHasAcceptLag) {
    const uint64_t lag = r.U64();
    if (!r.ok() || lag > UINT32_MAX) return Status::Corruption("stored event: bad accept lag");
    ev.accept_lag_ms = static_cast<uint32_t>(lag);
  }
  if (flags & Event::kHasIpOrders) {
    const uint64_t n = r.U64();
    if (!r.ok() || n > UINT16_MAX) return Status::Corruption("stored event: bad ip order count");
    ev.ip_orders = static_cast<uint16_t>(n);
  }
  if (!r.done()) return Status::Corruption("stored event: trailing bytes");
  ev.quantity = static_cast<uint32_t>(quantity);
  // The partition key, as the ingest path chose it: the user, else the item (catalog
  // changes, inventory events); a stock move derived from a purchase goes by its item. (A
  // cancel's moves sit in every partition: recovery puts each back where it was stored.)
  const bool by_item = (flags & Event::kDerived) && (present >> kItemBit & 1);
  const std::string_view key = !by_item && (present >> kUserBit & 1) ? out->user : out->item;
  ev.user_hash = static_cast<uint32_t>(StableHash64(key));
  return Status::Ok();
}

Status DecodeStoredEvent(std::string_view value, Interners& in, Event* ev) {
  StoredEventView v;
  if (Status st = DecodeStoredEventView(value, &v); !st.ok()) return st;
  *ev = v.event;
  // Intern like the decoder does: the same strings give the same answers whatever IDs.
  // A present empty string has a non-null pointer into the value.
  const auto intern = [](Interner& i, std::string_view s) -> uint32_t {
    return s.data() != nullptr ? i.Intern(s) : 0;
  };
  ev->user = UserId(intern(in.users, v.user));
  ev->item = ItemId(intern(in.items, v.item));
  ev->category = CategoryId(intern(in.categories, v.category));
  ev->session = SessionId(intern(in.sessions, v.session));
  ev->order = OrderId(intern(in.orders, v.order));
  ev->query = StringId(intern(in.strings, v.query));
  ev->device = StringId(intern(in.strings, v.device));
  ev->ip = StringId(intern(in.strings, v.ip));
  ev->location = StringId(intern(in.strings, v.location));
  ev->country = StringId(intern(in.strings, v.country));
  if (v.user.data() != nullptr && !ev->user.valid()) {
    return Status::ResourceExhausted("stored event: the users interner is full");
  }
  return Status::Ok();
}

}  // namespace eddy
