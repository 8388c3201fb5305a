#include "runtime/shard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace eddy {
namespace {

TEST(ShardTest, RunsTasksOnItsThreadAndPollsWork) {
  std::atomic<int> available{0};
  int applied = 0;  // touched only on the shard thread
  Shard shard(0, [&] {
    int n = available.exchange(0);
    applied += n;
    return static_cast<size_t>(n);
  });
  shard.Start();
  for (int round = 0; round < 100; ++round) {
    available.fetch_add(3);
    shard.Wake();
    std::promise<int> seen;
    // A task runs after the shard has polled at least once since it was queued.
    shard.Submit([&] {
      EXPECT_TRUE(shard.OnShardThread());
      seen.set_value(applied);
    });
    int v = seen.get_future().get();
    EXPECT_LE(v, (round + 1) * 3);
  }
  shard.Stop();
  EXPECT_EQ(applied + available.load(), 300);
  EXPECT_EQ(available.load(), 0);  // Stop drains what was published
}

TEST(ShardTest, ALongPollSeesTasksWaitingAndYieldsToThem) {
  EXPECT_FALSE(Shard::TasksWaiting());  // not a shard thread
  std::atomic<bool> polling{false}, saw_task{false};
  Shard shard(0, [&] {
    // A poll with endless work: it stops only when a task waits (as ShardState::Poll
    // does between slices), and reports nothing done once it saw one.
    if (saw_task.load()) return size_t{0};
    polling.store(true);
    while (!Shard::TasksWaiting()) {
    }
    saw_task.store(true);
    return size_t{1};
  });
  shard.Start();
  while (!polling.load()) std::this_thread::yield();
  std::promise<bool> ran;
  shard.Submit([&] { ran.set_value(Shard::TasksWaiting()); });
  EXPECT_FALSE(ran.get_future().get());  // the mailbox was emptied to run it
  EXPECT_TRUE(saw_task.load());
  shard.Stop();
}

TEST(ShardTest, StopRunsQueuedTasks) {
  std::atomic<int> ran{0};
  {
    Shard shard(1, [] { return size_t{0}; });
    shard.Start();
    for (int i = 0; i < 1000; ++i) shard.Submit([&] { ran.fetch_add(1); });
    shard.Stop();
  }
  EXPECT_EQ(ran.load(), 1000);
}

}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

TEST(ShardTest, TasksSubmittedAfterStopStillRun) {
  Shard shard(2, [] { return size_t{0}; });
  shard.Start();
  shard.Stop();
  int ran = 0;
  shard.Submit([&] { ++ran; });  // runs on this thread: the shard thread is gone
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace eddy
