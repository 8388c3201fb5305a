#pragma once
// RequestSources for eddy-load: a synthetic stream and a file replay.

#include <string>
#include <vector>

#include "load/runner.h"
#include "load/source.h"

namespace eddy::load {

// Batches of the synthetic stream. The stream is generated up front into a pool of
// `pool_events` events (so the generator costs nothing during the run) and cycled.
// Open loop at `rate` events/s when rate > 0.
class SyntheticSource : public RequestSource {
 public:
  SyntheticSource(const SyntheticOptions& o, int batch, double rate, uint64_t pool_events);
  bool Next(std::string* body, int* events, double* due_s) override;
  std::string content_type() const override;

 private:
  std::vector<std::string> bodies_;
  int batch_;
  double rate_;
  uint64_t next_ = 0;
};

// Batches of a replayed file, in file order, once. Paced by the events' timestamps at
// `speed` x real time when speed > 0 (and the events have timestamps), else as fast as
// the connections go.
class ReplaySource : public RequestSource {
 public:
  ReplaySource(std::vector<ReplayEvent> events, int batch, double speed);
  bool Next(std::string* body, int* events, double* due_s) override;
  std::string content_type() const override;
  uint64_t total_events() const { return events_.size(); }

 private:
  std::vector<ReplayEvent> events_;
  int batch_;
  double speed_;
  size_t pos_ = 0;
};

}  // namespace eddy::load
