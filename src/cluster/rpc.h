#pragma once
// NodeRpc: requests between eddy nodes over the NATS connection of the JetStream log
// (issue 20): a read forwarded to the node that owns its partition, a global read's part
// asked of every node. Each node listens on "<stream>.rpc.<node>"; a call publishes there
// with a reply subject under the caller's own inbox and gets its answer asynchronously.
// A node that is gone answers at once with NATS's "no responders" (Unavailable); one that
// does not answer within the call's timeout fails it (Unavailable) too.
//
// Thread-safety: Call from any thread. The handler runs on NATS's delivery thread of the
// node's subscription; `done` on NATS's delivery thread of the inbox, or the expiry
// thread, or the caller's (a call that could not be sent).

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/jetstream.h"
#include "eddy/result.h"
#include "eddy/status.h"

namespace eddy {

class NodeRpc {
 public:
  // A request, and how to answer it (exactly once, from any thread).
  using Reply = std::function<void(std::string)>;
  using Handler = std::function<void(std::string request, Reply reply)>;
  using Done = std::function<void(Status, std::string)>;

  // Listens as `node`, handing each request to `handler`.
  static Result<std::unique_ptr<NodeRpc>> Open(JetStreamLog& log, const std::string& node,
                                               Handler handler);
  ~NodeRpc();
  // Stops answering (a handler running now returns first) and fails every call waiting
  // for an answer and every later one ("eddy is shutting down"). Idempotent.
  void Close();
  NodeRpc(const NodeRpc&) = delete;
  NodeRpc& operator=(const NodeRpc&) = delete;

  void Call(const std::string& node, const std::string& request, int64_t timeout_ms, Done done);
  // The largest request or answer the NATS servers take (their max_payload).
  int64_t MaxPayload() const;

 private:
  struct Pending {
    Done done;
    std::chrono::steady_clock::time_point deadline;
    std::string node;
  };
  NodeRpc(JetStreamLog& log, Handler handler) : log_(log), handler_(std::move(handler)) {}
  friend struct NodeRpcCallbacks;
  void OnRequest(void* msg);
  void OnReply(void* msg);
  void ExpireLoop();
  std::optional<Pending> TakePending(uint64_t id);  // the call waiting for `id`, removed

  JetStreamLog& log_;
  Handler handler_;
  std::string inbox_;  // "<inbox>." + call id is each call's reply subject
  void* request_sub_ = nullptr;
  void* reply_sub_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool closing_ = false;  // Close has begun (guarded by mu_)
  int completed_ = 0;  // subscriptions closed with their handler returned
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;  // by call id, guarded by mu_
  std::thread expiry_;
};

}  // namespace eddy
