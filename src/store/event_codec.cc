#include "store/event_codec.h"

#include <cstring>

#include "util/hash.h"

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

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void PutFixed64(uint64_t v, std::string* out) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

// The interner and ID value of each string field, in bit order (1..10).
struct StringField {
  const Interner* interner;
  uint32_t id;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
  bool Byte(uint8_t* v) {
    if (p_ == end_) return false;
    *v = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = static_cast<uint8_t>(*p_++);
      r |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;  // more than 10 bytes
  }
  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= uint64_t{static_cast<uint8_t>(p_[i])} << (8 * i);
    p_ += 8;
    *v = r;
    return true;
  }
  bool Bytes(std::string_view* s) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *s = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
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
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if (strings[f].id != 0) present |= uint64_t{1} << f;
  }
  out->push_back(static_cast<char>(kEventCodecVersion));
  out->push_back(static_cast<char>(ev.type));
  out->push_back(static_cast<char>(ev.flags));
  PutVarint(present, out);
  PutVarint(ZigZag(ev.time.millis()), out);
  if (ev.event_id.present()) {
    PutFixed64(ev.event_id.lo, out);
    PutFixed64(ev.event_id.hi, out);
  }
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if (strings[f].id == 0) continue;
    const std::string_view s = strings[f].interner->Lookup(strings[f].id);
    PutVarint(s.size(), out);
    out->append(s);
  }
  PutVarint(ev.quantity, out);
  if (ev.flags & Event::kHasPrice) PutVarint(ZigZag(ev.price_micros), out);
  if (ev.flags & Event::kHasStock) PutVarint(ZigZag(ev.stock), out);
}

Status DecodeStoredEventView(std::string_view value, StoredEventView* out) {
  Reader r(value);
  uint8_t version = 0, type = 0, flags = 0;
  if (!r.Byte(&version)) return Status::Corruption("stored event: empty value");
  if (version != kEventCodecVersion) {
    return Status::Corruption("stored event: format version " + std::to_string(version) +
                              " (this eddy reads version " +
                              std::to_string(kEventCodecVersion) + ")");
  }
  uint64_t present = 0, zz_time = 0;
  if (!r.Byte(&type) || !r.Byte(&flags) || !r.Varint(&present) || !r.Varint(&zz_time)) {
    return Status::Corruption("stored event: truncated header");
  }
  if (type >= kEventTypeCount) {
    return Status::Corruption("stored event: unknown type " + std::to_string(type));
  }
  if (present >> kFieldCount) return Status::Corruption("stored event: unknown fields");
  *out = StoredEventView{};
  Event& ev = out->event;
  ev.type = static_cast<EventType>(type);
  ev.flags = flags;
  ev.time = EventTime(UnZigZag(zz_time));
  if (present & 1) {
    if (!r.Fixed64(&ev.event_id.lo) || !r.Fixed64(&ev.event_id.hi)) {
      return Status::Corruption("stored event: truncated eventId");
    }
  }
  std::string_view* const fields[kFieldCount] = {
      nullptr,        &out->user,  &out->item,   &out->category, &out->session, &out->order,
      &out->query,    &out->device, &out->ip,    &out->location, &out->country};
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if ((present >> f & 1) && !r.Bytes(fields[f])) {
      return Status::Corruption("stored event: truncated string field " + std::to_string(f));
    }
  }
  uint64_t quantity = 0, price = 0, stock = 0;
  if (!r.Varint(&quantity) || quantity > UINT32_MAX) {
    return Status::Corruption("stored event: bad quantity");
  }
  if ((flags & Event::kHasPrice) && !r.Varint(&price)) {
    return Status::Corruption("stored event: truncated price");
  }
  if ((flags & Event::kHasStock) && !r.Varint(&stock)) {
    return Status::Corruption("stored event: truncated stock");
  }
  if (!r.done()) return Status::Corruption("stored event: trailing bytes");
  ev.quantity = static_cast<uint32_t>(quantity);
  ev.price_micros = UnZigZag(price);
  ev.stock = UnZigZag(stock);
  const std::string_view key = (present >> kUserBit & 1) ? out->user : out->item;
  ev.user_hash = static_cast<uint32_t>(StableHash64(key));
  // Presence is kept in the views: an absent field has a null data pointer.
  for (uint32_t f = kUserBit; f < kFieldCount; ++f) {
    if ((present >> f & 1) == 0) *fields[f] = std::string_view();
  }
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
