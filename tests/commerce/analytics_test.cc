// Sessions, the funnel and revenue windows (SPEC §3.8-3.9) against brute forces written
// from the SPEC text over the raw events, for several partition/shard layouts and batch
// sizes, and across a checkpoint and restart.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "commerce/commerce_stream.h"
#include "eddy/engine.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::CommerceEvent;
using test::CommerceStream;

size_t TypeIndex(const std::string& name) {
  for (int t = 0; t < kEventTypeCount; ++t) {
    if (EventTypeName(static_cast<EventType>(t)) == name) return static_cast<size_t>(t);
  }
  ADD_FAILURE() << "unknown type " << name;
  return 0;
}

int64_t MinuteFloor(int64_t ms) { return ms >= 0 ? ms / 60'000 : -((-ms + 59'999) / 60'000); }

int64_t Newest(const std::vector<CommerceEvent>& events) {
  int64_t newest = INT64_MIN;
  for (const CommerceEvent& e : events) newest = std::max(newest, e.time_ms);
  return newest;
}

Options AnalyticsOptions(uint32_t partitions, int shards) {
  Options o = test::TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  o.log.capacity_per_partition = 4096;
  o.sessions.gap_ms = test::kCommerceGapMs;
  o.sessions.max_items = 1000;
  o.sessions.max_per_user = 1000;
  o.revenue.window_minutes = {5, 60};
  o.revenue.lateness_ms = 120'000;
  return o;
}

using test::OpenEngine;

void Ingest(Engine& engine, const std::vector<CommerceEvent>& events, size_t batch) {
  auto ctx = engine.NewIngestContext();
  for (size_t i = 0; i < events.size(); i += batch) {
    std::vector<std::string> objs;
    for (size_t j = i; j < std::min(events.size(), i + batch); ++j) objs.push_back(events[j].json);
    IngestReply r = test::IngestRetrying(engine, *ctx, test::Ndjson(objs), BodyFormat::kNdjson);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_EQ(r.accepted, objs.size()) << (r.rejected.empty() ? "" : r.rejected[0].error);
  }
}

// ---- Sessions and funnel, by brute force -------------------------------------------

struct BruteSession {
  std::string id;
  int64_t start = INT64_MAX, end = INT64_MIN;
  std::vector<const CommerceEvent*> events;
};

// Per user: producer sessions by id; the other events sorted by time, split wherever two
// consecutive ones are the gap or more apart.
std::map<std::string, std::vector<BruteSession>> BruteSessions(
    const std::vector<CommerceEvent>& events, int64_t gap) {
  std::map<std::string, std::map<std::string, BruteSession>> producer;
  std::map<std::string, std::vector<const CommerceEvent*>> rest;
  for (const CommerceEvent& e : events) {
    if (!e.session.empty()) {
      producer[e.user][e.session].events.push_back(&e);
    } else {
      rest[e.user].push_back(&e);
    }
  }
  std::map<std::string, std::vector<BruteSession>> out;
  for (auto& [user, by_id] : producer) {
    for (auto& [id, s] : by_id) {
      s.id = id;
      out[user].push_back(s);
    }
  }
  for (auto& [user, list] : rest) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto* a, const auto* b) { return a->time_ms < b->time_ms; });
    BruteSession cur;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0 && list[i]->time_ms - list[i - 1]->time_ms >= gap) {
        out[user].push_back(cur);
        cur = BruteSession{};
      }
      cur.events.push_back(list[i]);
    }
    out[user].push_back(cur);
  }
  for (auto& [user, sessions] : out) {
    for (BruteSession& s : sessions) {
      for (const CommerceEvent* e : s.events) {
        s.start = std::min(s.start, e->time_ms);
        s.end = std::max(s.end, e->time_ms);
      }
      if (s.id.empty()) s.id = "auto-" + std::to_string(s.start);
    }
  }
  return out;
}

