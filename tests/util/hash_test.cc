#include "util/hash.h"

#include <gtest/gtest.h>

namespace eddy {
namespace {

// Partitioning and eventId identity are persisted: the hash must never change between
// builds or runs. These values pin XXH3.
TEST(HashTest, StableAcrossRuns) {
  EXPECT_EQ(StableHash64(""), 0x2d06800538d394c2ull);
  EXPECT_EQ(StableHash64("u1"), StableHash64(std::string("u1")));
  EXPECT_NE(StableHash64("u1"), StableHash64("u2"));
  EventIdHash a = StableHash128("e-1");
  EventIdHash b = StableHash128("e-1");
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.present());
  EXPECT_FALSE(a == StableHash128("e-2"));
}

TEST(HashTest, HexOfWritesTwoLowercaseDigitsPerByte) {
  EXPECT_EQ(HexOf(std::string_view("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(HexOf(""), "");
}

}  // namespace
}  // namespace eddy
