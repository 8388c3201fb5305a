#pragma once
// Revenue windows (SPEC §3.9): tumbling windows aligned to the epoch, one series per
// configured size, per category and overall. A partial of a global answer: shards' cells add.
//
// A purchase is a line: its units (quantity) and amount (price · quantity, exact integer
// millionths) go to the window of its event time. Lines with the same `orderId` (of the
// same user) are one order; a purchase without one is an order of its own. A window's
// `orders` counts the distinct orders with a line in it (an order whose lines fall in two
// windows counts in each), `pricedOrders` those with a priced line; a line without a price
// adds its units and `unpriced` += 1 instead of an amount.
// A `cancel` (by orderId, from the same user) takes every line of the order back out of
// its windows and adds 1 to `cancelled` in each window the order counted in; lines of an
// order cancelled before they arrive are counted the same way. Cancelling twice does
// nothing more. A cancel of an order no longer remembered (see max_orders) or never seen
// is remembered as cancelled, so its late lines still count as cancelled.
// Lateness: a line accepted (engine clock at acceptance, carried by the event as
// accept_lag_ms) more than `lateness_ms` after its window closed adds `late` += 1 and its
// amount to `lateRevenue` of that window, and nothing else; the decision is made per
// window size and is the same in every replay.
//
// Memory: windows for `retention_minutes` (+ slack) of event time behind the newest event
// this shard saw; remembered orders (those with an orderId) capped by `max_orders`
// (oldest first out), at most kMaxLines lines each (an order with more counts its further
// lines as orders of their own: a cancel that came before them cancels them too, one that
// comes after does not reach them).
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/state.h"
#include "eddy/engine.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

// One window's figures for one category (or overall): the public RevenueFigures.
using RevenueCell = RevenueFigures;

class RevenueState final : public State {
 public:
  static constexpr size_t kMaxSizes = 8;  // revenue.windows holds at most this many sizes
  // Lines remembered per order; more lines of one order count as orders of their own.
  static constexpr size_t kMaxLines = 256;

  RevenueState(const Options& o, const CapShare& share);

  std::string_view Name() const override { return "revenue"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return options_.enabled; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  void Tick(int64_t minute) override { AdvanceTo(minute); }
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  // Window start (minute) → cell.
  using Partial = std::map<int64_t, RevenueCell>;
  static void Merge(Partial& into, const Partial& part) {
    for (const auto& [start, cell] : part) into[start].Add(cell);
  }
  // Adds the cells of size `size` (index into revenue.windows) and `category` (invalid:
  // overall) of windows starting in [from_minute, to_minute).
  void AddWindows(size_t size, CategoryId category, int64_t from_minute, int64_t to_minute,
                  Partial* out) const;

 private:
  struct Line {
    int64_t time = 0;
    CategoryId category;
    uint32_t units = 0;
    int64_t amount = -1;   // price · quantity in millionths; -1 = unpriced
    uint8_t late = 0;      // bit s: late for window size s
  };
  struct Order {
    std::vector<Line> lines;
    bool cancelled = false;
  };
  using OrderKey = std::pair<UserId, OrderId>;
  using Cells = absl::flat_hash_map<CategoryId, RevenueCell>;

  void AdvanceTo(int64_t minute);
  int64_t KeepFrom() const;
  // Adds (sign +1) or takes back (-1) `line` of `order` (lines[0, index) are the others
  // counted before it) in every size and scope; `cancel` also counts the order cancelled
  // where it stops counting.
  void Count(const Order& order, size_t index, int sign, bool cancel);
  void Purchase(const Event& ev);
  void Cancel(const Event& ev);
  Order* Remember(OrderKey key);

  const RevenueOptions options_;
  const uint64_t max_orders_;
  std::vector<std::map<int64_t, Cells>> windows_;  // by size; window start minute → cells
  absl::flat_hash_map<OrderKey, Order> orders_;
  std::deque<OrderKey> order_fifo_;  // remembered orders, oldest first
  int64_t cur_ = INT64_MIN;          // the newest minute seen (event time or tick)
  uint64_t forgotten_ = 0;           // orders dropped by max_orders
  uint64_t lines_ = 0;               // lines held by remembered orders
};

}  // namespace eddy
