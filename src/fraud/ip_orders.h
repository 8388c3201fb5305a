#pragma once
// IpOrderWindow: what the ip_burst fraud reason needs to know across users — the distinct
// orders seen from each IP lately. An IP's orders come from any user, so from any
// partition and shard; the ingest path counts them instead, once, as each purchase with
// an `ip` is accepted, and stamps the count into the event (Event::ip_orders). The stored
// stamp is what scoring reads, in the live run and in every replay alike.
//
// The count for a purchase at event time t: the distinct order keys from its IP (the
// orderId's hash, else one of the purchase's own) with event times in (t - window,
// t + window), among the purchases accepted before it, itself included. An order already
// counted (another line of it, or a retry) is not added twice.
//
// Memory: at most `max_ips` IPs (the one seen longest ago is forgotten first) and
// kMaxPerIp orders per IP (past it the oldest by event time goes; the count saturates
// there: fraud.ip_orders is at most kMaxPerIp), 16 B each; an IP's orders older than its
// newest by more than the window are dropped as it gets new ones. The table is saved in every checkpoint
// (beside the interners) and fed the purchases replayed after it, so a restart keeps it.
//
// Thread-safety: every method locks; the ingest path calls it from the I/O threads for
// purchases with an `ip` only.

#include <cstdint>
#include <vector>

#include "agg/lru_map.h"
#include "eddy/event.h"
#include "util/interners.h"
#include "util/mutex.h"
#include "util/serial.h"

namespace eddy {

// A purchase's (IP, order) keys: the hash of its `ip`; of its orderId, else the purchase is
// an order of its own — its eventId (a retry is the same order), else the hash of its
// user, item, time, price and quantity. The ingest path and recovery's replay compute the
// same keys, so a purchase the window already holds (saved in a checkpoint, replayed after
// it) is not counted twice.
std::pair<uint64_t, uint64_t> IpOrderKeys(const Event& ev, const Interners& in);

class IpOrderWindow {
 public:
  static constexpr size_t kMaxPerIp = 64;  // fraud.ip_orders is at most this

  IpOrderWindow(int64_t window_ms, uint64_t max_ips);

  // Counts order `order` from IP `ip` at event time `time_ms` (keys: 64-bit hashes) and
  // returns its stamp; *added is false when the order was counted already.
  uint16_t Add(uint64_t ip, uint64_t order, int64_t time_ms, bool* added);
  // Takes back an Add that added (its request was refused before it entered the log).
  void Remove(uint64_t ip, uint64_t order);

  void Save(SerialWriter& w) const;
  // Replaces the table; false on a malformed section (then it is left empty).
  bool Load(SerialReader& r);

  size_t ips() const;
  uint64_t bytes() const;

 private:
  struct Order {
    int64_t time_ms;
    uint64_t key;
  };
  struct Ip {
    int64_t newest_ms = INT64_MIN;
    std::vector<Order> orders;  // distinct keys, in the order they were added
  };

  const int64_t window_ms_;
  mutable Mutex mu_;
  LruMap<uint64_t, Ip> ips_ ABSL_GUARDED_BY(mu_);
  uint64_t orders_ ABSL_GUARDED_BY(mu_) = 0;  // Σ orders.size()
};

}  // namespace eddy
