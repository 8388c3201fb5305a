#pragma once
// The item catalog: what the shop says about each item — category, unit price, stock,
// hidden, low-stock threshold, attributes — set by catalog changes (PUT / PATCH / DELETE
// /v1/items/{itemId}), which travel through the log and the store like events, in the
// item's partition (so one shard holds an item's record, and changes apply in the order
// they were accepted). PUT replaces the record (absent fields cleared, a deleted item
// restored); PATCH changes only the fields it names (a deleted item stays deleted);
// DELETE withdraws the item from every ranked answer and keeps a tombstone (a later PUT
// brings it back). Catalog values win over what events said about the item.
//
// Memory: at most `max_items` records (tombstones included); past it the record changed
// longest ago is forgotten (status counts it as evicted). Size the cap above the catalog.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agg/lru_map.h"
#include "agg/state.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

struct CatalogItem {
  enum Has : uint8_t { kPrice = 1, kStock = 2, kThreshold = 4 };
  CategoryId category;
  StringId attributes;  // canonical JSON object; invalid = none
  int64_t price_micros = 0;
  int64_t stock = 0;
  int64_t updated_ms = 0;  // event time of the last change
  uint32_t threshold = 0;  // lowStockThreshold
  uint8_t has = 0;
  bool hidden = false;
  bool deleted = false;

  std::optional<int64_t> price() const {
    return has & kPrice ? std::optional<int64_t>(price_micros) : std::nullopt;
  }
  std::optional<int64_t> stock_level() const {
    return has & kStock ? std::optional<int64_t>(stock) : std::nullopt;
  }
  // Never in a ranked answer.
  bool withdrawn() const { return hidden || deleted; }
};

// Whether the canonical attributes JSON `json` (as the decoder writes it: an object of
// strings and numbers) has every (name, value) of `wanted`: a string equal to the value, or
// a number equal to the value read as a number.
bool AttributesMatch(std::string_view json,
                     const std::vector<std::pair<std::string, std::string>>& wanted);

class CatalogState final : public State {
 public:
  CatalogState(const Options& o, const CapShare& share)
      : max_items_(o.catalog.max_items), items_(share.Of(o.catalog.max_items)) {}

  std::string_view Name() const override { return "catalog"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return false; }  // interactions do not change it
  void ApplyEvent(const Event&, const ApplyInfo&) override {}
  bool TakesItemFeed() const override { return true; }
  void ApplyItemFeed(const Event& ev, PartitionId p) override;
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override {
    return {items_.size(), items_.bytes(), items_.evicted()};
  }
  void DescribeSettings(std::string* out) const override {
    Setting(out, "max_items", max_items_);
  }

  // The item's record (tombstones included); nullptr when the catalog has none here.
  const CatalogItem* Find(ItemId item) const { return items_.Find(item); }
  // Whether this shard's catalog withdrew the item (hidden or deleted).
  bool Withdrawn(ItemId item) const {
    const CatalogItem* c = Find(item);
    return c != nullptr && c->withdrawn();
  }

 private:
  const uint64_t max_items_;
  LruMap<ItemId, CatalogItem> items_;  // least recently changed first
};

}  // namespace eddy
