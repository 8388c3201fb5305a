// Customer insights (SPEC §3.11, src/insights/insights.h) on hand-built customers, with
// the expected figures worked out by hand: spending anomalies above and below the limit
// and their priorities, every migration of the default RFM segments, regular and
// irregular buyers' predictions, the producer's segment updates, the hours window.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "eddy/engine.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kDay = 86'400'000;

Options Opts() {
  Options o = test::TestOptions(4, 2);
  o.clock = ClockMode::kEvent;
  return o;
}

struct Ev {
  std::string user{}, type = "purchase", order{}, category = "c";
  int64_t time = kT0;
  double price = 0;
  std::string segment{};
};

void Send(Engine& e, const std::vector<Ev>& events) {
  auto ctx = e.NewIngestContext();
  std::vector<std::string> lines;
  for (const Ev& v : events) {
    test::EventBuilder b;
    b.User(v.user).Type(v.type).Time(v.time);
    if (v.type != "segment_update") b.Item("i-" + v.category).Category(v.category);
    if (!v.order.empty()) b.Str("orderId", v.order);
    if (v.price > 0) b.Price(v.price);
    if (!v.segment.empty()) b.Str("newSegment", v.segment);
    lines.push_back(b.Json());
  }
  IngestReply r = e.IngestSync(*ctx, test::Ndjson(lines));
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error;
  ASSERT_EQ(r.accepted, events.size());
}

std::vector<CustomerInsight> OfType(const InsightsAnswer& a, const std::string& type) {
  std::vector<CustomerInsight> out;
  for (auto it = a.insights.rbegin(); it != a.insights.rend(); ++it) {  // oldest first
    if (it->type == type) out.push_back(*it);
  }
  return out;
}

// Orders of 100, 100, 100 (the history), then: 160 (60 % above the mean of 100: medium),
// 140 (mean now 115: 21.7 %, none), 400 (mean 120: 233 %, high), 1000 (mean 166.67: 500 %,
// critical), 20 (mean 2000 / 7 = 285.71: 93 % below: medium). A customer with only two earlier orders
// gets none however far off. A two-line order is judged on its value so far: 50 + 60 is
// first 50 % below (at the limit: none), then 10 % above.
TEST(InsightsTest, SpendingAnomaliesAboveAndBelowTheLimitWithTheirPriorities) {
  auto e = test::OpenEngine(Opts());
  std::vector<Ev> events;
  const double values[] = {100, 100, 100, 160, 140, 400, 1000, 20};
  for (int i = 0; i < 8; ++i) {
    events.push_back({.user = "a", .order = "a" + std::to_string(i), .time = kT0 + i * kDay,
                      .price = values[i]});
  }
  events.push_back({.user = "b", .order = "b0", .time = kT0, .price = 100});
  events.push_back({.user = "b", .order = "b1", .time = kT0 + kDay, .price = 100});
  events.push_back({.user = "b", .order = "b2", .time = kT0 + 2 * kDay, .price = 900});
  for (int i = 0; i < 3; ++i) {
    events.push_back({.user = "c", .order = "c" + std::to_string(i), .time = kT0 + i * kDay, .price = 100});
  }
  events.push_back({.user = "c", .order = "c3", .time = kT0 + 3 * kDay, .price = 50});
  events.push_back({.user = "c", .order = "c3", .category = "d", .time = kT0 + 3 * kDay, .price = 60});
  Send(*e, events);

  const std::vector<CustomerInsight> a = OfType(e->UserInsightsSync("a", 0), "spending_anomaly");
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].order_id, "a3");
  EXPECT_DOUBLE_EQ(a[0].mean, 100);
  EXPECT_NEAR(a[0].deviation_percent, 60, 1e-9);
  EXPECT_EQ(a[0].priority, "medium");
  EXPECT_EQ(a[1].order_id, "a5");
  EXPECT_DOUBLE_EQ(a[1].mean, 120);
  EXPECT_NEAR(a[1].deviation_percent, 233.333333, 1e-5);
  EXPECT_EQ(a[1].priority, "high");
  EXPECT_EQ(a[2].order_id, "a6");
  EXPECT_NEAR(a[2].mean, 166.666666, 1e-5);  // the mean is kept in millionths
  EXPECT_EQ(a[2].priority, "critical");
  EXPECT_EQ(a[3].order_id, "a7");
  EXPECT_NEAR(a[3].mean, 2000.0 / 7, 1e-5);
  EXPECT_NEAR(a[3].deviation_percent, -93.0, 1e-5);
  EXPECT_EQ(a[3].priority, "medium");
  EXPECT_TRUE(OfType(e->UserInsightsSync("b", 0), "spending_anomaly").empty());
  const std::vector<CustomerInsight> c = OfType(e->UserInsightsSync("c", 0), "spending_anomaly");
  EXPECT_TRUE(c.empty());  // 50 (exactly 50 % below: not more), then 110 (10 % above)
  // High and critical anomalies are alerts too.
  AlertsRequest r;
  r.kind = "anomaly";
  const AlertsAnswer alerts = e->AlertsSync(r);
  ASSERT_EQ(alerts.alerts.size(), 2u);
  EXPECT_EQ(alerts.alerts[0].order_id, "a6");
  EXPECT_EQ(alerts.alerts[0].priority, "critical");
  EXPECT_DOUBLE_EQ(alerts.alerts[0].order_value, 1000);
  EXPECT_EQ(alerts.alerts[1].order_id, "a5");
  EXPECT_EQ(alerts.alerts[1].priority, "high");
}