// The furthest funnel step of a session's events of `category` ("" = all): 1 with a view,
// 2 with an add_to_cart at or after the first view, 3 with a purchase at or after such an
// add_to_cart; -1 when it has no event of the category.
int FunnelStep(const BruteSession& s, const std::string& category) {
  bool any = false;
  int64_t first_view = INT64_MAX;
  for (const CommerceEvent* e : s.events) {
    if (!category.empty() && e->category != category) continue;
    any = true;
    if (e->type == "view") first_view = std::min(first_view, e->time_ms);
  }
  if (!any) return -1;
  if (first_view == INT64_MAX) return 0;
  int step = 1;
  for (const CommerceEvent* c : s.events) {
    if (c->type != "add_to_cart" || c->time_ms < first_view) continue;
    if (!category.empty() && c->category != category) continue;
    step = std::max(step, 2);
    for (const CommerceEvent* p : s.events) {
      if (p->type == "purchase" && p->time_ms >= c->time_ms &&
          (category.empty() || p->category == category)) {
        step = 3;
      }
    }
  }
  return step;
}

// With `max_items` below a session's distinct items, the session lists the earliest
// touched: checked through first-touch times, so that items touched at the same
// millisecond may stand for each other at the cut.
void ExpectSessions(Engine& engine, const std::vector<CommerceEvent>& events,
                    const std::string& where, size_t max_items = SIZE_MAX) {
  const auto brute = BruteSessions(events, test::kCommerceGapMs);
  const int64_t now = Newest(events);
  for (const auto& [user, expected] : brute) {
    SessionsAnswer a = engine.UserSessionsSync(user, 1000);
    ASSERT_EQ(a.sessions.size(), expected.size()) << where << " " << user;
    // Newest start first; the same start (a producer session beside a split one) in any order.
    for (size_t i = 1; i < a.sessions.size(); ++i) {
      EXPECT_GE(a.sessions[i - 1].start, a.sessions[i].start) << where << " " << user;
    }
    std::map<std::string, const SessionSummary*> got;
    for (const SessionSummary& s : a.sessions) got[s.session_id] = &s;
    for (const BruteSession& s : expected) {
      auto it = got.find(s.id);
      ASSERT_NE(it, got.end()) << where << " " << user << " has no session " << s.id;
      const SessionSummary& g = *it->second;
      EXPECT_EQ(g.start.millis(), s.start) << where << " " << s.id;
      EXPECT_EQ(g.end.millis(), s.end) << where << " " << s.id;
      EXPECT_EQ(g.open, now - s.end < test::kCommerceGapMs) << where << " " << s.id;
      std::array<uint32_t, kEventTypeCount> counts{};
      std::set<std::string> items;
      int64_t revenue = 0;
      for (const CommerceEvent* e : s.events) {
        ++counts[TypeIndex(e->type)];
        if (!e->item.empty()) items.insert(e->item);
        if (e->type == "purchase" && e->price_cents >= 0) {
          revenue += e->price_cents * 10'000 * e->quantity;
        }
      }
      EXPECT_EQ(g.counts, counts) << where << " " << s.id;
      if (max_items >= items.size()) {
        EXPECT_EQ(std::set<std::string>(g.items.begin(), g.items.end()), items) << where;
      }
      std::map<std::string, int64_t> first;  // item -> its first touch in the session
      for (const CommerceEvent* e : s.events) {
        if (e->item.empty()) continue;
        auto [it, fresh] = first.try_emplace(e->item, e->time_ms);
        if (!fresh) it->second = std::min(it->second, e->time_ms);
      }
      std::vector<int64_t> earliest;
      for (const auto& [item, t] : first) earliest.push_back(t);
      std::sort(earliest.begin(), earliest.end());
      earliest.resize(std::min(earliest.size(), max_items));
      std::vector<int64_t> listed;
      for (const std::string& item : g.items) {
        ASSERT_TRUE(first.count(item)) << where << " " << s.id << " lists " << item;
        listed.push_back(first[item]);
      }
      EXPECT_EQ(listed, earliest) << where << " " << s.id;  // and in first-touch order
      EXPECT_EQ(std::set<std::string>(g.items.begin(), g.items.end()).size(), g.items.size());
      EXPECT_EQ(g.revenue_micros, revenue) << where << " " << s.id;
    }
  }
}

