#include "util/time.h"

#include <gtest/gtest.h>

namespace eddy {
namespace {

TEST(TimeTest, ParsesIso8601Forms) {
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00Z")->millis(), 0);
  EXPECT_EQ(ParseIso8601("2017-11-26T01:00:00Z")->millis(), 1'511'658'000'000);
  EXPECT_EQ(ParseIso8601("2017-11-26 01:00:00")->millis(), 1'511'658'000'000);
  EXPECT_EQ(ParseIso8601("2017-11-26T01:00Z")->millis(), 1'511'658'000'000);
  EXPECT_EQ(ParseIso8601("2017-11-26")->millis(), 1'511'654'400'000);
  EXPECT_EQ(ParseIso8601("2017-11-26T01:00:00.123456Z")->millis(), 1'511'658'000'123);
  EXPECT_EQ(ParseIso8601("2017-11-25T20:00:00-05:00")->millis(), 1'511'658'000'000);
  EXPECT_EQ(ParseIso8601("2017-11-26T06:30:00+0530")->millis(), 1'511'658'000'000);
  EXPECT_EQ(ParseIso8601("2024-02-29T00:00:00Z")->millis(), 1'709'164'800'000);
}

TEST(TimeTest, RejectsMalformed) {
  for (const char* s : {"", "2017", "2017-11-26T", "2017-11-26T01", "2017-02-29", "2017-00-10",
                        "2017-11-26T01:00:00Q", "2017-11-26T01:00:00.Z", "2017-11-26T24:00:00Z",
                        "2017-11-26T01:00:00+25:00", "2017-11-26T01:00:00Z trailing"}) {
    EXPECT_FALSE(ParseIso8601(s).has_value()) << s;
  }
}

TEST(TimeTest, EpochSecondsOrMillisByMagnitude) {
  EXPECT_EQ(FromEpochNumber(1511658000).millis(), 1'511'658'000'000);
  EXPECT_EQ(FromEpochNumber(1511658000123.0).millis(), 1'511'658'000'123);
  EXPECT_EQ(FromEpochNumber(0).millis(), 0);
}

TEST(TimeTest, FormatRoundTrips) {
  for (int64_t ms : {int64_t{0}, int64_t{1'511'658'000'123}, int64_t{1'709'164'800'000},
                     int64_t{253'402'300'799'999}}) {
    std::string s = FormatIso8601(EventTime(ms));
    ASSERT_TRUE(ParseIso8601(s).has_value()) << s;
    EXPECT_EQ(ParseIso8601(s)->millis(), ms) << s;
  }
  EXPECT_EQ(FormatIso8601(EventTime(1'511'658'000'123)), "2017-11-26T01:00:00.123Z");
}

}  // namespace
}  // namespace eddy
