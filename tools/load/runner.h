#pragma once
// The load runner: HTTP/1.1 keep-alive connections on Asio/Beast that send ingest requests
// (and optionally reads) on a timetable.
//
// Open loop (rate > 0 or a paced replay): request i is due at start + i's offset; a free
// connection takes the next due request, waits until it is due, sends it, and its latency
// is measured FROM THE DUE TIME. A stalled server therefore shows its queueing in the
// latency instead of slowing the generator down (no coordinated omission).
// Closed loop (rate 0 / replay at max speed): each connection sends its next request as
// soon as the previous answer arrived; latency is measured from the send.
//
// Thread-safety: Run() is self-contained; it runs its io_context on `threads` threads and
// serialises the sources and statistics with one mutex.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "load/histogram.h"

namespace eddy::load {

struct RunOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int connections = 16;
  int threads = 1;
  double duration_s = 10;  // no request becomes due after this; in-flight ones finish
  double reads_per_s = 0;  // open-loop read load beside the ingest
  int read_connections = 4;
  bool progress = false;  // a line per second on stderr
  // Extra header fields sent with every request ({"Authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct OpStats {
  Histogram latency_ns;
  uint64_t requests = 0;
  uint64_t events = 0;    // events in requests answered 200
  uint64_t accepted = 0;  // sum of the server's "accepted" counts
  uint64_t errors = 0;    // non-200 answers and transport errors
  std::map<int, uint64_t> status;  // by HTTP status; 0 = transport error
  void Add(const OpStats& o);
};

struct RunResult {
  OpStats ingest;
  OpStats read;
  double elapsed_s = 0;
};

// Produces the ingest requests in order.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // The next request: its body, its number of events and when it is due, in seconds from
  // the start (< 0: as soon as a connection is free). False when there is no more.
  virtual bool Next(std::string* body, int* events, double* due_s) = 0;
  virtual std::string content_type() const = 0;
};

// `read_target` (may be empty) makes the path of each read, e.g. "/v1/users/u7/recent".
RunResult Run(const RunOptions& options, RequestSource& source,
              std::function<std::string()> read_target = {});

}  // namespace eddy::load
