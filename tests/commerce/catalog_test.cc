// The item catalog: PUT / PATCH / DELETE against a brute force in several layouts and
// batch sizes; withdrawn (hidden or deleted) items absent from every ranked answer;
// catalog values winning over events; attribute and exclude filters; stock 0; restart.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "commerce/catalog.h"
#include "eddy/engine.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::EventBuilder;

constexpr int64_t kT0 = 1'700'000'000'000;

using test::OpenEngine;

Options CatalogOptions(uint32_t partitions, int shards) {
  Options o = test::TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  return o;
}

void Send(Engine& e, const std::vector<std::string>& lines, size_t batch = 1000) {
  auto ctx = e.NewIngestContext();
  for (size_t i = 0; i < lines.size(); i += batch) {
    std::vector<std::string> part(lines.begin() + i,
                                  lines.begin() + std::min(lines.size(), i + batch));
    IngestReply r = test::IngestRetrying(e, *ctx, test::Ndjson(part), BodyFormat::kNdjson);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_EQ(r.accepted, part.size()) << (r.rejected.empty() ? "" : r.rejected[0].error);
  }
}

// ---- The brute force: a record per item, changes applied in the order sent ---------

struct Record {
  bool deleted = false, hidden = false;
  std::string category;
  std::optional<int64_t> price_cents, stock, threshold;
  std::map<std::string, std::string> attributes;  // name -> JSON value text
};

std::string AttributesJson(const std::map<std::string, std::string>& a) {
  std::string out = "{";
  for (const auto& [k, v] : a) out += (out.size() > 1 ? "," : "") + ("\"" + k + "\":") + v;
  return out + "}";
}

TEST(CatalogOracleTest, PutPatchDeleteMatchBruteForceInEveryLayout) {
  std::mt19937_64 rng(5);
  std::vector<std::string> lines;
  std::map<std::string, Record> brute;
  for (int n = 0; n < 1500; ++n) {
    const std::string item = "i" + std::to_string(rng() % 25);
    const uint64_t op = rng() % 10;
    EventBuilder b;
    b.Item(item).Time(kT0 + n * 1000);
    Record& rec = brute[item];
    if (op == 0) {
      b.Type("catalog_delete");
      rec.deleted = true;
    } else {
      const bool put = op <= 4;
      b.Type(put ? "catalog_put" : "catalog_patch");
      if (put) rec = Record{};
      if (rng() % 2) {
        rec.category = "c" + std::to_string(rng() % 5);
        b.Category(rec.category);
      }
      if (rng() % 2) {
        rec.price_cents = static_cast<int64_t>(rng() % 100'000);
        b.Raw("price", std::to_string(*rec.price_cents / 100) + "." +
                           std::to_string(*rec.price_cents % 100 / 10) +
                           std::to_string(*rec.price_cents % 10));
      }
      if (rng() % 2) {
        rec.stock = static_cast<int64_t>(rng() % 20);
        b.Raw("stock", std::to_string(*rec.stock));
      }
      if (rng() % 3 == 0) {
        rec.threshold = static_cast<int64_t>(rng() % 10);
        b.Raw("lowStockThreshold", std::to_string(*rec.threshold));
      }
      if (rng() % 3 == 0) {
        rec.hidden = rng() % 2;
        b.Raw("hidden", rec.hidden ? "true" : "false");
      }
      if (rng() % 3 == 0) {
        // Given out of order; stored sorted by name.
        std::map<std::string, std::string> a;
        std::string body = "{";
        for (const char* name : {"size", "color", "brand"}) {
          if (rng() % 2) continue;
          const bool number = std::string(name) == "size";
          const std::string v = number ? std::to_string(rng() % 50)
                                       : "\"" + std::string(name) + std::to_string(rng() % 3) + "\"";
          a[name] = v;
          body += (body.size() > 1 ? "," : "") + ("\"" + std::string(name) + "\":") + v;
        }
        rec.attributes = a;
        b.Raw("attributes", body + "}");
      }
    }
    lines.push_back(b.Json());
  }
  for (const auto& [partitions, shards, batch] :
       {std::tuple{1u, 1, size_t{1}}, std::tuple{4u, 2, size_t{7}}, std::tuple{16u, 3, size_t{500}}}) {
    auto e = OpenEngine(CatalogOptions(partitions, shards));
    Send(*e, lines, batch);
    for (const auto& [item, rec] : brute) {
      const CatalogRecord got = e->ItemCatalogSync(item);
      const std::string where = std::to_string(partitions) + "p " + item;
      ASSERT_TRUE(got.found) << where;
      EXPECT_EQ(got.deleted, rec.deleted) << where;
      EXPECT_EQ(got.hidden, rec.hidden) << where;
      EXPECT_EQ(got.category, rec.category) << where;
      EXPECT_EQ(got.price_micros, rec.price_cents ? std::optional<int64_t>(*rec.price_cents * 10'000)
                                                  : std::nullopt)
          << where;
      EXPECT_EQ(got.stock, rec.stock) << where;
      EXPECT_EQ(got.low_stock_threshold.has_value(), rec.threshold.has_value()) << where;
      if (rec.threshold) {
        EXPECT_EQ(*got.low_stock_threshold, *rec.threshold) << where;
      }
      EXPECT_EQ(got.attributes, AttributesJson(rec.attributes)) << where;
    }
    EXPECT_FALSE(e->ItemCatalogSync("never").found);
  }
}

// The attribute filter reads the canonical JSON the decoder writes: strings by value
// (escapes included), numbers by value, every wanted pair must match.
TEST(AttributesMatchTest, StringsNumbersEscapesAndAll) {
  const std::string json = R"({"brand":"a\"b,c","size":42,"w\"x":"}{"})";
  using Want = std::vector<std::pair<std::string, std::string>>;
  EXPECT_TRUE(AttributesMatch(json, Want{}));
  EXPECT_TRUE(AttributesMatch(json, Want{{"brand", "a\"b,c"}}));
  EXPECT_TRUE(AttributesMatch(json, Want{{"size", "42"}}));
  EXPECT_TRUE(AttributesMatch(json, Want{{"size", "42.0"}}));
  EXPECT_TRUE(AttributesMatch(json, Want{{"w\"x", "}{"}, {"size", "42"}}));
  EXPECT_FALSE(AttributesMatch(json, Want{{"size", "41"}}));
  EXPECT_FALSE(AttributesMatch(json, Want{{"size", "big"}}));
  EXPECT_FALSE(AttributesMatch(json, Want{{"brand", "a"}}));
  EXPECT_FALSE(AttributesMatch(json, Want{{"colour", "red"}}));
  EXPECT_FALSE(AttributesMatch(json, Want{{"size", "42"}, {"colour", "red"}}));
  EXPECT_FALSE(AttributesMatch("{}", Want{{"size", "42"}}));
}

