#include "cluster/rpc.h"

#include <nats/nats.h>

#include <vector>

namespace eddy {

struct NodeRpcCallbacks {
  static void Complete(void* closure) {
    auto* rpc = static_cast<NodeRpc*>(closure);
    std::lock_guard lock(rpc->mu_);
    ++rpc->completed_;
    rpc->cv_.notify_all();
  }
  static void Request(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    static_cast<NodeRpc*>(closure)->OnRequest(msg);
  }
  static void Reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    static_cast<NodeRpc*>(closure)->OnReply(msg);
  }
};

Result<std::unique_ptr<NodeRpc>> NodeRpc::Open(JetStreamLog& log, const std::string& node,
                                               Handler handler) {
  std::unique_ptr<NodeRpc> rpc(new NodeRpc(log, std::move(handler)));
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s == NATS_OK) {
    rpc->inbox_ = inbox;
    natsInbox_Destroy(inbox);
  }
  const std::string subject = log.options().stream + ".rpc." + node;
  natsSubscription* req = nullptr;
  natsSubscription* rep = nullptr;
  if (s == NATS_OK) {
    s = natsConnection_Subscribe(&req, log.connection(), subject.c_str(), &NodeRpcCallbacks::Request,
                                 rpc.get());
  }
  if (s == NATS_OK) {
    s = natsConnection_Subscribe(&rep, log.connection(), (rpc->inbox_ + ".*").c_str(),
                                 &NodeRpcCallbacks::Reply, rpc.get());
  }
  // Told when a subscription is closed and its handler has returned: only then may this
  // object go (the destructor waits for both).
  if (req != nullptr) natsSubscription_SetOnCompleteCB(req, &NodeRpcCallbacks::Complete, rpc.get());
  if (rep != nullptr) natsSubscription_SetOnCompleteCB(rep, &NodeRpcCallbacks::Complete, rpc.get());
  rpc->request_sub_ = req;
  rpc->reply_sub_ = rep;
  // The subscriptions are known to the server before a peer may call this node.
  if (s == NATS_OK) s = natsConnection_FlushTimeout(log.connection(), log.options().connect_timeout_ms);
  if (s != NATS_OK) {
    return Status::Unavailable(std::string("cluster: cannot listen for node requests (") +
                               natsStatus_GetText(s) + ")");
  }
  rpc->expiry_ = std::thread([r = rpc.get()] { r->ExpireLoop(); });
  return rpc;
}

NodeRpc::~NodeRpc() { Close(); }

void NodeRpc::Close() {
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    closing_ = true;
  }
  int subs = 0;
  for (void* sub : {request_sub_, reply_sub_}) {
    if (sub == nullptr) continue;
    ++subs;
    natsSubscription_Unsubscribe(static_cast<natsSubscription*>(sub));
  }
  std::map<uint64_t, Pending> left;
  {
    std::unique_lock lock(mu_);
    // A handler running now returns before this object goes (even with NATS unreachable:
    // closing a subscription needs no server).
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return completed_ >= subs; });
    stop_ = true;
    left.swap(pending_);
  }
  cv_.notify_all();
  if (expiry_.joinable()) expiry_.join();
  for (void* sub : {request_sub_, reply_sub_}) {
    if (sub != nullptr) natsSubscription_Destroy(static_cast<natsSubscription*>(sub));
  }
  request_sub_ = reply_sub_ = nullptr;
  for (auto& [id, p] : left) p.done(Status::Unavailable("eddy is shutting down"), {});
}

void NodeRpc::OnRequest(void* m) {
  auto* msg = static_cast<natsMsg*>(m);
  const char* reply_to = natsMsg_GetReply(msg);
  std::string request(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  std::string to = reply_to != nullptr ? reply_to : "";
  natsMsg_Destroy(msg);
  if (to.empty()) return;  // nobody waits for an answer
  handler_(std::move(request), [nc = log_.connection(), to](std::string answer) {
    natsConnection_Publish(nc, to.c_str(), answer.data(), static_cast<int>(answer.size()));
  });
}

std::optional<NodeRpc::Pending> NodeRpc::TakePending(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;  // answered or expired already
  std::optional<Pending> p = std::move(it->second);
  pending_.erase(it);
  return p;
}

void NodeRpc::OnReply(void* m) {
  auto* msg = static_cast<natsMsg*>(m);
  const std::string_view subject = natsMsg_GetSubject(msg);
  const uint64_t id = std::strtoull(std::string(subject.substr(subject.rfind('.') + 1)).c_str(), nullptr, 10);
  std::optional<Pending> p = TakePending(id);
  if (p) {
    if (natsMsg_IsNoResponders(msg)) {
      p->done(Status::Unavailable("node " + p->node + " is not listening (gone or not started)"), {});
    } else {
      p->done(Status::Ok(), std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
    }
  }
  natsMsg_Destroy(msg);
}

void NodeRpc::Call(const std::string& node, const std::string& request, int64_t timeout_ms, Done done) {
  uint64_t id = 0;
  {
    std::unique_lock lock(mu_);
    if (stop_) {
      lock.unlock();  // `done` may call again
      return done(Status::Unavailable("eddy is shutting down"), {});
    }
    id = next_id_++;
    pending_[id] = Pending{std::move(done),
                           std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms), node};
  }
  const std::string subject = log_.options().stream + ".rpc." + node;
  const std::string reply = inbox_ + "." + std::to_string(id);
  natsStatus s = natsConnection_PublishRequest(log_.connection(), subject.c_str(), reply.c_str(),
                                               request.data(), static_cast<int>(request.size()));
  if (s != NATS_OK) {
    std::optional<Pending> p = TakePending(id);
    if (p) p->done(Status::Unavailable(std::string("cannot reach node ") + node + ": " + natsStatus_GetText(s)), {});
  }
}

int64_t NodeRpc::MaxPayload() const { return natsConnection_GetMaxPayload(log_.connection()); }

void NodeRpc::ExpireLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));  // the expiry clock's tick
    const auto now = std::chrono::steady_clock::now();
    std::vector<Pending> overdue;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        overdue.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (overdue.empty()) continue;
    lock.unlock();
    for (Pending& p : overdue) {
      p.done(Status::Unavailable("node " + p.node + " did not answer in time (cluster.forward_timeout_ms)"), {});
    }
    lock.lock();
  }
}

}  // namespace eddy
