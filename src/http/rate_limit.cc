#include "http/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace eddy {

void RateLimiter::Configure(const LimitOptions& o) {
  rate_[kIngest].store(o.ingest_events_per_second, std::memory_order_relaxed);
  rate_[kRead].store(o.reads_per_second, std::memory_order_relaxed);
  burst_[kIngest].store(o.ingest_burst_events > 0 ? o.ingest_burst_events : o.ingest_events_per_second,
                        std::memory_order_relaxed);
  burst_[kRead].store(o.reads_burst > 0 ? o.reads_burst : o.reads_per_second,
                      std::memory_order_relaxed);
  max_per_stripe_.store(std::max<uint64_t>(1, o.max_clients / kStripes), std::memory_order_relaxed);
}

void RateLimiter::Refill(Bucket& b, Kind kind, int64_t now_ns) const {
  const double rate = rate_[kind].load(std::memory_order_relaxed);
  const double burst = std::max(1.0, burst_[kind].load(std::memory_order_relaxed));
  if (now_ns > b.at_ns[kind]) {
    b.tokens[kind] = std::min(burst, b.tokens[kind] + rate * static_cast<double>(now_ns - b.at_ns[kind]) / 1e9);
    b.at_ns[kind] = now_ns;
  }
  b.tokens[kind] = std::min(b.tokens[kind], burst);  // a lowered burst (reload) applies now
}

RateLimiter::Bucket& RateLimiter::Find(Stripe& s, std::string_view client, int64_t now_ns) {
  auto it = s.buckets.find(absl::string_view(client.data(), client.size()));
  if (it != s.buckets.end()) return it->second;
  if (s.buckets.size() >= max_per_stripe_.load(std::memory_order_relaxed)) {
    // Forget the idle (refilled to full) buckets; if none is idle, an arbitrary one.
    const size_t before = s.buckets.size();
    for (auto e = s.buckets.begin(); e != s.buckets.end();) {
      Bucket& b = e->second;
      Refill(b, kIngest, now_ns);
      Refill(b, kRead, now_ns);
      const bool idle = b.tokens[kIngest] >= burst_[kIngest].load(std::memory_order_relaxed) &&
                        b.tokens[kRead] >= burst_[kRead].load(std::memory_order_relaxed);
      if (idle) {
        s.buckets.erase(e++);
      } else {
        ++e;
      }
    }
    // None idle: forget an eighth of the stripe at once, so that a flood of new clients
    // does not scan it for each one.
    if (s.buckets.size() == before) {
      for (size_t n = std::max<size_t>(1, before / 8); n != 0 && !s.buckets.empty(); --n) {
        s.buckets.erase(s.buckets.begin());
      }
    }
  }
  Bucket fresh;
  for (int k = 0; k < 2; ++k) {
    fresh.tokens[k] = std::max(1.0, burst_[k].load(std::memory_order_relaxed));
    fresh.at_ns[k] = now_ns;
  }
  return s.buckets.emplace(std::string(client), fresh).first->second;
}

int RateLimiter::Admit(std::string_view client, Kind kind, int64_t now_ns) {
  const double rate = rate_[kind].load(std::memory_order_relaxed);
  if (rate <= 0) return 0;
  Stripe& s = stripes_[StableHash64(client) % kStripes];
  MutexLock lock(&s.mu);
  Bucket& b = Find(s, client, now_ns);
  Refill(b, kind, now_ns);
  if (b.tokens[kind] >= 1.0) {
    if (kind == kRead) b.tokens[kind] -= 1.0;
    return 0;
  }
  // (A day at most: a tiny rate would overflow the int.)
  return static_cast<int>(std::clamp(std::ceil((1.0 - b.tokens[kind]) / rate), 1.0, 86'400.0));
}

void RateLimiter::Charge(std::string_view client, Kind kind, double tokens, int64_t now_ns) {
  if (rate_[kind].load(std::memory_order_relaxed) <= 0 || tokens <= 0) return;
  Stripe& s = stripes_[StableHash64(client) % kStripes];
  MutexLock lock(&s.mu);
  Bucket& b = Find(s, client, now_ns);
  Refill(b, kind, now_ns);
  b.tokens[kind] -= tokens;
}

size_t RateLimiter::clients() const {
  size_t n = 0;
  for (const Stripe& s : stripes_) {
    MutexLock lock(&s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace eddy
