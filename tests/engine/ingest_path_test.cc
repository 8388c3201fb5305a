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
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
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

// Shedding: once a partition refused a request, the next requests are refused before they
// are decoded (a malformed line gets 429, not its rejection; a request for a partition
// with room too) until the full partition has a quarter of its ring free again.
TEST(IngestPathTest, AfterARefusalRequestsAreRefusedUndecodedUntilTheLogDrains) {
  Options o = test::ComponentOptions();
  o.log.capacity_per_partition = 16;
  test::Parts parts(o);  // no shard threads: the test plays the consumer
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
  auto ctx = ingest.NewContext();
  auto [a, b] = UsersInTwoPartitions(*parts.log);
  const PartitionId pb = parts.log->PartitionOf(static_cast<uint32_t>(StableHash64(b)));
  const auto send = [&](std::string body) {
    IngestReply reply;
    ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                  [&](IngestReply r) { reply = std::move(r); });
    return reply;
  };
  ASSERT_TRUE(send(test::Ndjson(std::vector<std::string>(14, View(b)))).status.ok());
  const auto decoded = [&](const IngestReply& r) { return r.status.ok() && r.rejected.size() == 1; };
  // Nearly full but nothing refused yet: decoded as usual.
  EXPECT_TRUE(decoded(send("{not json\n")));
  EXPECT_EQ(send(test::Ndjson({View(b), View(b), View(b)})).status.code(),
            StatusCode::kResourceExhausted);
  for (const std::string& body : {std::string("{not json\n"), test::Ndjson({View(a)})}) {
    const IngestReply r = send(body);
    EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted) << body;
    EXPECT_TRUE(r.rejected.empty());
    EXPECT_NE(r.status.message().find("event log partition " + std::to_string(pb.value()) +
                                      " is full; retry later"),
              std::string::npos)
        << r.status.message();
  }
  PartitionLog& lb = parts.log->partition(pb);
  lb.Advance(0, 1);  // 13 of 16 in use: still refused
  EXPECT_EQ(send(test::Ndjson({View(a)})).status.code(), StatusCode::kResourceExhausted);
  lb.Advance(0, 2);  // 12 of 16: a quarter free
  const IngestReply ok = send(test::Ndjson({View(a)}));
  EXPECT_TRUE(ok.status.ok()) << ok.status.message();
  EXPECT_EQ(ok.accepted, 1u);
  EXPECT_TRUE(decoded(send("{not json\n")));
  EXPECT_EQ(ingest.accepted_total(), 15u);
}

TEST(IngestPathTest, MemoryAckRepliesAtOnceAndEventIdsAfterTheApply) {
  test::Parts parts(test::ComponentOptions());
  parts.StartShards();
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
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

// Ack memory paces clients by the apply once a partition fills: a request to a partition
// holding over a quarter of its capacity unapplied is answered once its events are
// applied (not at once, and not refused) — in every partition it touches — and a request
// to partitions with room still at once.
TEST(IngestPathTest, MemoryAckAnswersARequestToAFillingPartitionOnceApplied) {
  Options o = test::ComponentOptions();
  o.log.capacity_per_partition = 16;
  test::Parts parts(o);  // no shard threads until the test starts them
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
  auto ctx = ingest.NewContext();
  auto [a, b] = UsersInTwoPartitions(*parts.log);
  PartitionLog& lb = parts.log->partition(
      parts.log->PartitionOf(static_cast<uint32_t>(StableHash64(b))));
  bool answered = false;
  std::string five = test::Ndjson(std::vector<std::string>(5, View(b)));
  ingest.Ingest(*ctx, five, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { answered = r.status.ok() && r.accepted == 5; });
  EXPECT_TRUE(answered);  // the partition was empty: at once
  std::promise<IngestReply> paced;
  std::string one = test::Ndjson({View(a), View(b)});  // a run in each partition
  ingest.Ingest(*ctx, one, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { paced.set_value(std::move(r)); });
  auto reply = paced.get_future();
  EXPECT_EQ(reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  answered = false;
  std::string other = test::Ndjson({View(a)});
  ingest.Ingest(*ctx, other, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { answered = r.status.ok() && r.accepted == 1; });
  EXPECT_TRUE(answered);  // a's partition has room: at once
  EXPECT_EQ(reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(lb.head(), 6u);  // published, none applied
  parts.StartShards();  // the apply of both its runs answers it
  IngestReply r = reply.get();
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(ingest.accepted_total(), 8u);
}

TEST(IngestPathTest, AfterCloseEveryRequestIsRefused) {
  test::Parts parts(test::ComponentOptions());
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
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
