#pragma once
// LogStore: the persistent event log in embedded RocksDB (SPEC §4), in
// <data_dir>/log. Column family "log" holds chunks: the entries of consecutive offsets
// of one partition that one group commit wrote. Key = partition (u32 big-endian) + first
// offset (u64 big-endian), so a partition's chunks sort by offset; value (format 1):
//   u8 chunk version (= 1), u32 little-endian entry count, then per entry a varint length
//   and that many bytes of encoded event (store/event_codec.h); length 0 = a skipped
//   offset (a request abandoned because another partition was full), never an event.
// One RocksDB record per partition per round instead of one per event: the memtable
// insert and key comparisons were the store thread's main cost.
// The default column family holds metadata: the store's format
// version and the partition count it was written with (both checked on open: a data dir
// from a newer eddy, or one written with a different log.partitions, is refused with a
// clear message rather than misread).
//
// Writes are group commits: the store thread fills one WriteBatch per round with every
// partition's new entries and writes it once (synced in fsync mode).
//
// Thread-safety: Put/Commit from one thread at a time (a store round, under the
// StoreWriter's round mutex); Scan/NextOffset before the store thread starts or from a round;
// Stats from any thread (RocksDB properties).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/ids.h"
#include "eddy/options.h"
#include "eddy/result.h"
#include "eddy/status.h"
#include "util/serial.h"

namespace rocksdb {
class DB;
struct DBOptions;
class ColumnFamilyHandle;
class Env;
class WriteBatch;
class Statistics;
}  // namespace rocksdb

namespace eddy {

// Layout version of <data_dir>/log; bumped on any incompatible change of keys or values.
inline constexpr uint32_t kStoreFormatVersion = 1;

struct StoreStats {
  uint64_t batches = 0;          // group commits written
  uint64_t records = 0;          // log records written
  uint64_t bytes = 0;            // value bytes written
  uint64_t syncs = 0;            // synced commits (fsync mode)
  uint64_t live_sst_bytes = 0;   // rocksdb.live-sst-files-size
  uint64_t memtable_bytes = 0;   // rocksdb.cur-size-all-mem-tables
  uint64_t estimated_keys = 0;   // rocksdb.estimate-num-keys (log column family)
  uint64_t pending_compaction_bytes = 0;
  uint64_t wal_bytes = 0;        // rocksdb.wal.bytes (statistics ticker)
  uint64_t wal_syncs = 0;        // rocksdb.wal.synced
  uint64_t stall_micros = 0;     // rocksdb.stall.micros
};

inline constexpr uint8_t kChunkVersion = 1;
inline constexpr size_t kChunkHeader = 5;  // version, u32 entry count

// A chunk value's header: its entry count (Corruption for a short value or another
// version).
Status ChunkHeader(std::string_view chunk, uint32_t* count);

// Calls `fn(entry)` (returning Status) for each entry of a chunk value in offset order,
// an empty entry for a skipped offset; stops at the first non-OK status and returns it.
// A malformed chunk (header, a truncated entry, bytes after the last) gives Corruption.
template <typename Fn>
Status ForEachChunkEntry(std::string_view chunk, Fn&& fn) {
  uint32_t count = 0;
  if (Status st = ChunkHeader(chunk, &count); !st.ok()) return st;
  SerialReader r(chunk.substr(kChunkHeader));
  for (uint32_t e = 0; e < count; ++e) {
    const std::string_view entry = r.Bytes();
    if (!r.ok()) return Status::Corruption("event store: truncated chunk");
    if (Status st = fn(entry); !st.ok()) return st;
  }
  if (!r.done()) return Status::Corruption("event store: trailing bytes in a chunk");
  return Status::Ok();
}

// Builds one chunk value.
class ChunkBuilder {
 public:
  void Begin();
  void AddSkip();
  void Add(std::string_view encoded_event);
  uint32_t count() const { return count_; }
  // The value, count patched in; valid until the next Begin.
  std::string_view Finish();

