#pragma once
// Doorbell: lets one consumer thread sleep until a producer has published work, without
// a syscall on the producer side while the consumer is awake (an event count on a futex).
//
// Consumer:  uint32_t key = bell.Prepare();
//            if (HaveWork()) bell.Cancel(); else bell.Wait(key, timeout);
// Producer:  publish work (release); bell.Ring();
//
// Thread-safety: Ring() from any thread; Prepare/Cancel/Wait from the consumer only.
// Why seq_cst: the producer's "publish, bump epoch, read waiters" and the consumer's "bump
// waiters, read epoch, check work" must not both miss each other (a Dekker pattern).

#include <atomic>
#include <cstdint>

namespace eddy {

class Doorbell {
 public:
  uint32_t Prepare() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  void Cancel() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // Sleeps until Ring() after Prepare() returned `key`, or until `timeout_us` passed
  // (0 = no timeout). Spurious returns are allowed: the caller re-checks its work.
  void Wait(uint32_t key, int64_t timeout_us);
  void Ring() {
    if (Announce()) WakeWaiters();
  }
  // Ring in two halves, for a consumer that may sleep elsewhere than in Wait (a shard
  // hosting an event loop): Announce publishes and says whether a consumer is between
  // Prepare and the end of its sleep; WakeWaiters wakes those sleeping in Wait.
  bool Announce() {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    return waiters_.load(std::memory_order_seq_cst) != 0;
  }
  void WakeWaiters();
  // Whether a consumer is between Prepare and the end of its sleep (a hint: stale at once).
  bool HasWaiters() const { return waiters_.load(std::memory_order_relaxed) != 0; }

 private:
  std::atomic<uint32_t> epoch_{0};
  std::atomic<uint32_t> waiters_{0};
};

}  // namespace eddy
