// Inventory and alerts (SPEC §3.12) against a brute force written from the spec over the
// raw events in the order they were sent: stock from catalog edits and inventory events,
// minus purchases (never below 0: oversold), plus cancelled lines (cancels before and
// after the lines, twice, retried purchases; a cancelled oversold sale no longer counts as
// oversold), sales in the velocity window, low-stock
// alerts raised once per crossing and cleared on the way back — in several
// partition/shard layouts and batch sizes. Then the ranker's out-of-stock rule on stock
// that purchases took, and a restart from a checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "commerce/alerts.h"
#include "commerce/inventory.h"
#include "eddy/engine.h"
#include "testutil/testutil.h"
#include "util/serial.h"
#include "util/time.h"

namespace eddy {
namespace {

using test::EventBuilder;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kDay = 86'400'000;

using test::OpenEngine;

Options InventoryOptions(uint32_t partitions, int shards) {
  Options o = test::TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  o.inventory.default_threshold = 2;
  o.inventory.velocity_window_minutes = 3 * 1440;
  return o;
}

// Sends `lines` in requests of `batch`; returns the duplicates the replies counted.
uint64_t Send(Engine& e, const std::vector<std::string>& lines, size_t batch) {
  auto ctx = e.NewIngestContext();
  uint64_t duplicates = 0;
  for (size_t i = 0; i < lines.size(); i += batch) {
    std::vector<std::string> part(lines.begin() + i,
                                  lines.begin() + std::min(lines.size(), i + batch));
    IngestReply r = test::IngestRetrying(e, *ctx, test::Ndjson(part), BodyFormat::kNdjson);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.accepted, part.size()) << (r.rejected.empty() ? "" : r.rejected[0].error);
    duplicates += r.duplicates;
  }
  return duplicates;
}

// ---- The brute force -------------------------------------------------------------------

struct BruteItem {
  std::optional<int64_t> stock;
  int64_t oversold = 0;
  std::optional<int64_t> own_threshold;
  bool low = false;
  int crossings = 0;
  int64_t low_since = 0;
  int open_alert = -1;              // index into alerts
  std::map<int64_t, int64_t> sold;  // day -> units (net of cancels)
};
struct BruteAlert {
  std::string item;
  int n = 0;
  int64_t time = 0, cleared = 0;
  bool active = true;
  int64_t stock = 0, threshold = 0;
  std::string id() const {
    return "inventory-" + item + "-" + std::to_string(time) + "-" + std::to_string(n);
  }
};
struct Line {
  std::string item;
  int64_t quantity = 0, taken = 0, oversold = 0, day = 0;
};
struct Book {
  bool cancelled = false;
  std::vector<Line> lines;
};

struct Brute {
  int64_t default_threshold = 2;
  std::map<std::string, BruteItem> items;
  std::vector<BruteAlert> alerts;
  std::map<std::pair<std::string, std::string>, Book> orders;  // (user, orderId)
  std::set<std::string> ids;
  int64_t newest = INT64_MIN;

