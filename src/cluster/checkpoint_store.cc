#include "cluster/checkpoint_store.h"

#include <nats/nats.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "util/hash.h"

namespace eddy {

CheckpointStore::CheckpointStore(JetStreamLog& log)
    : log_(log), stream_(log.options().stream + "-checkpoints") {}

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(JetStreamLog& log) {
  std::unique_ptr<CheckpointStore> store(new CheckpointStore(log));
  const ClusterOptions& o = log.options();
  const std::string subjects = store->stream_ + ".>";
  const char* subj[] = {subjects.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = store->stream_.c_str();
  sc.Subjects = subj;
  sc.SubjectsLen = 1;
  sc.Replicas = static_cast<int64_t>(o.replicas);
  sc.Storage = js_FileStorage;
  sc.MaxMsgsPerSubject = 1;  // a chunk's subject is unique; a description replaces the last
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.connect_timeout_ms);
  natsStatus s = NATS_OK;
  jsErrCode je = static_cast<jsErrCode>(0);
  for (;;) {
    jsStreamInfo* si = nullptr;
    s = js_AddStream(&si, log.context(), &sc, nullptr, &je);
    if (s != NATS_OK && je == JSStreamNameExistErr) s = js_UpdateStream(&si, log.context(), &sc, nullptr, &je);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (s == NATS_OK || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a JetStream leader to be elected
  }
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: cannot create or update stream '" + store->stream_ + "' (" +
                               NatsError(s, je) + ")");
  }
  return store;
}

Result<std::optional<CheckpointStore::Description>> CheckpointStore::Describe(uint32_t p) {
  natsMsg* m = nullptr;
  jsErrCode je = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&m, log_.context(), stream_.c_str(), Meta(p).c_str(), nullptr, &je);
  if (s == NATS_NOT_FOUND) return std::optional<Description>();
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: checkpoint of partition " + std::to_string(p) + " (" + NatsError(s, je) + ")");
  }
  std::istringstream in(std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))));
  natsMsg_Destroy(m);
  Description d;
  if (!(in >> d.id >> d.chunks >> d.bytes >> d.hash)) {
    return Status::Corruption("cluster: the checkpoint description of partition " + std::to_string(p) + " is malformed");
  }
  return std::optional<Description>(std::move(d));
}

Status CheckpointStore::Put(uint32_t p, const std::string& tag, std::string_view bytes, const Cancelled& cancelled) {
  Result<std::optional<Description>> before = Describe(p);
  if (!before.ok()) return before.status();
  const ClusterOptions& o = log_.options();
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = o.publish_timeout_ms;
  const uint64_t chunks = (bytes.size() + kChunkBytes - 1) / kChunkBytes;
  for (uint64_t n = 0; n < chunks; ++n) {
    if (cancelled && cancelled()) return Status::Unavailable("cluster: checkpoint of partition " + std::to_string(p) + " given up");
    const std::string_view part = bytes.substr(n * kChunkBytes, kChunkBytes);
    jsErrCode je = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(nullptr, log_.context(), Chunk(p, tag, n).c_str(), part.data(),
                              static_cast<int>(part.size()), &po, &je);
    if (s != NATS_OK) {
      return Status::Unavailable("cluster: storing the checkpoint of partition " + std::to_string(p) + " (" +
                                 NatsError(s, je) + ")");
    }
  }
  const std::string meta = tag + " " + std::to_string(chunks) + " " + std::to_string(bytes.size()) + " " +
                           std::to_string(StableHash64(bytes));
  jsErrCode je = static_cast<jsErrCode>(0);
  natsStatus s = js_Publish(nullptr, log_.context(), Meta(p).c_str(), meta.data(), static_cast<int>(meta.size()), &po, &je);
  if (s != NATS_OK) {
    return Status::Unavailable("cluster: storing the checkpoint of partition " + std::to_string(p) + " (" +
                               NatsError(s, je) + ")");
  }
  // The previous checkpoint's chunks: nobody reads them once the new description is in
  // (a reader that read the old one fails its hash or a chunk, and reads again).
  if (before.value() && before.value()->id != tag) {
    const std::string old = stream_ + ".c." + std::to_string(p) + "." + before.value()->id + ".>";
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Purge.Subject = old.c_str();
    js_PurgeStream(log_.context(), stream_.c_str(), &jo, &je);  // best effort: the next Put purges again
  }
  return Status::Ok();
}

Result<std::optional<std::string>> CheckpointStore::Get(uint32_t p, const Cancelled& cancelled) {
  // Twice at most: a writer may replace the checkpoint between its description and chunks.
  for (int attempt = 0;; ++attempt) {
    Result<std::optional<Description>> d = Describe(p);
    if (!d.ok()) return d.status();
    if (!d.value()) return std::optional<std::string>();
    const Description& desc = *d.value();
    std::string out;
    out.reserve(desc.bytes);
    Status failed = Status::Ok();
    for (uint64_t n = 0; n < desc.chunks && failed.ok(); ++n) {
      if (cancelled && cancelled()) return Status::Unavailable("cluster: reading partition " + std::to_string(p) + "'s checkpoint given up");
      natsMsg* m = nullptr;
      jsErrCode je = static_cast<jsErrCode>(0);
      natsStatus s = js_GetLastMsg(&m, log_.context(), stream_.c_str(), Chunk(p, desc.id, n).c_str(), nullptr, &je);
      if (s != NATS_OK) {
        failed = Status::Unavailable("cluster: chunk " + std::to_string(n) + " of partition " + std::to_string(p) +
                                     "'s checkpoint (" + NatsError(s, je) + ")");
        break;
      }
      out.append(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
      natsMsg_Destroy(m);
    }
    if (failed.ok() && (out.size() != desc.bytes || StableHash64(out) != desc.hash)) {
      failed = Status::Corruption("cluster: partition " + std::to_string(p) + "'s checkpoint " + desc.id +
                                " does not match its description");
    }
    if (failed.ok()) return std::optional<std::string>(std::move(out));
    if (attempt == 1) return failed;
  }
}

}  // namespace eddy
