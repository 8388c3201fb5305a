#pragma once
// LeaseTable: who owns which log partition in cluster mode (issue 20; docs/scale-out.md),
// kept in a JetStream key-value bucket "<stream>-owners" whose entries expire after
// cluster.lease_ms unless renewed:
//   "n.<node>"  a live node (its heartbeat; the value is the node's engine clock in ms)
//   "p.<n>"     the owner of partition n (the value is the node's id)
// A partition is taken with a create (only when no live entry exists) and renewed with an
// update conditioned on the entry's revision, so at most one node holds it at a time; a
// node that cannot renew in time has lost it (another may have taken it) and must stop
// serving it.
//
// Thread-safety: every member from any thread (the NATS client is thread-safe).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/jetstream.h"
#include "eddy/result.h"
#include "eddy/status.h"

struct __kvStore;

namespace eddy {

class LeaseTable {
 public:
  // Opens (creates) the bucket, replicated as the stream is.
  static Result<std::unique_ptr<LeaseTable>> Open(JetStreamLog& log);
  ~LeaseTable();
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // This node's heartbeat.
  Status Beat(const std::string& node, int64_t clock_ms);
  // The live nodes (those whose heartbeat has not expired) with their clocks.
  Result<std::vector<std::pair<std::string, int64_t>>> Nodes();

  struct Owner {
    std::string node;
    uint64_t revision = 0;
  };
  // The owner of partition p; nullopt when nobody holds it.
  Result<std::optional<Owner>> OwnerOf(uint32_t p);
  // Takes partition p for `node`: its revision, or AlreadyExists when someone holds it.
  Result<uint64_t> Take(uint32_t p, const std::string& node);
  // Renews a lease taken at `revision`: the new revision, or AlreadyExists when the entry
  // changed (the lease expired and someone else took it).
  Result<uint64_t> Renew(uint32_t p, const std::string& node, uint64_t revision);
  // Gives partition p up (a clean shutdown, a hand-back), so another node takes it at
  // once; a failure leaves the lease to lapse.
  Status Release(uint32_t p);
  void Leave(const std::string& node);

 private:
  LeaseTable() = default;
  __kvStore* kv_ = nullptr;
  int64_t list_timeout_ms_ = 2000;  // Nodes()
};

}  // namespace eddy
