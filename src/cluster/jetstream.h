#pragma once
// JetStreamLog: eddy's event log kept in a NATS JetStream stream, for cluster mode (issue
// 20; docs/scale-out.md). One stream, one subject per log partition ("<stream>.p.<n>"),
// each message one event in the store's codec (store/event_codec.h), its id (JetStream's
// "Nats-Msg-Id") the event's idempotency key, so a retried publish within the stream's
// duplicate window is stored once. The stream is created, or updated to these settings,
// when the log opens; `replicas` is the JetStream replication (R3 survives one server).
//
// Publish sends a batch asynchronously and waits until JetStream has acknowledged every
// message (stored at the stream's replication) or failed it; a failed batch may be
// partly stored, and publishing it again with the same ids stores the rest once. A
// PartitionReader reads one partition in stream order from a given stream sequence.
//
// Thread-safety: Publish and NewReader from any thread; a PartitionReader is used by one
// thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eddy/options.h"
#include "eddy/result.h"
#include "eddy/status.h"

struct __natsConnection;
struct __jsCtx;
struct __natsSubscription;
struct __natsMsg;
struct jsPubAck;
struct jsPubAckErr;

namespace eddy {

// A NATS status (natsStatus) and JetStream error code (jsErrCode, 0: none) in words, with
// the client library's last error text.
std::string NatsError(int status, int js_error = 0);

class JetStreamLog {
 public:
  struct Record {
    uint32_t partition = 0;
    std::string data;    // the encoded event
    std::string msg_id;  // de-duplication key; empty: none
  };
  // What JetStream said of one published record.
  struct Ack {
    uint64_t sequence = 0;   // its stream sequence (the original's, for a duplicate)
    bool duplicate = false;  // an earlier publish with its id was stored already
  };

  // Connects to `o.servers` (retrying for up to o.connect_timeout_ms) and creates or
  // updates the stream for `partitions` partitions.
  static Result<std::unique_ptr<JetStreamLog>> Open(const ClusterOptions& o, uint32_t partitions);
  ~JetStreamLog();
  JetStreamLog(const JetStreamLog&) = delete;
  JetStreamLog& operator=(const JetStreamLog&) = delete;

  // Publishes `records` and waits for every acknowledgement (each within
  // o.publish_timeout_ms). On success acks[i] is records[i]'s.
  Status Publish(const std::vector<Record>& records, std::vector<Ack>* acks);
  // The same without waiting: `done` runs once, when every record is acknowledged or
  // failed — on NATS's acknowledgement thread, or on the caller's when nothing was sent.
  // It must be quick (hand work elsewhere).
  using PublishDone = std::function<void(Status, std::vector<Ack>)>;
  void PublishAsync(const std::vector<Record>& records, PublishDone done);

  // The stream sequence of the newest message of partition `p` (0: none).
  Result<uint64_t> LastSequence(uint32_t p);
  // The same for each of `parts`, asked all at once (one round trip, not one each); the
  // first failure otherwise. Waits at most the JetStream API wait.
  Result<std::vector<uint64_t>> LastSequences(const std::vector<uint32_t>& parts);

  class PartitionReader {
   public:
    ~PartitionReader();
    // Up to `max` messages in stream order, waiting up to `wait_ms` for the first: fn(stream
    // sequence, data) for each. Returns how many were read (0: none arrived in time).
    Result<size_t> Fetch(size_t max, int wait_ms,
                         const std::function<void(uint64_t, std::string_view)>& fn);

   private:
    friend class JetStreamLog;
    __natsSubscription* sub_ = nullptr;
  };
  // A reader of partition `p` from stream sequence `from` (1 = the start).
  Result<std::unique_ptr<PartitionReader>> NewReader(uint32_t p, uint64_t from);

  std::string SubjectOf(uint32_t p) const { return options_.stream + ".p." + std::to_string(p); }
  const ClusterOptions& options() const { return options_; }
  // The connection and JetStream context, for the lease table and the nodes' requests
  // (cluster/leases.h, cluster/rpc.h); owned by the log.
  __natsConnection* connection() const { return nc_; }
  __jsCtx* context() const { return js_; }

 private:
  struct Waiter;
  explicit JetStreamLog(const ClusterOptions& o) : options_(o) {}
  friend void OnJetStreamAck(__jsCtx*, __natsMsg*, jsPubAck*, jsPubAckErr*, void*);
  void Acked(__natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  void Finish(Waiter* w);  // the last acknowledgement came: reply, forget the batch

  const ClusterOptions options_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  std::mutex mu_;
  uint64_t next_batch_ = 1;
  std::unordered_map<uint64_t, Waiter*> waiting_;  // by batch id, guarded by mu_
};

}  // namespace eddy
