#pragma once
// Inventory (SPEC §3.12): the stock of each item, kept on the item's shard from its item
// feed (agg/state.h) in the order the item's partition accepted it:
//   - an absolute level: a catalog change with `stock` (PUT without it: unknown again) or
//     an `inventory` event;
//   - a purchase's stock move takes its quantity (never below 0: what is missing counts as
//     `oversold`); with an orderId the line is remembered for a cancel;
//   - a cancel's stock move gives back what the order's lines took (a line of an order
//     already cancelled takes nothing).
// Before the first absolute level the stock is unknown: purchases count in sales only.
// Sales velocity = units sold (net of cancels) in the event-time days of the last
// `velocity_window` (today included) / its days. Days of cover = stock / velocity; reorder
// = max(0, ceil(velocity x (lead_time_days + safety_days)) - stock).
// Low stock: known stock < threshold (the item's lowStockThreshold, else
// inventory.default_threshold; 0 = none). Falling below raises one alert (AlertState);
// rising back to the threshold clears it; the next fall raises a new one.
//
// Memory: at most `max_items` items and `max_orders` orders and as many cancel markers (over
// all shards); past them the item changed longest ago / the order touched longest ago is
// forgotten; and the stock moves' ids like ingest's (ingest.dedup_max_ids, _horizon_s).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agg/dedup.h"
#include "agg/lru_map.h"
#include "agg/state.h"
#include "commerce/alerts.h"
#include "commerce/catalog.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

struct InventoryItem {
  int64_t stock = 0;
  int64_t oversold = 0;     // units purchased beyond the stock, all time (net of cancels)
  int64_t updated_ms = 0;   // event time of the last change
  int64_t low_since_ms = 0; // event time it fell below its threshold, when low
  uint64_t alert = 0;       // the handle of the open alert, when low
  uint32_t threshold = 0;   // the item's own lowStockThreshold, when own_threshold
  uint32_t crossings = 0;   // alerts raised for the item
  bool known = false;       // an absolute level was given
  bool own_threshold = false;
  bool low = false;
  std::vector<std::pair<int64_t, int64_t>> days;  // (event-time day, units sold), ascending

  std::optional<int64_t> stock_level() const {
    return known ? std::optional<int64_t>(stock) : std::nullopt;
  }
};

class InventoryState final : public State {
 public:
  InventoryState(const Options& o, const CapShare& share, AlertState& alerts);

  std::string_view Name() const override { return "inventory"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return false; }  // it reads the item feed only
  void ApplyEvent(const Event&, const ApplyInfo&) override {}
  bool TakesItemFeed() const override { return options_.enabled; }
  void ApplyItemFeed(const Event& ev, PartitionId p) override;
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;
  // Memory().bytes by a walk over every item and order (Memory keeps the heap they hold
  // as it changes; tests hold the two equal).
  uint64_t BytesByWalk() const;

  const InventoryItem* Find(ItemId item) const { return items_.Find(item); }
  uint32_t ThresholdOf(const InventoryItem& it) const {
    return it.own_threshold ? it.threshold : options_.default_threshold;
  }
  // Units sold in the velocity window ending at `now_ms`, and per day.
  int64_t UnitsSold(const InventoryItem& it, int64_t now_ms) const;
  double Velocity(const InventoryItem& it, int64_t now_ms) const {
    return static_cast<double>(UnitsSold(it, now_ms)) / static_cast<double>(window_days_);
  }
  int64_t window_days() const { return window_days_; }
  // Every item below its threshold.
  template <typename F>
  void ForEachLow(F f) const {
    items_.ForEach([&](ItemId item, const InventoryItem& it) {
      if (it.low) f(item, it);
    });
  }

 private:
  struct OrderKey {
    uint32_t partition = 0;
    UserId user;
    OrderId order;
    friend bool operator==(const OrderKey&, const OrderKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const OrderKey& k) {
      return H::combine(std::move(h), k.partition, k.user.value(), k.order.value());
    }
  };
  struct Line {
    ItemId item;
    uint32_t quantity = 0;
    int64_t taken = 0;     // units it took from the stock
    int64_t oversold = 0;  // units it counted in `oversold`
    int64_t day = 0;
  };
  using OrderBook = std::vector<Line>;

  // The item's entry, made the most recent. An item forgotten to make room has its open
  // alert cleared at `time_ms` (nothing would clear it later).
  InventoryItem& Item(ItemId item, int64_t time_ms);
  void Purchase(const Event& ev, PartitionId p);
  void Cancel(const Event& ev, PartitionId p);
  void AddSold(InventoryItem& it, int64_t day, int64_t units);
  // The tables' own memory (not what their values hold on the heap).
  uint64_t TableBytes() const;
  // Raises or clears the item's alert when its low state changed.
  void Judge(ItemId item, InventoryItem& it, int64_t time_ms);

  const InventoryOptions options_;
  const int64_t window_days_;
  AlertState& alerts_;
  LruMap<ItemId, InventoryItem> items_;  // least recently changed first
  // Orders with lines here, and orders cancelled here (a line that comes after its cancel
  // takes nothing); each least recently touched first. Apart, so that the markers every
  // cancel leaves in every partition never push out an order whose lines wait for one.
  LruMap<OrderKey, OrderBook> orders_;
  LruMap<OrderKey, bool> cancelled_;
  uint64_t heap_ = 0;  // Σ the items' days and the order books' lines, by capacity
  // The purchases' stock moves seen (their derived ids): a retried purchase's move is
  // dropped. Its own memory, sized and timed like ingest's (ingest.dedup_*), so that moves
  // never shorten the events' idempotency window.
  const int64_t dedup_horizon_ms_;
  const uint64_t dedup_max_ids_;
  EventIdSet moves_seen_;
};

// The item's stock as the shop knows it now: inventory's when it has a level for the item
// (catalog stock, inventory events, purchases, cancels), else the catalog record's (with
// inventory off); none when neither says.
std::optional<int64_t> StockOf(const InventoryState& inventory, const CatalogItem* catalog,
                               ItemId item);

}  // namespace eddy
