#pragma once
// CheckpointStore: the partition checkpoints of cluster mode, kept in JetStream (issue 20;
// docs/scale-out.md) the way JetStream's object store keeps an object, so any node can
// load the checkpoint of a partition it takes over (libnats 3.4 has no object store API).
//
// One stream, "<stream>-checkpoints" (file storage, the log's replication, one message per
// subject). A checkpoint of partition p is its chunks, "<stream>-checkpoints.c.<p>.<id>.<n>"
// (at most kChunkBytes each), then its description on "<stream>-checkpoints.m.<p>" —
// "<id> <chunks> <bytes> <hash>" — which replaces the one before; the previous checkpoint's
// chunks are purged after that. A reader takes the newest description, then its chunks,
// and checks their hash: a checkpoint is either read whole or not at all.
//
// Thread-safety: Put and Get from any thread; one writer per partition at a time (its owner).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/jetstream.h"
#include "eddy/result.h"
#include "eddy/status.h"

namespace eddy {

class CheckpointStore {
 public:
  static constexpr size_t kChunkBytes = 256 * 1024;

  // Creates (or updates) the stream next to the log's.
  static Result<std::unique_ptr<CheckpointStore>> Open(JetStreamLog& log);

  // `cancelled` is asked between chunks: true gives up (Unavailable).
  using Cancelled = std::function<bool()>;
  // Stores `bytes` as partition p's newest checkpoint; `tag` (no dots or spaces) names it.
  Status Put(uint32_t p, const std::string& tag, std::string_view bytes, const Cancelled& cancelled);
  // Partition p's newest checkpoint (nullopt: none stored).
  Result<std::optional<std::string>> Get(uint32_t p, const Cancelled& cancelled);

  std::string StreamName() const { return stream_; }

 private:
  explicit CheckpointStore(JetStreamLog& log);
  std::string Meta(uint32_t p) const { return stream_ + ".m." + std::to_string(p); }
  std::string Chunk(uint32_t p, std::string_view id, uint64_t n) const {
    return stream_ + ".c." + std::to_string(p) + "." + std::string(id) + "." + std::to_string(n);
  }
  // The description stored for p: {id, chunks, bytes, hash}; nullopt when none.
  struct Description {
    std::string id;
    uint64_t chunks = 0, bytes = 0, hash = 0;
  };
  Result<std::optional<Description>> Describe(uint32_t p);

  JetStreamLog& log_;
  const std::string stream_;
};

}  // namespace eddy
