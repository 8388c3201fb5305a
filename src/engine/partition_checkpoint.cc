#include "engine/partition_checkpoint.h"

namespace eddy {
namespace {
constexpr std::string_view kMagic = "eddy-partition-checkpoint";
constexpr uint64_t kVersion = 1;
}  // namespace

std::string EncodePartitionCheckpoint(const PartitionCheckpoint& head, ShardState& state,
                                      const Interners& interners) {
  IdMarks marks(interners);
  for (const auto& st : state.states()) st->VisitIds(marks);
  std::string out;
  SerialWriter w(&out);
  w.Bytes(kMagic);
  w.U64(kVersion);
  w.U64(head.partition);
  w.U64(head.sequence);
  w.U64(head.fingerprint);
  w.I64(head.newest_event_ms);
  const auto kinds = interners.All();
  for (size_t k = 0; k < Interners::kKinds; ++k) {
    const IdBitmap& set = marks.kinds[k];
    uint64_t n = 0;
    for (uint32_t id = 1; id < set.bound(); ++id) n += set.Test(id) ? 1 : 0;
    w.U64(n);
    for (uint32_t id = 1; id < set.bound(); ++id) {
      if (!set.Test(id)) continue;
      w.U64(id);
      w.Bytes(kinds[k]->Lookup(id));
    }
  }
  std::string section;
  SerialWriter sw(&section);
  state.Save(sw);
  w.Bytes(section);
  return out;
}

Status DecodePartitionCheckpoint(std::string_view bytes, Interners& interners,
                                 PartitionCheckpoint* head, IdRemap* remap, std::string_view* state) {
  SerialReader r(bytes);
  if (r.Bytes() != kMagic || !r.ok()) return Status::Corruption("not a partition checkpoint");
  if (const uint64_t v = r.U64(); v != kVersion) {
    return Status::Corruption("partition checkpoint format " + std::to_string(v) + " (this build reads " +
                              std::to_string(kVersion) + ")");
  }
  head->partition = r.U32();
  head->sequence = r.U64();
  head->fingerprint = r.U64();
  head->newest_event_ms = r.I64();
  auto kinds = interners.All();
  remap->kinds.assign(Interners::kKinds, {});
  for (size_t k = 0; k < Interners::kKinds && r.ok(); ++k) {
    const uint64_t n = r.Count(2);
    remap->kinds[k].reserve(n);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      const uint32_t id = r.U32();
      const std::string_view s = r.Bytes();
      if (!r.ok()) break;
      const uint32_t mine = kinds[k]->Intern(s);
      if (mine == 0) {
        return Status::ResourceExhausted(std::string("partition checkpoint: the ") +
                                         std::string(Interners::kNames[k]) + " interner is full");
      }
      (*remap).kinds[k][id] = mine;
    }
  }
  *state = r.Bytes();
  if (!r.done()) return Status::Corruption("partition checkpoint is truncated or malformed");
  return Status::Ok();
}

}  // namespace eddy
