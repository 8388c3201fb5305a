// Popularity's candidate heap and the caps of popularity and affinity, on the classes
// themselves (the engine-level oracle tests are in tests/engine/decayed_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "agg/affinity.h"
#include "agg/popularity.h"
#include "util/serial.h"

namespace eddy {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

TEST(PopularityTest, CandidateHeapHoldsTheTrueBestAtEveryStep) {
  Popularity p(kHour, /*top_keep=*/8, /*max_items=*/1'000'000);
  std::mt19937_64 rng(3);
  std::map<uint32_t, double> truth;  // based at kT0
  for (int i = 0; i < 5000; ++i) {
    const uint32_t item = 1 + static_cast<uint32_t>(std::min(rng() % 500, rng() % 500));
    const int64_t t = kT0 + static_cast<int64_t>(i) * 1000 + static_cast<int64_t>(rng() % 60'000);
    const double w = 1 + static_cast<double>(rng() % 10);
    p.Apply(ItemId(item), CategoryId(), EventTime(t), w);
    truth[item] += w * std::exp2(static_cast<double>(t - kT0) / kHour);
    if (i % 250 != 0) continue;
    std::vector<Popularity::Scored> top;
    const int64_t now = t;
    const double bound = p.Top(CategoryId(), 8, now, /*exhaustive=*/false, &top);
    std::vector<std::pair<double, uint32_t>> want;
    for (const auto& [id, s] : truth) want.push_back({-s, id});
    std::sort(want.begin(), want.end());
    ASSERT_EQ(top.size(), std::min<size_t>(8, want.size()));
    const double scale = std::exp2(static_cast<double>(kT0 - now) / kHour);
    for (size_t r = 0; r < top.size(); ++r) {
      EXPECT_EQ(top[r].first.value(), want[r].second) << "step " << i << " rank " << r;
      EXPECT_NEAR(top[r].second, -want[r].first * scale, 1e-9 * top[r].second);
    }
    if (want.size() > 8) {
      EXPECT_GE(bound, -want[8].first * scale * (1 - 1e-12)) << "the bound covers the rest";
    }
  }
}

TEST(PopularityTest, ItemsPastTheCapAreEvictedLowestFirst) {
  Popularity p(kHour, 4, /*max_items=*/64);
  for (uint32_t i = 1; i <= 1000; ++i) {
    // Later items weigh more: the evicted ones are always the old light ones.
    p.Apply(ItemId(i), CategoryId(i % 3 + 1), EventTime(kT0 + i * 1000), 1.0 + i);
  }
  // Past the cap a sweep forgets about the lowest eighth over the next new items: at most
  // max_items / kSweepSlots + 1 more meanwhile.
  EXPECT_EQ(p.item_bound(), 64 + 64 / Popularity::kSweepSlots + 1);
  EXPECT_LE(p.items(), p.item_bound());
  EXPECT_GT(p.evicted_items(), 900u);
  EXPECT_EQ(p.category_entries(), p.items());  // one category each; forgotten with the item
  std::vector<Popularity::Scored> top;
  p.Top(CategoryId(), 3, kT0 + 1'000'000, true, &top);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first.value(), 1000u);
  EXPECT_EQ(top[2].first.value(), 998u);
  std::vector<double> s;
  p.ScoresOf(CategoryId(), {ItemId(1), ItemId(1000)}, kT0 + 1'000'000, &s);
  EXPECT_EQ(s[0], 0);  // evicted
  EXPECT_GT(s[1], 0);
}

// Popularity's checkpoint section in format `version` (1: no category times; 3: the sweep
// at the end) holding one item, 7 (category 3, sum 2.5, the one candidate), and one
// category sum: `summed_item`'s in `category`.
std::string OneItemSection(uint32_t version, uint64_t category = 3, uint64_t summed_item = 7,
                           uint64_t sweep_pos = UINT32_MAX, double cutoff = 0) {
  std::string out;
  SerialWriter w(&out);
  w.U64(1);  // has_ref
  w.I64(0);  // ref_ms
  w.U64(0);  // evicted
  w.U64(1);  // entries
  w.U64(7);  //   item
  w.U64(3);  //   category
  w.F64(2.5);
  w.U64(0);  //   heap position
  if (version >= 2) w.I64(0);  // category time
  w.U64(0);  // free slots
  w.U64(1);  // heap
  w.U64(0);  //   slot 0
  w.U64(1);  // categories
  w.U64(category);
  w.U64(1);  //   its items
  w.U64(summed_item);
  w.F64(2.5);
  if (version >= 3) {
    w.U64(sweep_pos);
    w.F64(cutoff);
  }
  return out;
}

// A state changes its own checkpoint format without invalidating older checkpoints:
// popularity's format 2 added each entry's category time, and still loads format 1 (the
// times unknown, so the item's next event with a category sets its category).
TEST(PopularityTest, LoadsItsFormatOneSection) {
  const std::string v1 = OneItemSection(1);
  Popularity p(3'600'000, 10, 100);
  SerialReader r(v1);
  ASSERT_TRUE(p.Load(r, 1));
  EXPECT_TRUE(r.done());
  std::vector<Popularity::Scored> top;
  p.Top(CategoryId(3), 5, 0, false, &top);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].first, ItemId(7));
  EXPECT_DOUBLE_EQ(top[0].second, 2.5);
  // Written again, it is format 3 (one more field per entry, the sweep at the end) and
  // loads as such.
  std::string v3;
  SerialWriter w3(&v3);
  p.Save(w3);
  // INT64_MIN zigzag-encoded: 10 bytes; no sweep (UINT32_MAX): 5; its cutoff: 8.
  EXPECT_EQ(v3.size(), v1.size() + 10 + 5 + 8);
  Popularity q(3'600'000, 10, 100);
  SerialReader r3(v3);
  EXPECT_TRUE(q.Load(r3, 3));
  EXPECT_TRUE(r3.done());
}

