#include "runtime/shard.h"

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include <pthread.h>

#include "util/histogram.h"  // SteadyNanos

namespace eddy {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins before sleeping: long enough to ride out a short gap between two batches,
// short enough not to take a core from the I/O threads on a small machine (a few µs).
constexpr int kIdleSpins = 64;

// Late drains on this thread (see DrainLate): the shards still to drain, or nullptr when
// the thread is not inside one.
thread_local std::vector<Shard*>* late_pending = nullptr;

// The shard whose thread this is (nullptr on other threads).
thread_local const Shard* current_shard = nullptr;

}  // namespace

Shard::Shard(int index, PollFn poll, std::string name, int64_t idle_poll_us)
    : index_(index),
      poll_(std::move(poll)),
      name_(name.empty() ? "eddy-shard-" + std::to_string(index) : std::move(name)),
      idle_poll_us_(std::clamp<int64_t>(idle_poll_us, 1, kMaxIdleSleepUs / 2)) {}

Shard::~Shard() { Stop(); }

bool Shard::TasksWaiting() {
  return current_shard != nullptr &&
         (current_shard->mailbox_.MaybeNonEmpty() || current_shard->LoopDue());
}

bool Shard::LoopDue() const {
  return hosted_ != nullptr && SteadyNanos() - loop_polled_ns_ >= kLoopPollUs * 1000;
}

// A sleeping thread sleeps in its loop's Wait when it hosts one (which an Interrupt ends),
// else on its doorbell. The thread changes loop_ only while awake, so a sleeper sleeps where
// loop_ says.
void Shard::Wake() {
  if (!bell_.Announce()) return;  // nobody sleeps: no syscall
  WakeSleeper();
}

// The thread stores drowsy_ (relaxed) before its Prepare (a seq_cst read-modify-write of
// the waiters count); an Announce that reads that count as non-zero synchronises with it,
// so it sees this sleep's drowsy_ (or a later one, stored after the thread woke).
void Shard::Nudge() {
  if (!bell_.Announce()) return;
  if (!drowsy_.load(std::memory_order_relaxed)) return;  // back within idle_poll_us_ anyway
  WakeSleeper();
}

void Shard::WakeSleeper() {
  MutexLock lock(&loop_mu_);
  if (loop_ != nullptr) {
    loop_->Interrupt();
  } else {
    bell_.WakeWaiters();
  }
}

void Shard::Host(EventLoop* loop) {
  std::promise<void> taken;
  std::future<void> done = taken.get_future();
  Submit([this, loop, &taken] {
    SetLoop(loop);
    taken.set_value();
  });
  done.wait();
}

void Shard::SetLoop(EventLoop* loop) {
  {
    MutexLock lock(&loop_mu_);
    loop_ = loop;
  }
  hosted_ = loop;
  loop_polled_ns_ = 0;
}

void Shard::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Shard::Submit(Mailbox::Task task) {
  mailbox_.Push(std::move(task));
  // A read-modify-write, not a load: RMWs of exited_ are totally ordered, so either ours
  // comes after the thread's exchange in Run() (we see true and drain ourselves), or the
  // thread's exchange acquires our release and its last drain sees this push. (A fence
  // pair would do the same, but ThreadSanitizer does not model fences.)
  if (exited_.fetch_add(0, std::memory_order_acq_rel) != 0) {
    DrainLate();
  } else {
    Wake();
  }
}

// After the thread exited, tasks run on the submitter's thread, one shard's lock at a
// time. A task may submit to shards itself (a read's next step: often to this very
// shard): inside a drain that only queues the shard for the outermost drain on this
// thread, so no thread ever holds two late locks or re-locks one (no self- or
// cross-deadlock), and tasks still run in their shard's order.
void Shard::DrainLate() {
  if (late_pending != nullptr) {
    late_pending->push_back(this);
    return;
  }
  std::vector<Shard*> pending{this};
  late_pending = &pending;
  while (!pending.empty()) {
    Shard* s = pending.back();
    pending.pop_back();
    MutexLock lock(&s->late_mu_);
    while (Mailbox::Task t = s->mailbox_.Pop()) t();
  }
  late_pending = nullptr;
}

void Shard::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  Wake();  // on its doorbell or in its hosted loop
  thread_.join();
}

size_t Shard::RunOnce(bool loop_turn) {
  size_t work = poll_();
  while (Mailbox::Task task = mailbox_.Pop()) {
    task();
    ++work;
  }
  if (hosted_ != nullptr && (loop_turn || LoopDue())) {
    work += hosted_->Poll(kLoopPollUs);  // a turn as long as applying's
    loop_polled_ns_ = SteadyNanos();  // applying's next slice is a whole one
  }
  return work;
}

void Shard::Run() {
  thread_id_.store(std::this_thread::get_id());
  current_shard = this;
  pthread_setname_np(pthread_self(), name_.c_str());
  int idle = 0;
  int64_t sleep_us = idle_poll_us_;
  for (;;) {
    if (RunOnce() != 0) {
      idle = 0;
      sleep_us = idle_poll_us_;
      continue;
    }
    if (stop_.load(std::memory_order_acquire)) {
      // Producers have stopped before Stop() was called; drain what is left. A hosted
      // loop is not run any more (its owner runs it elsewhere, or stops it).
      SetLoop(nullptr);
      while (RunOnce() != 0 || mailbox_.MaybeNonEmpty()) {
      }
      exited_.exchange(1, std::memory_order_acq_rel);
      DrainLate();
      return;
    }
    if (++idle < kIdleSpins) {
      CpuRelax();
      continue;
    }
    drowsy_.store(sleep_us > idle_poll_us_, std::memory_order_relaxed);
    uint32_t key = bell_.Prepare();
    if (RunOnce(/*loop_turn=*/true) != 0 || mailbox_.MaybeNonEmpty() ||
        stop_.load(std::memory_order_acquire)) {
      bell_.Cancel();
      idle = 0;
      sleep_us = idle_poll_us_;
      continue;
    }
    if (hosted_ != nullptr) {
      hosted_->Wait(sleep_us);  // what it ran counts as the loop's turn
      loop_polled_ns_ = SteadyNanos();
      bell_.Cancel();
    } else {
      bell_.Wait(key, sleep_us);
    }
    idle = 0;
    sleep_us = std::min(2 * sleep_us, kMaxIdleSleepUs);  // back to idle_poll_us_ once work comes
  }
}

}  // namespace eddy
