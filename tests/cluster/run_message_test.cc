// The JetStream log's message of a run (src/cluster/run_message.h): a run round-trips
// byte for byte (binary events included), every truncation and a wrong header or version
// is a named corruption, and the message id is the same for a retried request and none
// when an event has no idempotency key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/run_message.h"
#include "util/hash.h"

namespace eddy {
namespace {

TEST(RunMessageTest, ARunRoundTripsAndEveryDamageIsCorruption) {
  const std::string binary("\x00\x01\xff\x80x", 5);
  const std::vector<std::string_view> events = {"first", binary, std::string_view(), "last"};
  const std::string m = EncodeRun(events);
  std::vector<std::string_view> got;
  ASSERT_TRUE(DecodeRun(m, &got).ok());
  ASSERT_EQ(got.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(got[i], events[i]);
  for (size_t cut = 0; cut < m.size(); ++cut) {
    const Status st = DecodeRun(std::string_view(m).substr(0, cut), &got);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << cut;
  }
  EXPECT_EQ(DecodeRun(m + "x", &got).message(), "run message: trailing bytes");
  std::string other = m;
  other[1] = 2;
  EXPECT_EQ(DecodeRun(other, &got).message(),
            "run message: format version 2 (this eddy reads version 1)");
  EXPECT_EQ(DecodeRun("Z", &got).message(), "run message: not a run (no 'R' header)");
  EXPECT_EQ(DecodeRun(EncodeRun({}), &got).message(), "run message: no events");
}

TEST(RunMessageTest, TheIdFollowsTheEventIdsAndIsNoneWithoutThem) {
  const EventIdHash a = StableHash128("a"), b = StableHash128("b");
  const std::string ab = RunMessageId({a, b});
  EXPECT_EQ(ab.size(), 32u);
  EXPECT_EQ(RunMessageId({a, b}), ab);  // a retried request: the same id
  EXPECT_NE(RunMessageId({b, a}), ab);  // another run
  EXPECT_NE(RunMessageId({a}), ab);
  EXPECT_EQ(RunMessageId({a, EventIdHash{}}), "");  // an event without a key: none
  EXPECT_EQ(RunMessageId({}), "");
}

}  // namespace
}  // namespace eddy
