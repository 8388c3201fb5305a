#pragma once
// HttpServer: eddy's HTTP/1.1 front end on Boost.Beast. N I/O threads, each with its own
// io_context and IngestContext; the acceptor hands each new connection to the next thread
// round-robin, and a connection stays on its thread for life (no strands, no locks).
// Per connection: keep-alive, pipelined requests answered in order, a timeout on every
// read and write, a body limit (413 before the body is read when Content-Length says so),
// `Expect: 100-continue` answered.
//
// With server.io_threads = 0 the engine's shard threads run the io_contexts (one thread
// per core, Engine::HostLoop); BeginShutdown moves them onto threads of their own, so call
// it before the engine stops (a stopped engine runs no loop: replies would wait for Join).
//
// Thread-safety: Start/BeginShutdown/Join from the owning (main) thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "eddy/engine.h"
#include "eddy/options.h"
#include "eddy/status.h"

namespace eddy {

class HttpServer {
 public:
  // Keeps a reference to `options`: it must outlive the server.
  HttpServer(Engine& engine, const Options& options);
  ~HttpServer();

  // Binds and starts the I/O threads. port() tells the bound port (useful with port 0).
  Status Start();
  uint16_t port() const { return port_; }

  // Stops accepting connections; requests that arrive from now on get 503 and the
  // connection closes. Returns once in-flight requests are answered or the drain timeout
  // passed (then it says how many were still in flight).
  void BeginShutdown();
  // Stops the I/O threads and closes every connection.
  void Join();

  uint64_t active_requests() const;

  // Applies the live settings of `options` (auth, limits, CORS, the access log): each I/O
  // thread takes them before its next request. Error (nothing changed): the access log
  // cannot be opened. Settings read only at Start (server.host, port, threads, timeouts)
  // are not changed.
  Status Reconfigure(const Options& options);
  // What POST /v1/admin/reload runs (Router::SetReloader); call before Start.
  void SetReloader(std::function<std::pair<bool, std::string>()> reload);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Options& options_;
  uint16_t port_ = 0;
};

}  // namespace eddy
