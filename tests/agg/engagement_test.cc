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
  // Item 1's old cells went in both: back, its windows count only what came after, also
  // once its old minutes leave the hour.
  for (Engagement* x : {&a, &b}) x->Apply(ItemId(1), EventType::kView, 1065);
  for (const Engagement* x : {&a, &b}) {
    EXPECT_EQ(CountsOf(*x, 1, 1065).window0, 1);
    EXPECT_EQ(CountsOf(*x, 1, 1065, kClick).window0, 0);
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

// A one-item checkpoint (format 2) with an empty windows section for one window, but for
// what the caller changes: the item's recency and minutes, and a cell.
std::string OneItem(uint64_t last_seq, int64_t first, int64_t last, int64_t cell_minute,
                    uint64_t cell_type = 0, bool format_one = false) {
  std::string out;
  SerialWriter w(&out);
  w.U64(1);  // seq
  w.U64(0);  // evicted
  w.U64(1);  // items
  w.U64(1);  // item 1: one view
  for (int t = 0; t < kEventTypeCount; ++t) w.I64(t == 0 ? 1 : 0);
  w.U64(last_seq);
  w.U64(0);
  w.I64(INT64_MIN);
  w.I64(0);
  w.I64(INT64_MIN);
  if (!format_one) {
    w.I64(first);
    w.I64(last);
  }
  w.I64(cell_minute);  // the windows: cur
  w.U64(1);            // one minute bucket
  w.I64(cell_minute);
  w.U64(1);  // one cell
  w.U64((uint64_t{1} << 8) | cell_type);
  w.I64(0);
  w.I64(1);
  w.U64(1);  // one window total
  w.U64(1);
  w.U64((uint64_t{1} << 8) | cell_type);
  w.I64(0);
  w.I64(1);
  return out;
}

bool Loads(const std::string& saved) {
  Engagement b({60}, 4);
  SerialReader r(saved);
  return b.Load(r);
}

TEST(EngagementTest, LoadRefusesWhatNoEngagementCouldHaveSaved) {
  Engagement a({60}, 4);
  a.Apply(ItemId(1), EventType::kView, 1000);
  ASSERT_EQ(Saved(a), OneItem(1, 1000, 1000, 1000)) << "the writer below is the format";
  EXPECT_TRUE(Loads(OneItem(1, 1000, 1000, 1000)));
  EXPECT_FALSE(Loads(OneItem(0, 1000, 1000, 1000))) << "a recency of 0";
  EXPECT_FALSE(Loads(OneItem(2, 1000, 1000, 1000))) << "a recency past the count";
  EXPECT_FALSE(Loads(OneItem(1, 1001, 1000, 1000))) << "first minute after the last";
  EXPECT_FALSE(Loads(OneItem(1, 1001, 1001, 1000))) << "a cell outside the item's minutes";
  EXPECT_FALSE(Loads(OneItem(1, 1000, 1000, 1000, 1))) << "a cell of a type it never counted";
  EXPECT_FALSE(Loads(OneItem(1, 1000, 1000, 1000, kEventTypeCount))) << "no such type";
}

// Format 1 (before the minutes were saved) still loads; the minutes come from the cells.
TEST(EngagementTest, LoadsItsFormatOneSection) {
  const std::string v1 = OneItem(1, 0, 0, 1000, 0, /*format_one=*/true);
  Engagement b({60}, 1);
  SerialReader r(v1);
  ASSERT_TRUE(b.Load(r, /*version=*/1));
  Engagement::Counts all{};
  std::vector<Engagement::Counts> windows(1);
  b.Add(ItemId(1), 1000, &all, &windows);
  EXPECT_EQ(all[kView], 1);
  EXPECT_EQ(windows[0][kView], 1);
  // Its cell is where the eviction looks: item 2 pushes item 1 out, cell included.
  b.Apply(ItemId(2), EventType::kView, 1001);
  EXPECT_EQ(b.FactsOf(ItemId(1)), nullptr);
  EXPECT_EQ(b.tracked_window_keys(), 1u);
}

// An event older than the item's first one widens the minutes its eviction erases.
TEST(EngagementTest, AnOlderEventWidensTheMinutesAnEvictionErases) {
  Engagement e({60, 1440}, /*max_items=*/1);
  e.Apply(ItemId(1), EventType::kView, 1005);
  e.Apply(ItemId(1), EventType::kView, 1002);  // older: a cell in minute 1002
  e.Apply(ItemId(2), EventType::kView, 1006);  // item 1 goes, both its cells with it
  EXPECT_EQ(e.tracked_window_keys(), 1u);
  e.Apply(ItemId(1), EventType::kView, 1007);  // back (item 2 goes)
  e.Apply(ItemId(1), EventType::kView, 1063);  // 1002 leaves the hour; 1005 and 1006 too
  const Seen s = CountsOf(e, 1, 1063);
  EXPECT_EQ(s.all_time, 2);
  EXPECT_EQ(s.window0, 2);  // 1007 and 1063, nothing taken for the old minutes
  EXPECT_EQ(s.window1, 2);
  e.Apply(ItemId(1), EventType::kView, 1070);  // 1007 leaves the hour, 1070 joins
  EXPECT_EQ(CountsOf(e, 1, 1070).window0, 2);
}
}  // namespace
}  // namespace eddy
