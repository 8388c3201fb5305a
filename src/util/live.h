#pragma once
// Live<T>: a value that a reload replaces while readers on other threads use it. A reader
// takes a snapshot (a shared_ptr to an immutable T) and keeps it for as long as it works
// with it; Set publishes a new one. A mutex guards only the pointer: no reader ever waits
// for another's work.
//
// Thread-safety: any thread.

#include <memory>
#include <utility>

#include "util/mutex.h"

namespace eddy {

template <typename T>
class Live {
 public:
  explicit Live(T value) : value_(std::make_shared<const T>(std::move(value))) {}

  std::shared_ptr<const T> Get() const {
    MutexLock lock(&mu_);
    return value_;
  }
  void Set(T value) {
    auto next = std::make_shared<const T>(std::move(value));
    MutexLock lock(&mu_);
    value_ = std::move(next);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy
