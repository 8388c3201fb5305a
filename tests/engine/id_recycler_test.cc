// Recycling interned ids (engine/id_recycler.h): ids no state references are freed and
// reused, and no answer ever shows a string that was not in the events behind it — not
// after a sweep, not when a new user gets a freed id, not across a restart, not while
// ingest and reads run beside the sweeps.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "eddy/engine.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::EventBuilder;
using test::Ndjson;

// Caps small enough that a few hundred users and orders overflow every per-user state.
// One partition: the keeper, last in each batch, is always the most recently active user
// (over several partitions a shard may apply another partition's users after it).
Options SmallCaps(uint32_t partitions = 1, int shards = 1) {
  Options o = test::TestOptions(partitions, shards);
  o.recent.max_users = 8;
  o.affinity.max_users = 8;
  o.sessions.max_users = 8;
  o.revenue.max_orders = 8;
  o.inventory.max_orders = 8;
  o.fraud.max_users = 8;
  o.insights.max_users = 8;
  return o;
}

using test::OpenEngine;

// `n` one-off users, each with one purchase in a new session and order, from a fixed IP
// pool, of shared items; then the keeper touches its own three items.
std::string Batch(int first, int n) {
  std::vector<std::string> lines;
  for (int i = first; i < first + n; ++i) {
    lines.push_back(EventBuilder()
                        .User("user-" + std::to_string(i))
                        .Type("purchase")
                        .Item("item-" + std::to_string(i % 20))
                        .Category(i % 2 ? "shoes" : "hats")
                        .Price(10)
                        .Str("sessionId", "session-" + std::to_string(i))
                        .Str("orderId", "order-" + std::to_string(i))
                        .Str("ip", "10.0.0." + std::to_string(i))
                        .Json());
  }
  for (int k = 1; k <= 3; ++k) {
    lines.push_back(EventBuilder().User("keeper").Type("view").Item("keeper-" + std::to_string(k)).Json());
  }
  return Ndjson(lines);
}

std::vector<std::string> Recent(Engine& e, const std::string& user) {
  std::vector<std::string> out;
  for (const RecentItem& r : e.RecentItemsSync(user, 10)) out.push_back(r.item);
  return out;
}

std::map<std::string, IdKindStatus> Ids(Engine& e) {
  std::map<std::string, IdKindStatus> out;
  for (const IdKindStatus& k : e.Status().ids.kinds) out[k.kind] = k;
  return out;
}

const std::vector<std::string> kKeeper = {"keeper-3", "keeper-2", "keeper-1"};

TEST(IdRecyclerTest, FreesWhatNoStateHoldsAndAnswersStayRight) {
  auto e = OpenEngine(SmallCaps());
  auto ctx = e->NewIngestContext();
  ASSERT_EQ(e->IngestSync(*ctx, Batch(0, 500)).accepted, 503u);
  auto before = Ids(*e);
  EXPECT_EQ(Recent(*e, "keeper"), kKeeper);
  EXPECT_EQ(before["users"].live, 501u);
  EXPECT_EQ(before["orders"].live, 500u);

  Result<uint64_t> freed = e->RecycleIdsNow();
  ASSERT_TRUE(freed.ok()) << freed.status().ToString();
  auto after = Ids(*e);
  // IPs: no state holds any (the fraud IP window keeps hashes, not ids). Sessions and
  // orders: only the capped sessions, revenue, fraud and insights states (8 users, 8
  // orders). Users: only those the capped states still track (the latest 8 or so: recent,
  // bought, sessions, fraud, insights and orders keep 8 each, affinity as many).
  EXPECT_LE(after["sessions"].live, 8u);
  EXPECT_EQ(after["orders"].live, 8u);
  EXPECT_EQ(after["strings"].live, 0u);
  EXPECT_LE(after["users"].live, 16u);
  EXPECT_EQ(after["users"].freed, 501u - after["users"].live);
  EXPECT_EQ(after["items"].live, 23u);  // every item is still in popularity and engagement
  EXPECT_EQ(*freed, before["users"].live + 500 * 3 - after["users"].live -
                        after["sessions"].live - after["orders"].live);
  EXPECT_EQ(e->Status().ids.sweeps, 1u);

  EXPECT_EQ(Recent(*e, "keeper"), kKeeper);
  EXPECT_TRUE(Recent(*e, "user-3").empty());  // evicted, and its id freed

  // New users take the freed ids; no answer mixes them up with the old owners.
  ASSERT_EQ(e->IngestSync(*ctx, Batch(500, 400)).accepted, 403u);
  EXPECT_LE(Ids(*e)["users"].live, 24u + 401u);
  EXPECT_GE(Ids(*e)["users"].freed, 400u);
  EXPECT_EQ(Recent(*e, "keeper"), kKeeper);
  EXPECT_EQ(Recent(*e, "user-899"), (std::vector<std::string>{"item-19"}));
  EXPECT_TRUE(Recent(*e, "user-3").empty());
  TrendingAnswer t = e->TrendingCategoriesSync(0, 10);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].events + t.top[1].events, 900);
  for (const auto& c : t.top) EXPECT_TRUE(c.category == "shoes" || c.category == "hats") << c.category;
  PopularAnswer p = e->PopularItemsSync("", 30);
  EXPECT_EQ(p.top.size(), 23u);
  for (const auto& i : p.top) {
    EXPECT_TRUE(i.name.starts_with("item-") || i.name.starts_with("keeper-")) << i.name;
  }
}

