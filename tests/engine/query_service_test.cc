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

template <typename T, typename Start>
T Wait(Start start) {
  std::promise<T> p;
  start([&p](T v) { p.set_value(std::move(v)); });
  return p.get_future().get();
}

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

}  // namespace
}  // namespace eddy