// Purchases without orderId are orders of their own even in the same millisecond (second-
// resolution imports): a second one within the limit does not withdraw the first's
// anomaly, nor take its place.
TEST(InsightsTest, OrdersWithoutOrderIdInOneMillisecondAreSeparateOrders) {
  auto e = test::OpenEngine(Opts());
  Send(*e, {{.user = "o", .time = kT0, .price = 100},
            {.user = "o", .time = kT0 + 1000, .price = 100},
            {.user = "o", .time = kT0 + 2000, .price = 100},
            {.user = "o", .time = kT0 + 3000, .price = 400},
            {.user = "o", .time = kT0 + 3000, .price = 120}});
  const std::vector<CustomerInsight> a = OfType(e->UserInsightsSync("o", 0), "spending_anomaly");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_DOUBLE_EQ(a[0].value, 400);  // 300 % above the mean of 100: critical
  EXPECT_EQ(a[0].priority, "critical");
  EXPECT_EQ(e->UserInsightsSync("o", 0).orders, 5u);
}

std::vector<std::string> Migrations(Engine& e, const std::string& user) {
  std::vector<std::string> out;
  for (const CustomerInsight& m : OfType(e.UserInsightsSync(user, 0), "segment_migration")) {
    out.push_back(m.from + ">" + m.to + "/" + m.priority);
  }
  return out;
}

// The default segments, each migration: orders of 250 within a month make New, then
// Potential Loyalist (2nd), then Loyal (5th: 1250 spent); a view 40 days later finds them
// Can't Lose Them (critical: an alert), a purchase brings them back to Loyal. Two orders
// and a view at 60 days: At Risk (high); at 100 days: Hibernating. One order and a view
// at 45 days: About to Sleep. Becoming a customer (New) is not a migration.
TEST(InsightsTest, EveryMigrationOfTheDefaultSegments) {
  auto e = test::OpenEngine(Opts());
  std::vector<Ev> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back({.user = "l", .order = "l" + std::to_string(i), .time = kT0 + i * kDay, .price = 250});
  }
  events.push_back({.user = "l", .type = "view", .time = kT0 + 44 * kDay});
  events.push_back({.user = "l", .order = "l5", .time = kT0 + 45 * kDay, .price = 250});
  events.push_back({.user = "r", .order = "r0", .time = kT0, .price = 10});
  events.push_back({.user = "r", .order = "r1", .time = kT0 + kDay, .price = 10});
  events.push_back({.user = "r", .type = "view", .time = kT0 + 61 * kDay});
  events.push_back({.user = "r", .type = "view", .time = kT0 + 101 * kDay});
  events.push_back({.user = "s", .order = "s0", .time = kT0, .price = 10});
  events.push_back({.user = "s", .type = "view", .time = kT0 + 45 * kDay});
  events.push_back({.user = "v", .type = "view", .time = kT0});  // never a customer
  Send(*e, events);
  EXPECT_EQ(Migrations(*e, "l"),
            (std::vector<std::string>{"New>Potential Loyalist/low", "Potential Loyalist>Loyal/low",
                                      "Loyal>Can't Lose Them/critical",
                                      "Can't Lose Them>Loyal/low"}));
  EXPECT_EQ(Migrations(*e, "r"),
            (std::vector<std::string>{"New>Potential Loyalist/low", "Potential Loyalist>At Risk/high",
                                      "At Risk>Hibernating/medium"}));
  EXPECT_EQ(Migrations(*e, "s"), (std::vector<std::string>{"New>About to Sleep/medium"}));
  EXPECT_FALSE(e->UserInsightsSync("v", 0).found);
  // The segment a read shows is the one at the engine clock's now (r's view, day 101):
  // l bought last on day 45, 56 days ago.
  const InsightsAnswer l = e->UserInsightsSync("l", 0);
  EXPECT_EQ(l.segment, "Can't Lose Them");
  EXPECT_EQ(l.orders, 6u);
  EXPECT_DOUBLE_EQ(l.spend, 1500);
  AlertsRequest q;
  q.kind = "insight";
  const AlertsAnswer alerts = e->AlertsSync(q);
  ASSERT_EQ(alerts.alerts.size(), 2u);  // the critical and the high migration
  EXPECT_EQ(alerts.alerts[0].user_id, "r");
  EXPECT_EQ(alerts.alerts[0].segment_to, "At Risk");
  EXPECT_EQ(alerts.alerts[0].priority, "high");
  EXPECT_EQ(alerts.alerts[1].user_id, "l");
  EXPECT_EQ(alerts.alerts[1].segment_from, "Loyal");
  EXPECT_EQ(alerts.alerts[1].segment_to, "Can't Lose Them");
  EXPECT_EQ(alerts.alerts[1].priority, "critical");
}