TEST(IdRecyclerTest, CheckpointAfterSweepsRestoresTheSameAnswers) {
  test::TempDir dir;
  Options o = SmallCaps();
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  {
    auto e = OpenEngine(o);
    auto ctx = e->NewIngestContext();
    ASSERT_EQ(e->IngestSync(*ctx, Batch(0, 300)).accepted, 303u);
    ASSERT_TRUE(e->RecycleIdsNow().ok());
    ASSERT_EQ(e->IngestSync(*ctx, Batch(300, 300)).accepted, 303u);  // reuses freed ids
    ASSERT_TRUE(e->TakeCheckpoint().ok());  // interners with holes, states referencing reused ids
    ASSERT_EQ(e->IngestSync(*ctx, Batch(600, 10)).accepted, 13u);
    e->Stop();
  }
  auto e = OpenEngine(o);
  EXPECT_EQ(Recent(*e, "keeper"), kKeeper);
  EXPECT_EQ(Recent(*e, "user-609"), (std::vector<std::string>{"item-9"}));
  EXPECT_TRUE(Recent(*e, "user-3").empty());
  EXPECT_GT(e->Status().store.recovered_from_checkpoint, 0u);
  ASSERT_TRUE(e->RecycleIdsNow().ok());
  EXPECT_EQ(Recent(*e, "keeper"), kKeeper);
}

// Ingest of ever-new users and reads run while sweeps free and reuse ids, over several
// shards (ThreadSanitizer checks the hand-offs). A user may be evicted (then its answer is
// empty), but an answer never holds another user's items: nothing was reused early.
TEST(IdRecyclerTest, SweepsBesideIngestAndReads) {
  auto e = OpenEngine(SmallCaps(4, 2));
  auto ctx = e->NewIngestContext();
  ASSERT_EQ(e->IngestSync(*ctx, Batch(0, 10)).accepted, 13u);
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0}, reads{0};
  std::thread ingest([&] {
    auto c = e->NewIngestContext();
    for (int b = 1; b <= 60; ++b) {
      // A sweep pauses the shards for a moment; a log that fills meanwhile answers 429
      // (ResourceExhausted), and a client sends the request again.
      IngestReply r = test::IngestRetrying(*e, *c, Batch(b * 100, 100));
      if (r.accepted != 103u) bad_reads.fetch_add(1000);
    }
    done.store(true);
  });
  std::thread reader([&] {
    for (int i = 0; !done.load(); ++i) {
      const std::vector<std::string> keeper = Recent(*e, "keeper");
      if (!keeper.empty() && keeper != kKeeper) bad_reads.fetch_add(1);
      const int u = 100 + i % 6000;
      const std::vector<std::string> user = Recent(*e, "user-" + std::to_string(u));
      if (!user.empty() && user != std::vector<std::string>{"item-" + std::to_string(u % 20)}) {
        bad_reads.fetch_add(1);
      }
      SimilarAnswer s = e->SimilarItemsSync("keeper-1", 5);
      for (const auto& n : s.top) {
        if (!n.item.starts_with("keeper-")) bad_reads.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  });
  int sweeps = 0;
  while (!done.load()) {
    Result<uint64_t> r = e->RecycleIdsNow();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ++sweeps;
  }
  ingest.join();
  reader.join();
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(sweeps, 0);
  ASSERT_TRUE(e->RecycleIdsNow().ok());
  // Revenue's cap (8, by the user's partition) and inventory's (8, by the item's partition:
  // perhaps other orders).
  EXPECT_LE(Ids(*e)["orders"].live, 16u);
  EXPECT_LE(Ids(*e)["users"].live, 24u);
  const std::vector<std::string> keeper = Recent(*e, "keeper");
  EXPECT_TRUE(keeper.empty() || keeper == kKeeper);
}

}  // namespace
}  // namespace eddy
