#pragma once
// EventLoop: an I/O event loop that a shard thread runs between its slices of applying
// (server.io_threads = 0: one thread per core accepts, reads, parses and answers HTTP and
// applies its partitions, Seastar style — docs/architecture.md, "One thread per core").
// The HTTP server implements it over an io_context; the engine's shard threads drive it
// (Engine::HostLoop).
//
// Thread-safety: Poll and Wait from the thread that hosts the loop only; Interrupt from
// any thread.

#include <cstddef>
#include <cstdint>

namespace eddy {

class EventLoop {
 public:
  virtual ~EventLoop() = default;
  // Runs handlers that are ready for about `budget_us` (at least one if any is ready, so
  // applying is not kept waiting), without blocking; returns how many ran.
  virtual size_t Poll(int64_t budget_us) = 0;
  // Blocks until a handler is ready and runs it, Interrupt() was called (since the last
  // Wait), or `timeout_us` passed.
  virtual void Wait(int64_t timeout_us) = 0;
  // Makes the Wait in progress, or the next one, return soon.
  virtual void Interrupt() = 0;
};

}  // namespace eddy
