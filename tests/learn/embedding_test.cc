// Item embeddings (src/learn/embedding.h): touches by the same people move items closer
// (cosine before/after), the vectors do not depend on the order of events or on how they
// are split over shards (so any layout gives the same answers), a checkpoint round trip
// keeps them, the cap forgets the least recently touched, and the engine's `embed` signal
// and explanation come from them — the same under two layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "eddy/engine.h"
#include "learn/embedding.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace eddy {
namespace {

constexpr uint32_t kA = 1, kB = 2, kC = 3, kD = 4;

Options Opts(uint32_t dims = 64) {
  Options o;
  o.embedding.dimensions = dims;
  o.embedding.max_items = 1000;
  return o;
}

Event Touch(uint32_t item, const std::string& user) {
  Event ev;
  ev.item = ItemId(item);
  ev.user = UserId(1);  // any valid id: the vector is drawn from the user's hash
  ev.user_hash = static_cast<uint32_t>(StableHash64(user));
  return ev;
}

void Apply(EmbeddingState& st, const Event& ev, double weight = 1) {
  ApplyInfo info;
  info.weight = weight;
  st.ApplyEvent(ev, info);
}

std::vector<int64_t> VectorOf(const EmbeddingState& st, uint32_t item) {
  EmbeddingState::Partial p;
  st.ShareOf({ItemId(item)}, p);
  std::vector<int64_t> v(st.dimensions(), 0);
  EmbeddingState::AddShare(p, 0, st.dimensions(), v.data());
  return v;
}

// The global vectors of `items` from the shares of several states, summed in the given order.
std::vector<int64_t> Summed(const std::vector<const EmbeddingState*>& shards, const std::vector<ItemId>& items) {
  std::vector<EmbeddingState::Partial> parts(shards.size());
  for (size_t s = 0; s < shards.size(); ++s) shards[s]->ShareOf(items, parts[s]);
  const uint32_t dims = shards[0]->dimensions();
  std::vector<int64_t> out(items.size() * dims);
  for (size_t i = 0; i < items.size(); ++i) {
    SumShares(parts, [](const EmbeddingState::Partial& p) -> const auto& { return p; }, i, dims,
              out.data() + i * dims);
  }
  return out;
}

double Cos(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<double> x(a.begin(), a.end());
  return Cosine(x.data(), b.data(), static_cast<uint32_t>(b.size()));
}

std::string User(int i) { return "user-" + std::to_string(i); }

TEST(EmbeddingTest, TouchesBySharedUsersMoveItemsCloser) {
  EmbeddingState st(Opts(), CapShare{});
  // A is touched by users 0-29, B by users 30-59, C by users 60-89: no one in common.
  for (int u = 0; u < 30; ++u) {
    Apply(st, Touch(kA, User(u)));
    Apply(st, Touch(kB, User(30 + u)));
    Apply(st, Touch(kC, User(60 + u)));
  }
  const double ab_before = Cos(VectorOf(st, kA), VectorOf(st, kB));
  const double ac_before = Cos(VectorOf(st, kA), VectorOf(st, kC));
  EXPECT_LT(std::abs(ab_before), 0.35);
  // Now A's users touch B too: B's column shares half its users with A's.
  for (int u = 0; u < 30; ++u) Apply(st, Touch(kB, User(u)));
  const double ab_after = Cos(VectorOf(st, kA), VectorOf(st, kB));
  const double ac_after = Cos(VectorOf(st, kA), VectorOf(st, kC));
  // The exact column cosine is 30 / √(30 · 60) = 0.71; the projection estimates it.
  EXPECT_GT(ab_after, ab_before + 0.35) << ab_before << " -> " << ab_after;
  EXPECT_GT(ab_after, 0.5);
  EXPECT_EQ(ac_after, ac_before);  // B's new touches change neither A nor C
  EXPECT_LT(std::abs(ac_after), 0.35);
  // The sign vectors are the users' own: a user's vector is ±1 in every component, and a
  // single touch of weight 3 is 3 times it.
  // (256 dimensions: every one of the four 64-bit words of sign bits.)
  EmbeddingState one(Opts(256), CapShare{});
  Apply(one, Touch(kD, User(7)), 3);
  const std::vector<int64_t> d = VectorOf(one, kD);
  const uint32_t hash = static_cast<uint32_t>(StableHash64(User(7)));
  int positive = 0;
  for (uint32_t i = 0; i < d.size(); ++i) {
    ASSERT_EQ(d[i], 3 * EmbeddingState::SignOf(hash, 1, i)) << i;
    positive += d[i] > 0;
  }
  EXPECT_GT(positive, 90);  // about half of 256: the words differ
  EXPECT_LT(positive, 166);
}

TEST(EmbeddingTest, TheSameEventsGiveTheSameVectorsInAnyOrderAndSplit) {
  std::vector<Event> events;
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    events.push_back(Touch(1 + rng() % 50, User(static_cast<int>(rng() % 200))));
  }
  EmbeddingState in_order(Opts(32), CapShare{});
  for (const Event& ev : events) Apply(in_order, ev);
  // Shuffled, and split over two "shards" by user hash (the way partitions split them).
  std::shuffle(events.begin(), events.end(), rng);
  EmbeddingState s0(Opts(32), CapShare{}), s1(Opts(32), CapShare{});
  for (const Event& ev : events) Apply(ev.user_hash % 2 ? s1 : s0, ev);
  std::vector<ItemId> items;
  for (uint32_t i = 1; i <= 50; ++i) items.push_back(ItemId(i));
  const std::vector<int64_t> whole = Summed({&in_order}, items);
  ASSERT_EQ(whole.size(), 50u * 32);
  EXPECT_EQ(whole, Summed({&s0, &s1}, items));
  EXPECT_EQ(whole, Summed({&s1, &s0}, items));  // either order
  EXPECT_NE(whole, Summed({&s0}, items));       // a share is not the whole
  // Another seed draws other vectors.
  Options other = Opts(32);
  other.embedding.seed = 2;
  EmbeddingState reseeded(other, CapShare{});
  for (const Event& ev : events) Apply(reseeded, ev);
  EXPECT_NE(Summed({&reseeded}, items), whole);
}

