#include "runtime/mailbox.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace eddy {
namespace {

TEST(MailboxTest, FifoSingleProducer) {
  Mailbox mb;
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i) mb.Push([&seen, i] { seen.push_back(i); });
  while (Mailbox::Task t = mb.Pop()) t();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_FALSE(mb.Pop());
}

TEST(MailboxTest, ManyProducersNoLossPerProducerOrder) {
  Mailbox mb;
  constexpr int kProducers = 4, kEach = 50'000;
  std::vector<std::vector<int>> seen(kProducers);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) mb.Push([&seen, p, i] { seen[p].push_back(i); });
    });
  }
  int total = 0;
  while (total < kProducers * kEach) {
    if (Mailbox::Task t = mb.Pop()) {
      t();
      ++total;
    } else {
      std::this_thread::yield();
    }
  }
  for (auto& th : producers) th.join();
  for (int p = 0; p < kProducers; ++p) {
    ASSERT_EQ(seen[p].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) ASSERT_EQ(seen[p][i], i);
  }
}

}  // namespace
}  // namespace eddy
