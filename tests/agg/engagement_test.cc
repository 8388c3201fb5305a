// Engagement's cap bounds its memory, windows included: an evicted item's minute cells go
// with it (they used to stay for a day, so all-new items grew the windows without bound).
#include "agg/engagement.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace eddy
