#include "agg/trending.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace eddy {
namespace {

// A read at any minute g near the shard's newest minute (before or after it, within the
// slack) equals the brute-force sum of the events in [g - W + 1, g].
TEST(CategoryWindowsTest, ReadsAtAnyNearbyMinuteMatchBruteForce) {
  std::mt19937_64 rng(5);
  const std::vector<int64_t> windows = {1, 7, 60};
  CategoryWindows cw(windows);
  struct E {
    uint32_t cat;
    int64_t minute, weight;
  };
  std::vector<E> events;
  int64_t clock = 1000;
  for (int i = 0; i < 5000; ++i) {
    clock += static_cast<int64_t>(rng() % 3);
    int64_t minute = clock - static_cast<int64_t>(rng() % 20);  // up to 20 min late
    E e{1 + static_cast<uint32_t>(rng() % 9), minute, static_cast<int64_t>(1 + rng() % 5) * 250'000};
    events.push_back(e);
    cw.Apply(CategoryId(e.cat), e.minute, e.weight);
  }
  for (size_t w = 0; w < windows.size(); ++w) {
    for (int64_t g = cw.cur() - CategoryWindows::kSlackMinutes; g <= cw.cur() + 90; ++g) {
      CategoryWindows::Sums got;
      cw.AddWindow(w, g, &got);
      std::map<uint32_t, std::pair<int64_t, int64_t>> want;
      for (const E& e : events) {
        if (e.minute >= g - windows[w] + 1 && e.minute <= g) {
          want[e.cat].first += e.weight;
          ++want[e.cat].second;
        }
      }
      for (uint32_t c = 1; c <= 9; ++c) {
        auto it = got.find(CategoryId(c));
        int64_t gw = it == got.end() ? 0 : it->second.weight;
        int64_t gc = it == got.end() ? 0 : it->second.count;
        ASSERT_EQ(gw, want[c].first) << "window " << windows[w] << " g " << g << " cat " << c << " cur " << cw.cur();
        ASSERT_EQ(gc, want[c].second) << "window " << windows[w] << " g " << g << " cat " << c;
        CategoryWindows::Cell one = cw.WindowOf(w, g, CategoryId(c));  // the one-key path
        ASSERT_EQ(one.weight, want[c].first);
        ASSERT_EQ(one.count, want[c].second);
      }
    }
  }
}

TEST(CategoryWindowsTest, ForgetsWhatLeftEveryWindow) {
  CategoryWindows cw({60});
  for (int64_t m = 0; m < 1000; ++m) cw.Apply(CategoryId(1 + m % 3), m, 1);
  EXPECT_LE(cw.buckets(), 60u + CategoryWindows::kSlackMinutes);
  cw.AdvanceTo(5000);
  EXPECT_EQ(cw.buckets(), 0u);
  EXPECT_EQ(cw.tracked_keys(), 0u);
  CategoryWindows::Sums s;
  cw.AddWindow(0, 5000, &s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace eddy
