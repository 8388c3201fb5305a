// A partition's checkpoint (cluster mode) loaded into an engine whose interners numbered
// every string otherwise answers as the engine that wrote it — before and after more
// events — and one that does not fit is refused whole.
#include "engine/partition_checkpoint.h"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <random>

#include "engine/checkpoint_manager.h"
#include "engine/components.h"
#include "engine/ingest_path.h"
#include "engine/query_service.h"

namespace eddy {
namespace {

using test::Wait;

constexpr int64_t kT0 = 1'700'000'000'000;

// Views, clicks, carts, purchases (with orders, prices, quantities) and cancels, catalog
// records and stock, from `users` users over 30 items in 6 categories.
std::vector<std::string> Events(uint64_t seed, int n, int64_t t0) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < 30; i += 3) {
    lines.push_back(test::EventBuilder().Type("catalog_put").Item("i" + std::to_string(i))
                        .Category("c" + std::to_string(i % 6)).Raw("price", "12.5").Time(t0).Json());
    lines.push_back(test::EventBuilder().Type("inventory").Item("i" + std::to_string(i))
                        .Raw("stock", "40").Time(t0).Json());
  }
  static const char* kTypes[] = {"view", "view", "view", "click", "add_to_cart", "purchase", "cancel"};
  for (int k = 0; k < n; ++k) {
    const int item = static_cast<int>(std::min(rng() % 30, rng() % 30));
    const std::string type = kTypes[rng() % 7];
    test::EventBuilder b;
    b.User("u" + std::to_string(rng() % 50)).Type(type).Item("i" + std::to_string(item))
        .Category("c" + std::to_string(item % 6)).Time(t0 + k * 700);
    if (type == "purchase" || type == "cancel") {
      b.Str("orderId", "o" + std::to_string(rng() % 200)).Raw("price", "9.99").Raw("quantity", "1");
    }
    if (rng() % 3 == 0) b.Str("sessionId", "s" + std::to_string(rng() % 80));
    lines.push_back(b.Json());
  }
  return lines;
}

void IngestRequest(test::Parts& parts, IngestPath& ingest, const std::vector<std::string>& lines);

// In requests of 200 (a partition's log holds 1024 entries here).
void Ingest(test::Parts& parts, IngestPath& ingest, const std::vector<std::string>& all) {
  for (size_t at = 0; at < all.size(); at += 200) {
    const std::vector<std::string> lines(all.begin() + static_cast<ptrdiff_t>(at),
                                         all.begin() + static_cast<ptrdiff_t>(std::min(all.size(), at + 200)));
    IngestRequest(parts, ingest, lines);
  }
}

void IngestRequest(test::Parts& parts, IngestPath& ingest, const std::vector<std::string>& lines) {
  auto ctx = ingest.NewContext();
  std::string body = test::Ndjson(lines);
  std::promise<void> done;
  IngestReply reply;
  ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone, [&](IngestReply r) {
    reply = std::move(r);
    done.set_value();
  });
  done.get_future().wait();
  ASSERT_TRUE(reply.status.ok()) << reply.status.message();
  ASSERT_TRUE(reply.rejected.empty()) << reply.rejected[0].index << ": " << reply.rejected[0].error;
  EXPECT_EQ(reply.accepted, lines.size());
  parts.CatchUp();
}

// Everything QueryService answers of the states, as text.
std::string Answers(test::Parts& parts) {
  QueryService q(parts.options, parts.set, *parts.interners, *parts.log, parts.clock);
  std::string out;
  const TrendingAnswer t = Wait<TrendingAnswer>([&](auto cb) { q.TrendingCategories(0, 10, cb); });
  for (const auto& c : t.top) out += "T " + c.category + " " + std::to_string(c.events) + " " + std::to_string(c.score) + "\n";
  for (const std::string cat : {"", "c1", "c4"}) {
    const PopularAnswer p = Wait<PopularAnswer>([&](auto cb) { q.PopularItems(cat, 12, cb); });
    for (const auto& s : p.top) out += "P" + cat + " " + s.name + " " + std::to_string(s.score) + "\n";
  }
  for (int i = 0; i < 30; i += 4) {
    const std::string item = "i" + std::to_string(i);
    const SimilarAnswer s = Wait<SimilarAnswer>([&](auto cb) { q.SimilarItems(item, 8, cb); });
    for (const auto& n : s.top) out += "S" + item + " " + n.item + " " + std::to_string(n.count) + "/" + std::to_string(n.error) + "\n";
    const EngagementAnswer e = Wait<EngagementAnswer>([&](auto cb) { q.ItemEngagement(item, cb); });
    out += "E" + item + " " + e.category;
    for (int64_t c : e.all_time) out += " " + std::to_string(c);
    out += "\n";
  }
  for (int u = 0; u < 50; u += 7) {
    const std::string user = "u" + std::to_string(u);
    for (const auto& r : Wait<std::vector<RecentItem>>([&](auto cb) { q.RecentItems(user, 10, cb); })) {
      out += "R" + user + " " + r.item + "\n";
    }
  }
  return out;
}

