// Co-view (SPEC §3.7) against a brute-force recomputation over the raw events, its
// independence of layout and batching, and the bounded lists' behaviour past their cap.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

#include "agg/coview.h"
#include "engine/random_stream.h"
#include "util/serial.h"

namespace eddy {
namespace {

using test::IngestAll;
using test::RandomStream;
using test::RawEvent;
using test::BruteCoView;
using test::ExpectedSimilar;

void ExpectSame(const std::vector<SimilarItem>& got, const std::vector<SimilarItem>& want,
                const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].item, want[i].item) << where << " rank " << i;
    EXPECT_EQ(got[i].count, want[i].count) << where << " " << got[i].item;
    EXPECT_EQ(got[i].error, 0u) << where << " " << got[i].item;
  }
}

Options CoViewOptions(uint32_t partitions, int shards) {
  Options o = test::OracleOptions(partitions, shards);
  o.coview.max_neighbours = 1000;  // more than the stream's items: counts stay exact
  return o;
}

TEST(CoViewTest, MatchesBruteForceOnRandomStreams) {
  for (uint32_t seed : {1u, 4u}) {
    // Fewer users than items and a busy stream: users revisit items within 30 minutes.
    std::vector<RawEvent> events = RandomStream(seed, 5000, 25, 120);
    Options o = CoViewOptions(8, 2);
    auto engine = std::move(Engine::Open(o)).value();
    IngestAll(*engine, events, 40);
    auto truth = BruteCoView(events, o);
    size_t checked_with_pairs = 0;
    for (int i = 0; i < 120; ++i) {
      const std::string item = "i" + std::to_string(i);
      auto it = truth.find(item);
      auto want = it == truth.end() ? std::vector<SimilarItem>{} : ExpectedSimilar(it->second, 1000);
      checked_with_pairs += !want.empty();
      ExpectSame(engine->SimilarItemsSync(item, 1000).top, want, item);
      if (it != truth.end()) ExpectSame(engine->SimilarItemsSync(item, 5).top, ExpectedSimilar(it->second, 5), item + " k 5");
    }
    EXPECT_GT(checked_with_pairs, 50u);  // the stream really made pairs
  }
  auto engine = std::move(Engine::Open(CoViewOptions(2, 1))).value();
  EXPECT_TRUE(engine->SimilarItemsSync("no-such-item", 5).top.empty());
}

// docs/api.md: count is an upper bound of the true pairs and count - error a lower bound.
// With lists cut on one shard but not on another, a plain sum over shards misses what the
// cutting shard may have had (its floor): the merge must add it to count and error.
TEST(CoViewTest, BoundsHoldWhenShardsCutDifferentNeighbours) {
  size_t entries = 0, inexact = 0;
  for (uint32_t seed : {2u, 7u, 11u}) {
    std::vector<RawEvent> events = RandomStream(seed, 6000, 30, 60);
    Options o = test::OracleOptions(8, 2);
    o.coview.max_neighbours = 3;  // lists of more than 6 neighbours are cut
    auto engine = std::move(Engine::Open(o)).value();
    IngestAll(*engine, events, 50);
    auto truth = BruteCoView(events, o);
    for (int i = 0; i < 60; ++i) {
      const std::string item = "i" + std::to_string(i);
      for (const SimilarItem& s : engine->SimilarItemsSync(item, 1000).top) {
        const uint64_t real = truth[item][s.item];
        ++entries;
        inexact += s.error > 0;
        EXPECT_GE(s.count, real) << "seed " << seed << " " << item << "->" << s.item;
        EXPECT_LE(s.count - s.error, real) << "seed " << seed << " " << item << "->" << s.item;
      }
    }
  }
  EXPECT_GT(entries, 500u);
  EXPECT_GT(inexact, 50u);  // the lists really were cut
}

