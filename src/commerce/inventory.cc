#include "commerce/inventory.h"

#include <algorithm>

#include "util/time.h"

namespace eddy {
namespace {
constexpr int64_t kDayMs = 86'400'000;
// Lines remembered per order for a cancel (as revenue's); a longer order's further lines
// are sold for good.
constexpr size_t kMaxLines = 256;
}  // namespace

InventoryState::InventoryState(const Options& o, const CapShare& share, AlertState& alerts)
    : options_(o.inventory),
      window_days_(std::max<int64_t>(1, CeilDiv(o.inventory.velocity_window_minutes, 1440))),
      alerts_(alerts),
      items_(share.Of(o.inventory.max_items)),
      orders_(share.Of(o.inventory.max_orders)),
      cancelled_(share.Of(o.inventory.max_orders)),
      dedup_horizon_ms_(o.ingest.dedup_horizon_ms),
      dedup_max_ids_(o.ingest.dedup_max_ids),
      moves_seen_(o.ingest.dedup_horizon_ms, share.Of(o.ingest.dedup_max_ids)) {}

InventoryItem& InventoryState::Item(ItemId item, int64_t time_ms) {
  return items_.Touch(item, [&](ItemId, const InventoryItem& gone) {
    if (gone.low) alerts_.Clear(gone.alert, time_ms);
    heap_ -= gone.days.capacity() * sizeof(gone.days[0]);
  });
}

std::optional<int64_t> StockOf(const InventoryState& inventory, const CatalogItem* catalog,
                               ItemId item) {
  if (const InventoryItem* it = inventory.Find(item); it != nullptr && it->known) return it->stock;
  return catalog != nullptr ? catalog->stock_level() : std::nullopt;
}

void InventoryState::ApplyItemFeed(const Event& ev, PartitionId p) {
  if (ev.derived()) {
    if (ev.type == EventType::kPurchase) Purchase(ev, p);
    if (ev.type == EventType::kCancel) Cancel(ev, p);
    return;
  }
  if (!ev.item.valid()) return;
  const bool has_stock = ev.flags & Event::kHasStock;
  if (ev.type == EventType::kInventory) {
    InventoryItem& it = Item(ev.item, ev.time.millis());
    it.stock = ev.stock;
    it.known = true;
    it.updated_ms = ev.time.millis();
    return Judge(ev.item, it, ev.time.millis());
  }
  const bool has_threshold = ev.flags & Event::kHasThreshold;
  const bool put = ev.type == EventType::kCatalogPut;
  if (ev.type != EventType::kCatalogPatch && !put) return;  // a delete keeps the stock
  if (!has_stock && !has_threshold && (!put || items_.Find(ev.item) == nullptr)) return;
  InventoryItem& it = Item(ev.item, ev.time.millis());
  // PUT replaces: what it does not give is unknown / the default again.
  if (put || has_stock) {
    it.known = has_stock;
    it.stock = has_stock ? ev.stock : 0;
  }
  if (put || has_threshold) {
    it.own_threshold = has_threshold;
    it.threshold = has_threshold ? ev.quantity : 0;
  }
  it.updated_ms = ev.time.millis();
  Judge(ev.item, it, ev.time.millis());
}

void InventoryState::Purchase(const Event& ev, PartitionId p) {
  if (!ev.item.valid()) return;
  if (ev.event_id.present() && !moves_seen_.Insert(ev.event_id, ev.time)) return;  // a retry
  OrderBook* book = nullptr;
  if (ev.order.valid()) {
    const OrderKey key{p.value(), ev.user, ev.order};
    if (cancelled_.Find(key) != nullptr) return;  // the cancel came first: nothing leaves
    book = &orders_.Touch(key, [this](const OrderKey&, const OrderBook& gone) {
      heap_ -= gone.capacity() * sizeof(Line);
    });
  }
  InventoryItem& it = Item(ev.item, ev.time.millis());
  const int64_t quantity = ev.quantity;
  int64_t taken = 0, oversold = 0;
  if (it.known) {
    taken = std::min(it.stock, quantity);
    oversold = quantity - taken;
    it.stock -= taken;
    it.oversold += oversold;
  }
  const int64_t day = FloorDiv(ev.time.millis(), kDayMs);
  AddSold(it, day, quantity);
  it.updated_ms = ev.time.millis();
  if (book != nullptr && book->size() < kMaxLines) {
    const uint64_t before = book->capacity();
    book->push_back({ev.item, ev.quantity, taken, oversold, day});
    heap_ += (book->capacity() - before) * sizeof(Line);
  }
  Judge(ev.item, it, ev.time.millis());
}

void InventoryState::Cancel(const Event& ev, PartitionId p) {
  const OrderKey key{p.value(), ev.user, ev.order};
  bool& marked = cancelled_.Touch(key, [](const OrderKey&, bool) {});
  if (marked) return;  // cancelled already
  marked = true;
  OrderBook lines;
  if (const OrderBook* book = orders_.Find(key)) {
    lines = *book;
    heap_ -= book->capacity() * sizeof(Line);
  }
  orders_.Erase(key);
  for (const Line& line : lines) {
    InventoryItem& it = Item(line.item, ev.time.millis());
    if (it.known) it.stock += line.taken;
    it.oversold -= line.oversold;
    AddSold(it, line.day, -static_cast<int64_t>(line.quantity));
    it.updated_ms = ev.time.millis();
    Judge(line.item, it, ev.time.millis());
  }
}

void InventoryState::AddSold(InventoryItem& it, int64_t day, int64_t units) {
  auto& days = it.days;
  const uint64_t before = days.capacity();
  auto at = std::lower_bound(days.begin(), days.end(), day,
                             [](const auto& d, int64_t x) { return d.first < x; });
  if (at != days.end() && at->first == day) {
    at->second += units;
    if (at->second <= 0) days.erase(at);
  } else if (units > 0) {
    days.insert(at, {day, units});
  }
  // Only the window's days behind the newest sale are kept.
  while (!days.empty() && days.front().first <= days.back().first - window_days_) {
    days.erase(days.begin());
  }
  heap_ += (days.capacity() - before) * sizeof(days[0]);  // unsigned wrap = a decrease
}

int64_t InventoryState::UnitsSold(const InventoryItem& it, int64_t now_ms) const {
  const int64_t today = FloorDiv(now_ms, kDayMs);
  int64_t units = 0;
  for (const auto& [day, n] : it.days) {
    if (day > today - window_days_ && day <= today) units += n;
  }
  return units;
}

void InventoryState::Judge(ItemId item, InventoryItem& it, int64_t time_ms) {
  const uint32_t threshold = ThresholdOf(it);
  const bool low = it.known && threshold > 0 && it.stock < threshold;
  if (low == it.low) return;
  it.low = low;
  if (!low) return alerts_.Clear(it.alert, time_ms);
  AlertRecord a;
  a.kind = AlertKind::kInventory;
  a.item = item;
  a.n = ++it.crossings;
  a.time_ms = time_ms;
  a.value = it.stock;
  a.threshold = threshold;
  it.low_since_ms = time_ms;
  it.alert = alerts_.Raise(a);
}

StateMemory InventoryState::Memory() const {
  // O(1): the shard publishes its memory often, and a walk over a million orders is a
  // million cache misses.
  // (BytesByWalk() is the same sum by a walk.)
  return {items_.size(), TableBytes() + heap_, items_.evicted() + orders_.evicted()};
}

uint64_t InventoryState::TableBytes() const {
  return items_.bytes() + orders_.bytes() + cancelled_.bytes() + moves_seen_.bytes();
}

uint64_t InventoryState::BytesByWalk() const {
  uint64_t bytes = TableBytes();
  items_.ForEach([&](ItemId, const InventoryItem& it) {
    bytes += it.days.capacity() * sizeof(it.days[0]);
  });
  orders_.ForEach([&](const OrderKey&, const OrderBook& b) { bytes += b.capacity() * sizeof(Line); });
  return bytes;
}

void InventoryState::DescribeSettings(std::string* out) const {
  Setting(out, "enabled", options_.enabled);
  Setting(out, "velocity_days", window_days_);
  Setting(out, "default_threshold", options_.default_threshold);
  Setting(out, "max_items", options_.max_items);
  Setting(out, "max_orders", options_.max_orders);
  Setting(out, "dedup_horizon_ms", dedup_horizon_ms_);
  Setting(out, "dedup_max_ids", dedup_max_ids_);
}

void InventoryState::SaveTo(SerialWriter& w) {
  w.U64(items_.evicted());
  w.U64(items_.size());
  items_.ForEach([&](ItemId item, const InventoryItem& it) {
    w.U64(item.value());
    w.I64(it.stock);
    w.I64(it.oversold);
    w.I64(it.updated_ms);
    w.I64(it.low_since_ms);
    w.U64(it.alert);
    w.U64(it.threshold);
    w.U64(it.crossings);
    w.U8(static_cast<uint8_t>((it.known ? 1 : 0) | (it.own_threshold ? 2 : 0) | (it.low ? 4 : 0)));
    w.U64(it.days.size());
    for (const auto& [day, n] : it.days) {
      w.I64(day);
      w.I64(n);
    }
  });
  const auto save_key = [&](const OrderKey& k) {
    w.U64(k.partition);
    w.U64(k.user.value());
    w.U64(k.order.value());
  };
  w.U64(orders_.evicted());
  w.U64(orders_.size());
  orders_.ForEach([&](const OrderKey& k, const OrderBook& b) {
    save_key(k);
    w.U64(b.size());
    for (const Line& l : b) {
      w.U64(l.item.value());
      w.U64(l.quantity);
      w.I64(l.taken);
      w.I64(l.oversold);
      w.I64(l.day);
    }
  });
  w.U64(cancelled_.evicted());
  w.U64(cancelled_.size());
  cancelled_.ForEach([&](const OrderKey& k, bool) { save_key(k); });
  moves_seen_.Save(w);
}

bool InventoryState::LoadFrom(SerialReader& r, uint32_t) {
  items_.Clear();
  orders_.Clear();
  cancelled_.Clear();
  heap_ = 0;
  items_.set_evicted(r.U64());
  const uint64_t n = r.Count(10);  // the smallest item: ten one-byte fields
  if (n > items_.max_keys()) return false;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    InventoryItem* it = items_.Append(ReadItemId(r));
    if (it == nullptr) return false;
    it->stock = r.I64();
    it->oversold = r.I64();
    it->updated_ms = r.I64();
    it->low_since_ms = r.I64();
    it->alert = r.U64();
    it->threshold = r.U32();
    it->crossings = r.U32();
    const uint8_t flags = r.U8();
    it->known = flags & 1;
    it->own_threshold = flags & 2;
    it->low = flags & 4;
    const uint64_t days = r.Count(2);
    for (uint64_t d = 0; d < days && r.ok(); ++d) {
      const int64_t day = r.I64();
      it->days.emplace_back(day, r.I64());
    }
    heap_ += it->days.capacity() * sizeof(it->days[0]);
  }
  const auto load_key = [&] {
    OrderKey k;
    k.partition = r.U32();
    k.user = ReadUserId(r);
    k.order = ReadOrderId(r);
    return k;
  };
  orders_.set_evicted(r.U64());
  const uint64_t m = r.Count(4);  // the smallest book: a key (3 bytes) and no lines
  if (m > orders_.max_keys()) return false;
  for (uint64_t i = 0; i < m && r.ok(); ++i) {
    OrderBook* b = orders_.Append(load_key());
    if (b == nullptr) return false;
    const uint64_t lines = r.Count(5);
    for (uint64_t l = 0; l < lines && r.ok(); ++l) {
      Line& line = b->emplace_back();
      line.item = ReadItemId(r);
      line.quantity = r.U32();
      line.taken = r.I64();
      line.oversold = r.I64();
      line.day = r.I64();
    }
    heap_ += b->capacity() * sizeof(Line);
  }
  cancelled_.set_evicted(r.U64());
  const uint64_t c = r.Count(3);
  if (c > cancelled_.max_keys()) return false;
  for (uint64_t i = 0; i < c && r.ok(); ++i) {
    bool* marked = cancelled_.Append(load_key());
    if (marked == nullptr) return false;
    *marked = true;
  }
  return r.ok() && moves_seen_.Load(r);
}

void InventoryState::VisitIds(IdMarks& marks) {
  items_.ForEach([&](ItemId item, const InventoryItem&) { marks.Mark(item); });
  const auto mark_key = [&](const OrderKey& k) {
    if (k.user.valid()) marks.Mark(k.user);
    marks.Mark(k.order);
  };
  orders_.ForEach([&](const OrderKey& k, const OrderBook& b) {
    mark_key(k);
    for (const Line& l : b) marks.Mark(l.item);
  });
  cancelled_.ForEach([&](const OrderKey& k, bool) { mark_key(k); });
}

}  // namespace eddy