 private:
  std::string buf_;
  uint32_t count_ = 0;
};

class LogStore {
 public:
  // Opens (creating if missing) the store in `dir` for a log of `partitions` partitions.
  static Result<std::unique_ptr<LogStore>> Open(const std::string& dir, uint32_t partitions);
  // Read-only (e.g. `eddy dump` beside a running daemon); `partitions` is read from the
  // store's metadata.
  static Result<std::unique_ptr<LogStore>> OpenReadOnly(const std::string& dir);
  uint32_t partitions() const { return partitions_; }
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Adds one chunk (from ChunkBuilder) starting at `first` to the pending batch.
  void Put(PartitionId p, uint64_t first, std::string_view chunk, uint32_t entries);
  size_t pending() const { return pending_; }
  // Writes the pending batch (synced to disk when `sync`) and clears it.
  Status Commit(bool sync);
  // Drops the pending batch (after a failed Commit, before the round is retried).
  void Discard();
  // Lowers the CPU priority of RocksDB's flush and compaction threads (each takes it at
  // its next job). They are the process's (RocksDB's default environment): this applies
  // to every store the process opens, and a priority once lowered stays (kNormal changes
  // nothing).
  Status SetBackgroundPriority(BackgroundPriority priority);
  // Tests only: writes the memtable to a table file now (a flush job) and waits for it.
  Status FlushForTest();
  // Tests only: while set, the disk is full: every write to the store's files (WAL, SST,
  // MANIFEST) stores half its bytes and fails with "no space left", so Commit fails inside
  // RocksDB mid-write. Once cleared, the next Commit resumes RocksDB and writes.
  void FailWritesForTest(bool fail);

  // Calls `fn(offset, encoded_event)` for each stored event of partition `p` with offset
  // >= `from`, in offset order (skipped offsets are not passed); stops at the first non-OK
  // status `fn` returns, and returns it. A malformed chunk gives Corruption.
  Status Scan(PartitionId p, uint64_t from,
              const std::function<Status(uint64_t, std::string_view)>& fn) const;
  // 1 + the last offset stored for `p` (0 when it has none).
  Result<uint64_t> NextOffset(PartitionId p) const;
  // The first offset stored for `p` (its next offset when it has none): above 0 once
  // retention deleted the oldest chunks.
  Result<uint64_t> FirstOffset(PartitionId p) const;
  // Deletes the chunks of `p` that start below `offset` (retention; pass a chunk
  // boundary, e.g. an offset from a mark, so no chunk is cut).
  Status DeleteBelow(PartitionId p, uint64_t offset);

  // Retention marks (metadata): at wall time `ms` every partition's log ended at
  // next_offsets[p]. Put adds one to the pending batch, so it commits with the data.
  struct Mark {
    int64_t ms = 0;
    std::vector<uint64_t> next_offsets;
  };
  void PutMark(const Mark& m);
  Result<std::vector<Mark>> Marks() const;  // oldest first
  Status DeleteMarksBefore(int64_t ms);

  StoreStats Stats() const;

 private:
  class DiskFaults;
  LogStore() = default;
  // Opens the database with the store's column families and statistics.
  static Result<std::unique_ptr<LogStore>> OpenDb(const std::string& dir, rocksdb::DBOptions o,
                                                 bool read_only);
  // Checks the format version and, when given, the partition count (writing both into a
  // new store); sets partitions_ from the metadata.
  Status CheckMeta(std::optional<uint32_t> partitions);

  // Declared before db_: the database is closed before its file system goes.
  std::shared_ptr<DiskFaults> faults_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [default, log]
  std::shared_ptr<rocksdb::Statistics> stats_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  size_t pending_ = 0;
  uint32_t partitions_ = 0;
  uint64_t pending_bytes_ = 0;
  // Written by the store thread, read by Stats() from any thread.
  std::atomic<uint64_t> batches_{0}, records_{0}, bytes_{0}, syncs_{0};
  // Why the last write failed (then RocksDB must resume before the next); store thread.
  std::string stop_cause_;
};

}  // namespace eddy
