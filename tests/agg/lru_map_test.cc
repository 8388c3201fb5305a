// LruMap (agg/lru_map.h): the table recent items, sessions and the catalog keep their keys
// in, least recently used first.
#include "agg/lru_map.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eddy {
namespace {

std::vector<int> Keys(const LruMap<int, std::string>& m) {
  std::vector<int> out;
  m.ForEach([&](int k, const std::string&) { out.push_back(k); });
  return out;
}

TEST(LruMapTest, TouchOrdersEvictsTheLeastRecentAndReusesItsSlot) {
  LruMap<int, std::string> m(3);
  std::vector<std::pair<int, std::string>> gone;
  const auto evict = [&](int k, const std::string& v) { gone.emplace_back(k, v); };
  m.Touch(1, evict) = "a";
  m.Touch(2, evict) = "b";
  m.Touch(3, evict) = "c";
  EXPECT_EQ(Keys(m), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(m.Touch(1, evict), "a");  // existing: its value, now the most recent
  EXPECT_EQ(Keys(m), (std::vector<int>{2, 3, 1}));
  m.Touch(4, evict) = "d";  // past the cap: 2 goes, with its value
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], (std::pair<int, std::string>{2, "b"}));
  EXPECT_EQ(Keys(m), (std::vector<int>{3, 1, 4}));
  EXPECT_EQ(m.Find(2), nullptr);
  ASSERT_NE(m.Find(4), nullptr);
  EXPECT_EQ(*m.Find(4), "d");  // the reused slot starts from a fresh value
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.evicted(), 1u);
}

TEST(LruMapTest, AppendRebuildsInOrderWithinTheCap) {
  LruMap<int, std::string> m(2);
  ASSERT_NE(m.Append(7), nullptr);
  ASSERT_NE(m.Append(8), nullptr);
  EXPECT_EQ(m.Append(8), nullptr);  // twice
  EXPECT_EQ(m.Append(9), nullptr);  // past the cap
  EXPECT_EQ(Keys(m), (std::vector<int>{7, 8}));
  m.set_evicted(5);
  m.Clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(Keys(m).empty());
  m.Touch(1, [](int, const std::string&) {});
  EXPECT_EQ(Keys(m), (std::vector<int>{1}));
}

TEST(LruMapTest, CapOfOneKeepsTheLatest) {
  LruMap<int, std::string> m(1);
  int evicted = 0;
  for (int k = 0; k < 5; ++k) m.Touch(k, [&](int, const std::string&) { ++evicted; });
  EXPECT_EQ(Keys(m), (std::vector<int>{4}));
  EXPECT_EQ(evicted, 4);
}

}  // namespace
}  // namespace eddy
