#include "cluster/jetstream.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

namespace eddy {
namespace {

std::string Why(natsStatus s, jsErrCode je = static_cast<jsErrCode>(0)) { return NatsError(s, je); }

// The headers that tie an acknowledged message back to its batch and place in it.
constexpr const char* kBatchHeader = "Eddy-Batch";
constexpr const char* kIndexHeader = "Eddy-Index";

}  // namespace

std::string NatsError(int status, int js_error) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string out = natsStatus_GetText(static_cast<natsStatus>(status));
  if (text != nullptr && *text != '\0') out.append(": ").append(text);
  if (js_error != 0) out.append(" (JetStream error ").append(std::to_string(js_error)).append(")");
  return out;
}

// One PublishAsync call waiting for its acknowledgements.
struct JetStreamLog::Waiter {
  uint64_t batch = 0;
  std::mutex mu;
  size_t pending = 0;
  std::vector<Ack> acks;
  std::string error;  // the first failure
  PublishDone done;
};

void OnJetStreamAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  static_cast<JetStreamLog*>(closure)->Acked(msg, pa, pae);
}

Result<std::unique_ptr<JetStreamLog>> JetStreamLog::Open(const ClusterOptions& o,
                                                         uint32_t partitions) {
  if (o.servers.empty()) return Status::InvalidArgument("cluster.servers: at least one NATS URL is required");
  std::unique_ptr<JetStreamLog> log(new JetStreamLog(o));
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const std::string& u : o.servers) urls.push_back(u.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // forever: a server may come back
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 100);
  if (s == NATS_OK) s = natsOptions_SetName(opts, o.node_id.c_str());
  // The servers may still be starting: retry the first connect until the timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.connect_timeout_ms);
  while (s == NATS_OK) {
    s = natsConnection_Connect(&log->nc_, opts);
    if (s != NATS_NO_SERVER || std::chrono::steady_clock::now() >= deadline) break;
    s = NATS_OK;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a server to come up: no event to poll
  }
  if (opts != nullptr) natsOptions_Destroy(opts);
  if (s != NATS_OK) return Status::Unavailable("cluster: cannot connect to NATS (" + Why(s) + ")");

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.AckHandler = &OnJetStreamAck;
  jo.PublishAsync.AckHandlerClosure = log.get();
  jo.PublishAsync.MaxPending = 65536;
  // JetStream API calls (leases, last sequences, readers) fail fast enough for a lease to
  // be renewed several times within cluster.lease_ms; each caller retries.
  jo.Wait = std::clamp<int64_t>(o.lease_ms / 4, 250, 5000);
  s = natsConnection_JetStream(&log->js_, log->nc_, &jo);
  if (s != NATS_OK) return Status::Unavailable("cluster: no JetStream context (" + Why(s) + ")");

  // The stream: created, or updated to these settings (subjects, replicas, window).
  const std::string subjects = o.stream + ".p.*";
  const char* subj[] = {subjects.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = o.stream.c_str();
  sc.Subjects = subj;
  sc.SubjectsLen = 1;
  sc.Replicas = static_cast<int64_t>(o.replicas);
  sc.Storage = js_FileStorage;
  sc.Duplicates = o.duplicate_window_s * 1'000'000'000;
  jsErrCode je = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  // A fresh cluster elects its JetStream leader within about a second: retry until then.
  for (;;) {
    s = js_AddStream(&si, log->js_, &sc, nullptr, &je);
    if (s != NATS_OK && je == JSStreamNameExistErr) s = js_UpdateStream(&si, log->js_, &sc, nullptr, &je);
    if (s == NATS_OK || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: cannot create or update stream '" + o.stream + "' (" +
                               Why(s, je) + ")");
  }
  (void)partitions;  // one wildcard subject covers every partition
  return log;
}

JetStreamLog::~JetStreamLog() {
  if (js_ != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = options_.publish_timeout_ms;
    js_PublishAsyncComplete(js_, &po);
    jsCtx_Destroy(js_);
  }
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

void JetStreamLog::Acked(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  const char* batch = nullptr;
  const char* index = nullptr;
  natsMsgHeader_Get(msg, kBatchHeader, &batch);
  natsMsgHeader_Get(msg, kIndexHeader, &index);
  Waiter* w = nullptr;
  if (batch != nullptr) {
    std::lock_guard lock(mu_);
    auto it = waiting_.find(std::stoull(batch));
    if (it != waiting_.end()) w = it->second;
  }
  if (w != nullptr && index != nullptr) {
    bool last = false;
    {
      std::lock_guard lock(w->mu);
      const size_t i = std::stoull(index);
      if (pa != nullptr && pae == nullptr) {
        w->acks[i] = {pa->Sequence, pa->Duplicate};
      } else if (w->error.empty()) {
        w->error = pae != nullptr ? std::string(natsStatus_GetText(pae->Err)) +
                                        (pae->ErrText != nullptr ? std::string(": ") + pae->ErrText : "")
                                  : "no acknowledgement";
      }
      last = --w->pending == 0;
    }
    if (last) Finish(w);
  }
  natsMsg_Destroy(msg);
}

void JetStreamLog::Finish(Waiter* w) {
  {
    std::lock_guard lock(mu_);
    waiting_.erase(w->batch);
  }
  Status st = w->error.empty() ? Status::Ok()
                               : Status::Unavailable("cluster: publish not acknowledged (" + w->error + ")");
  PublishDone done = std::move(w->done);
  std::vector<Ack> acks = std::move(w->acks);
  delete w;
  done(std::move(st), std::move(acks));
}

void JetStreamLog::PublishAsync(const std::vector<Record>& records, PublishDone done) {
  if (records.empty()) return done(Status::Ok(), {});
  auto* w = new Waiter();
  w->acks.assign(records.size(), Ack{});
  // One more than the records: this call's own share, given up last, so that the last
  // acknowledgement cannot finish (and free) the waiter while this call still uses it.
  w->pending = records.size() + 1;
  w->done = std::move(done);
  {
    std::lock_guard lock(mu_);
    w->batch = next_batch_++;
    waiting_[w->batch] = w;
  }
  const std::string batch_text = std::to_string(w->batch);
  size_t sent = 0;
  std::string error;
  for (; sent < records.size(); ++sent) {
    const Record& r = records[sent];
    natsMsg* m = nullptr;
    natsStatus s = natsMsg_Create(&m, SubjectOf(r.partition).c_str(), nullptr, r.data.data(),
                                  static_cast<int>(r.data.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(m, kBatchHeader, batch_text.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(m, kIndexHeader, std::to_string(sent).c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = options_.publish_timeout_ms;
    po.ExpectStream = options_.stream.c_str();
    if (!r.msg_id.empty()) po.MsgId = r.msg_id.c_str();
    if (s == NATS_OK) s = js_PublishMsgAsync(js_, &m, &po);  // takes the message
    if (m != nullptr) natsMsg_Destroy(m);
    if (s != NATS_OK) {
      error = "publish failed: " + Why(s);
      break;
    }
  }
  bool last = false;
  {
    std::lock_guard lock(w->mu);
    if (!error.empty() && w->error.empty()) w->error = error;
    w->pending -= records.size() - sent + 1;  // never sent: nothing will acknowledge them
    last = w->pending == 0;
  }
  if (last) Finish(w);
}

Status JetStreamLog::Publish(const std::vector<Record>& records, std::vector<Ack>* acks) {
  std::promise<std::pair<Status, std::vector<Ack>>> promise;
  auto future = promise.get_future();
  PublishAsync(records, [&promise](Status st, std::vector<Ack> a) {
    promise.set_value({std::move(st), std::move(a)});
  });
  auto [st, got] = future.get();
  *acks = std::move(got);
  if (acks->size() != records.size()) acks->assign(records.size(), Ack{});
  return st;
}

Result<uint64_t> JetStreamLog::LastSequence(uint32_t p) {
  natsMsg* m = nullptr;
  jsErrCode je = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&m, js_, options_.stream.c_str(), SubjectOf(p).c_str(), nullptr, &je);
  if (s == NATS_NOT_FOUND) return uint64_t{0};
  if (s != NATS_OK) return Status::Unavailable("cluster: last message of partition " + std::to_string(p) + " (" + Why(s, je) + ")");
  const uint64_t seq = natsMsg_GetSequence(m);
  natsMsg_Destroy(m);
  return seq;
}

Result<std::vector<uint64_t>> JetStreamLog::LastSequences(const std::vector<uint32_t>& parts) {
  std::vector<uint64_t> out(parts.size(), 0);
  if (parts.empty()) return out;
  if (parts.size() == 1) {
    Result<uint64_t> one = LastSequence(parts[0]);
    if (!one.ok()) return one.status();
    out[0] = one.value();
    return out;
  }
  // JetStream's message-get API ($JS.API.STREAM.MSG.GET.<stream>, {"last_by_subj": ...}),
  // every request published before any answer is awaited; answers come back on one inbox,
  // each to its own subject.
  char* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) {
    return Status::Unavailable("cluster: last messages (" + Why(s) + ")");
  }
  const std::string prefix(inbox);
  natsInbox_Destroy(inbox);
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_SubscribeSync(&sub, nc_, (prefix + ".*").c_str());
  const std::string api = "$JS.API.STREAM.MSG.GET." + options_.stream;
  for (size_t i = 0; i < parts.size() && s == NATS_OK; ++i) {
    const std::string body = "{\"last_by_subj\":\"" + SubjectOf(parts[i]) + "\"}";
    s = natsConnection_PublishRequest(nc_, api.c_str(), (prefix + "." + std::to_string(i)).c_str(), body.data(),
                                      static_cast<int>(body.size()));
  }
  if (s == NATS_OK) s = natsConnection_Flush(nc_);
  std::vector<uint8_t> got(parts.size(), 0);
  size_t left = parts.size();
  std::string why;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::clamp<int64_t>(options_.lease_ms / 4, 250, 5000));
  while (s == NATS_OK && left > 0 && why.empty()) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    natsMsg* m = nullptr;
    s = wait > 0 ? natsSubscription_NextMsg(&m, sub, wait) : NATS_TIMEOUT;
    if (s != NATS_OK) break;
    const std::string_view subject = natsMsg_GetSubject(m);
    const size_t i = std::strtoull(std::string(subject.substr(subject.rfind('.') + 1)).c_str(), nullptr, 10);
    const std::string_view reply(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    if (i < parts.size() && !got[i]) {
      got[i] = 1;
      --left;
      // {"message":{"subject":...,"seq":N,...}} or {"error":{"code":404,...}} (no message yet).
      const size_t error = reply.find("\"error\"");
      const size_t seq = reply.find("\"seq\":");
      if (error != std::string_view::npos) {
        if (reply.find("\"code\":404") == std::string_view::npos) {
          why = "last message of partition " + std::to_string(parts[i]) + ": " + std::string(reply.substr(error));
        }
      } else if (seq != std::string_view::npos) {
        out[i] = std::strtoull(std::string(reply.substr(seq + 6, 24)).c_str(), nullptr, 10);
      } else {
        why = "last message of partition " + std::to_string(parts[i]) + ": an answer without a sequence";
      }
    }
    natsMsg_Destroy(m);
  }
  if (sub != nullptr) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  if (!why.empty()) return Status::Unavailable("cluster: " + why);
  if (s != NATS_OK) return Status::Unavailable("cluster: last messages of " + std::to_string(left) + " partitions (" + Why(s) + ")");
  return out;
}

Result<std::unique_ptr<JetStreamLog::PartitionReader>> JetStreamLog::NewReader(uint32_t p, uint64_t from) {
  auto reader = std::unique_ptr<PartitionReader>(new PartitionReader());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.stream.c_str();
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = std::max<uint64_t>(1, from);
  so.Config.AckPolicy = js_AckNone;
  // A reader is transient (the owner's position lives in its checkpoint): one replica in
  // memory, placed on a live server, so a stream that lost a server can still be read.
  so.Config.Replicas = 1;
  so.Config.MemoryStorage = true;
  so.Config.InactiveThreshold = 60LL * 1'000'000'000;  // dropped a minute after its reader
  jsErrCode je = static_cast<jsErrCode>(0);
  // One attempt (within the JetStream API wait): while the cluster re-elects a leader the
  // request times out, and the caller — which may have to stop meanwhile — tries again.
  natsStatus s = js_PullSubscribe(&reader->sub_, js_, SubjectOf(p).c_str(), nullptr, nullptr, &so, &je);
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: cannot read partition " + std::to_string(p) + " (" + Why(s, je) + ")");
  }
  return reader;
}

JetStreamLog::PartitionReader::~PartitionReader() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);  // deletes the ephemeral consumer
    natsSubscription_Destroy(sub_);
  }
}

Result<size_t> JetStreamLog::PartitionReader::Fetch(
    size_t max, int wait_ms, const std::function<void(uint64_t, std::string_view)>& fn) {
  natsMsgList list{};
  jsErrCode je = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, static_cast<int>(max), wait_ms, &je);
  if (s == NATS_TIMEOUT) return size_t{0};
  if (s != NATS_OK) return Status::Unavailable("cluster: fetch failed (" + Why(s, je) + ")");
  size_t n = 0;
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* m = list.Msgs[i];
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      fn(meta->Sequence.Stream,
         std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))));
      jsMsgMetaData_Destroy(meta);
      ++n;
    }
  }
  natsMsgList_Destroy(&list);
  return n;
}

}  // namespace eddy
