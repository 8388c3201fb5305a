#include "log/partitioned_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace eddy {
namespace {

TEST(PartitionLogTest, ReserveFillPublishConsume) {
  PartitionLog log(8, 1);
  EXPECT_EQ(log.capacity(), 8u);
  auto first = log.TryReserve(3);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(log.head(), 3u);
  EXPECT_EQ(log.Peek(0), nullptr);  // reserved, not yet published
  for (uint64_t o = 0; o < 3; ++o) {
    log.At(o).event.quantity = static_cast<uint32_t>(o + 10);
    log.Publish(o);
  }
  for (uint64_t o = 0; o < 3; ++o) {
    ASSERT_NE(log.Peek(o), nullptr);
    EXPECT_EQ(log.Peek(o)->event.quantity, o + 10);
  }
  EXPECT_EQ(log.Peek(3), nullptr);
}

TEST(PartitionLogTest, FullReservationFailsWithoutSideEffects) {
  PartitionLog log(8, 1);
  ASSERT_TRUE(log.TryReserve(6).has_value());
  EXPECT_FALSE(log.TryReserve(3).has_value());  // only 2 free
  EXPECT_EQ(log.head(), 6u);
  ASSERT_TRUE(log.TryReserve(2).has_value());
  EXPECT_FALSE(log.TryReserve(1).has_value());
  for (uint64_t o = 0; o < 8; ++o) log.Publish(o);
  log.Advance(0, 5);  // the consumer frees 5 slots
  auto r = log.TryReserve(5);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 8u);
  // Wrapped slots are not visible at their new offsets until published again.
  EXPECT_EQ(log.Peek(8), nullptr);
  log.Publish(8);
  EXPECT_NE(log.Peek(8), nullptr);
}

// Full(): set by a refused reservation, held while more than 3/4 of the ring is in use,
// cleared once a quarter is free (every consumer counts).
TEST(PartitionLogTest, FullFromARefusalUntilAQuarterIsFree) {
  PartitionLog log(16, 2);
  EXPECT_FALSE(log.Full());
  ASSERT_TRUE(log.TryReserve(14).has_value());
  EXPECT_FALSE(log.Full());  // nearly full, but nothing was refused
  EXPECT_FALSE(log.TryReserve(3).has_value());
  EXPECT_TRUE(log.Full());
  for (uint64_t o = 0; o < 14; ++o) log.Publish(o);
  log.Advance(0, 10);
  EXPECT_TRUE(log.Full());  // consumer 1 still holds every slot
  log.Advance(1, 1);
  EXPECT_TRUE(log.Full());  // 13 of 16 in use
  log.Advance(1, 2);
  EXPECT_FALSE(log.Full());  // 12 in use: a quarter free
  // A refused request larger than the whole ring, the ring empty: not full.
  log.Advance(0, 14);
  log.Advance(1, 14);
  EXPECT_FALSE(log.TryReserve(20).has_value());
  EXPECT_FALSE(log.Full());
}

TEST(PartitionLogTest, CapacityRoundsUpToPowerOfTwo) {
  PartitionedLog log(3, 1000, 1);
  EXPECT_EQ(log.partitions(), 3u);
  EXPECT_EQ(log.partition(PartitionId(2)).capacity(), 1024u);
  EXPECT_EQ(log.PartitionOf(7).value(), 1u);
}

// Several producer threads append runs of per-user sequence numbers while one consumer
// drains: every event arrives exactly once, and each user's events in order.
TEST(PartitionLogTest, ManyProducersKeepPerUserOrderAndLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kUsersPerProducer = 8;
  constexpr uint32_t kPerUser = 20'000;
  PartitionLog log(256, 1);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&log, p] {
      std::vector<uint32_t> next(kUsersPerProducer, 0);
      uint32_t done_users = 0, round = 0;
      while (done_users < kUsersPerProducer) {
        int u = static_cast<int>(round++ % kUsersPerProducer);
        if (next[u] == kPerUser) continue;
        uint32_t n = std::min<uint32_t>(1 + round % 7, kPerUser - next[u]);
        std::optional<uint64_t> first;
        while (!(first = log.TryReserve(n))) std::this_thread::yield();  // full: retry
        for (uint32_t j = 0; j < n; ++j) {
          Event& e = log.At(*first + j).event;
          e.user = UserId(static_cast<uint32_t>(p * kUsersPerProducer + u + 1));
          e.quantity = next[u] + j;
        }
        for (uint32_t j = 0; j < n; ++j) log.Publish(*first + j);
        next[u] += n;
        if (next[u] == kPerUser) ++done_users;
      }
    });
  }
  std::vector<uint32_t> expected(kProducers * kUsersPerProducer + 1, 0);
  const uint64_t total = uint64_t{kProducers} * kUsersPerProducer * kPerUser;
  uint64_t cursor = 0;
  while (cursor < total) {
    const LogEntry* e = log.Peek(cursor);
    if (e == nullptr) {
      std::this_thread::yield();
      continue;
    }
    uint32_t u = e->event.user.value();
    ASSERT_EQ(e->event.quantity, expected[u]) << "user " << u << " out of order";
    ++expected[u];
    ++cursor;
    if (cursor % 64 == 0) log.Advance(0, cursor);
  }
  log.Advance(0, cursor);
  for (auto& t : producers) t.join();
  for (size_t u = 1; u < expected.size(); ++u) EXPECT_EQ(expected[u], kPerUser);
  EXPECT_EQ(log.head(), total);
}

}  // namespace
}  // namespace eddy