  int64_t Threshold(const BruteItem& it) const { return it.own_threshold.value_or(default_threshold); }
  void Judge(const std::string& name, BruteItem& it, int64_t t) {
    const int64_t thr = Threshold(it);
    const bool low = it.stock && thr > 0 && *it.stock < thr;
    if (low == it.low) return;
    it.low = low;
    if (low) {
      it.low_since = t;
      it.open_alert = static_cast<int>(alerts.size());
      alerts.push_back({name, ++it.crossings, t, 0, true, *it.stock, thr});
    } else {
      alerts[it.open_alert].active = false;
      alerts[it.open_alert].cleared = t;
    }
  }
};

struct Stream {
  std::vector<std::string> lines;
  Brute brute;
  int cancels_before_lines = 0, restored_lines = 0, oversold_purchases = 0, retries = 0;
};

Stream MakeStream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  Stream s;
  Brute& b = s.brute;
  std::vector<std::string> purchases;  // recent purchase lines, for retries
  int64_t t = kT0;
  for (int e = 0; e < n; ++e) {
    // Up to 6 min apart: ~8 days in all, a request of 100 within ~5 h, a retry within ~3 h
    // of its original (far inside the 24 h dedup horizon in every layout).
    t += static_cast<int64_t>(rng() % 360'000);
    b.newest = std::max(b.newest, t);
    const std::string item = "i" + std::to_string(rng() % 20);
    const std::string user = "u" + std::to_string(rng() % 15);
    const uint64_t kind = rng() % 100;
    EventBuilder ev;
    ev.Time(t);
    if (kind < 8) {  // catalog PUT: absent fields cleared
      ev.Type("catalog_put").Item(item);
      std::optional<int64_t> stock, thr;
      if (rng() % 5) stock = static_cast<int64_t>(rng() % 20);
      if (rng() % 2) thr = static_cast<int64_t>(rng() % 7);
      if (stock) ev.Raw("stock", std::to_string(*stock));
      if (thr) ev.Raw("lowStockThreshold", std::to_string(*thr));
      auto it = b.items.find(item);
      if (stock || thr || it != b.items.end()) {
        BruteItem& x = b.items[item];
        x.stock = stock;
        x.own_threshold = thr;
        b.Judge(item, x, t);
      }
    } else if (kind < 16) {  // catalog PATCH: only what it gives
      ev.Type("catalog_patch").Item(item);
      std::optional<int64_t> stock, thr;
      if (rng() % 2) stock = static_cast<int64_t>(rng() % 20);
      if (rng() % 2) thr = static_cast<int64_t>(rng() % 7);
      if (!stock && !thr) ev.Raw("price", "9.5");
      if (stock) ev.Raw("stock", std::to_string(*stock));
      if (thr) ev.Raw("lowStockThreshold", std::to_string(*thr));
      if (stock || thr) {
        BruteItem& x = b.items[item];
        if (stock) x.stock = stock;
        if (thr) x.own_threshold = thr;
        b.Judge(item, x, t);
      }
    } else if (kind < 18) {  // DELETE keeps the stock
      ev.Type("catalog_delete").Item(item);
    } else if (kind < 28) {  // an absolute level (with a userId it ignores)
      const int64_t stock = static_cast<int64_t>(rng() % 15);
      ev.Type("inventory").Item(item).Raw("stock", std::to_string(stock));
      if (rng() % 2) ev.User("warehouse");
      BruteItem& x = b.items[item];
      x.stock = stock;
      b.Judge(item, x, t);
    } else if (kind < 33 && !purchases.empty()) {  // a retried purchase: a duplicate
      s.lines.push_back(purchases[rng() % purchases.size()]);
      ++s.retries;
      continue;
    } else if (kind < 70) {  // a purchase, most with an order
      const int64_t quantity = 1 + static_cast<int64_t>(rng() % 4);
      const std::string id = "p" + std::to_string(e);
      ev.Id(id).User(user).Type("purchase").Item(item).Raw("quantity", std::to_string(quantity));
      std::optional<std::string> order;
      if (rng() % 10 < 7) order = "o" + std::to_string(rng() % 30);
      if (order) ev.Str("orderId", *order);
      b.ids.insert(id);
      Book* book = order ? &b.orders[{user, *order}] : nullptr;
      if (book == nullptr || !book->cancelled) {
        BruteItem& x = b.items[item];
        int64_t taken = 0, oversold = 0;
        if (x.stock) {
          taken = std::min(*x.stock, quantity);
          oversold = quantity - taken;
          *x.stock -= taken;
          x.oversold += oversold;
          s.oversold_purchases += oversold > 0;
        }
        const int64_t day = FloorDiv(t, kDay);
        x.sold[day] += quantity;
        if (book != nullptr) book->lines.push_back({item, quantity, taken, oversold, day});
        b.Judge(item, x, t);
      }
      s.lines.push_back(ev.Json());
      purchases.push_back(ev.Json());
      if (purchases.size() > 20) purchases.erase(purchases.begin());
      continue;
    } else if (kind < 80) {  // a cancel of some order of the user (perhaps not yet bought)
      const std::string order = "o" + std::to_string(rng() % 30);
      ev.User(user).Type("cancel").Str("orderId", order);
      Book& book = b.orders[{user, order}];
      if (!book.cancelled) {
        if (book.lines.empty()) ++s.cancels_before_lines;
        book.cancelled = true;
        for (const Line& l : book.lines) {
          BruteItem& x = b.items[l.item];
          if (x.stock) *x.stock += l.taken;
          x.oversold -= l.oversold;  // a cancelled sale was not oversold after all
          x.sold[l.day] -= l.quantity;
          ++s.restored_lines;
          b.Judge(l.item, x, t);
        }
        book.lines.clear();
      }
    } else {
      ev.User(user).Type("view").Item(item);
    }
    s.lines.push_back(ev.Json());
  }
  return s;
}

std::vector<BruteAlert> NewestFirst(std::vector<BruteAlert> a) {
  std::sort(a.begin(), a.end(), [](const BruteAlert& x, const BruteAlert& y) {
    if (x.time != y.time) return x.time > y.time;
    return x.id() > y.id();
  });
  return a;
}

void ExpectMatches(Engine& e, const Brute& b, int64_t window_days) {
  const int64_t today = FloorDiv(b.newest, kDay);
  for (int i = 0; i < 20; ++i) {
    const std::string item = "i" + std::to_string(i);
    const InventoryAnswer got = e.ItemInventorySync(item);
    auto it = b.items.find(item);
    ASSERT_EQ(got.found, it != b.items.end()) << item;
    if (!got.found) continue;
    const BruteItem& x = it->second;
    EXPECT_EQ(got.stock, x.stock) << item;
    EXPECT_EQ(got.oversold, x.oversold) << item;
    int64_t sold = 0;
    for (const auto& [day, units] : x.sold) sold += day > today - window_days && day <= today ? units : 0;
    EXPECT_EQ(got.sold_in_window, sold) << item;
    EXPECT_DOUBLE_EQ(got.velocity, static_cast<double>(sold) / window_days) << item;
    EXPECT_EQ(got.threshold, b.Threshold(x)) << item;
    EXPECT_EQ(got.low, x.low) << item;
    if (got.stock && got.velocity > 0) {
      ASSERT_TRUE(got.days_of_cover.has_value()) << item;
      EXPECT_DOUBLE_EQ(*got.days_of_cover, *x.stock / got.velocity) << item;
    }
    if (got.stock) {  // lead 7 + safety 3 days of sales, less what is in stock
      const int64_t need = static_cast<int64_t>(std::ceil(got.velocity * 10 - 1e-9));
      EXPECT_EQ(got.reorder, std::max<int64_t>(0, need - *x.stock)) << item;
    } else {
      EXPECT_FALSE(got.reorder.has_value()) << item;
    }
  }
  // Alerts: every crossing once, newest first, cleared ones with the time they cleared.
  const std::vector<BruteAlert> want = NewestFirst(b.alerts);
  const AlertsAnswer got = e.AlertsSync({});
  ASSERT_EQ(got.alerts.size(), std::min<size_t>(want.size(), 100));
  for (size_t i = 0; i < got.alerts.size(); ++i) {
    const Alert& a = got.alerts[i];
    const BruteAlert& w = want[i];
    EXPECT_EQ(a.id, w.id()) << i;
    EXPECT_EQ(a.kind, "inventory");
    EXPECT_EQ(a.item_id, w.item);
    EXPECT_EQ(a.time.millis(), w.time) << a.id;
    EXPECT_EQ(a.active, w.active) << a.id;
    EXPECT_EQ(a.cleared.has_value(), !w.active) << a.id;
    if (a.cleared) {
      EXPECT_EQ(a.cleared->millis(), w.cleared) << a.id;
    }
    EXPECT_EQ(a.stock, w.stock) << a.id;
    EXPECT_EQ(a.threshold, w.threshold) << a.id;
  }
  // `since` and `k`, and a kind that has none yet.
  const int64_t since = want.empty() ? 0 : want[want.size() / 2].time;
  AlertsRequest r;
  r.since_ms = since;
  r.k = 1000;
  r.kind = "inventory";
  const AlertsAnswer later = e.AlertsSync(r);
  const size_t expect_later = static_cast<size_t>(std::count_if(
      want.begin(), want.end(), [&](const BruteAlert& a) { return a.time >= since; }));
  EXPECT_EQ(later.alerts.size(), expect_later);
  r.kind = "fraud";
  EXPECT_TRUE(e.AlertsSync(r).alerts.empty());
  // Low-stock items: lowest stock first, then the higher threshold, then the id.
  std::vector<LowStockItem> low;
  for (const auto& [name, x] : b.items) {
    if (x.low) low.push_back({name, *x.stock, static_cast<uint32_t>(b.Threshold(x)), EventTime(x.low_since)});
  }
  std::sort(low.begin(), low.end(), [](const LowStockItem& a, const LowStockItem& c) {
    if (a.stock != c.stock) return a.stock < c.stock;
    if (a.threshold != c.threshold) return a.threshold > c.threshold;
    return a.item_id < c.item_id;
  });
  const LowStockAnswer got_low = e.LowStockSync(1000);
  ASSERT_EQ(got_low.items.size(), low.size());
  for (size_t i = 0; i < low.size(); ++i) {
    EXPECT_EQ(got_low.items[i].item_id, low[i].item_id) << i;
    EXPECT_EQ(got_low.items[i].stock, low[i].stock) << i;
    EXPECT_EQ(got_low.items[i].threshold, low[i].threshold) << i;
    EXPECT_EQ(got_low.items[i].since, low[i].since) << i;
  }
}

struct Layout {
  uint32_t partitions;
  int shards;
  size_t batch;
};

class InventoryOracleTest : public ::testing::TestWithParam<Layout> {};

TEST_P(InventoryOracleTest, StockSalesAndAlertsMatchBruteForce) {
  const Layout l = GetParam();
  const Stream s = MakeStream(11, 4000);
  // The stream exercises what it should.
  EXPECT_GT(s.brute.alerts.size(), 50u);
  EXPECT_GT(std::count_if(s.brute.alerts.begin(), s.brute.alerts.end(),
                          [](const BruteAlert& a) { return !a.active; }),
            30);
  EXPECT_GT(s.cancels_before_lines, 20);
  EXPECT_GT(s.restored_lines, 20);
  EXPECT_GT(s.oversold_purchases, 20);
  EXPECT_GT(s.retries, 50);
  auto e = OpenEngine(InventoryOptions(l.partitions, l.shards));
  // Only the retried purchases are duplicates: their stock moves are not acknowledged
  // or counted as duplicates of their own.
  EXPECT_EQ(Send(*e, s.lines, l.batch), static_cast<uint64_t>(s.retries));
  ExpectMatches(*e, s.brute, 3);
}

INSTANTIATE_TEST_SUITE_P(Layouts, InventoryOracleTest,
                         ::testing::Values(Layout{1, 1, 1}, Layout{4, 2, 7}, Layout{16, 3, 100}),
                         [](const auto& info) {
                           return std::to_string(info.param.partitions) + "p" +
                                  std::to_string(info.param.shards) + "s_batch" +
                                  std::to_string(info.param.batch);
                         });

// One alert per crossing: a run of sales below the threshold raises one; climbing back
// clears it; the next fall raises the second.
TEST(InventoryAlertTest, OneAlertPerCrossingAndClearedOnTheWayBack) {
  auto e = OpenEngine(InventoryOptions(4, 2));
  std::vector<std::string> lines = {
      EventBuilder().Type("catalog_put").Item("sku").Raw("stock", "10").Raw("lowStockThreshold", "5").Time(kT0).Json()};
  for (int i = 0; i < 8; ++i) {  // 10 → 2: below 5 from the 6th sale on
    lines.push_back(EventBuilder().User("u" + std::to_string(i)).Type("purchase").Item("sku").Time(kT0 + 1000 * (i + 1)).Json());
  }
  Send(*e, lines, 3);
  AlertsAnswer a = e->AlertsSync({});
  ASSERT_EQ(a.alerts.size(), 1u);
  EXPECT_EQ(a.alerts[0].id, "inventory-sku-" + std::to_string(kT0 + 6000) + "-1");
  EXPECT_EQ(a.alerts[0].stock, 4);
  EXPECT_EQ(a.alerts[0].time.millis(), kT0 + 6000);
  EXPECT_TRUE(a.alerts[0].active);
  Send(*e, {EventBuilder().Type("inventory").Item("sku").Raw("stock", "5").Time(kT0 + 20'000).Json()}, 1);
  a = e->AlertsSync({});
  ASSERT_EQ(a.alerts.size(), 1u);
  EXPECT_FALSE(a.alerts[0].active);
  EXPECT_EQ(a.alerts[0].cleared->millis(), kT0 + 20'000);
  EXPECT_TRUE(e->LowStockSync(10).items.empty());
  Send(*e, {EventBuilder().User("v").Type("purchase").Item("sku").Time(kT0 + 30'000).Json()}, 1);
  a = e->AlertsSync({});
  ASSERT_EQ(a.alerts.size(), 2u);
  EXPECT_EQ(a.alerts[0].id, "inventory-sku-" + std::to_string(kT0 + 30'000) + "-2");
  EXPECT_TRUE(a.alerts[0].active);
  ASSERT_EQ(e->LowStockSync(10).items.size(), 1u);
  EXPECT_EQ(e->ItemInventorySync("sku").stock, 4);
}

// The caps: the markers every cancel leaves in every partition do not push out an order
// whose lines wait for its cancel; an item forgotten while low has its alert cleared.
TEST(InventoryCapsTest, CancelMarkersKeepOrdersAndEvictionClearsAlerts) {
  Options o = InventoryOptions(1, 1);
  o.inventory.max_orders = 4;
  o.inventory.max_items = 2;
  auto e = OpenEngine(o);
  int64_t t = kT0;
  std::vector<std::string> lines = {
      EventBuilder().Type("inventory").Item("x").Raw("stock", "10").Time(t += 1000).Json(),
      EventBuilder().User("u").Type("purchase").Item("x").Raw("quantity", "3").Str("orderId", "o1").Time(t += 1000).Json()};
  for (int i = 0; i < 10; ++i) {  // cancels of orders never bought: markers only
    lines.push_back(EventBuilder().User("v" + std::to_string(i)).Type("cancel").Str("orderId", "o" + std::to_string(100 + i)).Time(t += 1000).Json());
  }
  lines.push_back(EventBuilder().User("u").Type("cancel").Str("orderId", "o1").Time(t += 1000).Json());
  Send(*e, lines, 1);
  EXPECT_EQ(e->ItemInventorySync("x").stock, 10);  // the 3 units came back

  const int64_t evicting = t + 3000;
  Send(*e, {EventBuilder().Type("catalog_put").Item("a").Raw("stock", "1").Raw("lowStockThreshold", "2").Time(t += 1000).Json(),
            EventBuilder().Type("inventory").Item("b").Raw("stock", "5").Time(t += 1000).Json(),
            EventBuilder().Type("inventory").Item("c").Raw("stock", "5").Time(t += 1000).Json()},
       1);
  ASSERT_EQ(t, evicting);
  EXPECT_FALSE(e->ItemInventorySync("a").found);  // forgotten: x, then a, went first
  const AlertsAnswer alerts = e->AlertsSync({});
  ASSERT_EQ(alerts.alerts.size(), 1u);
  EXPECT_EQ(alerts.alerts[0].item_id, "a");
  EXPECT_FALSE(alerts.alerts[0].active);
  ASSERT_TRUE(alerts.alerts[0].cleared.has_value());
  EXPECT_EQ(alerts.alerts[0].cleared->millis(), evicting);
  EXPECT_TRUE(e->LowStockSync(10).items.empty());
}

// Memory() keeps the items' and order books' heap as they change (no walk per call): equal
// to a walk throughout purchases of many lines, cancels, evictions of items and orders
// (small caps), and after a checkpoint round trip.
TEST(InventoryMemoryTest, KeptBytesEqualAWalk) {
  Options o;
  o.inventory.max_items = 20;
  o.inventory.max_orders = 30;
  AlertState alerts(o, CapShare{1, 1}, nullptr);
  InventoryState inv(o, CapShare{1, 1}, alerts);
  std::mt19937_64 rng(11);
  int64_t t = kT0;
  for (int i = 0; i < 5000; ++i) {
    Event ev;
    ev.flags |= Event::kDerived;
    ev.user = UserId(static_cast<uint32_t>(rng() % 10));
    ev.order = OrderId(static_cast<uint32_t>(rng() % 60));
    ev.time = EventTime(t += static_cast<int64_t>(rng() % (kDay / 4)));
    if (rng() % 5 == 0) {
      ev.type = EventType::kCancel;
    } else {
      ev.type = EventType::kPurchase;
      ev.item = ItemId(static_cast<uint32_t>(rng() % 50));
      ev.quantity = 1 + static_cast<uint32_t>(rng() % 3);
    }
    inv.ApplyItemFeed(ev, PartitionId(0));
    if (i % 97 == 0) {
      ASSERT_EQ(inv.Memory().bytes, inv.BytesByWalk()) << "after " << i;
    }
  }
  EXPECT_EQ(inv.Memory().bytes, inv.BytesByWalk());
  EXPECT_GT(inv.Memory().evicted, 0u);
  std::string bytes;
  SerialWriter w(&bytes);
  inv.SaveTo(w);
  InventoryState loaded(o, CapShare{1, 1}, alerts);
  SerialReader r(bytes);
  ASSERT_TRUE(loaded.LoadFrom(r, inv.FormatVersion()));
  EXPECT_EQ(loaded.Memory().keys, inv.Memory().keys);
  EXPECT_EQ(loaded.Memory().bytes, loaded.BytesByWalk());
}

// The ranker's out-of-stock rule sees the stock purchases took, and a cancel gives it back.
TEST(InventoryRankingTest, SoldOutByPurchasesIsNotRecommendedUntilACancel) {
  auto e = OpenEngine(InventoryOptions(4, 2));
  std::vector<std::string> lines;
  int64_t t = kT0;
  // Everyone views a and then b: b is a's co-view neighbour, for the user who saw a.
  for (int u = 0; u < 20; ++u) {
    lines.push_back(EventBuilder().User("u" + std::to_string(u)).Type("view").Item("a").Time(t += 1000).Json());
    lines.push_back(EventBuilder().User("u" + std::to_string(u)).Type("view").Item("b").Time(t += 1000).Json());
  }
  lines.push_back(EventBuilder().Type("catalog_put").Item("b").Raw("stock", "1").Time(t += 1000).Json());
  lines.push_back(EventBuilder().User("me").Type("view").Item("a").Time(t += 1000).Json());
  Send(*e, lines, 50);
  auto has_b = [&] {
    for (const RankedItem& r : e->RecommendSync(test::Req("me", 10)).items) {
      if (r.item == "b") return true;
    }
    return false;
  };
  EXPECT_TRUE(has_b());
  Send(*e, {EventBuilder().User("buyer").Type("purchase").Item("b").Str("orderId", "o1").Time(t += 1000).Json()}, 1);
  EXPECT_EQ(e->ItemInventorySync("b").stock, 0);
  EXPECT_FALSE(has_b());
  Send(*e, {EventBuilder().User("buyer").Type("cancel").Str("orderId", "o1").Time(t += 1000).Json()}, 1);
  EXPECT_EQ(e->ItemInventorySync("b").stock, 1);
  EXPECT_TRUE(has_b());
}

// A restart from a checkpoint (and the replay after it) keeps stock, order books and
// alerts: a cancel after the restart still gives back what a purchase before it took.
TEST(InventoryCheckpointTest, RestartKeepsStockOrdersAndAlerts) {
  test::TempDir dir;
  Options o = InventoryOptions(4, 2);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  o.durability.checkpoint_interval_minutes = 0;
  const Stream s = MakeStream(23, 1500);
  const size_t half = s.lines.size() / 2;
  {
    auto e = OpenEngine(o);
    Send(*e, std::vector<std::string>(s.lines.begin(), s.lines.begin() + half), 50);
    ASSERT_TRUE(e->TakeCheckpoint().ok());
    Send(*e, std::vector<std::string>(s.lines.begin() + half, s.lines.end()), 50);
  }
  auto e = OpenEngine(o);
  EXPECT_EQ(e->Status().store.recovered_events, 0u);  // the clean stop's checkpoint
  ExpectMatches(*e, s.brute, 3);
  o.recovery.ignore_checkpoints = true;  // and a full replay of the store
  e.reset();
  e = OpenEngine(o);
  ExpectMatches(*e, s.brute, 3);
}

}  // namespace
}  // namespace eddy