std::string Save(test::Parts& parts, uint64_t sequence) {
  MutexLock ids(&parts.interners->recycle_mu);
  std::promise<std::string> bytes;
  parts.set.OnShard(0, [&](ShardState& st) {
    st.CatchUpAll();
    PartitionCheckpoint head;
    head.partition = 0;
    head.sequence = sequence;
    head.fingerprint = SettingsFingerprint(parts.options, st);
    bytes.set_value(EncodePartitionCheckpoint(head, st, *parts.interners));
  });
  return bytes.get_future().get();
}

// `damage` (optional) changes the translation before the states load.
bool Load(test::Parts& parts, const std::string& bytes, PartitionCheckpoint* head,
          const std::function<void(IdRemap&)>& damage = nullptr) {
  IdEpochs::Guard guard = parts.interners->epochs.Enter();
  IdRemap remap;
  std::string_view state;
  if (!DecodePartitionCheckpoint(bytes, *parts.interners, head, &remap, &state).ok()) return false;
  if (damage) damage(remap);
  std::promise<bool> ok;
  parts.set.OnShard(0, [&](ShardState& st) {
    SerialReader r(state);
    r.set_remap(&remap);
    const bool loaded = st.Load(r);
    if (!loaded) st.Reset();
    ok.set_value(loaded);
  });
  return ok.get_future().get();
}

TEST(PartitionCheckpointTest, OtherInternersLoadItAndAnswerAsTheWriterBeforeAndAfterMoreEvents) {
  const auto first = Events(1, 4000, kT0), more = Events(2, 1500, kT0 + 4000 * 700);
  test::Parts writer(test::ComponentOptions(1, 1)), loader(test::ComponentOptions(1, 1));
  // The loader's interners give every string another id than the writer's.
  for (Interner* in : loader.interners->All()) {
    for (int i = 0; i < 37; ++i) in->Intern("other-" + std::to_string(i));
  }
  writer.StartShards();
  loader.StartShards();
  IngestPath wi(writer.options, *writer.log, *writer.interners, writer.set, nullptr, writer.clock, nullptr);
  IngestPath li(loader.options, *loader.log, *loader.interners, loader.set, nullptr, loader.clock, nullptr);
  Ingest(writer, wi, first);
  const std::string before = Answers(writer);
  ASSERT_NE(before.find("\nS"), std::string::npos) << before.substr(0, 3000);  // co-view pairs, popularity, recent... all there
  ASSERT_NE(before.find("\nR"), std::string::npos);

  const std::string bytes = Save(writer, 1234);
  PartitionCheckpoint head;
  ASSERT_TRUE(Load(loader, bytes, &head));
  EXPECT_EQ(head.sequence, 1234u);
  loader.clock.Observe(writer.clock.newest_event_ms());
  EXPECT_EQ(Answers(loader), before);
  // The loaded states go on as the writer's: sifts, co-view slots, LRU order, sessions.
  Ingest(writer, wi, more);
  Ingest(loader, li, more);
  const std::string after = Answers(writer);
  EXPECT_NE(after, before);
  EXPECT_EQ(Answers(loader), after);
  // And its own checkpoint, back into the writer's numbering, still answers the same.
  test::Parts third(test::ComponentOptions(1, 1));
  third.StartShards();
  ASSERT_TRUE(Load(third, Save(loader, 99), &head));
  third.clock.Observe(writer.clock.newest_event_ms());
  EXPECT_EQ(Answers(third), after);
}

TEST(PartitionCheckpointTest, ADamagedCheckpointIsRefusedAndLeavesTheStateEmpty) {
  test::Parts writer(test::ComponentOptions(1, 1)), loader(test::ComponentOptions(1, 1));
  writer.StartShards();
  loader.StartShards();
  IngestPath wi(writer.options, *writer.log, *writer.interners, writer.set, nullptr, writer.clock, nullptr);
  Ingest(writer, wi, Events(3, 500, kT0));
  const std::string bytes = Save(writer, 7);
  PartitionCheckpoint head;
  EXPECT_FALSE(Load(loader, bytes.substr(0, bytes.size() - 9), &head));
  EXPECT_FALSE(Load(loader, "not a checkpoint", &head));
  // A translation that lacks an id a state holds: that state's reader fails, and the
  // whole shard state is reset, nothing half-loaded.
  ASSERT_TRUE(Load(loader, bytes, &head));  // whole, it loads
  EXPECT_NE(Answers(loader).find("\nR"), std::string::npos);
  EXPECT_FALSE(Load(loader, bytes, &head, [&](IdRemap& remap) {
    remap.kinds[Interners::kItems].erase(writer.interners->items.Find("i3"));
  }));
  const std::string left = Answers(loader);
  EXPECT_EQ(left.find("\nR"), std::string::npos);
  EXPECT_EQ(left.find("\nS"), std::string::npos);
  EXPECT_EQ(left.find("T "), std::string::npos);
}

}  // namespace
}  // namespace eddy
