#pragma once
// The checkpoint of one partition in cluster mode (engine/cluster_node.h): the shard state
// that holds only that partition, the stream sequence it covers, and the strings of every
// id it references — so a node whose interners numbered the strings otherwise can load it
// (SerialReader::Id translates each id as the states read it).
//
//   "eddy-partition-checkpoint" U64 version=1
//   U64 partition, U64 stream sequence, U64 settings fingerprint, I64 newest event ms
//   per id kind (Interners::Kind order): U64 n, then n x (U32 id, Bytes string)
//   Bytes shard state (ShardState::Save)
//
// Thread-safety: Encode on the state's shard thread, with Interners::recycle_mu held by
// the caller (the ids and the strings must agree); Decode from any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "eddy/status.h"
#include "engine/shard_state.h"
#include "util/interners.h"
#include "util/serial.h"

namespace eddy {

struct PartitionCheckpoint {
  uint32_t partition = 0;
  uint64_t sequence = 0;      // the stream sequence of the last message applied
  uint64_t fingerprint = 0;   // SettingsFingerprint of the node that wrote it
  int64_t newest_event_ms = 0;
};

std::string EncodePartitionCheckpoint(const PartitionCheckpoint& head, ShardState& state,
                                      const Interners& interners);

// Reads the header and the strings, interning each into `interners` and recording its new
// id in `remap`; `state` views the shard state's bytes inside `bytes`. The caller holds an
// IdEpochs guard from here until the state is loaded (the new ids are not referenced yet).
Status DecodePartitionCheckpoint(std::string_view bytes, Interners& interners,
                                 PartitionCheckpoint* head, IdRemap* remap, std::string_view* state);

}  // namespace eddy
