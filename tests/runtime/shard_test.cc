#include "runtime/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

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

namespace eddy {
namespace {

// An event loop as a shard hosts one (the HTTP server's io_context): handlers posted from
// any thread, run by Poll or by a Wait, which sleeps until a handler or an Interrupt comes
// (here without a timeout, so only those can end it) — except that a Wait whose timeout is
// below `expire_below_us` returns at once, as if that time had passed. Every Wait's
// timeout is recorded.
class FakeLoop final : public EventLoop {
 public:
  explicit FakeLoop(int64_t expire_below_us = 0) : expire_below_us_(expire_below_us) {}
  void Post(std::function<void()> handler) {
    std::lock_guard<std::mutex> lock(mu_);
    ready_.push_back(std::move(handler));
    cv_.notify_all();
  }
  size_t Poll(int64_t) override {
    polls_.fetch_add(1);
    std::function<void()> h = Take();
    if (!h) return 0;
    h();
    return 1;
  }
  void Wait(int64_t timeout_us) override {
    std::function<void()> h;
    {
      std::unique_lock<std::mutex> lock(mu_);
      timeouts_.push_back(timeout_us);
      if (timeout_us < expire_below_us_ && ready_.empty() && !interrupted_) {
        waits_.fetch_add(1);
        return;
      }
      waiting_.store(true);
      cv_.wait(lock, [&] { return interrupted_ || !ready_.empty(); });
      waiting_.store(false);
      interrupted_ = false;
      if (!ready_.empty()) {
        h = std::move(ready_.front());
        ready_.pop_front();
      }
    }
    waits_.fetch_add(1);
    if (h) h();
  }
  void Interrupt() override {
    std::lock_guard<std::mutex> lock(mu_);
    interrupts_.fetch_add(1);
    interrupted_ = true;
    cv_.notify_all();
  }
  bool waiting() const { return waiting_.load(); }
  int polls() const { return polls_.load(); }
  int waits() const { return waits_.load(); }
  int interrupts() const { return interrupts_.load(); }
  std::vector<int64_t> timeouts() {
    std::lock_guard<std::mutex> lock(mu_);
    return timeouts_;
  }

 private:
  std::function<void()> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (ready_.empty()) return nullptr;
    std::function<void()> h = std::move(ready_.front());
    ready_.pop_front();
    return h;
  }
  const int64_t expire_below_us_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> ready_;
  std::vector<int64_t> timeouts_;
  bool interrupted_ = false;
  std::atomic<bool> waiting_{false};
  std::atomic<int> polls_{0}, waits_{0}, interrupts_{0};
};

// A shard whose poll applies the work `available` says there is (`applied`: how much it
// applied so far, the shard thread's).
struct Applier {
  std::atomic<int> available{0};
  int applied = 0;
  Shard shard{0, [this] {
                int n = available.exchange(0);
                applied += n;
                return static_cast<size_t>(n);
              }};

