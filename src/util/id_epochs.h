#pragma once
// IdEpochs: when an interned id may be given to another string (util/interner.h).
//
// An id is recycled when no state references it and nobody else can still hold it: an
// I/O thread between interning and appending an event, a read between finding an id and
// printing its string, a per-thread intern cache. Everyone who holds ids outside the
// states does so inside a Guard; the recycler (engine/id_recycler.h) advances the epoch
// and waits until no guard entered under the previous epoch is left (a grace period, as
// in RCU) before it frees anything that was unreferenced before that point. Two counters
// (by the epoch's parity) are enough: the recycler waits for one parity to drain before
// it advances again.
//
// Interners stamp every id they hand out (Intern, Find) with the epoch of that moment;
// an id stamped at or after the start of a sweep is never freed by that sweep.
//
// Thread-safety: Enter/current from any thread; a Guard may be released on another
// thread than the one that entered (reads hop threads). Advance/Drained from one thread
// (the recycler).

#include <atomic>
#include <cstdint>
#include <utility>

namespace eddy {

class IdEpochs {
 public:
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), parity_(o.parity_) {}
    Guard& operator=(Guard&& o) noexcept {
      if (this != &o) {
        Release();
        owner_ = std::exchange(o.owner_, nullptr);
        parity_ = o.parity_;
      }
      return *this;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { Release(); }
    void Release() {
      if (owner_ != nullptr) owner_->counts_[parity_].value.fetch_sub(1, std::memory_order_release);
      owner_ = nullptr;
    }

   private:
    friend class IdEpochs;
    Guard(IdEpochs* owner, uint32_t parity) : owner_(owner), parity_(parity) {}
    IdEpochs* owner_ = nullptr;
    uint32_t parity_ = 0;
  };

  // Registers the caller under the current epoch. seq_cst: the recycler's advance and its
  // drain check must not pass a guard's increment and re-check (store-load ordering).
  Guard Enter() {
    for (;;) {
      const uint32_t e = epoch_.load(std::memory_order_seq_cst);
      counts_[e & 1].value.fetch_add(1, std::memory_order_seq_cst);
      if (epoch_.load(std::memory_order_seq_cst) == e) return Guard(this, e & 1);
      counts_[e & 1].value.fetch_sub(1, std::memory_order_seq_cst);  // advanced: retry
    }
  }

  uint32_t current() const { return epoch_.load(std::memory_order_seq_cst); }

  // Recycler only. The new epoch; guards entered before it are drained once
  // Drained(new epoch - 1) is true.
  uint32_t Advance() { return epoch_.fetch_add(1, std::memory_order_seq_cst) + 1; }
  bool Drained(uint32_t old_epoch) const {
    return counts_[old_epoch & 1].value.load(std::memory_order_seq_cst) == 0;
  }

 private:
  struct alignas(64) Counter {
    std::atomic<int64_t> value{0};
  };
  std::atomic<uint32_t> epoch_{1};
  Counter counts_[2];
};

}  // namespace eddy
