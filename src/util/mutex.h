#pragma once
// eddy::Mutex: a std::mutex with Abseil's thread-safety annotations (so GUARDED_BY works
// under clang's -Wthread-safety). Why not absl::Mutex: Debian's Abseil is not built with
// ThreadSanitizer, so TSan cannot see absl::Mutex's synchronisation and reports false
// races on everything it guards; std::mutex goes through pthread, which TSan intercepts.

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace eddy {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace eddy
