#include "runtime/doorbell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace eddy {
namespace {

// std::atomic<uint32_t> is a plain 32-bit word on Linux, which is what futex(2) needs;
// std::atomic::wait has no timeout, hence the direct call.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

long Futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, ts, nullptr, 0);
}

}  // namespace

void Doorbell::Wait(uint32_t key, int64_t timeout_us) {
  timespec ts{static_cast<time_t>(timeout_us / 1'000'000),
              static_cast<long>(timeout_us % 1'000'000) * 1000};
  if (epoch_.load(std::memory_order_seq_cst) == key) {
    Futex(&epoch_, FUTEX_WAIT_PRIVATE, key, timeout_us > 0 ? &ts : nullptr);
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
}

void Doorbell::WakeWaiters() { Futex(&epoch_, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr); }

}  // namespace eddy
