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

// Each shard thread's parts run on it or, while it sleeps, on the reader's thread; idle
// shards sleep nearly all the time, so a read soon runs every part itself. `threads`: 0 =
// a thread per state; 1 = one thread for all (cluster mode's layout).
void ExpectPartsOfSleepingShardsRunHere(size_t threads) {
  Parts parts(ComponentOptions(/*partitions=*/4, /*shards=*/threads == 1 ? 4 : 2));
  parts.StartShards(nullptr, threads);
  const std::thread::id me = std::this_thread::get_id();
  bool all_here = false;
  for (int i = 0; i < 100000 && !all_here; ++i) {
    const std::vector<std::thread::id> ran = WhoRan(parts.set);
    ASSERT_EQ(ran.size(), parts.set.size());
    all_here = true;
    for (size_t s = 0; s < ran.size(); ++s) {
      // A part runs here or on its own thread (asked from a task there: is it that one?).
      if (ran[s] == me) continue;
      all_here = false;
      std::promise<std::thread::id> own;
      parts.set.OnShard(s, [&own](ShardState&) { own.set_value(std::this_thread::get_id()); });
      EXPECT_EQ(ran[s], own.get_future().get()) << "state " << s;
    }
  }
  EXPECT_TRUE(all_here);
}

TEST(ShardSetTest, ReadsRunThePartsOfSleepingShardsOnTheirOwnThread) {
  ExpectPartsOfSleepingShardsRunHere(0);
}

TEST(ShardSetTest, OneThreadLendsAllItsStatesAtOnce) { ExpectPartsOfSleepingShardsRunHere(1); }

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