// Past the cap no apply forgets more than a sweep's step of items (the old way forgot an
// eighth of them in one pass: 1,250 items in one apply here), the count stays within the
// documented bound, and what goes is the lowest-scoring.
TEST(PopularityTest, PastTheCapNoApplyForgetsMoreThanASweepStep) {
  constexpr uint32_t kMax = 10'000, kItems = 30'000;
  Popularity p(kHour, /*top_keep=*/10, kMax);
  uint64_t evicted = 0, most = 0;
  for (uint32_t i = 1; i <= kItems; ++i) {
    // Later items weigh more: the lowest-scoring are always the oldest.
    p.Apply(ItemId(i), CategoryId(i % 7 + 1), EventTime(kT0 + i), 1.0 + i);
    most = std::max(most, p.evicted_items() - evicted);
    evicted = p.evicted_items();
    ASSERT_LE(p.items(), p.item_bound()) << "item " << i;
  }
  // A step is kSweepSlots per max_items slots of the table (which holds up to item_bound()).
  EXPECT_LE(most, Popularity::kSweepSlots + 1);
  EXPECT_EQ(p.category_entries(), p.items());
  std::vector<double> s;
  p.ScoresOf(CategoryId(), {ItemId(1), ItemId(kItems / 2), ItemId(kItems)}, kT0 + kItems, &s);
  EXPECT_EQ(s[0], 0);  // forgotten
  EXPECT_EQ(s[1], 0);
  EXPECT_GT(s[2], 0);
  std::vector<Popularity::Scored> top;
  p.Top(CategoryId(), 3, kT0 + kItems, /*exhaustive=*/true, &top);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, ItemId(kItems));
  EXPECT_EQ(top[2].first, ItemId(kItems - 2));
}

