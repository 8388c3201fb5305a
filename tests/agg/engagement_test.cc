// Engagement's cap bounds its memory, windows included: an evicted item's minute cells go
// with it (they used to stay for a day, so all-new items grew the windows without bound).
#include "agg/engagement.h"

#include <gtest/gtest.h>

#include <string>

#include "util/serial.h"

namespace eddy {
namespace {

TEST(EngagementTest, TheItemCapBoundsTheWindowCellsToo) {
  Engagement e({60, 1440}, /*max_items=*/100);
  for (uint32_t i = 1; i <= 20'000; ++i) e.Apply(ItemId(i), EventType::kView, /*minute=*/1000 + i / 500);
  EXPECT_LE(e.items(), 100u);
  EXPECT_GT(e.evicted_items(), 19'000u);
  // Cells of at most the tracked items (one type each) — not of the 20,000 seen.
  EXPECT_LE(e.tracked_window_keys(), 100u);
  EXPECT_LT(e.bytes(), 64u * 1024 + 41 * 1024);  // a few small tables, whatever the stream
  // The survivors' counts are intact.
  Engagement::Counts all{};
  std::vector<Engagement::Counts> windows(2);
  e.Add(ItemId(20'000), 1000 + 40, &all, &windows);
  EXPECT_EQ(all[static_cast<size_t>(EventType::kView)], 1);
  EXPECT_EQ(windows[0][static_cast<size_t>(EventType::kView)], 1);
  EXPECT_EQ(windows[1][static_cast<size_t>(EventType::kView)], 1);
}

constexpr size_t kView = static_cast<size_t>(EventType::kView);
constexpr size_t kClick = static_cast<size_t>(EventType::kClick);

// The item's all-time and per-window (at minute g) counts of one type.
struct Seen {
  int64_t all_time, window0, window1;
};
Seen CountsOf(const Engagement& e, uint32_t item, int64_t g, size_t type = kView) {
  Engagement::Counts all{};
  std::vector<Engagement::Counts> windows(2);
  e.Add(ItemId(item), g, &all, &windows);
  return {all[type], windows[0][type], windows[1][type]};
}

std::string Saved(const Engagement& e) {
  std::string out;
  SerialWriter w(&out);
  e.Save(w);
  return out;
}

TEST(EngagementTest, PastTheCapTheLeastRecentlySeenItemGoesOnePerNewItem) {
  Engagement e({60, 1440}, /*max_items=*/16);
  for (uint32_t i = 1; i <= 16; ++i) e.Apply(ItemId(i), EventType::kView, 1000);
  e.Apply(ItemId(1), EventType::kClick, 1001);  // item 1 seen again: item 2 is now the oldest
  e.Apply(ItemId(17), EventType::kView, 1001);
  EXPECT_EQ(e.items(), 16u);
  EXPECT_EQ(e.evicted_items(), 1u);  // one, not an eighth of the cap
  EXPECT_EQ(e.FactsOf(ItemId(2)), nullptr);
  for (uint32_t i : {1u, 3u, 16u, 17u}) EXPECT_NE(e.FactsOf(ItemId(i)), nullptr) << i;
  e.Apply(ItemId(18), EventType::kView, 1002);
  EXPECT_EQ(e.FactsOf(ItemId(3)), nullptr);
  EXPECT_EQ(e.evicted_items(), 2u);
}

// The recency is by the minute of an item's newest event: seen again within the same
// minute, an item keeps its place (a busy item relinks once a minute, not once an event).
TEST(EngagementTest, TheRecencyIsByTheMinuteOfTheNewestEvent) {
  Engagement e({60}, /*max_items=*/2);
  e.Apply(ItemId(1), EventType::kView, 1000);
  e.Apply(ItemId(2), EventType::kView, 1000);
  e.Apply(ItemId(1), EventType::kClick, 1000);  // same minute: 1 is still the older
  e.Apply(ItemId(3), EventType::kView, 1000);
  EXPECT_EQ(e.FactsOf(ItemId(1)), nullptr);
  e.Apply(ItemId(2), EventType::kView, 999);  // an older minute: no move either
  e.Apply(ItemId(3), EventType::kView, 1001);  // a newer one: 3 is now the newest
  e.Apply(ItemId(4), EventType::kView, 1001);
  EXPECT_EQ(e.FactsOf(ItemId(2)), nullptr);
  EXPECT_NE(e.FactsOf(ItemId(3)), nullptr);
  EXPECT_EQ(CountsOf(e, 3, 1001).all_time, 2);
}

TEST(EngagementTest, AnEvictedItemComesBackWithNoCountsInAnyWindow) {
  Engagement e({60, 1440}, /*max_items=*/2);
  // Item 1 over three minutes, two types; then two new items push it out.
  e.Apply(ItemId(1), EventType::kView, 1000);
  e.Apply(ItemId(1), EventType::kClick, 1001);
  e.Apply(ItemId(1), EventType::kView, 1002);
  e.Apply(ItemId(2), EventType::kView, 1003);
  e.Apply(ItemId(3), EventType::kView, 1003);
  EXPECT_EQ(e.FactsOf(ItemId(1)), nullptr);
  EXPECT_EQ(e.tracked_window_keys(), 2u);  // items 2 and 3 only: item 1's cells went
  e.Apply(ItemId(1), EventType::kView, 1004);
  const Seen back = CountsOf(e, 1, 1004);
  EXPECT_EQ(back.all_time, 1);
  EXPECT_EQ(back.window0, 1);
  EXPECT_EQ(back.window1, 1);
  EXPECT_EQ(CountsOf(e, 1, 1004, kClick).window1, 0);
  // Nor do its old minutes count (negatively) when the windows move on past them.
  e.Apply(ItemId(3), EventType::kView, 1070);
  const Seen later = CountsOf(e, 1, 1070);
  EXPECT_EQ(later.all_time, 1);
  EXPECT_EQ(later.window0, 0);  // 1004 left the hour
  EXPECT_EQ(later.window1, 1);
  EXPECT_EQ(CountsOf(e, 1, 1070, kClick).window1, 0);
  EXPECT_EQ(CountsOf(e, 3, 1070).window0, 1);
  EXPECT_EQ(CountsOf(e, 3, 1070).window1, 2);
}

TEST(EngagementTest, ACheckpointKeepsTheRecencyAndWhereEachItemsCellsAre) {
  Engagement a({60, 1440}, /*max_items=*/3);
  a.Apply(ItemId(1), EventType::kView, 1000);
  a.Apply(ItemId(2), EventType::kView, 1001);
  a.Apply(ItemId(3), EventType::kView, 1002);
  a.Apply(ItemId(1), EventType::kClick, 1003);  // item 1 spans minutes 1000..1003
  const std::string saved = Saved(a);
  Engagement b({60, 1440}, 3);
  SerialReader r(saved);
  ASSERT_TRUE(b.Load(r));
  // The same item goes in both (2, the least recent), and with it its cells.
  for (Engagement* x : {&a, &b}) {
    x->Apply(ItemId(4), EventType::kView, 1004);
    EXPECT_EQ(x->FactsOf(ItemId(2)), nullptr);
    x->Apply(ItemId(5), EventType::kView, 1004);  // then 3
    x->Apply(ItemId(6), EventType::kView, 1004);  // then 1, from minutes 1000 and 1003
    EXPECT_EQ(x->FactsOf(ItemId(1)), nullptr);
    EXPECT_EQ(x->tracked_window_keys(), 3u);
    EXPECT_EQ(x->evicted_items(), 3u);
  }
  for (uint32_t i = 1; i <= 6; ++i) {
    for (size_t type : {kView, kClick}) {
      const Seen x = CountsOf(a, i, 1004, type), y = CountsOf(b, i, 1004, type);
      EXPECT_EQ(x.all_time, y.all_time) << i;
      EXPECT_EQ(x.window0, y.window0) << i;
      EXPECT_EQ(x.window1, y.window1) << i;
    }
  }
}

TEST(EngagementTest, LoadRefusesARecencyOutsideTheStatesCount) {
  Engagement a({60}, 4);
  a.Apply(ItemId(1), EventType::kView, 1000);
  for (uint64_t last_seq : {uint64_t{0}, uint64_t{2}}) {
    std::string bad;
    SerialWriter w(&bad);
    w.U64(1);  // seq
    w.U64(0);  // evicted
    w.U64(1);  // items
    w.U64(1);
    for (int t = 0; t < kEventTypeCount; ++t) w.I64(t == 0 ? 1 : 0);
    w.U64(last_seq);
    w.U64(0);
    w.I64(INT64_MIN);
    w.I64(0);
    w.I64(INT64_MIN);
    Engagement b({60}, 4);
    SerialReader r(bad);
    EXPECT_FALSE(b.Load(r)) << last_seq;
  }
}

}  // namespace
}  // namespace eddy