TEST(EmbeddingTest, ACheckpointRoundTripKeepsEveryVectorAndLaterTouchesAgree) {
  EmbeddingState st(Opts(), CapShare{});
  for (int u = 0; u < 100; ++u) Apply(st, Touch(1 + u % 7, User(u)), 1 + u % 3);
  std::string bytes;
  SerialWriter w(&bytes);
  st.SaveTo(w);
  EmbeddingState loaded(Opts(), CapShare{});
  SerialReader r(bytes);
  ASSERT_TRUE(loaded.LoadFrom(r, loaded.FormatVersion()));
  EXPECT_TRUE(r.done());
  for (int u = 100; u < 150; ++u) {
    Apply(st, Touch(1 + u % 9, User(u)));
    Apply(loaded, Touch(1 + u % 9, User(u)));
  }
  for (uint32_t item = 1; item <= 9; ++item) EXPECT_EQ(VectorOf(st, item), VectorOf(loaded, item)) << item;
  EXPECT_EQ(st.Memory().keys, loaded.Memory().keys);
  // Other dimensions cannot read it (the settings fingerprint keeps that from happening).
  EmbeddingState narrow(Opts(32), CapShare{});
  SerialReader r2(bytes);
  EXPECT_FALSE(narrow.LoadFrom(r2, narrow.FormatVersion()));
  // Truncated: refused.
  EmbeddingState cut(Opts(), CapShare{});
  SerialReader r3(std::string_view(bytes).substr(0, bytes.size() / 2));
  EXPECT_FALSE(cut.LoadFrom(r3, cut.FormatVersion()));
}

