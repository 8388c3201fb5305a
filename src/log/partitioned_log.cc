#include "log/partitioned_log.h"

#include <bit>
#include <limits>

namespace eddy {

PartitionLog::PartitionLog(uint32_t capacity, int consumers)
    : capacity_(std::bit_ceil(std::max<uint32_t>(capacity, 2))),
      mask_(capacity_ - 1),
      cursors_(new Cursor[consumers]),
      consumers_(consumers),
      slots_(new Slot[capacity_]) {}

void PartitionLog::StartAt(uint64_t offset) {
  tail_.store(offset, std::memory_order_relaxed);
  for (int c = 0; c < consumers_; ++c) cursors_[c].value.store(offset, std::memory_order_relaxed);
}

uint64_t PartitionLog::MinCursor() const {
  uint64_t low = std::numeric_limits<uint64_t>::max();
  for (int c = 0; c < consumers_; ++c) {
    low = std::min(low, cursors_[c].value.load(std::memory_order_acquire));
  }
  return low;
}

std::optional<uint64_t> PartitionLog::TryReserve(uint32_t n) {
  uint64_t t = tail_.load(std::memory_order_acquire);
  for (;;) {
    // Acquire on the cursors (in MinCursor): the consumers' reads of the slots we are
    // about to overwrite happen before our writes.
    uint64_t low = MinCursor();
    if (low > t) {  // our view of the tail is older than a consumer's progress
      t = tail_.load(std::memory_order_acquire);
      continue;
    }
    if (t + n - low > capacity_) {
      if (!full_.load(std::memory_order_relaxed)) full_.store(true, std::memory_order_relaxed);
      return std::nullopt;
    }
    if (tail_.compare_exchange_weak(t, t + n, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return t;
    }
  }
}

PartitionedLog::PartitionedLog(uint32_t partitions, uint32_t capacity, int consumers) {
  parts_.reserve(partitions);
  for (uint32_t i = 0; i < partitions; ++i) {
    parts_.push_back(std::make_unique<PartitionLog>(capacity, consumers));
  }
}

}  // namespace eddy
