#include "commerce/catalog.h"

#include <charconv>
#include <cmath>

#include "util/json.h"

namespace eddy {
namespace {

// The JSON string starting at json[*i] (a quote), still escaped; moves *i past it.
std::string_view ScanString(std::string_view json, size_t* i) {
  const size_t start = *i;
  for (++*i; *i < json.size() && json[*i] != '"'; ++*i) {
    if (json[*i] == '\\') ++*i;
  }
  ++*i;
  return json.substr(start, std::min(*i, json.size()) - start);
}

}  // namespace

bool AttributesMatch(std::string_view json,
                     const std::vector<std::pair<std::string, std::string>>& wanted) {
  for (const auto& [name, value] : wanted) {
    const std::string key = JsonString(name);
    bool found = false;
    for (size_t i = 1; i < json.size() && json[i] == '"';) {
      const std::string_view k = ScanString(json, &i);
      ++i;  // ':'
      std::string_view v;
      if (i < json.size() && json[i] == '"') {
        v = ScanString(json, &i);
      } else {
        const size_t start = i;
        while (i < json.size() && json[i] != ',' && json[i] != '}') ++i;
        v = json.substr(start, i - start);
      }
      ++i;  // ',' or '}'
      if (k != key) continue;
      if (!v.empty() && v[0] == '"') {
        found = v == JsonString(value);
      } else {
        double want = 0, have = 0;
        const auto w = std::from_chars(value.data(), value.data() + value.size(), want);
        const auto h = std::from_chars(v.data(), v.data() + v.size(), have);
        found = w.ec == std::errc() && w.ptr == value.data() + value.size() &&
                h.ec == std::errc() && want == have;
      }
      break;
    }
    if (!found) return false;
  }
  return true;
}

void CatalogState::ApplyItemFeed(const Event& ev, PartitionId) {
  if (!IsCatalogChange(ev.type) || !ev.item.valid()) return;
  CatalogItem& c = items_.Touch(ev.item, [](ItemId, const CatalogItem&) {});
  c.updated_ms = ev.time.millis();
  if (ev.type == EventType::kCatalogDelete) {
    c.deleted = true;
    return;
  }
  if (ev.type == EventType::kCatalogPut) {
    const int64_t updated = c.updated_ms;
    c = CatalogItem{};
    c.updated_ms = updated;
  }
  // PUT: every field as given (absent = cleared); PATCH: only the given ones.
  if (ev.category.valid()) c.category = ev.category;
  if (ev.query.valid()) c.attributes = ev.query;
  if (ev.flags & Event::kHasPrice) {
    c.price_micros = ev.price_micros;
    c.has |= CatalogItem::kPrice;
  }
  if (ev.flags & Event::kHasStock) {
    c.stock = ev.stock;
    c.has |= CatalogItem::kStock;
  }
  if (ev.flags & Event::kHasThreshold) {
    c.threshold = ev.quantity;
    c.has |= CatalogItem::kThreshold;
  }
  if (ev.flags & Event::kHasHidden) c.hidden = ev.flags & Event::kHidden;
}

void CatalogState::SaveTo(SerialWriter& w) {
  w.U64(items_.evicted());
  w.U64(items_.size());
  items_.ForEach([&](ItemId item, const CatalogItem& c) {
    w.U64(item.value());
    w.U64(c.category.value());
    w.U64(c.attributes.value());
    w.I64(c.price_micros);
    w.I64(c.stock);
    w.I64(c.updated_ms);
    w.U64(c.threshold);
    w.U8(c.has);
    w.U8(static_cast<uint8_t>((c.hidden ? 1 : 0) | (c.deleted ? 2 : 0)));
  });
}

bool CatalogState::LoadFrom(SerialReader& r, uint32_t) {
  items_.Clear();
  items_.set_evicted(r.U64());
  const uint64_t n = r.Count(9);  // the smallest record: 7 one-byte varints and 2 bytes
  if (n > items_.max_keys()) return false;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    CatalogItem* c = items_.Append(ReadItemId(r));
    if (c == nullptr) return false;
    c->category = ReadCategoryId(r);
    c->attributes = ReadStringId(r);
    c->price_micros = r.I64();
    c->stock = r.I64();
    c->updated_ms = r.I64();
    c->threshold = r.U32();
    c->has = r.U8();
    const uint8_t flags = r.U8();
    c->hidden = flags & 1;
    c->deleted = flags & 2;
  }
  return r.ok();
}

void CatalogState::VisitIds(IdMarks& marks) {
  items_.ForEach([&](ItemId item, const CatalogItem& c) {
    marks.Mark(item);
    if (c.category.valid()) marks.Mark(c.category);
    if (c.attributes.valid()) marks.Mark(c.attributes);
  });
}

}  // namespace eddy
