// QueryService: per-user reads come from the user's shard, global ones merge every
// shard's partial with the state's Merge.
#include "engine/query_service.h"

#include <gtest/gtest.h>

#include <future>

#include "engine/components.h"
#include "engine/ingest_path.h"
#include "util/hash.h"

namespace eddy {
namespace {

using test::Wait;

TEST(QueryServiceTest, ReadsMergeEveryShardsPartial) {
  test::Parts parts(test::ComponentOptions(4, 2));
  parts.StartShards();
  // Two users whose partitions belong to different shards.
  std::string a = "a", b;
  const auto shard_of = [&](const std::string& u) {
    return parts.set.ShardOf(parts.log->PartitionOf(static_cast<uint32_t>(StableHash64(u))));
  };
  for (int i = 0; b.empty(); ++i) {
    if (shard_of("b" + std::to_string(i)) != shard_of(a)) b = "b" + std::to_string(i);
  }
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                    nullptr);
  auto ctx = ingest.NewContext();
  std::vector<std::string> lines;
  for (const std::string& u : {a, b}) {
    lines.push_back(test::EventBuilder().User(u).Type("view").Item("i1").Category("c")
                        .Time(1'700'000'000'000).Json());
    lines.push_back(test::EventBuilder().User(u).Type("click").Item("i2").Category("c")
                        .Time(1'700'000'010'000).Json());
  }
  std::string body = test::Ndjson(lines);
  ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone, [](IngestReply) {});

  QueryService q(parts.options, parts.set, *parts.interners, *parts.log, parts.clock);
  TrendingAnswer t = Wait<TrendingAnswer>([&](auto cb) { q.TrendingCategories(0, 5, cb); });
  ASSERT_EQ(t.top.size(), 1u);
  EXPECT_EQ(t.top[0].category, "c");
  EXPECT_EQ(t.top[0].events, 4);      // two from each shard
  EXPECT_EQ(t.top[0].score, 1 + 3 + 1 + 3);
  SimilarAnswer s = Wait<SimilarAnswer>([&](auto cb) { q.SimilarItems("i1", 5, cb); });
  ASSERT_EQ(s.top.size(), 1u);
  EXPECT_EQ(s.top[0].item, "i2");
  EXPECT_EQ(s.top[0].count, 2u);      // one pair made on each shard
  EXPECT_EQ(s.top[0].error, 0u);
  EngagementAnswer e = Wait<EngagementAnswer>([&](auto cb) { q.ItemEngagement("i2", cb); });
  EXPECT_EQ(e.all_time[static_cast<size_t>(EventType::kClick)], 2);
  EXPECT_EQ(e.category, "c");
  std::vector<RecentItem> r = Wait<std::vector<RecentItem>>([&](auto cb) { q.RecentItems(b, 5, cb); });
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].item, "i2");
  EXPECT_EQ(r[1].item, "i1");
  PopularAnswer p = Wait<PopularAnswer>([&](auto cb) { q.PopularItems("", 1, cb); });
  ASSERT_EQ(p.top.size(), 1u);
  EXPECT_EQ(p.top[0].name, "i2");     // clicks weigh 3
  EXPECT_EQ(q.NowMs(), 1'700'000'010'000);
}

// Cluster mode's layout: a shard state per partition, fewer threads than states. Answers
// are those of a thread per state; a state reset (its partition moved away) leaves exactly
// its partition's events out of the global answers.
TEST(QueryServiceTest, StatesOutnumberingThreadsAnswerAsOneThreadEachAndResetDropsOnePartition) {
  std::vector<std::string> lines;
  std::vector<std::string> users;
  for (int u = 0; u < 40; ++u) users.push_back("u" + std::to_string(u));
  for (size_t u = 0; u < users.size(); ++u) {
    lines.push_back(test::EventBuilder().User(users[u]).Type(u % 3 ? "view" : "click")
                        .Item("i" + std::to_string(u % 7)).Category("c" + std::to_string(u % 4))
                        .Time(1'700'000'000'000 + static_cast<int64_t>(u) * 1000).Json());
  }
  struct Run {
    TrendingAnswer trending;
    PopularAnswer popular;
    std::vector<RecentItem> recent;
  };
  const auto run = [&](size_t threads, int reset_state, uint32_t* reset_partition) {
    test::Parts parts(test::ComponentOptions(8, 8));
    parts.StartShards(nullptr, threads);
    EXPECT_EQ(parts.set.shards.size(), threads);
    IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock,
                      nullptr);
    auto ctx = ingest.NewContext();
    std::string body = test::Ndjson(lines);
    ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone, [](IngestReply) {});
    if (reset_state >= 0) {
      std::promise<void> done;
      parts.set.OnShard(static_cast<size_t>(reset_state), [&done](ShardState& st) {
        st.CatchUpAll();
        st.Reset();
        done.set_value();
      });
      done.get_future().wait();
      *reset_partition = parts.set.states[static_cast<size_t>(reset_state)]->partitions()[0].value();
    }
    QueryService q(parts.options, parts.set, *parts.interners, *parts.log, parts.clock);
    Run r;
    r.trending = Wait<TrendingAnswer>([&](auto cb) { q.TrendingCategories(0, 10, cb); });
    r.popular = Wait<PopularAnswer>([&](auto cb) { q.PopularItems("", 10, cb); });
    r.recent = Wait<std::vector<RecentItem>>([&](auto cb) { q.RecentItems(users[5], 5, cb); });
    return r;
  };
  uint32_t unused = 0;
  const Run each = run(8, -1, &unused);
  const Run two = run(2, -1, &unused);
  ASSERT_EQ(each.trending.top.size(), 4u);
  ASSERT_EQ(two.trending.top.size(), each.trending.top.size());
  int64_t events = 0;
  for (size_t i = 0; i < each.trending.top.size(); ++i) {
    EXPECT_EQ(two.trending.top[i].category, each.trending.top[i].category);
    EXPECT_EQ(two.trending.top[i].events, each.trending.top[i].events);
    EXPECT_EQ(two.trending.top[i].score, each.trending.top[i].score);
    events += each.trending.top[i].events;
  }
  EXPECT_EQ(events, 40);
  ASSERT_EQ(two.popular.top.size(), 7u);
  for (size_t i = 0; i < two.popular.top.size(); ++i) {
    EXPECT_EQ(two.popular.top[i].name, each.popular.top[i].name);
    EXPECT_EQ(two.popular.top[i].score, each.popular.top[i].score);
  }
  ASSERT_EQ(two.recent.size(), 1u);
  EXPECT_EQ(two.recent[0].item, "i5");

  // Reset one state: trending counts lose exactly the events of its partition's users.
  uint32_t dropped = 0;
  const Run reset = run(2, 3, &dropped);
  int64_t kept = 0, expected = 0;
  for (const auto& t : reset.trending.top) kept += t.events;
  test::Parts probe(test::ComponentOptions(8, 8));
  for (const std::string& u : users) {
    if (probe.log->PartitionOf(static_cast<uint32_t>(StableHash64(u))).value() != dropped) ++expected;
  }
  EXPECT_LT(expected, 40);
  EXPECT_EQ(kept, expected);
}

}  // namespace
}  // namespace eddy
