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
}

}  // namespace
}  // namespace eddy