// A section that no SaveTo writes: each defect refused (a checkpoint is read as untrusted).
TEST(EmbeddingTest, LoadRefusesWhatNoSaveWrites) {
  const auto section = [](uint64_t seq, std::vector<std::pair<uint64_t, uint64_t>> items,
                          int64_t component) {
    std::string bytes;
    SerialWriter w(&bytes);
    w.U64(16);
    w.U64(seq);
    w.U64(items.size());
    for (const auto& [item, last_seq] : items) {
      w.U64(item);
      w.U64(last_seq);
      for (int d = 0; d < 16; ++d) w.I64(component);
    }
    return bytes;
  };
  const auto loads = [](const std::string& bytes, uint64_t max_items = 1000) {
    Options o = Opts(16);
    o.embedding.max_items = max_items;
    EmbeddingState st(o, CapShare{});
    SerialReader r(bytes);
    return st.LoadFrom(r, st.FormatVersion()) && r.done();
  };
  EXPECT_TRUE(loads(section(5, {{1, 4}, {2, 5}}, -2'147'483'647)));
  EXPECT_FALSE(loads(section(5, {{1, 4}, {2, 6}}, 0)));             // touched after seq
  EXPECT_FALSE(loads(section(5, {{1, 4}, {1, 5}}, 0)));             // an item twice
  EXPECT_FALSE(loads(section(5, {{0, 4}}, 0)));                     // item 0
  EXPECT_FALSE(loads(section(5, {{1, 0}}, 0)));                     // never touched
  EXPECT_FALSE(loads(section(uint64_t{1} << 62, {{1, 4}}, 0)));     // a count that could wrap
  EXPECT_FALSE(loads(section(5, {{1, 4}}, -2'147'483'648)));        // past the saturation
  EXPECT_FALSE(loads(section(5, {{1, 4}}, 2'147'483'648)));
  EXPECT_FALSE(loads(section(5, {{1, 4}, {2, 5}, {3, 5}}, 0), 2));  // more than the cap
}

TEST(EmbeddingTest, ComponentsSaturateAndTheSaturatedVectorRoundTrips) {
  EmbeddingState st(Opts(16), CapShare{});
  const Event ev = Touch(kA, "heavy");
  constexpr int kTouches = 2'147'484;  // × 1000 passes 2^31 − 1
  for (int i = 0; i < kTouches; ++i) Apply(st, ev, 1000);
  const uint32_t hash = static_cast<uint32_t>(StableHash64("heavy"));
  const std::vector<int64_t> v = VectorOf(st, kA);
  for (uint32_t d = 0; d < 16; ++d) {
    ASSERT_EQ(v[d], int64_t{EmbeddingState::SignOf(hash, 1, d)} * 2'147'483'647) << d;
  }
  std::string bytes;
  SerialWriter w(&bytes);
  st.SaveTo(w);
  EmbeddingState loaded(Opts(16), CapShare{});
  SerialReader r(bytes);
  ASSERT_TRUE(loaded.LoadFrom(r, loaded.FormatVersion()));
  Apply(loaded, ev, 1000);  // still saturated, in the loaded one too
  EXPECT_EQ(VectorOf(loaded, kA), v);
  // Another user's touch moves a component back by its weight where the signs differ and
  // leaves it saturated where they agree.
  Apply(loaded, Touch(kA, "other"), 1);
  const uint32_t other = static_cast<uint32_t>(StableHash64("other"));
  const std::vector<int64_t> after = VectorOf(loaded, kA);
  int moved = 0;
  for (uint32_t d = 0; d < 16; ++d) {
    const int64_t want = std::clamp<int64_t>(v[d] + EmbeddingState::SignOf(other, 1, d), -2'147'483'647,
                                             2'147'483'647);
    EXPECT_EQ(after[d], want) << d;
    moved += after[d] != v[d];
  }
  EXPECT_GT(moved, 0);
}

TEST(EmbeddingTest, TheCapForgetsTheLeastRecentlyTouchedItemOnePerNewItem) {
  Options o = Opts(16);
  o.embedding.max_items = 16;
  EmbeddingState st(o, CapShare{});
  // Items 2 and 3 get many touches of other users: a reused slot would show them.
  for (int u = 0; u < 5; ++u) {
    Apply(st, Touch(2, "old-" + std::to_string(u)), 7);
    Apply(st, Touch(3, "old-" + std::to_string(u)), 7);
  }
  for (uint32_t item = 1; item <= 16; ++item) Apply(st, Touch(item, "u"));
  Apply(st, Touch(1, "u"));  // item 1 is now the most recent; 2 and 3 the least
  Apply(st, Touch(17, "u"));  // 17 items: the least recent (2) goes, and only it
  EXPECT_EQ(st.Memory().keys, 16u);
  EXPECT_EQ(st.Memory().evicted, 1u);
  EXPECT_EQ(st.Find(ItemId(2)), nullptr);
  ASSERT_NE(st.Find(ItemId(3)), nullptr);
  ASSERT_NE(st.Find(ItemId(1)), nullptr);
  // Item 18 makes 3 go and takes its place (full of old touches): it starts from zero, so
  // one touch by "v" is exactly v's vector.
  Apply(st, Touch(18, "v"));
  EXPECT_EQ(st.Memory().keys, 16u);
  EXPECT_EQ(st.Memory().evicted, 2u);
  EXPECT_EQ(st.Find(ItemId(3)), nullptr);
  const uint32_t v = static_cast<uint32_t>(StableHash64("v"));
  const std::vector<int64_t> got = VectorOf(st, 18);
  for (uint32_t d = 0; d < 16; ++d) EXPECT_EQ(got[d], EmbeddingState::SignOf(v, 1, d)) << d;
  // An evicted item touched again starts anew too (and makes item 4, now the least recent, go).
  Apply(st, Touch(2, "v"));
  EXPECT_EQ(VectorOf(st, 2), got);
  EXPECT_EQ(st.Find(ItemId(4)), nullptr);
}

// A checkpoint keeps the recency order, whatever order its items were written in (earlier
// checkpoints list them in table order): the next new item makes the least recent go.
TEST(EmbeddingTest, ACheckpointKeepsTheRecencyOrderWhateverOrderItWasWrittenIn) {
  std::string bytes;
  SerialWriter w(&bytes);
  w.U64(16);  // dimensions
  w.U64(9);   // seq
  w.U64(3);
  for (const auto& [item, last_seq] : {std::pair{7u, 9u}, std::pair{5u, 2u}, std::pair{6u, 5u}}) {
    w.U64(item);
    w.U64(last_seq);
    for (int d = 0; d < 16; ++d) w.I64(1);
  }
  Options o = Opts(16);
  o.embedding.max_items = 3;
  EmbeddingState st(o, CapShare{});
  SerialReader r(bytes);
  ASSERT_TRUE(st.LoadFrom(r, st.FormatVersion()));
  Apply(st, Touch(8, "u"));
  EXPECT_EQ(st.Find(ItemId(5)), nullptr);
  Apply(st, Touch(9, "u"));
  EXPECT_EQ(st.Find(ItemId(6)), nullptr);
  EXPECT_NE(st.Find(ItemId(7)), nullptr);
  // Saved and loaded again: the same order (7 is the least recent now).
  std::string again;
  SerialWriter w2(&again);
  st.SaveTo(w2);
  EmbeddingState loaded(o, CapShare{});
  SerialReader r2(again);
  ASSERT_TRUE(loaded.LoadFrom(r2, loaded.FormatVersion()));
  Apply(loaded, Touch(10, "u"));
  EXPECT_EQ(loaded.Find(ItemId(7)), nullptr);
  EXPECT_NE(loaded.Find(ItemId(8)), nullptr);
  EXPECT_NE(loaded.Find(ItemId(9)), nullptr);
}

// The engine: the embed signal of a recommendation is the cosine of the candidate with
// the user's profile, shown in the explanation, and the same under two layouts.
std::vector<RankedItem> Recommend(uint32_t partitions, int shards, bool exclude_seen = true) {
  Options o = test::TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  o.ranking.weights = {0, 1, 0, 0, 0, 0};  // embed only
  o.ranking.exclude_seen = exclude_seen;
  auto e = test::OpenEngine(o);
  auto ctx = e->NewIngestContext();
  std::vector<std::string> lines;
  int64_t t = 1'700'000'000'000;
  // Fans of "a" also touch "b" (strongly) and "c" (some); "d" has other fans.
  for (int u = 0; u < 40; ++u) {
    lines.push_back(test::EventBuilder().Type("view").User(User(u)).Item("a").Time(t++).Json());
    lines.push_back(test::EventBuilder().Type("view").User(User(u)).Item(u % 4 ? "b" : "c").Time(t++).Json());
    lines.push_back(test::EventBuilder().Type("view").User(User(100 + u)).Item("d").Time(t++).Json());
    lines.push_back(test::EventBuilder().Type("view").User(User(100 + u)).Item(u % 2 ? "c" : "e").Time(t++).Json());
  }
  lines.push_back(test::EventBuilder().Type("view").User("me").Item("a").Time(t++).Json());
  IngestReply r = test::IngestRetrying(*e, *ctx, test::Ndjson(lines));
  EXPECT_TRUE(r.status.ok());
  RecommendRequest req;
  req.user = "me";
  req.k = 10;
  return e->RecommendSync(req).items;
}

TEST(EmbeddingTest, TheEmbedSignalRanksByTheProfileAndIsTheSameUnderAnyLayout) {
  const std::vector<RankedItem> one = Recommend(1, 1);
  const std::vector<RankedItem> many = Recommend(8, 2);
  ASSERT_GE(one.size(), 3u);
  EXPECT_EQ(one[0].item, "b");  // 30 of a's 40 fans
  EXPECT_GT(one[0].signals[kEmbed].raw, 0.6);
  EXPECT_DOUBLE_EQ(one[0].signals[kEmbed].normalised, 1.0);
  EXPECT_DOUBLE_EQ(one[0].score, one[0].signals[kEmbed].contribution);
  ASSERT_EQ(one.size(), many.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].item, many[i].item) << i;
    EXPECT_DOUBLE_EQ(one[i].signals[kEmbed].raw, many[i].signals[kEmbed].raw) << one[i].item;
  }
  bool saw_d = false;
  for (const RankedItem& item : one) {
    if (item.item != "d") continue;
    saw_d = true;
    EXPECT_LT(item.signals[kEmbed].raw, 0.35);  // no fan in common
  }
  EXPECT_TRUE(saw_d);  // a popular candidate

  // With the user's recent items among the candidates, "a" (the only seed) is its own
  // profile: cosine 1, first; then the others in the same order as without it.
  const std::vector<RankedItem> with_seen = Recommend(8, 2, /*exclude_seen=*/false);
  ASSERT_EQ(with_seen.size(), many.size() + 1);
  EXPECT_EQ(with_seen[0].item, "a");
  EXPECT_EQ(with_seen[0].source.find("recent"), 0u) << with_seen[0].source;
  EXPECT_NEAR(with_seen[0].signals[kEmbed].raw, 1.0, 1e-12);
  for (size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ(with_seen[i + 1].item, many[i].item) << i;
    EXPECT_DOUBLE_EQ(with_seen[i + 1].signals[kEmbed].raw, many[i].signals[kEmbed].raw);
  }
}

}  // namespace
}  // namespace eddy
