#pragma once
// Shard: one thread that owns a slice of the engine's state (shared-nothing, Seastar
// style). It repeatedly calls `poll` (which applies newly published log entries of the
// partitions it owns) and runs tasks sent to it through its mailbox (cross-shard
// messages: reads are messages, their answers are gathered by the sender). It may also
// host an event loop (Host: the HTTP server's, with server.io_threads = 0), polled between
// slices of applying. When there is nothing to do it spins briefly, then sleeps on its
// doorbell, or in its event loop's Wait when it hosts one.
//
// Thread-safety: Submit(), Wake() from any thread. Start()/Stop()/Host() from the owner of
// the Shard or the loop, not from a shard thread. `poll`, tasks and the hosted loop run on
// the shard thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "eddy/event_loop.h"
#include "util/mutex.h"

#include "runtime/doorbell.h"
#include "runtime/mailbox.h"

namespace eddy {

class Shard {
 public:
  // Applies what is ready; returns how much it did (0 = nothing was ready).
  using PollFn = std::function<size_t()>;

  // `name` is the thread's name (default "eddy-shard-<index>"). `idle_poll_us`: how long
  // the thread's first sleep lasts once it finds nothing to do (see Nudge); at most half
  // of kMaxIdleSleepUs, so that the sleep after it is longer and the thread dozes.
  Shard(int index, PollFn poll, std::string name = {}, int64_t idle_poll_us = kIdlePollUs);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  void Start();
  // Runs `task` on this shard's thread. After the thread has exited (Stop), the task runs
  // on the caller's thread instead, serialised with other late tasks: the shard's state is
  // quiescent then, so reads keep working during and after shutdown.
  void Submit(Mailbox::Task task);
  // Tells a sleeping shard that `poll` may find work now (a syscall when it sleeps).
  void Wake();
  // For producers whose work can wait the idle poll (kIdlePollUs unless the constructor
  // said otherwise): wakes the shard only if it sleeps longer than that. A thread that
  // found nothing to do sleeps the idle poll, then twice as long after each sleep that
  // ended with nothing to do, up to kMaxIdleSleepUs (an idle engine then costs next to no
  // CPU and no context switches); any work found starts over. So a busy or recently busy
  // shard finds the work within the idle poll by itself, with no syscall on the producer's
  // side, and an idle one is woken by the first work that comes.
  void Nudge();
  static constexpr int64_t kIdlePollUs = 1000;
  // Whether the thread sleeps (or is about to) longer than its idle poll: it found nothing
  // to do for a while (what Nudge would wake). A hint, stale at once.
  bool Dozing() const { return bell_.HasWaiters() && drowsy_.load(std::memory_order_relaxed); }
  // Whether the thread is in its first sleep after finding nothing to do (or about to be):
  // asleep but not yet dozing. A hint, stale at once.
  bool InFirstSleep() const { return bell_.HasWaiters() && !drowsy_.load(std::memory_order_relaxed); }
  static constexpr int64_t kMaxIdleSleepUs = 64'000;
  // Applies everything already published, runs queued tasks, and joins the thread (a
  // hosted loop is not run from then on).
  void Stop();

  // Runs `loop` on this thread from now on (nullptr: no longer): polled after each slice
  // of applying and at least every kLoopPollUs of it, waited in when there is nothing else
  // to do. Returns once the thread has taken the change (at once after Stop). Blocks: not
  // from this shard's thread.
  void Host(EventLoop* loop);
  static constexpr int64_t kLoopPollUs = 50;

  // For a long `poll`: whether other work waits on the shard whose thread calls it (false
  // off shard threads): tasks in its mailbox, or its hosted loop's turn. A poll that finds
  // it returns early, so reads and requests wait for at most a short slice of applying
  // instead of a whole poll.
  static bool TasksWaiting();

  int index() const { return index_; }
  bool OnShardThread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  void Run();
  // `loop_turn`: poll the hosted loop even if its turn has not come.
  size_t RunOnce(bool loop_turn = false);
  bool LoopDue() const;
  // Ends the thread's sleep, in its hosted loop or on its doorbell (a syscall).
  void WakeSleeper();
  // On this thread (or after it exited): the loop it runs from now on, for it and the wakers.
  void SetLoop(EventLoop* loop);

  const int index_;
  PollFn poll_;
  const std::string name_;
  Mailbox mailbox_;
  Doorbell bell_;
  const int64_t idle_poll_us_;
  // Whether the thread's next (or current) sleep is longer than idle_poll_us_: stored before
  // bell_.Prepare(), so a producer whose Announce sees the thread preparing sees it too.
  std::atomic<bool> drowsy_{false};
  void DrainLate();

  std::atomic<bool> stop_{false};
  // Set when the thread no longer pops its mailbox; from then on whoever pushes drains,
  // under late_mu_. Only read-modify-writes touch it (see Submit).
  std::atomic<uint32_t> exited_{0};
  Mutex late_mu_;
  // The hosted loop: `hosted_` as the thread sees it (that thread only); `loop_` as the
  // wakers see it, changed by the thread under loop_mu_ (so no Interrupt is under way on a
  // loop once Host(nullptr) returned).
  EventLoop* hosted_ = nullptr;
  int64_t loop_polled_ns_ = 0;  // when the thread last polled hosted_ (steady clock)
  Mutex loop_mu_;
  EventLoop* loop_ ABSL_GUARDED_BY(loop_mu_) = nullptr;
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

}  // namespace eddy