TEST(CoViewTest, WindowAndRecentItemsLimitThePairs) {
  Options o = test::TestOptions(2, 1);
  o.coview.recent_items = 2;
  o.coview.window_minutes = 30;
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  auto touch = [&](const std::string& item, int64_t minute) {
    std::string e = test::EventBuilder().User("u").Type("view").Item(item).Time(test::kT0 + minute * 60'000).Json();
    ASSERT_TRUE(engine->IngestSync(*ctx, e).status.ok());
  };
  touch("a", 0);
  touch("b", 10);
  touch("c", 20);
  touch("d", 45);  // N = 2: pairs with c (25 min before) only: b is 35 min before
  // A remove_from_cart (weight 0) is not a touch and pairs nothing.
  ASSERT_TRUE(engine->IngestSync(*ctx, test::EventBuilder().User("u").Type("remove_from_cart")
                                           .Item("z").Time(test::kT0 + 46 * 60'000).Json())
                  .status.ok());
  auto names = [&](const std::string& item) {
    std::vector<std::string> v;
    for (const SimilarItem& s : engine->SimilarItemsSync(item, 10).top) v.push_back(s.item);
    return v;
  };
  EXPECT_EQ(names("a"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(names("b"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(names("c"), (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_EQ(names("d"), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(names("z").empty());
}

TEST(CoViewTest, SameAnswersForAnyLayoutAndBatching) {
  std::vector<RawEvent> events = RandomStream(9, 2000, 20, 80);
  std::vector<std::vector<SimilarItem>> reference;
  bool first = true;
  for (uint32_t partitions : {1u, 7u, 16u}) {
    for (int shards : {1, 2, 4}) {
      for (size_t batch : {size_t{1}, size_t{13}, size_t{1000}}) {
        auto engine = std::move(Engine::Open(CoViewOptions(partitions, shards))).value();
        IngestAll(*engine, events, batch);
        std::vector<std::vector<SimilarItem>> answers;
        for (const char* item : {"i0", "i1", "i5", "i40"}) {
          answers.push_back(engine->SimilarItemsSync(item, 1000).top);
        }
        if (first) {
          reference = answers;
          first = false;
          continue;
        }
        for (size_t q = 0; q < answers.size(); ++q) {
          ExpectSame(answers[q], reference[q],
                     std::to_string(partitions) + "/" + std::to_string(shards) + "/" +
                         std::to_string(batch) + " query " + std::to_string(q));
        }
      }
    }
  }
}

TEST(CoViewSketchTest, BoundedListKeepsHeavyNeighboursWithinBounds) {
  CoView cv(/*max_neighbours=*/100, /*max_items=*/100000);
  // Item 1 is paired 1000 times with each of 10 heavy neighbours and 5 times with each of
  // 1000 light ones, interleaved, flushed every round (as reads would).
  std::map<uint32_t, uint64_t> truth;
  for (int round = 0; round < 1000; ++round) {
    for (uint32_t h = 2; h < 12; ++h) {
      cv.AddPair(ItemId(1), ItemId(h));
      ++truth[h];
    }
    for (uint32_t l = 0; l < 5; ++l) {
      const uint32_t light = 100 + (round * 5 + l) % 1000;
      cv.AddPair(ItemId(1), ItemId(light));
      ++truth[light];
    }
    if (round % 7 == 0) cv.Flush();
  }
  cv.Flush();
  EXPECT_GT(cv.pruned(), 0u);
  std::vector<CoView::Neighbour> n;
  cv.Neighbours(ItemId(1), &n);
  EXPECT_LE(n.size(), 200u);  // bounded: at most 2 x max_neighbours
  uint64_t heavy_found = 0;
  for (const CoView::Neighbour& x : n) {
    const uint64_t t = truth[x.item.value()];
    EXPECT_GE(x.count, t) << x.item.value();            // an upper bound
    EXPECT_LE(x.count - x.error, t) << x.item.value();  // and a lower bound
    if (x.item.value() >= 2 && x.item.value() < 12) {
      ++heavy_found;
      EXPECT_EQ(x.error, 0u) << "a heavy neighbour is never cut";
      EXPECT_EQ(x.count, 1000u);
    }
  }
  EXPECT_EQ(heavy_found, 10u);
  // The other direction: item 2 saw item 1 exactly as often as it was paired.
  n.clear();
  cv.Neighbours(ItemId(2), &n);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].count, 1000u);
  EXPECT_EQ(n[0].error, 0u);
}

TEST(CoViewSketchTest, ItemsBeyondTheCapAreForgottenLeastRecentFirst) {
  CoView cv(100, 64);
  for (uint32_t i = 1; i <= 200; ++i) {
    cv.AddPair(ItemId(i), ItemId(i + 1000));
    cv.Flush();
  }
  EXPECT_LE(cv.items(), 64u);
  EXPECT_GT(cv.evicted_items(), 0u);
  std::vector<CoView::Neighbour> n;
  cv.Neighbours(ItemId(200), &n);  // the newest survives
  EXPECT_EQ(n.size(), 1u);
  n.clear();
  cv.Neighbours(ItemId(1), &n);  // the oldest is gone
  EXPECT_TRUE(n.empty());
}

// A read folds only the pending pairs of the items it reads (FlushItems): their lists are
// then what a full fold gives, and the other items' pairs are still folded later, intact.
TEST(CoViewSketchTest, FoldingSomeItemsGivesTheirListsAndKeepsTheRestPending) {
  // With lists far below their cap, and with lists of at most 2 x 2 counters (cut again
  // and again: a fold's result depends on the batch, and each list's pairs fold in one).
  for (uint32_t max_neighbours : {100u, 2u}) {
    SCOPED_TRACE(max_neighbours);
    CoView all(max_neighbours, 100000), some(max_neighbours, 100000);
    std::mt19937 rng(7);
    for (int i = 0; i < 5000; ++i) {
      const ItemId a(1 + rng() % 300), b(1 + rng() % 300);
      if (a == b) continue;
      all.AddPair(a, b);
      some.AddPair(a, b);
    }
    all.Flush();
    const std::vector<ItemId> read = {ItemId(3), ItemId(77), ItemId(300), ItemId(9999)};
    some.FlushItems(read);
    const auto sorted = [](const CoView& cv, ItemId item) {
      std::vector<CoView::Neighbour> n;
      cv.Neighbours(item, &n);
      std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> out;
      for (const auto& x : n) out.emplace_back(x.item.value(), x.count, x.error);
      std::sort(out.begin(), out.end());
      return out;
    };
    for (ItemId item : read) EXPECT_EQ(sorted(some, item), sorted(all, item)) << item.value();
    EXPECT_FALSE(sorted(all, ItemId(3)).empty());
    EXPECT_TRUE(sorted(some, ItemId(4)).empty()) << "another item's pairs are still pending";
    EXPECT_GT(some.pending(), 0u);
    some.Flush();
    EXPECT_EQ(some.pending(), 0u);
    for (uint32_t i = 1; i <= 300; ++i) EXPECT_EQ(sorted(some, ItemId(i)), sorted(all, ItemId(i))) << i;
    EXPECT_EQ(some.pruned(), all.pruned());
    if (max_neighbours == 2) {
      EXPECT_GT(all.pruned(), 0u);
    }
  }
}

// At the cap, a read's fold that would make a new list folds everything first: eviction
// goes by when each list was last folded, which a partial fold would skew.
TEST(CoViewSketchTest, FoldingSomeItemsAtTheCapFoldsAll) {
  CoView cv(100, 64);
  for (uint32_t i = 1; i <= 63; i += 2) cv.AddPair(ItemId(i), ItemId(i + 1));  // 64 lists
  cv.Flush();
  ASSERT_EQ(cv.items(), 64u);
  cv.AddPair(ItemId(1), ItemId(3));      // item 1 (the oldest list) is touched again
  cv.AddPair(ItemId(500), ItemId(501));  // and 500, 501 have no list yet
  cv.FlushItems(std::vector<ItemId>{ItemId(500)});
  EXPECT_EQ(cv.pending(), 0u) << "everything was folded";
  EXPECT_LE(cv.items(), 64u);
  std::vector<CoView::Neighbour> n;
  cv.Neighbours(ItemId(1), &n);  // recently touched: not the one forgotten
  EXPECT_EQ(n.size(), 2u);
  n.clear();
  cv.Neighbours(ItemId(500), &n);
  EXPECT_EQ(n.size(), 1u);
  // At the cap, but the read's item has a list: only its pairs are folded.
  for (uint32_t i = 600; cv.items() < 64; i += 2) {
    cv.AddPair(ItemId(i), ItemId(i + 1));
    cv.Flush();
  }
  ASSERT_EQ(cv.items(), 64u);
  cv.AddPair(ItemId(500), ItemId(502));
  cv.FlushItems(std::vector<ItemId>{ItemId(500)});
  EXPECT_EQ(cv.pending(), 1u) << "502's pair with 500 is still pending";
  EXPECT_EQ(cv.items(), 64u);
  n.clear();
  cv.Neighbours(ItemId(500), &n);
  EXPECT_EQ(n.size(), 2u);
}

size_t NeighboursOf(const CoView& cv, uint32_t item) {
  std::vector<CoView::Neighbour> n;
  cv.Neighbours(ItemId(item), &n);
  return n.size();
}

// Past the cap one list goes per new list (not an eighth of the cap in one pass).
TEST(CoViewSketchTest, PastTheCapOneListGoesPerNewList) {
  CoView cv(100, 16);
  for (uint32_t i = 1; i <= 16; ++i) {
    cv.AddPair(ItemId(i), ItemId(1000 + i));  // lists i and 1000 + i
    cv.Flush();
    if (cv.items() == 16) break;
  }
  ASSERT_EQ(cv.items(), 16u);
  ASSERT_EQ(cv.evicted_items(), 0u);
  cv.AddPair(ItemId(1), ItemId(2000));  // list 1 touched again, list 2000 new
  cv.Flush();
  EXPECT_EQ(cv.items(), 16u);
  EXPECT_EQ(cv.evicted_items(), 1u);
  EXPECT_EQ(NeighboursOf(cv, 1), 2u);     // folded in this batch: kept
  EXPECT_EQ(NeighboursOf(cv, 1001), 0u);  // the least recently folded: gone
  EXPECT_EQ(NeighboursOf(cv, 2), 1u);
}

// A batch's lists all count as folded in it: an old list whose run comes after a new
// list's in the batch is not the one that goes.
TEST(CoViewSketchTest, ABatchEvictsOnlyOnceAllItsListsAreFolded) {
  CoView cv(100, 4);
  cv.AddPair(ItemId(10), ItemId(20));
  cv.Flush();
  cv.AddPair(ItemId(30), ItemId(40));
  cv.Flush();  // least recently folded first: 10, 20, 30, 40
  cv.AddPair(ItemId(1), ItemId(10));  // list 1 is new and sorts before 10
  cv.Flush();
  EXPECT_EQ(cv.items(), 4u);
  EXPECT_EQ(cv.evicted_items(), 1u);
  EXPECT_EQ(NeighboursOf(cv, 10), 2u) << "10 kept its list, with 20 and 1";
  EXPECT_EQ(NeighboursOf(cv, 20), 0u) << "20 was the least recent after the batch";
  EXPECT_EQ(NeighboursOf(cv, 1), 1u);
}

std::string Saved(const CoView& cv) {
  std::string out;
  SerialWriter w(&out);
  cv.Save(w);
  return out;
}

TEST(CoViewSketchTest, ACheckpointKeepsTheRecencyOrder) {
  CoView a(100, 4);
  for (uint32_t i : {10u, 30u, 10u}) {  // lists 10, 11, 30, 31; then 10 again
    a.AddPair(ItemId(i), ItemId(i + 1));
    a.Flush();
  }
  const std::string saved = Saved(a);
  CoView b(100, 4);
  SerialReader r(saved);
  ASSERT_TRUE(b.Load(r));
  EXPECT_EQ(Saved(b), saved);
  for (CoView* x : {&a, &b}) {
    x->AddPair(ItemId(50), ItemId(51));
    x->Flush();
    // 11 and 30 were the least recent (10 and 11 folded first, then 30, 31, then 10 and 11
    // again: the runs of one batch in id order, so 11 after 10).
    EXPECT_EQ(NeighboursOf(*x, 30), 0u);
    EXPECT_EQ(NeighboursOf(*x, 31), 0u);
    EXPECT_EQ(NeighboursOf(*x, 10), 1u);
    EXPECT_EQ(NeighboursOf(*x, 11), 1u);
    EXPECT_EQ(x->evicted_items(), 2u);
  }
  EXPECT_EQ(Saved(a), Saved(b));
  // A recency of 0, or past the state's own count, is refused.
  for (uint64_t last_seq : {uint64_t{0}, uint64_t{99}}) {
    std::string bad;
    SerialWriter w(&bad);
    w.U64(5);  // seq
    w.U64(0);  // evicted
    w.U64(0);  // pruned
    w.U64(1);  // lists
    w.U64(7);  // item
    w.U64(0);  // floor
    w.U64(last_seq);
    w.U64(0);  // capacity
    w.U64(0);  // size
    CoView c(100, 4);
    SerialReader br(bad);
    EXPECT_FALSE(c.Load(br)) << last_seq;
  }
}

}  // namespace
}  // namespace eddy
