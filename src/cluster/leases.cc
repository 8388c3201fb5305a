#include "cluster/leases.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace eddy {
namespace {

std::string PartitionKey(uint32_t p) { return "p." + std::to_string(p); }

}  // namespace

Result<std::unique_ptr<LeaseTable>> LeaseTable::Open(JetStreamLog& log) {
  const ClusterOptions& o = log.options();
  std::unique_ptr<LeaseTable> t(new LeaseTable());
  // Within a lease tick: the caller renews its leases around it.
  t->list_timeout_ms_ = std::clamp<int64_t>(o.lease_ms / 4, 250, 2000);
  const std::string bucket = o.stream + "-owners";
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = bucket.c_str();
  kc.History = 1;
  kc.TTL = o.lease_ms * 1'000'000;  // nanoseconds
  kc.StorageType = js_MemoryStorage;  // leases need not survive the servers' restart
  kc.Replicas = static_cast<int>(o.replicas);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.connect_timeout_ms);
  natsStatus s = NATS_OK;
  for (;;) {
    s = js_CreateKeyValue(&t->kv_, log.context(), &kc);
    if (s != NATS_OK) s = js_KeyValue(&t->kv_, log.context(), bucket.c_str());
    if (s == NATS_OK || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a leader election: nothing to poll
  }
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: cannot open the lease bucket '" + bucket + "' (" + NatsError(s) + ")");
  }
  return t;
}

LeaseTable::~LeaseTable() {
  if (kv_ != nullptr) kvStore_Destroy(kv_);
}

Status LeaseTable::Beat(const std::string& node, int64_t clock_ms) {
  uint64_t rev = 0;
  const std::string value = std::to_string(clock_ms);
  natsStatus s = kvStore_PutString(&rev, kv_, ("n." + node).c_str(), value.c_str());
  if (s != NATS_OK) return Status::Unavailable("cluster: heartbeat not stored (" + NatsError(s) + ")");
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, int64_t>>> LeaseTable::Nodes() {
  kvKeysList list{};
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.Timeout = list_timeout_ms_;
  natsStatus s = kvStore_Keys(&list, kv_, &wo);
  std::vector<std::pair<std::string, int64_t>> out;
  if (s == NATS_NOT_FOUND) return out;  // an empty bucket
  if (s != NATS_OK) return Status::Unavailable("cluster: the live nodes could not be listed (" + NatsError(s) + ")");
  for (int i = 0; i < list.Count; ++i) {
    std::string_view key = list.Keys[i];
    if (key.substr(0, 2) != "n.") continue;
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv_, list.Keys[i]) != NATS_OK) continue;  // expired meanwhile
    int64_t clock = INT64_MIN;
    try {
      clock = std::stoll(kvEntry_ValueString(e));
    } catch (...) {
    }
    out.emplace_back(std::string(key.substr(2)), clock);
    kvEntry_Destroy(e);
  }
  kvKeysList_Destroy(&list);
  return out;
}

Result<std::optional<LeaseTable::Owner>> LeaseTable::OwnerOf(uint32_t p) {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, PartitionKey(p).c_str());
  if (s == NATS_NOT_FOUND) return std::optional<Owner>();
  if (s != NATS_OK) return Status::Unavailable("cluster: owner of partition " + std::to_string(p) + " (" + NatsError(s) + ")");
  Owner o{kvEntry_ValueString(e), kvEntry_Revision(e)};
  kvEntry_Destroy(e);
  return std::optional<Owner>(std::move(o));
}

Result<uint64_t> LeaseTable::Take(uint32_t p, const std::string& node) {
  uint64_t rev = 0;
  natsStatus s = kvStore_CreateString(&rev, kv_, PartitionKey(p).c_str(), node.c_str());
  if (s == NATS_OK) return rev;
  if (s == NATS_ERR) return Status::AlreadyExists("partition " + std::to_string(p) + " is held");
  return Status::Unavailable("cluster: take partition " + std::to_string(p) + " (" + NatsError(s) + ")");
}

Result<uint64_t> LeaseTable::Renew(uint32_t p, const std::string& node, uint64_t revision) {
  uint64_t rev = 0;
  natsStatus s = kvStore_UpdateString(&rev, kv_, PartitionKey(p).c_str(), node.c_str(), revision);
  if (s == NATS_OK) return rev;
  // The servers refused it: the entry is at another revision (or, during a re-election,
  // some other JetStream error: the caller looks the owner up either way).
  if (s == NATS_ERR) return Status::AlreadyExists("partition " + std::to_string(p) + " not renewed (" + NatsError(s) + ")");
  return Status::Unavailable("cluster: renew partition " + std::to_string(p) + " (" + NatsError(s) + ")");
}

Status LeaseTable::Release(uint32_t p) {
  const natsStatus s = kvStore_Delete(kv_, PartitionKey(p).c_str());
  if (s != NATS_OK) return Status::Unavailable("cluster: release partition " + std::to_string(p) + " (" + NatsError(s) + ")");
  return Status::Ok();
}

void LeaseTable::Leave(const std::string& node) { kvStore_Delete(kv_, ("n." + node).c_str()); }

}  // namespace eddy
