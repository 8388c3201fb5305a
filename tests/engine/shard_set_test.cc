// ShardSet's reads on shards whose threads sleep: their parts run on the reader's thread.
#include "engine/shard_set.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "engine/read_task.h"
#include "engine/components.h"

namespace eddy {
namespace {

using test::ComponentOptions;
using test::Parts;

// Gathers, from this (non-shard) thread, which thread ran each state's part.
std::vector<std::thread::id> WhoRan(const ShardSet& set) {
  std::promise<std::vector<std::thread::id>> got;
  set.ScatterGather<std::thread::id>(
      [](ShardState&) { return std::this_thread::get_id(); },
      [&got](std::vector<std::thread::id>& ids) { got.set_value(ids); });
  return got.get_future().get();
}

// Each shard thread's parts run on it or, while it sleeps, on the reader's thread — one
// thread's parts at most (the others wake theirs, which run in parallel); idle shards sleep
// nearly all the time, so a read soon borrows one. `threads`: 0 = a thread per state; 1 =
// one thread for all (cluster mode's layout: it lends all its states at once).
void ExpectPartsOfOneSleepingThreadRunHere(size_t threads) {
  Parts parts(ComponentOptions(/*partitions=*/4, /*shards=*/threads == 1 ? 4 : 2));
  parts.StartShards(nullptr, threads);
  const size_t thread_count = parts.set.shards.size();
  const std::thread::id me = std::this_thread::get_id();
  bool borrowed = false;
  for (int i = 0; i < 100000 && !borrowed; ++i) {
    const std::vector<std::thread::id> ran = WhoRan(parts.set);
    ASSERT_EQ(ran.size(), parts.set.size());
    std::vector<bool> here(thread_count, false), there(thread_count, false);
    for (size_t s = 0; s < ran.size(); ++s) {
      const size_t t = parts.set.ThreadOf(s);
      if (ran[s] == me) {
        here[t] = true;
        continue;
      }
      there[t] = true;
      // Else on its own thread (asked from a task there: is it that one?).
      std::promise<std::thread::id> own;
      parts.set.OnShard(s, [&own](ShardState&) { own.set_value(std::this_thread::get_id()); });
      EXPECT_EQ(ran[s], own.get_future().get()) << "state " << s;
    }
    size_t lent = 0;
    for (size_t t = 0; t < thread_count; ++t) {
      EXPECT_FALSE(here[t] && there[t]) << "thread " << t << " lent only some of its states";
      lent += here[t];
    }
    EXPECT_LE(lent, 1u);
    borrowed = lent == 1;
  }
  EXPECT_TRUE(borrowed);
}

TEST(ShardSetTest, AReadRunsThePartsOfOneSleepingShardOnItsOwnThread) {
  ExpectPartsOfOneSleepingThreadRunHere(0);
}

TEST(ShardSetTest, OneThreadLendsAllItsStatesAtOnce) { ExpectPartsOfOneSleepingThreadRunHere(1); }

// A read's one-shard step (read_task.h's OnShard) borrows too, and its next step still
// comes after it.
TEST(ShardSetTest, AOneShardStepOfASleepingShardRunsOnTheReadersThread) {
  Parts parts(ComponentOptions());
  parts.StartShards();
  const std::thread::id me = std::this_thread::get_id();
  bool here = false;
  for (int i = 0; i < 100000 && !here; ++i) {
    std::promise<std::pair<std::thread::id, std::thread::id>> got;
    [](const ShardSet& set, std::promise<std::pair<std::thread::id, std::thread::id>>& out) -> ReadTask {
      const std::thread::id step = co_await OnShard<std::thread::id>(
          set, 1, [](ShardState&) { return std::this_thread::get_id(); });
      out.set_value({step, std::this_thread::get_id()});
    }(parts.set, got);
    const auto [step, after] = got.get_future().get();
    here = step == me;
    if (here) {
      EXPECT_EQ(after, me);  // resumed right here, after the state was returned
    }
  }
  EXPECT_TRUE(here);
}

}  // namespace
}  // namespace eddy