// A sweep whose cutoff the items under it outgrow before it reaches them forgets nothing
// while new items come. The new item past the bound finishes the sweep and a fresh one at
// once, so the bound holds.
TEST(PopularityTest, ASweepOutgrownByItsScoresIsFinishedAtTheBound) {
  Popularity p(kHour, /*top_keep=*/2, /*max_items=*/64);
  const EventTime t(kT0);
  const auto apply = [&](uint32_t from, uint32_t to, double w) {
    for (uint32_t i = from; i <= to; ++i) p.Apply(ItemId(i), CategoryId(1), t, w);
  };
  // Item i in slot i - 1, the lowest-scoring in the last slots.
  for (uint32_t i = 1; i <= 64; ++i) p.Apply(ItemId(i), CategoryId(1), t, 65.0 - i);
  apply(65, 65, 1000);  // past the cap: cutoff 8 (items 57-64); its first step, slots 0-32
  ASSERT_TRUE(p.sweeping());
  apply(57, 64, 1000);  // outgrow it
  apply(66, 66, 1000);  // the sweep ends, nothing forgotten
  EXPECT_FALSE(p.sweeping());
  EXPECT_EQ(p.evicted_items(), 0u);
  EXPECT_EQ(p.items(), 66u);
  apply(67, 67, 1000);  // the next: cutoff 18 (items 47-56); its first step, slots 0-33
  ASSERT_TRUE(p.sweeping());
  apply(47, 56, 1000);
  EXPECT_EQ(p.evicted_items(), 0u);
  apply(68, 68, 1000);  // 68 items, over the bound of 67: finished, and a fresh sweep
  EXPECT_LE(p.items(), p.item_bound());
  EXPECT_LE(p.items(), 64u);
  EXPECT_GT(p.evicted_items(), 0u);
  EXPECT_EQ(p.category_entries(), p.items());
}

// A sweep's cutoff is rebased with the sums: an event far enough ahead rebases them all
// (scaled down by a power of two), and the sweep goes on forgetting by the same scores.
TEST(PopularityTest, ASweepsCutoffIsRebasedWithTheSums) {
  Popularity p(kHour, /*top_keep=*/2, /*max_items=*/64);
  for (uint32_t i = 1; i <= 65; ++i) p.Apply(ItemId(i), CategoryId(1), EventTime(kT0), i);
  // Its cutoff is 8 (the eighth-lowest); its first step (slots 0-32) forgot items 1-8.
  ASSERT_TRUE(p.sweeping());
  EXPECT_EQ(p.evicted_items(), 8u);
  // 100 half-lives later: every sum (and the cutoff) is scaled by 2^-100; the rest of the
  // sweep (items 34-66) finds none at or below it.
  const EventTime later(kT0 + 100 * kHour);
  uint32_t next = 1000;
  do {
    p.Apply(ItemId(next++), CategoryId(1), later, 1.0);
  } while (p.sweeping());
  EXPECT_EQ(p.evicted_items(), 8u);
  std::vector<double> s;
  p.ScoresOf(CategoryId(), {ItemId(8), ItemId(40), ItemId(63)}, kT0, &s);
  EXPECT_EQ(s[0], 0);
  EXPECT_NEAR(s[1], 40, 1e-9);  // with the cutoff left at 8 it went: 40 · 2^-100 ≤ 8
  EXPECT_NEAR(s[2], 63, 1e-9);
}

// Load refuses what no state can write: a sweep past the slots or with no finite cutoff, a
// category sum of an item not held, a sum in no category.
TEST(PopularityTest, LoadRefusesABrokenSweepOrStraySums) {
  const auto loads = [](const std::string& bytes) {
    Popularity p(kHour, 10, 100);
    SerialReader r(bytes);
    return p.Load(r, 3) && r.done();
  };
  const uint64_t none = UINT32_MAX;
  EXPECT_TRUE(loads(OneItemSection(3, 3, 7, none, 0)));
  EXPECT_TRUE(loads(OneItemSection(3, 3, 7, 0, 1.0)));
  EXPECT_FALSE(loads(OneItemSection(3, 3, 7, 1, 1.0)));  // one slot: the sweep can only be at 0
  EXPECT_FALSE(loads(OneItemSection(3, 3, 7, 0, std::nan(""))));
  EXPECT_FALSE(loads(OneItemSection(3, 3, 8, none, 0)));  // item 8 is not held
  EXPECT_FALSE(loads(OneItemSection(3, 0, 7, none, 0)));  // no category
}

