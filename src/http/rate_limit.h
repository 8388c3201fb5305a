#pragma once
// RateLimiter: token buckets per client (limits.*): one for ingest, charged with the
// events each request had accepted, and one for reads, a token per read. A client may
// send while its bucket holds a token; an ingest may overdraw it (the events are known only
// once decoded), and the client then waits until the refill pays the debt. Refused
// requests get 429 with Retry-After: the whole seconds until the bucket holds a token.
// At most limits.max_clients buckets are kept; past it, full (idle) buckets are forgotten
// first (a forgotten client starts again with a full bucket), else arbitrary ones.
//
// Thread-safety: any thread; the buckets are split over mutex-guarded stripes by client.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "eddy/options.h"
#include "util/mutex.h"

namespace eddy {

class RateLimiter {
 public:
  enum Kind { kIngest = 0, kRead = 1 };

  explicit RateLimiter(const LimitOptions& options) { Configure(options); }
  // New rates and bursts (reload); the buckets are kept.
  void Configure(const LimitOptions& options);
  bool enabled(Kind kind) const { return rate_[kind].load(std::memory_order_relaxed) > 0; }

  // 0 when `client` may go ahead now (a read takes its token), else the seconds to wait.
  int Admit(std::string_view client, Kind kind, int64_t now_ns);
  // Charges `tokens` (ingest: the events accepted) to `client`'s bucket.
  void Charge(std::string_view client, Kind kind, double tokens, int64_t now_ns);
  size_t clients() const;

 private:
  struct Bucket {
    double tokens[2];
    int64_t at_ns[2];
  };
  struct alignas(64) Stripe {
    mutable Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kStripes = 16;
  Bucket& Find(Stripe& s, std::string_view client, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);
  void Refill(Bucket& b, Kind kind, int64_t now_ns) const;

  std::array<std::atomic<double>, 2> rate_{}, burst_{};
  std::atomic<uint64_t> max_per_stripe_{1};
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace eddy
