#include "agg/dedup.h"

#include <gtest/gtest.h>

#include "util/hash.h"

namespace eddy {
namespace {

TEST(EventIdSetTest, DuplicateWithinHorizon) {
  EventIdSet s(1000, 100);
  EXPECT_TRUE(s.Insert(StableHash128("a"), EventTime(0)));
  EXPECT_FALSE(s.Insert(StableHash128("a"), EventTime(500)));
  EXPECT_TRUE(s.Insert(StableHash128("b"), EventTime(999)));
  EXPECT_EQ(s.size(), 2u);
}

TEST(EventIdSetTest, ForgetsPastHorizonByEventTime) {
  EventIdSet s(1000, 100);
  EXPECT_TRUE(s.Insert(StableHash128("a"), EventTime(0)));
  EXPECT_TRUE(s.Insert(StableHash128("b"), EventTime(1001)));  // "a" is now 1001 ms old
  EXPECT_TRUE(s.Insert(StableHash128("a"), EventTime(1002)));
}

TEST(EventIdSetTest, BoundedByMaxIds) {
  EventIdSet s(1'000'000, 3);
  for (const char* id : {"a", "b", "c", "d"}) EXPECT_TRUE(s.Insert(StableHash128(id), EventTime(1)));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.Insert(StableHash128("a"), EventTime(1)));  // oldest was forgotten
  EXPECT_FALSE(s.Insert(StableHash128("d"), EventTime(1)));
}

}  // namespace
}  // namespace eddy