// ---- Withdrawn items in ranked answers ----------------------------------------------

// 40 users touch 20 items (co-views, purchases, two categories); every item is in the
// catalog with a color.
std::vector<std::string> Interactions() {
  std::vector<std::string> lines;
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20; ++i) {
    lines.push_back(EventBuilder().Type("catalog_put").Item("i" + std::to_string(i))
                        .Category(i % 2 ? "odd" : "even").Time(kT0)
                        .Raw("attributes", i % 3 ? R"({"color":"red"})" : R"({"color":"blue"})")
                        .Json());
  }
  for (int n = 0; n < 2000; ++n) {
    const int item = static_cast<int>(std::min(rng() % 20, rng() % 20));
    lines.push_back(EventBuilder().User("u" + std::to_string(rng() % 40))
                        .Type(rng() % 6 ? "view" : "purchase").Item("i" + std::to_string(item))
                        .Category(item % 2 ? "odd" : "even").Time(kT0 + n * 500).Json());
  }
  return lines;
}

// Every item any ranked or listed answer names.
std::set<std::string> Answered(Engine& e, const ItemFilter& filter = {}) {
  std::set<std::string> out;
  for (int u = 0; u < 40; ++u) {
    RecommendRequest r = test::Req("u" + std::to_string(u), 50);
    r.filter = filter;
    for (const RankedItem& i : e.RecommendSync(r).items) out.insert(i.item);
  }
  for (int i = 0; i < 20; ++i) {
    const std::string item = "i" + std::to_string(i);
    for (const RankedItem& s : e.SimilarItemsRankedSync(item, 50, filter).items) out.insert(s.item);
    if (!filter.empty()) continue;  // the plain reads take no filters
    for (const SimilarItem& s : e.SimilarItemsSync(item, 50).top) out.insert(s.item);
  }
  if (filter.empty()) {
    for (const char* c : {"", "odd", "even"}) {
      for (const ScoredName& p : e.PopularItemsSync(c, 50).top) out.insert(p.name);
    }
    std::vector<Offer> offers;
    for (int i = 0; i < 20; ++i) offers.push_back({"i" + std::to_string(i), "odd", 1});
    for (const RankedOffer& o : e.RankOffersSync("u1", offers, 20).top) out.insert(o.offer_id);
  }
  return out;
}

