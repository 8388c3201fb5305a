#pragma once
// Shard: one thread that owns a slice of the engine's state (shared-nothing, Seastar
// style). It repeatedly calls `poll` (which applies newly published log entries of the
// partitions it owns) and runs tasks sent to it through its mailbox (cross-shard
// messages: reads are messages, their answers are gathered by the sender). When there is
// nothing to do it spins briefly, then sleeps on its doorbell.
//
// Thread-safety: Submit(), Wake() from any thread. Start()/Stop() from the owner of the
// Shard (the engine), not from a shard thread. `poll` and tasks run on the shard thread.

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>

#include "util/mutex.h"

#include "runtime/doorbell.h"
#include "runtime/mailbox.h"

namespace eddy {

class Shard {
 public:
  // Applies what is ready; returns how much it did (0 = nothing was ready).
  using PollFn = std::function<size_t()>;

  // `name` is the thread's name (default "eddy-shard-<index>").
  Shard(int index, PollFn poll, std::string name = {});
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  void Start();
  // Runs `task` on this shard's thread. After the thread has exited (Stop), the task runs
  // on the caller's thread instead, serialised with other late tasks: the shard's state is
  // quiescent then, so reads keep working during and after shutdown.
  void Submit(Mailbox::Task task);
  // Tells a sleeping shard that `poll` may find work now. Without it, a sleeping shard
  // still polls every kIdlePollUs: producers whose work can wait that long skip the
  // wake-up syscall.
  void Wake() { bell_.Ring(); }
  static constexpr int64_t kIdlePollUs = 1000;
  // Applies everything already published, runs queued tasks, and joins the thread.
  void Stop();

  // For a long `poll`: whether tasks wait in the mailbox of the shard whose thread calls
  // it (false off shard threads). A poll that finds them returns early, so reads wait for
  // at most a short slice of applying instead of a whole poll.
  static bool TasksWaiting();

  int index() const { return index_; }
  bool OnShardThread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  void Run();
  size_t RunOnce();

  const int index_;
  PollFn poll_;
  const std::string name_;
  Mailbox mailbox_;
  Doorbell bell_;
  void DrainLate();

  std::atomic<bool> stop_{false};
  // Set when the thread no longer pops its mailbox; from then on whoever pushes drains,
  // under late_mu_. Only read-modify-writes touch it (see Submit).
  std::atomic<uint32_t> exited_{0};
  Mutex late_mu_;
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

}  // namespace eddy