// A regular buyer (coffee every 7 days, 4 orders: intervals 7, 7, 7) is predicted for day
// 21 + 7 = 28 with confidence 1 (medium); an irregular one (tea on days 0, 1, 14, 18:
// intervals 1, 13, 4 days, mean 6, stddev sqrt(26)) for day 24 with confidence
// 1 - sqrt(26) / 6 = 0.1502 (low); two orders make no prediction.
TEST(InsightsTest, PredictionsFromIntervalsWithARegularityConfidence) {
  auto e = test::OpenEngine(Opts());
  std::vector<Ev> events;
  for (int i = 0; i < 4; ++i) {
    events.push_back({.user = "reg", .order = "r" + std::to_string(i), .category = "coffee",
                      .time = kT0 + 7 * i * kDay, .price = 10});
  }
  for (int d : {0, 1, 14, 18}) {
    events.push_back({.user = "irr", .order = "i" + std::to_string(d), .category = "tea",
                      .time = kT0 + d * kDay, .price = 10});
  }
  events.push_back({.user = "irr", .order = "x0", .category = "cups", .time = kT0, .price = 5});
  events.push_back({.user = "irr", .order = "x1", .category = "cups", .time = kT0 + kDay, .price = 5});
  Send(*e, events);
  const std::vector<CustomerInsight> reg = OfType(e->UserInsightsSync("reg", 0), "consumption_prediction");
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].category, "coffee");
  EXPECT_EQ(reg[0].next_purchase.millis(), kT0 + 28 * kDay);
  EXPECT_DOUBLE_EQ(reg[0].interval_days, 7);
  EXPECT_DOUBLE_EQ(reg[0].confidence, 1.0);
  EXPECT_EQ(reg[0].purchases, 4u);
  EXPECT_EQ(reg[0].priority, "medium");
  const std::vector<CustomerInsight> irr = OfType(e->UserInsightsSync("irr", 0), "consumption_prediction");
  ASSERT_EQ(irr.size(), 1u);  // not cups: two orders
  EXPECT_EQ(irr[0].category, "tea");
  EXPECT_EQ(irr[0].next_purchase.millis(), kT0 + 24 * kDay);
  EXPECT_NEAR(irr[0].confidence, 1 - std::sqrt(26.0) / 6, 1e-9);
  EXPECT_EQ(irr[0].priority, "low");
}

// The producer's segment updates (seeds/002) are kept beside the rule segments: each
// change a migration of source "producer"; `hours` keeps only the recent insights.
TEST(InsightsTest, ProducerSegmentUpdatesAndTheHoursWindow) {
  auto e = test::OpenEngine(Opts());
  Send(*e, {{.user = "p", .type = "segment_update", .time = kT0, .segment = "New Customer"},
            {.user = "p", .type = "segment_update", .time = kT0 + kDay, .segment = "Potential Loyalist"},
            {.user = "p", .type = "segment_update", .time = kT0 + 2 * kDay, .segment = "Potential Loyalist"},
            {.user = "p", .order = "p0", .time = kT0 + 3 * kDay, .price = 10}});
  const InsightsAnswer all = e->UserInsightsSync("p", 0);
  EXPECT_EQ(all.producer_segment, "Potential Loyalist");
  EXPECT_EQ(all.segment, "New");
  const std::vector<CustomerInsight> m = OfType(all, "segment_migration");
  ASSERT_EQ(m.size(), 2u);  // the repeated update changes nothing
  EXPECT_EQ(m[0].source, "producer");
  EXPECT_EQ(m[0].from, "");
  EXPECT_EQ(m[0].to, "New Customer");
  EXPECT_EQ(m[1].from, "New Customer");
  EXPECT_EQ(m[1].to, "Potential Loyalist");
  // Now is day 3: the last 24 hours hold nothing; 60 hours hold the day-1 update.
  EXPECT_TRUE(e->UserInsightsSync("p", 24).insights.empty());
  EXPECT_EQ(OfType(e->UserInsightsSync("p", 60), "segment_migration").size(), 1u);
}

}  // namespace
}  // namespace eddy