TEST(CatalogRankingTest, WithdrawnItemsAreInNoAnswerAndComeBackWithPut) {
  auto e = OpenEngine(CatalogOptions(4, 2));
  Send(*e, Interactions(), 300);
  const std::set<std::string> before = Answered(*e);
  const std::set<std::string> withdrawn = {"i0", "i1", "i2", "i3"};
  for (const std::string& w : withdrawn) ASSERT_TRUE(before.contains(w)) << w;  // meaningful
  Send(*e, {EventBuilder().Type("catalog_patch").Item("i0").Raw("hidden", "true").Json(),
            EventBuilder().Type("catalog_patch").Item("i1").Raw("hidden", "true").Json(),
            EventBuilder().Type("catalog_delete").Item("i2").Json(),
            EventBuilder().Type("catalog_delete").Item("i3").Json()});
  const std::set<std::string> after = Answered(*e);
  for (const std::string& w : withdrawn) EXPECT_FALSE(after.contains(w)) << w;
  EXPECT_GT(after.size(), 10u);
  // A PATCH keeps a deleted item deleted; a PUT brings it back, unhide brings back i0.
  Send(*e, {EventBuilder().Type("catalog_patch").Item("i2").Raw("price", "3").Json(),
            EventBuilder().Type("catalog_put").Item("i3").Category("odd").Json(),
            EventBuilder().Type("catalog_patch").Item("i0").Raw("hidden", "false").Json()});
  const std::set<std::string> back = Answered(*e);
  EXPECT_FALSE(back.contains("i1"));
  EXPECT_FALSE(back.contains("i2"));
  EXPECT_TRUE(back.contains("i3"));
  EXPECT_TRUE(back.contains("i0"));
}

TEST(CatalogRankingTest, FiltersCatalogValuesAndStock) {
  Options o = CatalogOptions(4, 2);
  auto e = OpenEngine(o);
  Send(*e, Interactions(), 300);
  // attr.color=red: only red items (i % 3 != 0); exclude drops the listed ones.
  ItemFilter red;
  red.attributes = {{"color", "red"}};
  red.exclude = {"i1", "i2"};
  const std::set<std::string> reds = Answered(*e, red);
  EXPECT_GT(reds.size(), 5u);
  for (const std::string& i : reds) {
    const int n = std::stoi(i.substr(1));
    EXPECT_NE(n % 3, 0) << i;
    EXPECT_TRUE(i != "i1" && i != "i2") << i;
  }
  // The catalog's category and price win over the events'.
  Send(*e, {EventBuilder().Type("catalog_patch").Item("i4").Category("shoes").Raw("price", "12.5")
                .Json()});
  RecommendRequest shoes = test::Req("newcomer", 10, "shoes");  // bought nothing
  RecommendAnswer a = e->RecommendSync(shoes);
  ASSERT_EQ(a.items.size(), 1u);
  EXPECT_EQ(a.items[0].item, "i4");
  EXPECT_EQ(a.items[0].category, "shoes");
  EXPECT_EQ(a.items[0].price_micros, 12'500'000);
  // Stock 0 in the catalog: not recommended (ranking.exclude_out_of_stock).
  Send(*e, {EventBuilder().Type("catalog_patch").Item("i4").Raw("stock", "0").Json()});
  EXPECT_TRUE(e->RecommendSync(shoes).items.empty());
  o.ranking.exclude_out_of_stock = false;
  auto keep = OpenEngine(o);
  Send(*keep, Interactions(), 300);
  Send(*keep, {EventBuilder().Type("catalog_patch").Item("i4").Category("shoes").Raw("stock", "0")
                   .Json()});
  EXPECT_EQ(keep->RecommendSync(shoes).items.size(), 1u);
}

// The smallest record (a tombstone at time 0 of a low item id) loads back.
TEST(CatalogCheckpointTest, SmallestRecordLoads) {
  test::TempDir dir;
  Options o = CatalogOptions(1, 1);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  {
    auto e = OpenEngine(o);
    Send(*e, {EventBuilder().Type("catalog_delete").Item("b").Raw("timestamp", "0").Json()});
    ASSERT_TRUE(e->TakeCheckpoint().ok());
    e->Stop();
  }
  auto e = OpenEngine(o);
  EXPECT_GT(e->Status().store.recovered_from_checkpoint, 0u);
  EXPECT_TRUE(e->ItemCatalogSync("b").deleted);
}

TEST(CatalogCheckpointTest, RestartKeepsTheCatalog) {
  test::TempDir dir;
  Options o = CatalogOptions(4, 2);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  {
    auto e = OpenEngine(o);
    Send(*e, {EventBuilder().Type("catalog_put").Item("a").Category("c").Raw("stock", "3")
                  .Raw("attributes", R"({"b":1,"a":"x"})").Json(),
              EventBuilder().Type("catalog_delete").Item("b").Json()});
    ASSERT_TRUE(e->TakeCheckpoint().ok());
    Send(*e, {EventBuilder().Type("catalog_patch").Item("a").Raw("hidden", "true").Json()});
    e->Stop();
  }
  auto e = OpenEngine(o);  // the checkpoint, then the PATCH replayed from the store
  const CatalogRecord a = e->ItemCatalogSync("a");
  EXPECT_TRUE(a.found && a.hidden && !a.deleted);
  EXPECT_EQ(a.category, "c");
  EXPECT_EQ(a.stock, 3);
  EXPECT_EQ(a.attributes, R"({"a":"x","b":1})");
  EXPECT_TRUE(e->ItemCatalogSync("b").deleted);
}

}  // namespace
}  // namespace eddy