// A forgotten item's sums in every category it had one in go with it.
TEST(PopularityTest, AForgottenItemsCategorySumsGoWithIt) {
  Popularity p(kHour, /*top_keep=*/4, /*max_items=*/64);
  p.Apply(ItemId(1), CategoryId(1), EventTime(kT0), 1.0);
  p.Apply(ItemId(1), CategoryId(2), EventTime(kT0 + 1), 1.0);
  p.Apply(ItemId(1), CategoryId(3), EventTime(kT0 - 1), 1.0);  // older: its category stays 2
  EXPECT_EQ(p.category_entries(), 3u);
  for (uint32_t i = 2; p.evicted_items() == 0 || p.sweeping(); ++i) {
    ASSERT_LT(i, 1000u) << "item 1 was never forgotten";
    p.Apply(ItemId(i), CategoryId(9), EventTime(kT0 + i), 100.0);
  }
  std::vector<double> s;
  for (uint32_t c : {1, 2, 3}) {
    p.ScoresOf(CategoryId(c), {ItemId(1)}, kT0, &s);
    EXPECT_EQ(s[0], 0) << "category " << c;
    std::vector<Popularity::Scored> top;
    EXPECT_EQ(p.Top(CategoryId(c), 5, kT0, false, &top), 0);
    EXPECT_TRUE(top.empty()) << "category " << c;
  }
  EXPECT_EQ(p.category_entries(), p.items());  // every other item has one category
}

// A checkpoint taken while a sweep is under way carries it: the restored state goes on
// forgetting exactly what the original does.
TEST(PopularityTest, ACheckpointMidSweepRestoresTheSweep) {
  Popularity a(kHour, /*top_keep=*/8, /*max_items=*/1000);
  uint32_t i = 1;
  const auto apply = [&](Popularity& p, uint32_t item) {
    // Weights that do not grow with the item: what a sweep forgets depends on its cutoff.
    p.Apply(ItemId(item), CategoryId(item % 5 + 1), EventTime(kT0 + item), 1.0 + item % 97);
    // A third of the items have sums in a second category (what Load rebuilds for
    // forgetting them), some of them in a third.
    if (item % 3 == 0) p.Apply(ItemId(item), CategoryId(item % 4 + 6), EventTime(kT0 + item), 1.0);
    if (item % 9 == 0) p.Apply(ItemId(item), CategoryId(11), EventTime(kT0 + item - 1), 0.5);
  };
  while (!a.sweeping()) apply(a, i++);
  apply(a, i++);  // one step into it
  ASSERT_TRUE(a.sweeping());
  std::string saved;
  SerialWriter w(&saved);
  a.Save(w);
  Popularity b(kHour, 8, 1000);
  SerialReader r(saved);
  ASSERT_TRUE(b.Load(r, 3));
  ASSERT_TRUE(r.done());
  EXPECT_TRUE(b.sweeping());
  for (uint32_t end = i + 3000; i < end; ++i) {
    apply(a, i);
    apply(b, i);
    ASSERT_EQ(a.evicted_items(), b.evicted_items()) << "item " << i;
    ASSERT_EQ(a.items(), b.items());
    ASSERT_EQ(a.sweeping(), b.sweeping());
  }
  const int64_t now = kT0 + i;
  for (uint32_t c = 0; c <= 11; ++c) {
    std::vector<Popularity::Scored> ta, tb;
    a.Top(CategoryId(c), 5000, now, /*exhaustive=*/true, &ta);
    b.Top(CategoryId(c), 5000, now, /*exhaustive=*/true, &tb);
    EXPECT_EQ(ta, tb) << "category " << c;
  }
  EXPECT_EQ(a.category_entries(), b.category_entries());
}

