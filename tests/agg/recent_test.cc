#include "agg/recent.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

namespace eddy {
namespace {

std::vector<uint32_t> Items(const RecentItems& r, uint32_t user, uint32_t k) {
  std::vector<RecentItems::Entry> out;
  r.Get(UserId(user), k, &out);
  std::vector<uint32_t> ids;
  for (const auto& e : out) ids.push_back(e.item.value());
  return ids;
}

TEST(RecentItemsTest, NewestFirstDistinct) {
  RecentItems r(50, 100);
  r.Touch(UserId(1), ItemId(10), EventTime(1));
  r.Touch(UserId(1), ItemId(11), EventTime(2));
  r.Touch(UserId(1), ItemId(10), EventTime(3));  // moves to front
  EXPECT_EQ(Items(r, 1, 50), (std::vector<uint32_t>{10, 11}));
  EXPECT_EQ(Items(r, 1, 1), (std::vector<uint32_t>{10}));
  std::vector<RecentItems::Entry> out;
  r.Get(UserId(1), 1, &out);
  EXPECT_EQ(out[0].time.millis(), 3);
  EXPECT_TRUE(Items(r, 2, 50).empty());
}

TEST(RecentItemsTest, KeepsOnlyMaxItems) {
  RecentItems r(3, 100);
  for (uint32_t i = 1; i <= 5; ++i) r.Touch(UserId(1), ItemId(i), EventTime(i));
  EXPECT_EQ(Items(r, 1, 50), (std::vector<uint32_t>{5, 4, 3}));
}

TEST(RecentItemsTest, EvictsLeastRecentlyActiveUser) {
  RecentItems r(5, 2);
  r.Touch(UserId(1), ItemId(1), EventTime(1));
  r.Touch(UserId(2), ItemId(2), EventTime(2));
  r.Touch(UserId(1), ItemId(3), EventTime(3));  // user 1 is now the most recent
  r.Touch(UserId(3), ItemId(4), EventTime(4));  // evicts user 2
  EXPECT_EQ(r.users(), 2u);
  EXPECT_EQ(r.evicted_users(), 1u);
  EXPECT_TRUE(Items(r, 2, 5).empty());
  EXPECT_EQ(Items(r, 1, 5), (std::vector<uint32_t>{3, 1}));
  EXPECT_EQ(Items(r, 3, 5), (std::vector<uint32_t>{4}));
}

// Oracle: a plain list per user, recomputed by brute force.
TEST(RecentItemsTest, MatchesBruteForceOnRandomStream) {
  std::mt19937 rng(42);
  RecentItems r(7, 1'000'000);
  std::map<uint32_t, std::deque<uint32_t>> oracle;
  for (int i = 0; i < 50'000; ++i) {
    uint32_t u = 1 + rng() % 50, item = 1 + rng() % 30;
    r.Touch(UserId(u), ItemId(item), EventTime(i));
    auto& d = oracle[u];
    std::erase(d, item);
    d.push_front(item);
    if (d.size() > 7) d.pop_back();
  }
  for (auto& [u, d] : oracle) {
    EXPECT_EQ(Items(r, u, 7), std::vector<uint32_t>(d.begin(), d.end())) << "user " << u;
  }
}

}  // namespace
}  // namespace eddy
