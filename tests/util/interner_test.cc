#include "util/interner.h"

#include "util/hash.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace eddy {
namespace {

TEST(InternerTest, DenseIdsAndLookup) {
  Interner in;
  EXPECT_EQ(in.Find("a"), 0u);
  uint32_t a = in.Intern("a");
  uint32_t b = in.Intern("b");
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(in.Intern("a"), a);
  EXPECT_EQ(in.Find("b"), b);
  EXPECT_EQ(in.Lookup(a), "a");
  EXPECT_EQ(in.Lookup(b), "b");
  EXPECT_EQ(in.size(), 2u);
  uint32_t e = in.Intern("");
  EXPECT_EQ(in.Lookup(e), "");
}

TEST(InternerTest, LargeStringsAndManyIds) {
  Interner in;
  std::string big(100'000, 'x');
  uint32_t id = in.Intern(big);
  for (int i = 0; i < 200'000; ++i) in.Intern("k" + std::to_string(i));  // spans chunks
  EXPECT_EQ(in.Lookup(id), big);
  EXPECT_EQ(in.Lookup(in.Find("k199999")), "k199999");
}

TEST(InternerTest, ConcurrentInternAgrees) {
  Interner in;
  constexpr int kThreads = 4, kKeys = 20'000;
  std::vector<std::vector<uint32_t>> ids(kThreads, std::vector<uint32_t>(kKeys));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        int k = (i * 7 + t * 13) % kKeys;
        ids[t][k] = in.Intern("key-" + std::to_string(k));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint32_t> distinct;
  for (int k = 0; k < kKeys; ++k) {
    for (int t = 1; t < kThreads; ++t) ASSERT_EQ(ids[t][k], ids[0][k]);
    EXPECT_EQ(in.Lookup(ids[0][k]), "key-" + std::to_string(k));
    distinct.insert(ids[0][k]);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(in.size(), static_cast<uint32_t>(kKeys));
}

// The per-thread cache gives exactly the interner's ids, including when different strings
// meet in one slot or even share a hash value.
TEST(InternCacheTest, AgreesWithInterner) {
  Interner in;
  InternCache cache(in);
  constexpr int kKeys = 3 * (1 << InternCache::kBits);  // more keys than slots
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string s = "item-" + std::to_string(k);
      const uint32_t id = cache.Intern(s, StableHash64(s));
      ASSERT_EQ(id, in.Find(s)) << s;
      ASSERT_EQ(in.Lookup(id), s);
    }
  }
  EXPECT_EQ(in.size(), static_cast<uint32_t>(kKeys));
  // Same hash, different strings (a caller's contract breach the cache must not hide):
  // the string comparison tells them apart.
  const uint32_t a = cache.Intern("a", 42), b = cache.Intern("b", 42);
  EXPECT_NE(a, b);
  EXPECT_EQ(cache.Intern("a", 42), a);
  EXPECT_EQ(in.Lookup(cache.Intern("b", 42)), "b");
  // Around the slot's inline bytes: strings of kInline and kInline + 1 bytes, and longer
  // ones, that share a hash and differ only in their last byte, alternating in one slot.
  for (size_t n : {InternCache::kInline, InternCache::kInline + 1, size_t{40}}) {
    const std::string x(n, 'x'), y = std::string(n - 1, 'x') + "y";
    const uint32_t ix = cache.Intern(x, 7), iy = cache.Intern(y, 7);
    EXPECT_NE(ix, iy) << n;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(cache.Intern(x, 7), ix) << n;
      EXPECT_EQ(cache.Intern(x, 7), ix) << n;  // a hit of the slot just filled
      EXPECT_EQ(cache.Intern(y, 7), iy) << n;
    }
    EXPECT_EQ(in.Lookup(ix), x);
    EXPECT_EQ(in.Lookup(iy), y);
  }
  // A short and a long string in one slot.
  const std::string shorter(InternCache::kInline, 'z'), longer(InternCache::kInline + 1, 'z');
  const uint32_t is = cache.Intern(shorter, 9), il = cache.Intern(longer, 9);
  EXPECT_NE(is, il);
  EXPECT_EQ(cache.Intern(shorter, 9), is);
  EXPECT_EQ(cache.Intern(longer, 9), il);
}

// Sweep frees exactly the ids that are neither referenced nor handed out since the sweep's
// epoch; Intern reuses them; the interner's figures follow.
TEST(InternerTest, SweepFreesUnreferencedOldIdsAndReusesThem) {
  IdEpochs epochs;
  Interner in(&epochs);
  const uint32_t a = in.Intern("a"), b = in.Intern("b"), c = in.Intern("c");
  const uint32_t e1 = epochs.Advance();
  EXPECT_EQ(in.Find("c"), c);  // handed out in the new epoch: kept
  IdBitmap referenced(in.bound());
  referenced.Set(a);
  EXPECT_EQ(in.Sweep(referenced, e1), 1u);  // only b
  EXPECT_EQ(in.Find("b"), 0u);
  EXPECT_EQ(in.Lookup(a), "a");
  EXPECT_EQ(in.Lookup(c), "c");
  EXPECT_EQ(in.size(), 2u);
  EXPECT_EQ(in.freed(), 1u);
  // The freed id goes to the next new string (of the same stripe; try until one lands).
  bool reused = false;
  for (int i = 0; i < 1000 && !reused; ++i) reused = in.Intern("n" + std::to_string(i)) == b;
  EXPECT_TRUE(reused);
  EXPECT_EQ(in.Lookup(b).substr(0, 1), "n");
  EXPECT_EQ(in.Intern("b") > c, true);  // "b" again: a new id, not its old one
}

// A checkpoint of an interner with free ids loads with the same ids, and the holes stay
// free (to be reused).
TEST(InternerTest, SaveLoadKeepsIdsAcrossHoles) {
  IdEpochs epochs;
  Interner in(&epochs);
  for (int i = 0; i < 100; ++i) in.Intern("k" + std::to_string(i));
  IdBitmap referenced(in.bound());
  for (uint32_t id = 1; id < in.bound(); id += 3) referenced.Set(id);
  const uint32_t e1 = epochs.Advance();
  EXPECT_EQ(in.Sweep(referenced, e1), 66u);
  std::string bytes;
  SerialWriter w(&bytes);
  in.Save(w);
  Interner loaded(&epochs);
  SerialReader r(bytes);
  ASSERT_TRUE(loaded.Load(r));
  EXPECT_EQ(loaded.size(), 34u);
  EXPECT_EQ(loaded.bound(), in.bound());
  for (uint32_t id = 1; id < in.bound(); ++id) {
    EXPECT_EQ(loaded.Lookup(id), in.Lookup(id)) << id;
    if (id % 3 == 1) {
      EXPECT_EQ(loaded.Find(in.Lookup(id)), id);
    }
  }
  // New strings fill the holes (each stripe reuses its own, so some new ids may come
  // first); after enough of them no hole is left.
  for (int i = 0; i < 2000; ++i) loaded.Intern("new" + std::to_string(i));
  EXPECT_EQ(loaded.size(), 2034u);
  for (uint32_t id = 1; id < in.bound(); ++id) EXPECT_FALSE(loaded.Lookup(id).empty()) << id;
}

// A cache entry from an older epoch is not trusted: its id may have been freed and reused.
TEST(InternCacheTest, EntriesOfAnOlderEpochAreMisses) {
  IdEpochs epochs;
  Interner in(&epochs);
  InternCache cache(in);
  const uint32_t x = cache.Intern("x", StableHash64("x"));
  const uint32_t e1 = epochs.Advance();
  EXPECT_EQ(in.Sweep(IdBitmap(in.bound()), e1), 1u);  // x was handed out before e1: freed
  const uint32_t y = in.Intern("y");                  // may take x's id
  const uint32_t x2 = cache.Intern("x", StableHash64("x"));
  EXPECT_NE(x2, y);
  EXPECT_EQ(in.Lookup(x2), "x");
  EXPECT_EQ(in.Lookup(y), "y");
  (void)x;
}

}  // namespace
}  // namespace eddy