TEST(AffinityTest, UsersPastTheCapAreForgottenLeastRecentFirst) {
  Affinity a(kHour, 8, /*max_users=*/100);
  for (uint32_t u = 1; u <= 1000; ++u) a.Apply(UserId(u), CategoryId(1), EventTime(kT0), 1.0);
  EXPECT_LE(a.users(), 100u);
  EXPECT_GT(a.evicted_users(), 0u);
  std::vector<std::pair<CategoryId, double>> out;
  a.Scores(UserId(1000), EventTime(kT0), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].second, 1.0);
  a.Scores(UserId(1), EventTime(kT0), &out);
  EXPECT_TRUE(out.empty());
}

bool Knows(const Affinity& a, uint32_t user) {
  std::vector<std::pair<CategoryId, double>> out;
  a.Scores(UserId(user), EventTime(kT0), &out);
  return !out.empty();
}

TEST(AffinityTest, PastTheCapTheLeastRecentlyActiveUserGoesOneAtATime) {
  Affinity a(kHour, 8, /*max_users=*/3);
  for (uint32_t u : {1, 2, 3, 1}) a.Apply(UserId(u), CategoryId(1), EventTime(kT0), 1.0);
  a.Apply(UserId(4), CategoryId(1), EventTime(kT0), 1.0);  // 2 is the least recent now
  EXPECT_EQ(a.users(), 3u);
  EXPECT_EQ(a.evicted_users(), 1u);
  EXPECT_FALSE(Knows(a, 2));
  EXPECT_TRUE(Knows(a, 1) && Knows(a, 3) && Knows(a, 4));
  a.Apply(UserId(5), CategoryId(1), EventTime(kT0), 1.0);  // then 3
  EXPECT_EQ(a.evicted_users(), 2u);
  EXPECT_FALSE(Knows(a, 3));
  EXPECT_TRUE(Knows(a, 1) && Knows(a, 4) && Knows(a, 5));
  // One per new user, never a batch (an eighth at once would forget two of 17 here).
  Affinity big(kHour, 8, /*max_users=*/16);
  for (uint32_t u = 1; u <= 17; ++u) big.Apply(UserId(u), CategoryId(1), EventTime(kT0), 1.0);
  EXPECT_EQ(big.users(), 16u);
  EXPECT_EQ(big.evicted_users(), 1u);
  EXPECT_FALSE(Knows(big, 1));
  EXPECT_TRUE(Knows(big, 2));
}

// A user's entry as Affinity::Save writes it, one category of sum 1.
void WriteUser(SerialWriter& w, uint32_t user, uint64_t last_seq) {
  w.U64(user);
  w.I64(kT0);
  w.U64(last_seq);
  w.U64(1);
  w.U64(1);
  w.F64(1.0);
}

// `a` saved, and loaded into a new Affinity of the same half-life and caps.
Affinity Reloaded(const Affinity& a, uint32_t max_categories, uint64_t max_users) {
  std::string saved;
  SerialWriter w(&saved);
  a.Save(w);
  Affinity b(kHour, max_categories, max_users);
  SerialReader r(saved);
  EXPECT_TRUE(b.Load(r));
  return b;
}