void ExpectFunnels(Engine& engine, const std::vector<CommerceEvent>& events,
                   const std::string& where) {
  const auto brute = BruteSessions(events, test::kCommerceGapMs);
  const int64_t g = MinuteFloor(Newest(events));
  for (const int64_t window : {30, 60, 360, 7 * 1440}) {
    for (const std::string category : {"", "c0", "c1", "c3"}) {
      std::array<int64_t, 4> expected{};
      for (const auto& [user, sessions] : brute) {
        for (const BruteSession& s : sessions) {
          const int64_t m = MinuteFloor(s.start);
          if (m <= g - window || m > g) continue;
          const int step = FunnelStep(s, category);
          for (int j = 0; j <= step; ++j) ++expected[j];
        }
      }
      FunnelAnswer a = engine.FunnelSync(window, category);
      const std::string at = where + " window " + std::to_string(window) + " category '" +
                             category + "'";
      EXPECT_EQ(a.sessions, expected[0]) << at;
      EXPECT_EQ(a.viewed, expected[1]) << at;
      EXPECT_EQ(a.carted, expected[2]) << at;
      EXPECT_EQ(a.purchased, expected[3]) << at;
    }
  }
}

// ---- Revenue, by brute force -------------------------------------------------------

struct Cell {
  int64_t orders = 0, priced_orders = 0, units = 0, revenue = 0, unpriced = 0, cancelled = 0;
  int64_t late = 0, late_revenue = 0;
  auto Tie() const {
    return std::tie(orders, priced_orders, units, revenue, unpriced, cancelled, late,
                    late_revenue);
  }
};

// Key: (window start minute, category or ""). Lines accepted (engine clock = the newest
// event time sent before and with them) more than `lateness` after their window closed
// count only as late; an order with any cancel counts only in `cancelled`, once per window.
std::map<std::pair<int64_t, std::string>, Cell> BruteRevenue(
    const std::vector<CommerceEvent>& events, int64_t size_minutes, int64_t lateness_ms) {
  std::set<std::pair<std::string, std::string>> cancelled;
  for (const CommerceEvent& e : events) {
    if (e.type == "cancel") cancelled.insert({e.user, e.order});
  }
  struct Distinct {
    std::set<std::string> orders, priced, cancelled;
  };
  std::map<std::pair<int64_t, std::string>, Cell> cells;
  std::map<std::pair<int64_t, std::string>, Distinct> distinct;
  int64_t clock = INT64_MIN;
  for (size_t i = 0; i < events.size(); ++i) {
    const CommerceEvent& e = events[i];
    clock = std::max(clock, e.time_ms);
    if (e.type != "purchase") continue;
    const int64_t m = MinuteFloor(e.time_ms);
    const int64_t start = (m >= 0 ? m / size_minutes : -((-m + size_minutes - 1) / size_minutes)) *
                          size_minutes;
    const bool late = clock > (start + size_minutes) * 60'000 + lateness_ms;
    const std::string order = e.order.empty() ? "#" + std::to_string(i) : e.user + "/" + e.order;
    const bool is_cancelled = !e.order.empty() && cancelled.count({e.user, e.order}) > 0;
    const int64_t amount = e.price_cents >= 0 ? e.price_cents * 10'000 * e.quantity : -1;
    std::vector<std::string> scopes = {""};
    if (!e.category.empty()) scopes.push_back(e.category);
    for (const std::string& scope : scopes) {
      Cell& c = cells[{start, scope}];
      Distinct& d = distinct[{start, scope}];
      if (late) {
        ++c.late;
        c.late_revenue += std::max<int64_t>(amount, 0);
      } else if (is_cancelled) {
        d.cancelled.insert(order);
      } else {
        c.units += e.quantity;
        if (amount >= 0) {
          c.revenue += amount;
          d.priced.insert(order);
        } else {
          ++c.unpriced;
        }
        d.orders.insert(order);
      }
    }
  }
  for (auto& [key, c] : cells) {
    const Distinct& d = distinct[key];
    c.orders = static_cast<int64_t>(d.orders.size());
    c.priced_orders = static_cast<int64_t>(d.priced.size());
    c.cancelled = static_cast<int64_t>(d.cancelled.size());
  }
  return cells;
}

