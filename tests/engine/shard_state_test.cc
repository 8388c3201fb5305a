// ShardState's catch-up bounds (the read horizon): a read catches up to where the
// acknowledged events ended when it arrived, never past what is visible (the durable
// offset with a gate), and all the way without a bound.
#include "engine/shard_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "eddy/clock.h"
#include "fraud/fraud.h"

namespace eddy {
namespace {

class ShardStateTest : public ::testing::Test {
 protected:
  ShardStateTest() : log_(2, 4096, 1), clock_(EventTime(1'700'000'000'000)) {
    o_.log.partitions = 2;
  }
  // Publishes n view events (item 1, user 1) to partition `part`.
  void Publish(uint64_t n, uint32_t part = 0) {
    PartitionLog& p = log_.partition(PartitionId(part));
    const uint64_t first = p.TryReserve(n).value();
    for (uint64_t o = first; o < first + n; ++o) {
      LogEntry& e = p.At(o);
      e = LogEntry{};
      e.event.type = EventType::kView;
      e.event.user = UserId(1);
      e.event.item = ItemId(1);
      e.event.time = clock_.Now();
      p.Publish(o);
    }
  }

  Options o_;
  PartitionedLog log_;
  Interners interners_;
  ManualClock clock_;
  std::atomic<uint64_t> duplicates_{0};
};

TEST_F(ShardStateTest, CatchUpStopsAtTheHorizonAndAtTheDurableOffset) {
  ShardState st(0, o_, &log_, &interners_, {PartitionId(0)}, &clock_, &duplicates_);
  Publish(10);
  EXPECT_EQ(st.VisibleEnd(PartitionId(0)), 10u);  // no gate: the log's head
  st.CatchUp(PartitionId(0), 4);
  EXPECT_EQ(st.applied_events(), 4u);
  const std::vector<uint64_t> horizon = {7};
  st.CatchUpAll(&horizon);
  EXPECT_EQ(st.applied_events(), 7u);
  st.CatchUp(PartitionId(0), 2);  // behind the cursor already: nothing to do
  EXPECT_EQ(st.applied_events(), 7u);
  st.CatchUpAll();
  EXPECT_EQ(st.applied_events(), 10u);
}

TEST_F(ShardStateTest, WithADurableGateNothingPastTheDurableOffsetIsApplied) {
  ShardState st(0, o_, &log_, &interners_, {PartitionId(0)}, &clock_, &duplicates_);
  std::atomic<uint64_t> durable[2];
  durable[1].store(0);
  durable[0].store(3);
  st.SetDurableGate(durable);
  Publish(10);
  EXPECT_EQ(st.VisibleEnd(PartitionId(0)), 3u);
  st.CatchUp(PartitionId(0), 8);  // the horizon is further than what is durable
  EXPECT_EQ(st.applied_events(), 3u);
  durable[0].store(9);
  st.CatchUpAll();
  EXPECT_EQ(st.applied_events(), 9u);
  EXPECT_EQ(st.Poll(), 0u);  // the tenth is not durable
}

// Reads always waiting (a shard under constant read load): each poll applies a slice and
// returns. A partition with a backlog gets its batch of 512 per round, not more, before
// the next partition gets its turn; and every entry is applied in the end.
bool always_waiting() { return true; }

TEST_F(ShardStateTest, PollsYieldingToTasksStillTakePartitionsInTurn) {
  ShardState st(0, o_, &log_, &interners_, {PartitionId(0), PartitionId(1)}, &clock_, &duplicates_);
  Publish(2000, 0);
  Publish(10, 1);
  const PartitionLog& p0 = log_.partition(PartitionId(0));
  const PartitionLog& p1 = log_.partition(PartitionId(1));
  int polls = 0;
  while (p1.cursor(0) == 0) {
    ASSERT_NE(st.Poll(&always_waiting), 0u);  // yielded: never reports idle
    ASSERT_LT(++polls, 1000);
  }
  EXPECT_EQ(p0.cursor(0), 512u);  // partition 0's batch, in slices of 32, then partition 1
  EXPECT_GE(polls, 512 / 32);
  while (st.applied_events() < 2010) {
    st.Poll(&always_waiting);
    ASSERT_LT(++polls, 10000);
  }
  EXPECT_EQ(p0.cursor(0), 2000u);
  EXPECT_EQ(p1.cursor(0), 10u);
  // Caught up, a poll reports nothing done although "tasks" wait (with a hosted loop, its
  // turn is due every 50 µs): otherwise an idle shard would never find itself idle, and
  // never sleep.
  EXPECT_EQ(st.Poll(&always_waiting), 0u);
}

// A reload's thresholds are taken before the next entry is applied, on whichever path it
// is applied (a poll, a read's catch-up): an event published after the reload returned is
// scored with them even if the shard has not run its mailbox yet.
TEST_F(ShardStateTest, OfferedThresholdsAreTakenBeforeTheNextEntryIsApplied) {
  ShardState st(0, o_, &log_, &interners_, {PartitionId(0)}, &clock_, &duplicates_);
  const double before = st.Get<FraudState>().options().threshold;
  FraudOptions fraud = o_.fraud;
  fraud.threshold = before / 2;
  st.OfferThresholds(fraud, o_.insights);
  EXPECT_EQ(st.Get<FraudState>().options().threshold, before);  // nothing applied yet
  Publish(1);
  st.CatchUpAll();
  EXPECT_EQ(st.Get<FraudState>().options().threshold, before / 2);
  // A later offer replaces an earlier one not yet taken; taking is idempotent.
  fraud.threshold = before / 4;
  st.OfferThresholds(fraud, o_.insights);
  fraud.threshold = before / 8;
  st.OfferThresholds(fraud, o_.insights);
  st.TakeOfferedThresholds();
  st.TakeOfferedThresholds();
  EXPECT_EQ(st.Get<FraudState>().options().threshold, before / 8);
  st.Reset();  // fresh states keep the reload's thresholds
  EXPECT_EQ(st.Get<FraudState>().options().threshold, before / 8);
}

}  // namespace
}  // namespace eddy