TEST(AffinityTest, ACheckpointKeepsTheRecencyOrderWhateverOrderItWasWrittenIn) {
  Affinity a(kHour, 8, /*max_users=*/3);
  for (uint32_t u : {1, 2, 3, 1}) a.Apply(UserId(u), CategoryId(1), EventTime(kT0), 1.0);
  Affinity b = Reloaded(a, 8, 3);
  for (Affinity* x : {&a, &b}) x->Apply(UserId(9), CategoryId(1), EventTime(kT0), 1.0);
  for (const Affinity* x : {&a, &b}) {
    EXPECT_FALSE(Knows(*x, 2));
    EXPECT_TRUE(Knows(*x, 1) && Knows(*x, 3) && Knows(*x, 9));
    EXPECT_EQ(x->evicted_users(), 1u);
  }
  // Earlier checkpoints list users in table order: the recency decides, not the order.
  std::string shuffled;
  SerialWriter s(&shuffled);
  s.U64(10);  // seq
  s.U64(4);   // evicted so far
  s.U64(3);
  WriteUser(s, 7, 9);
  WriteUser(s, 5, 2);
  WriteUser(s, 6, 5);
  Affinity c(kHour, 8, 3);
  SerialReader rc(shuffled);
  ASSERT_TRUE(c.Load(rc));
  EXPECT_EQ(c.evicted_users(), 4u);
  c.Apply(UserId(8), CategoryId(1), EventTime(kT0), 1.0);
  EXPECT_FALSE(Knows(c, 5));
  c.Apply(UserId(10), CategoryId(1), EventTime(kT0), 1.0);
  EXPECT_FALSE(Knows(c, 6));
  EXPECT_TRUE(Knows(c, 7) && Knows(c, 8) && Knows(c, 10));
  EXPECT_EQ(c.evicted_users(), 6u);
}

// What no Save writes is refused: a user twice, a recency of 0 or past the state's own
// count (the recency orders the users, so it must be the order touches gave), and a count
// so large it could wrap.
TEST(AffinityTest, ACheckpointWithARepeatedUserOrAnImpossibleRecencyIsRefused) {
  const auto loads = [](uint64_t seq, uint32_t second, uint64_t last_seq) {
    std::string bytes;
    SerialWriter w(&bytes);
    w.U64(seq);
    w.U64(0);
    w.U64(2);
    WriteUser(w, 1, 4);
    WriteUser(w, second, last_seq);
    Affinity a(kHour, 8, 100);
    SerialReader r(bytes);
    return a.Load(r);
  };
  EXPECT_TRUE(loads(10, 2, 10));
  EXPECT_FALSE(loads(10, 1, 3));   // user 1 twice
  EXPECT_FALSE(loads(10, 2, 0));   // never touched
  EXPECT_FALSE(loads(10, 2, 11));  // touched after the count
  EXPECT_FALSE(loads(uint64_t{1} << 62, 2, 5));
}

// Saved, loaded, the same events applied to both: the next checkpoints are the same bytes.
TEST(AffinityTest, ALoadedStateGoesOnExactlyAsTheOneThatSavedIt) {
  Affinity a(kHour, 4, /*max_users=*/50);
  std::mt19937 rng(7);
  const auto feed = [](Affinity& x, int n, uint32_t seed) {
    std::mt19937 local(seed);
    for (int i = 0; i < n; ++i) {
      x.Apply(UserId(local() % 80 + 1), CategoryId(local() % 9 + 1), EventTime(kT0 + i * 1000),
              1.0 + local() % 3);
    }
  };
  feed(a, 500, rng());
  Affinity b = Reloaded(a, 4, 50);
  const uint32_t later = rng();
  feed(a, 500, later);
  feed(b, 500, later);
  std::string sa, sb;
  SerialWriter wa(&sa), wb(&sb);
  a.Save(wa);
  b.Save(wb);
  EXPECT_GT(a.evicted_users(), 0u);
  EXPECT_EQ(sa, sb);
}

TEST(AffinityTest, HalvesEveryHalfLifeAndRebasesExactly) {
  Affinity a(kHour, 8, 100);
  a.Apply(UserId(1), CategoryId(1), EventTime(kT0), 8.0);
  std::vector<std::pair<CategoryId, double>> out;
  a.Scores(UserId(1), EventTime(kT0 + 3 * kHour), &out);
  EXPECT_DOUBLE_EQ(out[0].second, 1.0);
  // 100 half-lives later (a rebase): the old weight is ~0, the new one exact.
  a.Apply(UserId(1), CategoryId(2), EventTime(kT0 + 100 * kHour), 5.0);
  a.Scores(UserId(1), EventTime(kT0 + 100 * kHour), &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0].second, 5.0);
  EXPECT_NEAR(out[1].second, 8.0 * std::exp2(-100.0), 1e-40);
}

}  // namespace
}  // namespace eddy
