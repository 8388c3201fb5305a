#pragma once
// Checkpoints of the aggregate state (SPEC §4): <data_dir>/checkpoints/checkpoint-<seq>.
// Recovery loads the newest valid one and replays the event store after the offsets it
// covers, instead of the whole log.
//
// File format (version 1), little-endian:
//   8 bytes  magic "EDDYCKPT"
//   u32      format version (kCheckpointFormatVersion)
//   u64      payload length
//   u32      CRC-32C of the payload
//   payload  (util/serial.h): sequence, creation time (ms), config fingerprint, newest
//            event time (ms), partitions, per partition the next offset not covered, the interners
//            (6 kinds, strings in id order), shard count, per shard its state bytes,
//            the ingest path's state bytes.
// A file is written to checkpoint-<seq>.tmp, fsynced, renamed, and the directory fsynced,
// so a crash leaves either the previous set or the new file whole. Reading checks the
// magic, version, length and checksum before anything is used: a truncated file, a flipped
// byte or a newer version is reported with the reason, and recovery falls back to the
// previous checkpoint or a full replay of the event store.
//
// Thread-safety: free functions; callers serialise writes to one directory.

#include <cstdint>
#include <string>
#include <vector>

#include "eddy/result.h"
#include "eddy/status.h"

namespace eddy {

// 2: engagement entries carry the item's category and price.
// 3: per-user bought items; popularity entries carry the item's category.
// 4: a shard's state is a list of named sections, each with its own format version
//    (agg/state.h): from here on a state changes its own version, not this one.
// 5: after the shards, the ingest path's own state (the fraud IP order window); version 4
//    files still load (with none).
inline constexpr uint32_t kCheckpointFormatVersion = 5;

struct Checkpoint {
  uint64_t sequence = 0;
  int64_t created_ms = 0;
  uint64_t config_fingerprint = 0;
  int64_t newest_event_ms = INT64_MIN;  // the engine clock's event-time part
  std::vector<uint64_t> offsets;  // per partition: events below this offset are in the state
  std::string interners;          // Interners snapshot (util/serial.h)
  std::vector<std::string> shards;
  std::string ingest;  // the ingest path's state (fraud/ip_orders.h); empty: none
};

// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
uint32_t Crc32c(const void* data, size_t n);

// Writes `cp` as checkpoint-<sequence> in `dir` (created if missing); sets *bytes to the
// file size.
Status WriteCheckpoint(const std::string& dir, const Checkpoint& cp, uint64_t* bytes);
// Reads and verifies one checkpoint file.
Result<Checkpoint> ReadCheckpoint(const std::string& path);
// Checkpoint files in `dir`, newest (highest sequence) first; *.tmp leftovers are ignored.
std::vector<std::string> ListCheckpoints(const std::string& dir);
// The sequence number in a checkpoint file's name.
uint64_t CheckpointSequenceOf(const std::string& path);
// Deletes all but the newest `keep` checkpoints (and stray *.tmp files).
void PruneCheckpoints(const std::string& dir, size_t keep);

}  // namespace eddy
