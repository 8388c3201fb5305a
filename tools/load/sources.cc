#include "load/sources.h"

#include <algorithm>

namespace eddy::load {
namespace {

std::string ContentType(int batch) {
  return batch > 1 ? "application/x-ndjson" : "application/json";
}

}  // namespace

SyntheticSource::SyntheticSource(const SyntheticOptions& o, int batch, double rate,
                                 uint64_t pool_events)
    : batch_(std::max(1, batch)), rate_(rate) {
  Synthetic gen(o);
  const uint64_t requests = std::max<uint64_t>(1, pool_events / static_cast<uint64_t>(batch_));
  bodies_.reserve(requests);
  for (uint64_t r = 0; r < requests; ++r) {
    std::string body;
    for (int i = 0; i < batch_; ++i) {
      gen.Next(&body);
      if (batch_ > 1) body += '\n';
    }
    bodies_.push_back(std::move(body));
  }
}

bool SyntheticSource::Next(std::string* body, int* events, double* due_s) {
  *body = bodies_[next_ % bodies_.size()];
  *events = batch_;
  *due_s = rate_ > 0 ? static_cast<double>(next_ * static_cast<uint64_t>(batch_)) / rate_ : -1;
  ++next_;
  return true;
}

std::string SyntheticSource::content_type() const { return ContentType(batch_); }

ReplaySource::ReplaySource(std::vector<ReplayEvent> events, int batch, double speed)
    : events_(std::move(events)), batch_(std::max(1, batch)), speed_(speed) {}

bool ReplaySource::Next(std::string* body, int* events, double* due_s) {
  if (pos_ >= events_.size()) return false;
  const size_t end = std::min(events_.size(), pos_ + static_cast<size_t>(batch_));
  body->clear();
  for (size_t i = pos_; i < end; ++i) {
    *body += events_[i].json;
    if (batch_ > 1) *body += '\n';
  }
  *events = static_cast<int>(end - pos_);
  const int64_t t0 = events_.front().time_ms;
  *due_s = speed_ > 0 && t0 > 0
               ? static_cast<double>(events_[pos_].time_ms - t0) / 1000.0 / speed_
               : -1;
  pos_ = end;
  return true;
}

std::string ReplaySource::content_type() const { return ContentType(batch_); }

}  // namespace eddy::load
