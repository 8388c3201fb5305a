// IngestPath: all-or-nothing appends, when the reply is sent, and the refusals.
#include "engine/ingest_path.h"

#include <gtest/gtest.h>

#include <future>

#include "engine/components.h"
#include "util/hash.h"

namespace eddy {
namespace {

using test::EventBuilder;

std::string View(const std::string& user, int64_t t = 1'700'000'000'000) {
  return EventBuilder().User(user).Type("view").Item("i").Time(t).Json();
}

// Two users, the first in a lower partition than the second (runs are reserved in
// ascending partition order).
std::pair<std::string, std::string> UsersInTwoPartitions(const PartitionedLog& log) {
  const auto part = [&](const std::string& u) {
    return log.PartitionOf(static_cast<uint32_t>(StableHash64(u))).value();
  };
  for (int i = 0;; ++i) {
    for (int j = 0; j < i; ++j) {
      const std::string a = "u" + std::to_string(j), b = "u" + std::to_string(i);
      if (part(a) < part(b)) return {a, b};
      if (part(b) < part(a)) return {b, a};
    }
  }
}

TEST(IngestPathTest, AFullPartitionRefusesTheWholeRequestAndSkipsTheOtherRuns) {
  Options o = test::ComponentOptions();
  o.log.capacity_per_partition = 16;
  test::Parts parts(o);  // no shard threads: nothing drains the log
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock);
  auto ctx = ingest.NewContext();
  auto [a, b] = UsersInTwoPartitions(*parts.log);
  const PartitionId pa = parts.log->PartitionOf(static_cast<uint32_t>(StableHash64(a)));
  const PartitionId pb = parts.log->PartitionOf(static_cast<uint32_t>(StableHash64(b)));
  std::vector<std::string> fill(16, View(b));
  IngestReply full = {};
  std::string body = test::Ndjson(fill);
  ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { full = std::move(r); });
  ASSERT_TRUE(full.status.ok());
  ASSERT_EQ(full.accepted, 16u);
  // a's partition has room, b's not: nothing of the request is taken.
  std::string both = test::Ndjson({View(a), View(a), View(b)});
  IngestReply refused;
  ingest.Ingest(*ctx, both, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { refused = std::move(r); });
  EXPECT_EQ(refused.status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.accepted, 0u);
  PartitionLog& la = parts.log->partition(pa);
  ASSERT_EQ(la.head(), 2u);  // a's run was reserved, then published as skips
  for (uint64_t off = 0; off < 2; ++off) {
    ASSERT_NE(la.Peek(off), nullptr);
    EXPECT_EQ(la.Peek(off)->kind, LogEntry::kSkip);
  }
  EXPECT_EQ(parts.log->partition(pb).head(), 16u);
  EXPECT_EQ(ingest.accepted_total(), 16u);
}

TEST(IngestPathTest, MemoryAckRepliesAtOnceAndEventIdsAfterTheApply) {
  test::Parts parts(test::ComponentOptions());
  parts.StartShards();
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock);
  auto ctx = ingest.NewContext();
  bool inline_reply = false;
  std::string plain = test::Ndjson({View("x", 1'700'000'000'500)});
  ingest.Ingest(*ctx, plain, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { inline_reply = r.status.ok() && r.accepted == 1; });
  EXPECT_TRUE(inline_reply);  // ack memory, no eventIds: answered before Ingest returned
  EXPECT_EQ(parts.clock.newest_event_ms(), 1'700'000'000'500);  // raised before the reply

  const std::string e1 = EventBuilder().User("x").Type("view").Item("i").Id("e1").Json();
  const std::string e2 = EventBuilder().User("y").Type("view").Item("i").Id("e2").Json();
  std::promise<IngestReply> later;
  std::string ids = test::Ndjson({e1, e2, e1});
  ingest.Ingest(*ctx, ids, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { later.set_value(std::move(r)); });
  IngestReply r = later.get_future().get();  // from a shard, once every run is applied
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(parts.duplicates.load(), 1u);
}

TEST(IngestPathTest, AfterCloseEveryRequestIsRefused) {
  test::Parts parts(test::ComponentOptions());
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock);
  auto ctx = ingest.NewContext();
  ingest.Close();
  EXPECT_TRUE(ingest.closed());
  IngestReply r;
  std::string body = View("u");
  ingest.Ingest(*ctx, body, BodyFormat::kAuto, DefaultType::kNone,
                [&](IngestReply reply) { r = std::move(reply); });
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status.message(), "eddy is shutting down");
  EXPECT_EQ(parts.log->partition(PartitionId(0)).head() + parts.log->partition(PartitionId(1)).head() +
                parts.log->partition(PartitionId(2)).head() + parts.log->partition(PartitionId(3)).head(),
            0u);
}

}  // namespace
}  // namespace eddy