void ExpectRevenue(Engine& engine, const std::vector<CommerceEvent>& events, const Options& o,
                   const std::string& where) {
  for (const int64_t size : o.revenue.window_minutes) {
    const auto brute = BruteRevenue(events, size, o.revenue.lateness_ms);
    for (const std::string category : {"", "c0", "c2"}) {
      RevenueRequest req;
      req.window_minutes = size;
      req.from_ms = test::kCommerceT0 - 2 * 3'600'000;
      req.to_ms = Newest(events) + 2 * 3'600'000;
      req.category = category;
      RevenueAnswer a = engine.RevenueSync(req);
      ASSERT_EQ(a.window_minutes, size) << where;
      ASSERT_FALSE(a.windows.empty()) << where;
      int64_t matched = 0, nonzero = 0;
      for (const RevenueWindow& w : a.windows) {
        EXPECT_EQ(w.end.millis() - w.start.millis(), size * 60'000);
        Cell got{w.orders, w.priced_orders, w.units, w.revenue_micros,
                 w.unpriced, w.cancelled, w.late, w.late_revenue_micros};
        Cell want;
        auto it = brute.find({w.start.millis() / 60'000, category});
        if (it != brute.end()) {
          want = it->second;
          ++matched;
        }
        nonzero += got.orders + got.cancelled + got.late > 0;
        EXPECT_EQ(got.Tie(), want.Tie())
            << where << " size " << size << " category '" << category << "' window "
            << w.start.millis() << ": orders " << got.orders << "/" << want.orders << " units "
            << got.units << "/" << want.units << " revenue " << got.revenue << "/"
            << want.revenue << " cancelled " << got.cancelled << "/" << want.cancelled
            << " late " << got.late << "/" << want.late;
      }
      // Every brute-force window lies in the range asked for.
      int64_t expected_cells = 0;
      for (const auto& [key, cell] : brute) expected_cells += key.second == category;
      EXPECT_EQ(matched, expected_cells) << where;
      EXPECT_GT(nonzero, 0) << where;
    }
  }
}

struct Layout {
  uint32_t partitions;
  int shards;
  size_t batch;
};

class AnalyticsOracleTest : public ::testing::TestWithParam<Layout> {};

TEST_P(AnalyticsOracleTest, SessionsFunnelAndRevenueMatchBruteForce) {
  const Layout l = GetParam();
  const std::vector<CommerceEvent> events = CommerceStream(7, 3000);
  const Options o = AnalyticsOptions(l.partitions, l.shards);
  auto engine = OpenEngine(o);
  Ingest(*engine, events, l.batch);
  const std::string where = std::to_string(l.partitions) + "p/" + std::to_string(l.shards) +
                            "s/batch " + std::to_string(l.batch);
  ExpectSessions(*engine, events, where);
  ExpectFunnels(*engine, events, where);
  ExpectRevenue(*engine, events, o, where);
}

// Sessions listing only their 3 earliest items: the cut holds whatever the arrival order
// (late events with earlier items, merges of capped sessions).
TEST_P(AnalyticsOracleTest, CappedSessionItemsAreTheEarliestTouched) {
  const Layout l = GetParam();
  const std::vector<CommerceEvent> events = CommerceStream(7, 3000);
  Options o = AnalyticsOptions(l.partitions, l.shards);
  o.sessions.max_items = 3;
  auto engine = OpenEngine(o);
  Ingest(*engine, events, l.batch);
  ExpectSessions(*engine, events,
                 std::to_string(l.partitions) + "p/" + std::to_string(l.shards) + "s/batch " +
                     std::to_string(l.batch) + "/max_items 3",
                 3);
}

INSTANTIATE_TEST_SUITE_P(Layouts, AnalyticsOracleTest,
                         ::testing::Values(Layout{1, 1, 1}, Layout{4, 2, 7},
                                           Layout{16, 3, 100}),
                         [](const ::testing::TestParamInfo<Layout>& i) {
                           return std::to_string(i.param.partitions) + "p" +
                                  std::to_string(i.param.shards) + "s_batch" +
                                  std::to_string(i.param.batch);
                         });

// The stream really exercises what the oracles check: sessions split at exactly the gap,
// merged by late events, producer sessions, cancels, late and unpriced lines.
TEST(AnalyticsStreamTest, CoversTheEdgeCases) {
  const std::vector<CommerceEvent> events = CommerceStream(7, 3000);
  int exact_gaps = 0, producer = 0, cancels = 0, unpriced = 0, back_in_time = 0;
  std::map<std::string, int64_t> last;
  for (const CommerceEvent& e : events) {
    if (last.count(e.user) && e.time_ms - last[e.user] == test::kCommerceGapMs) ++exact_gaps;
    if (last.count(e.user) && e.time_ms < last[e.user]) ++back_in_time;
    last[e.user] = e.time_ms;
    producer += !e.session.empty();
    cancels += e.type == "cancel";
    unpriced += e.type == "purchase" && e.price_cents < 0;
  }
  EXPECT_GT(exact_gaps, 10);
  EXPECT_GT(producer, 100);
  EXPECT_GT(cancels, 100);
  EXPECT_GT(unpriced, 50);
  EXPECT_GT(back_in_time, 100);
  const auto late = BruteRevenue(events, 5, 120'000);
  int64_t late_lines = 0, cancelled = 0, on_time = 0;
  for (const auto& [key, c] : late) {
    if (!key.second.empty()) continue;
    late_lines += c.late;
    cancelled += c.cancelled;
    on_time += c.orders;
  }
  EXPECT_GT(late_lines, 20);
  EXPECT_GT(cancelled, 20);
  EXPECT_GT(on_time, 100);
}

// Lateness on both sides of the line: accepted exactly `lateness` after the window closed
// counts; one millisecond more is late.
TEST(RevenueTest, LatenessBoundary) {
  Options o = AnalyticsOptions(2, 1);
  o.revenue.window_minutes = {5};
  o.revenue.lateness_ms = 60'000;
  auto engine = OpenEngine(o);
  auto ctx = engine->NewIngestContext();
  const int64_t w0 = 1'700'000'100'000 / 300'000 * 300'000;  // a window start
  const auto buy = [&](const std::string& user, int64_t t, const std::string& price) {
    return test::EventBuilder().User(user).Type("purchase").Item("i").Time(t)
        .Raw("price", price).Json();
  };
  // The clock reaches close + lateness exactly: a purchase in the window is on time.
  ASSERT_EQ(engine->IngestSync(*ctx, buy("a", w0 + 300'000 + 60'000, "1")).accepted, 1u);
  ASSERT_EQ(engine->IngestSync(*ctx, buy("b", w0 + 10, "2.50")).accepted, 1u);
  // One millisecond later it is late.
  ASSERT_EQ(engine->IngestSync(*ctx, buy("c", w0 + 300'000 + 60'001, "1")).accepted, 1u);
  ASSERT_EQ(engine->IngestSync(*ctx, buy("d", w0 + 20, "4")).accepted, 1u);
  RevenueRequest req;
  req.window_minutes = 5;
  req.from_ms = w0;
  req.to_ms = w0 + 300'000;
  RevenueAnswer a = engine->RevenueSync(req);
  ASSERT_EQ(a.windows.size(), 1u);
  EXPECT_EQ(a.windows[0].orders, 1);
  EXPECT_EQ(a.windows[0].revenue_micros, 2'500'000);
  EXPECT_EQ(a.windows[0].late, 1);
  EXPECT_EQ(a.windows[0].late_revenue_micros, 4'000'000);
}

// Cancels: before or after the purchase lines, twice, of another user's order id.
TEST(RevenueTest, CancelsRemoveTheOrderWhateverTheOrder) {
  auto engine = OpenEngine(AnalyticsOptions(4, 2));
  auto ctx = engine->NewIngestContext();
  const int64_t t = 1'700'000'000'000 / 300'000 * 300'000 + 1000;
  const auto ev = [&](const std::string& user, const std::string& type, const std::string& order,
                      int64_t dt) {
    test::EventBuilder b;
    b.User(user).Type(type).Time(t + dt).Str("orderId", order);
    if (type == "purchase") b.Item("i").Category("c").Raw("price", "10.01").Raw("quantity", "2");
    return b.Json();
  };
  const std::vector<std::string> body = {
      ev("u1", "purchase", "A", 0),  ev("u1", "purchase", "A", 10), ev("u1", "cancel", "A", 20),
      ev("u1", "cancel", "A", 30),   ev("u2", "cancel", "B", 40),   ev("u2", "purchase", "B", 50),
      ev("u3", "purchase", "C", 60), ev("u4", "cancel", "C", 70),  // another user's "C"
  };
  ASSERT_EQ(engine->IngestSync(*ctx, test::Ndjson(body)).accepted, body.size());
  for (const std::string category : {"", "c"}) {
    RevenueRequest req;
    req.window_minutes = 5;
    req.from_ms = t - 1000;
    req.to_ms = t - 1000 + 300'000;
    req.category = category;
    RevenueAnswer a = engine->RevenueSync(req);
    ASSERT_EQ(a.windows.size(), 1u);
    const RevenueWindow& w = a.windows[0];
    EXPECT_EQ(w.orders, 1) << category;  // C only
    EXPECT_EQ(w.cancelled, 2) << category;  // A and B, once each
    EXPECT_EQ(w.units, 2) << category;
    EXPECT_EQ(w.revenue_micros, 20'020'000) << category;
  }
}

// A user at max_per_user: an old session arriving late is left out (not made, dropped
// and counted again at each of its events).
TEST(SessionsTest, LateSessionOfAFullUserIsLeftOut) {
  Options o = AnalyticsOptions(2, 1);
  o.sessions.max_per_user = 2;
  auto engine = OpenEngine(o);
  const int64_t h = 3'600'000;
  const auto ev = [](const std::string& type, int64_t t) {
    CommerceEvent e;
    e.json = test::EventBuilder().User("u").Type(type).Item("i").Time(t).Json();
    return e;
  };
  Ingest(*engine,
         {ev("view", test::kCommerceT0 + 10 * h), ev("view", test::kCommerceT0 + 12 * h),
          ev("view", test::kCommerceT0 + 8 * h), ev("add_to_cart", test::kCommerceT0 + 8 * h + 1000),
          ev("purchase", test::kCommerceT0 + 8 * h + 2000)},
         1);
  EXPECT_EQ(engine->UserSessionsSync("u", 10).sessions.size(), 2u);
  FunnelAnswer f = engine->FunnelSync(7 * 1440, "");
  EXPECT_EQ(f.sessions, 2);
  EXPECT_EQ(f.viewed, 2);
  EXPECT_EQ(f.carted, 0);
}

// Sessions, funnel and revenue come back the same from a checkpoint.
TEST(AnalyticsCheckpointTest, RestartGivesTheSameAnswers) {
  test::TempDir dir;
  const std::vector<CommerceEvent> events = CommerceStream(11, 1500);
  Options o = AnalyticsOptions(4, 2);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  {
    auto engine = OpenEngine(o);
    Ingest(*engine, events, 50);
    ASSERT_TRUE(engine->TakeCheckpoint().ok());
    engine->Stop();
  }
  auto engine = OpenEngine(o);
  ASSERT_GT(engine->Status().store.recovered_from_checkpoint, 0u);
  ExpectSessions(*engine, events, "restarted");
  ExpectFunnels(*engine, events, "restarted");
  ExpectRevenue(*engine, events, o, "restarted");
}

}  // namespace
}  // namespace eddy