  // With the thread asleep in `loop` (which only a handler or an Interrupt ends): one more
  // unit of work and `tell` (what its producer calls), which must interrupt the sleep;
  // then the shard's next poll has applied all `total` units.
  void TellAndExpectApplied(FakeLoop& loop, const std::function<void()>& tell, int total) {
    const int interrupts = loop.interrupts(), waits = loop.waits();
    available.fetch_add(1);
    tell();
    EXPECT_EQ(loop.interrupts(), interrupts + 1);
    while (loop.waits() == waits) std::this_thread::yield();  // the Interrupt ended the Wait
    std::promise<int> seen;
    loop.Post([&] { seen.set_value(applied); });  // runs after the shard's next poll
    EXPECT_EQ(seen.get_future().get(), total);
  }
};

TEST(ShardTest, HostsAnEventLoopAndSleepsInIt) {
  Applier a;
  Shard& shard = a.shard;
  std::atomic<int>& available = a.available;
  const int& applied = a.applied;
  shard.Start();
  FakeLoop loop;
  shard.Host(&loop);
  // A handler posted to the loop runs on the shard thread.
  std::promise<bool> on_shard;
  loop.Post([&] { on_shard.set_value(shard.OnShardThread()); });
  EXPECT_TRUE(on_shard.get_future().get());
  // Idle, the thread sleeps in the loop (which only a handler or an Interrupt ends), and
  // Wake — what producers of the shard's work call — interrupts it.
  for (int round = 1; round <= 20; ++round) {
    while (!loop.waiting()) std::this_thread::yield();
    a.TellAndExpectApplied(loop, [&] { shard.Wake(); }, round);
  }
  // Host(nullptr): the loop is neither run nor interrupted any more; tasks and polls go on.
  shard.Host(nullptr);
  const int polls = loop.polls(), waits = loop.waits(), interrupts = loop.interrupts();
  for (int i = 0; i < 10; ++i) {
    available.fetch_add(1);
    shard.Wake();
    // A task may run before the poll that takes the new work (the thread may be between its
    // poll and its mailbox): ask until the poll has run.
    int seen = 0;
    for (int tries = 0; tries < 1000 && seen != 21 + i; ++tries) {
      std::promise<int> answer;
      shard.Submit([&] { answer.set_value(applied); });
      seen = answer.get_future().get();
    }
    EXPECT_EQ(seen, 21 + i);
  }
  EXPECT_EQ(loop.polls(), polls);
  EXPECT_EQ(loop.waits(), waits);
  EXPECT_EQ(loop.interrupts(), interrupts);
  shard.Stop();
}

TEST(ShardTest, ALongPollYieldsToItsHostedLoop) {
  std::atomic<bool> polling{false}, handled{false};
  std::atomic<int> yields{0};
  Shard shard(0, [&] {
    if (handled.load()) return size_t{0};
    // Endless work, in slices that stop when other work waits (as ShardState::Poll).
    polling.store(true);
    while (!Shard::TasksWaiting()) {
    }
    yields.fetch_add(1);
    return size_t{1};
  });
  shard.Start();
  FakeLoop loop;
  shard.Host(&loop);
  while (!polling.load()) std::this_thread::yield();
  // The loop gets its turn within a slice of applying, not after the backlog.
  std::promise<void> ran;
  loop.Post([&] {
    handled.store(true);
    ran.set_value();
  });
  ran.get_future().wait();
  EXPECT_GE(yields.load(), 1);
  shard.Host(nullptr);
  shard.Stop();
}

// An idle shard sleeps twice as long after each sleep that found nothing to do, up to
// kMaxIdleSleepUs; a Nudge (what producers of work that can wait kIdlePollUs call) wakes it
// only once it sleeps longer than kIdlePollUs, and the backoff starts over with the work.
TEST(ShardTest, AnIdleShardBacksOffAndANudgeWakesItThen) {
  Applier a;
  Shard& shard = a.shard;
  shard.Start();
  FakeLoop loop(Shard::kMaxIdleSleepUs);  // every shorter sleep passes at once
  shard.Host(&loop);
  // The sleeps since the last work: kIdlePollUs, then each twice the one before, up to the
  // longest (a Wait that ran a handler counts as one that found nothing to do).
  const auto backed_off = [](const std::vector<int64_t>& t) {
    const auto start = std::find(t.rbegin(), t.rend(), Shard::kIdlePollUs);
    if (start == t.rend()) return false;
    int64_t want = Shard::kIdlePollUs;
    for (auto it = start.base() - 1; it != t.end(); ++it) {
      if (*it != want) return false;
      want = std::min(2 * want, Shard::kMaxIdleSleepUs);
    }
    return t.back() == Shard::kMaxIdleSleepUs;
  };
  for (int round = 1; round <= 3; ++round) {
    while (!loop.waiting()) std::this_thread::yield();  // in its longest sleep
    const std::vector<int64_t> timeouts = loop.timeouts();
    EXPECT_TRUE(backed_off(timeouts)) << testing::PrintToString(timeouts);
    // Only a handler or an Interrupt ends the longest sleep: the work is found because the
    // Nudge woke the shard (else this would wait for ever).
    a.TellAndExpectApplied(loop, [&] { shard.Nudge(); }, round);
  }
  shard.Host(nullptr);
  shard.Stop();
}

// A shard made with an idle poll of its own (the store thread's, from the commit delay)
// sleeps that long first once it finds nothing to do; in that first sleep it is not dozing,
// so a Nudge leaves it asleep and only a Wake ends it early; the sleep after is longer, and
// then it dozes. An idle poll over half the longest sleep is halved (else it never would).
TEST(ShardTest, ItsFirstSleepLastsItsIdlePollAndOnlyAWakeEndsItEarly) {
  constexpr int64_t kPollUs = 5000;
  std::atomic<int> available{0};
  Shard shard(0, [&] { return static_cast<size_t>(available.exchange(0)); }, "eddy-test", kPollUs);
  shard.Start();
  FakeLoop loop;  // a Wait ends only with a handler or an Interrupt
  shard.Host(&loop);
  while (!loop.waiting()) std::this_thread::yield();
  // Work and a Wake: the shard applies it, finds nothing more and sleeps its idle poll.
  int waits = loop.waits();
  available.fetch_add(1);
  shard.Wake();
  while (loop.waits() == waits) std::this_thread::yield();
  while (!loop.waiting() || loop.timeouts().back() != kPollUs) std::this_thread::yield();
  EXPECT_TRUE(shard.InFirstSleep());
  EXPECT_FALSE(shard.Dozing());
  const int interrupts = loop.interrupts();
  shard.Nudge();
  EXPECT_EQ(loop.interrupts(), interrupts);
  EXPECT_TRUE(loop.waiting());
  waits = loop.waits();
  shard.Wake();
  EXPECT_EQ(loop.interrupts(), interrupts + 1);
  while (loop.waits() == waits) std::this_thread::yield();  // the Wake ended the sleep
  // The next sleep (the Wake brought no work) is longer: the shard dozes, and a Nudge wakes it.
  while (!loop.waiting() || loop.timeouts().back() != 2 * kPollUs) std::this_thread::yield();
  EXPECT_TRUE(shard.Dozing());
  EXPECT_FALSE(shard.InFirstSleep());
  shard.Nudge();
  EXPECT_EQ(loop.interrupts(), interrupts + 2);
  shard.Host(nullptr);
  shard.Stop();
}

TEST(ShardTest, AnIdlePollOfTheLongestSleepStillLetsItDoze) {
  Shard shard(0, [] { return size_t{0}; }, "eddy-test", Shard::kMaxIdleSleepUs);
  shard.Start();
  FakeLoop loop;
  shard.Host(&loop);
  for (;;) {  // each Wake (with no work) ends a sleep: on to the next, longer one
    while (!loop.waiting()) std::this_thread::yield();
    if (loop.timeouts().back() == Shard::kMaxIdleSleepUs) break;
    const int waits = loop.waits();
    shard.Wake();
    while (loop.waits() == waits) std::this_thread::yield();
  }
  EXPECT_TRUE(shard.Dozing());
  shard.Host(nullptr);
  shard.Stop();
}

TEST(ShardTest, StopEndsHosting) {
  Shard shard(3, [] { return size_t{0}; });
  shard.Start();
  FakeLoop loop;
  shard.Host(&loop);
  shard.Stop();  // wakes the thread from the loop's Wait (which only a handler or an Interrupt ends)
  const int polls = loop.polls(), waits = loop.waits(), interrupts = loop.interrupts();
  loop.Post([] {});
  shard.Wake();
  shard.Host(nullptr);  // after Stop: at once, on this thread
  EXPECT_EQ(loop.polls(), polls);
  EXPECT_EQ(loop.waits(), waits);
  EXPECT_EQ(loop.interrupts(), interrupts);
}

}  // namespace
}  // namespace eddy
