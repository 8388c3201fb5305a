#include "store/log_store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "util/serial.h"

namespace eddy {
namespace {

constexpr char kLogFamily[] = "log";
constexpr char kFormatKey[] = "format_version";
constexpr char kPartitionsKey[] = "log_partitions";

void PutBig32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (24 - 8 * i));
}
void PutBig64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
}
uint64_t GetBig64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

struct Key {
  char bytes[12];
  Key(PartitionId p, uint64_t offset) {
    PutBig32(p.value(), bytes);
    PutBig64(offset, bytes + 4);
  }
  rocksdb::Slice slice() const { return {bytes, sizeof(bytes)}; }
};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string m = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(m);
  return Status::IoError(m);
}

// Options for an append-mostly log read back only by recovery and replay (documented in
// docs/operations.md "RocksDB options").
rocksdb::ColumnFamilyOptions LogFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 64 << 20;
  o.max_write_buffer_number = 4;
  o.min_write_buffer_number_to_merge = 1;
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 64 << 20;
  o.max_bytes_for_level_base = 256 << 20;
  o.level0_file_num_compaction_trigger = 4;
  // LZ4 when this RocksDB build has it (Debian's does): events compress well (repeated
  // ids and field layout) and LZ4 costs little CPU on the write path.
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool lz4 = std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) !=
                   supported.end();
  o.compression = lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  // Not the flushes and the first compactions: they are on the ingest path's CPU budget,
  // and most of what they write is rewritten (compressed) further down soon after.
  o.compression_per_level.assign(7, o.compression);
  o.compression_per_level[0] = o.compression_per_level[1] = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions t;
  t.block_size = 32 << 10;  // scans only: larger blocks, fewer index entries
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

// The store's files go through this wrapper of the default file system so that tests can
// fill the disk: while `full`, every write to a file RocksDB writes (WAL, SST, MANIFEST)
// stores the first half of its bytes and fails with "no space left", as a disk that fills
// mid-write does. Unarmed it only forwards (one virtual call per write of a file).
class LogStore::DiskFaults : public rocksdb::FileSystemWrapper {
 public:
  DiskFaults() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "EddyDiskFaults"; }
  std::atomic<bool> full{false};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    return Wrap(target()->NewWritableFile(f, o, r, d), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    return Wrap(target()->ReopenWritableFile(f, o, r, d), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    return Wrap(target()->ReuseWritableFile(f, old, o, r, d), r);
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, const std::atomic<bool>& full)
        : FSWritableFileOwnerWrapper(std::move(f)), full_(full) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      if (!full_.load(std::memory_order_relaxed)) return target()->Append(data, o, d);
      (void)target()->Append(rocksdb::Slice(data.data(), data.size() / 2), o, d);
      return NoSpace();
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* d) override {
      if (!full_.load(std::memory_order_relaxed)) return target()->Append(data, o, v, d);
      return Append(data, o, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
      if (!full_.load(std::memory_order_relaxed)) {
        return target()->PositionedAppend(data, offset, o, d);
      }
      (void)target()->PositionedAppend(rocksdb::Slice(data.data(), data.size() / 2), offset, o, d);
      return NoSpace();
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& v,
                                       rocksdb::IODebugContext* d) override {
      if (!full_.load(std::memory_order_relaxed)) {
        return target()->PositionedAppend(data, offset, o, v, d);
      }
      return PositionedAppend(data, offset, o, d);
    }

   private:
    static rocksdb::IOStatus NoSpace() {
      return rocksdb::IOStatus::NoSpace("no space left on device (injected by a test)");
    }
    const std::atomic<bool>& full_;
  };

  rocksdb::IOStatus Wrap(rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r) {
    if (s.ok()) *r = std::make_unique<File>(std::move(*r), full);
    return s;
  }
};

void LogStore::FailWritesForTest(bool fail) {
  faults_->full.store(fail, std::memory_order_relaxed);
}

Result<std::unique_ptr<LogStore>> LogStore::OpenDb(const std::string& dir, rocksdb::DBOptions o,
                                                   bool read_only) {
  std::unique_ptr<LogStore> s(new LogStore());
  s->faults_ = std::make_shared<DiskFaults>();
  s->env_ = rocksdb::NewCompositeEnv(s->faults_);
  o.env = s->env_.get();
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  s->stats_ = rocksdb::CreateDBStatistics();
  s->stats_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
  o.statistics = s->stats_;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kLogFamily, LogFamilyOptions()},
  };
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = read_only
                           ? rocksdb::DB::OpenForReadOnly(o, dir, families, &s->handles_, &db)
                           : rocksdb::DB::Open(o, dir, families, &s->handles_, &db);
  if (!st.ok()) {
    return FromRocks(st, "opening the event store " + dir + (read_only ? " read-only" : ""));
  }
  s->db_.reset(db);
  s->batch_ = std::make_unique<rocksdb::WriteBatch>();
  return s;
}

Status LogStore::SetBackgroundPriority(BackgroundPriority priority) {
  if (priority == BackgroundPriority::kNormal) return Status::Ok();
  const rocksdb::CpuPriority p =
      priority == BackgroundPriority::kIdle ? rocksdb::CpuPriority::kIdle : rocksdb::CpuPriority::kLow;
  for (rocksdb::Env::Priority pool : {rocksdb::Env::Priority::LOW, rocksdb::Env::Priority::HIGH}) {
    if (rocksdb::Status st = env_->LowerThreadPoolCPUPriority(pool, p); !st.ok()) {
      return FromRocks(st, "lowering the priority of the store's background threads");
    }
  }
  return Status::Ok();
}

Status LogStore::FlushForTest() {
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_[1]), "flushing the event store");
}

Result<std::unique_ptr<LogStore>> LogStore::Open(const std::string& dir, uint32_t partitions) {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;  // one flush + one compaction: the box has 2 cores
  o.bytes_per_sync = 1 << 20;  // smooth SST writeback
  o.max_total_wal_size = 256 << 20;
  o.keep_log_file_num = 4;
  Result<std::unique_ptr<LogStore>> s = OpenDb(dir, o, /*read_only=*/false);
  if (!s.ok()) return s;
  if (Status m = (*s)->CheckMeta(partitions); !m.ok()) return m;
  return s;
}

Result<std::unique_ptr<LogStore>> LogStore::OpenReadOnly(const std::string& dir) {
  Result<std::unique_ptr<LogStore>> s = OpenDb(dir, rocksdb::DBOptions(), /*read_only=*/true);
  if (!s.ok()) return s;
  if (Status m = (*s)->CheckMeta(std::nullopt); !m.ok()) return m;
  return s;
}

LogStore::~LogStore() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

Status LogStore::CheckMeta(std::optional<uint32_t> partitions) {
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), handles_[0], kFormatKey, &v);
  if (st.IsNotFound() && partitions) {  // a new store
    rocksdb::WriteBatch b;
    b.Put(handles_[0], kFormatKey, std::to_string(kStoreFormatVersion));
    b.Put(handles_[0], kPartitionsKey, std::to_string(*partitions));
    rocksdb::WriteOptions w;
    w.sync = true;
    partitions_ = *partitions;
    return FromRocks(db_->Write(w, &b), "writing the event store's metadata");
  }
  if (!st.ok()) return FromRocks(st, "reading the event store's metadata");
  const uint32_t version = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
  if (version != kStoreFormatVersion) {
    return Status::Corruption("the event store has format version " + v + "; this eddy reads " +
                              std::to_string(kStoreFormatVersion) +
                              (version > kStoreFormatVersion
                                   ? " (written by a newer eddy: upgrade eddy, or start on a new data_dir)"
                                   : " (an older format: replay it with the eddy that wrote it)"));
  }
  st = db_->Get(rocksdb::ReadOptions(), handles_[0], kPartitionsKey, &v);
  if (!st.ok()) return FromRocks(st, "reading the event store's partition count");
  if (partitions && v != std::to_string(*partitions)) {
    return Status::InvalidArgument(
        "log.partitions is " + std::to_string(*partitions) + " but the event store in this data_dir was written with " + v +
        " partitions; set log.partitions = " + v + " (repartitioning a store is not supported yet)");
  }
  partitions_ = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
  return Status::Ok();
}


void ChunkBuilder::Begin() {
  buf_.assign(kChunkHeader, '\0');
  buf_[0] = static_cast<char>(kChunkVersion);
  count_ = 0;
}

void ChunkBuilder::AddSkip() { Add({}); }  // length 0

void ChunkBuilder::Add(std::string_view e) {
  SerialWriter(&buf_).Bytes(e);
  ++count_;
}

std::string_view ChunkBuilder::Finish() {
  for (int i = 0; i < 4; ++i) buf_[1 + i] = static_cast<char>(count_ >> (8 * i));
  return buf_;
}

Status ChunkHeader(std::string_view v, uint32_t* count) {
  if (v.size() < kChunkHeader) return Status::Corruption("event store: truncated chunk");
  if (static_cast<uint8_t>(v[0]) != kChunkVersion) {
    return Status::Corruption("event store: chunk format " + std::to_string(static_cast<uint8_t>(v[0])) +
                              " (this eddy reads " + std::to_string(kChunkVersion) + ")");
  }
  uint32_t c = 0;
  for (int i = 0; i < 4; ++i) c |= uint32_t{static_cast<uint8_t>(v[1 + i])} << (8 * i);
  *count = c;
  return Status::Ok();
}

namespace {
// An iterator over one partition's chunks (bounds [p/0, p+1/0)); the bound keys live with
// it, as RocksDB requires.
struct PartitionIterator {
  PartitionIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, PartitionId p,
                    rocksdb::ReadOptions r)
      : first(p, 0), end(PartitionId(p.value() + 1), 0) {  // p + 1 <= 4096: no overflow
    lower = first.slice();
    upper = end.slice();
    r.iterate_lower_bound = &lower;
    r.iterate_upper_bound = &upper;
    it.reset(db->NewIterator(r, cf));
  }
  Key first, end;
  rocksdb::Slice lower, upper;
  std::unique_ptr<rocksdb::Iterator> it;
};

// The key's offset, or Corruption for a malformed key.
Result<uint64_t> OffsetOf(const rocksdb::Iterator& it) {
  if (it.key().size() != sizeof(Key::bytes)) return Status::Corruption("event store: malformed key");
  return GetBig64(it.key().data() + 4);
}
}  // namespace

void LogStore::Put(PartitionId p, uint64_t first, std::string_view chunk, uint32_t entries) {
  batch_->Put(handles_[1], Key(p, first).slice(), rocksdb::Slice(chunk.data(), chunk.size()));
  pending_ += entries;
  pending_bytes_ += chunk.size();
}

Status LogStore::Commit(bool sync) {
  if (pending_ == 0) return Status::Ok();
  if (!stop_cause_.empty()) {
    // A failed write stopped RocksDB's writes (a background error): resume them first
    // (RocksDB flushes and switches to a new WAL, so nothing is written after the torn
    // record). Busy: RocksDB is already recovering by itself.
    if (rocksdb::Status r = db_->Resume(); !r.ok()) {
      return Status::IoError(stop_cause_ + " (resuming: " + r.ToString() + ")");
    }
    stop_cause_.clear();
  }
  rocksdb::WriteOptions w;
  w.sync = sync;
  rocksdb::Status st = db_->Write(w, batch_.get());
  if (!st.ok()) {
    Status e = FromRocks(st, "writing events to the store");
    stop_cause_ = e.message();
    return e;
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  records_.fetch_add(pending_, std::memory_order_relaxed);
  bytes_.fetch_add(pending_bytes_, std::memory_order_relaxed);
  if (sync) syncs_.fetch_add(1, std::memory_order_relaxed);
  batch_->Clear();
  pending_ = 0;
  pending_bytes_ = 0;
  return Status::Ok();
}

void LogStore::Discard() {
  batch_->Clear();
  pending_ = 0;
  pending_bytes_ = 0;
}

Status LogStore::Scan(PartitionId p, uint64_t from,
                      const std::function<Status(uint64_t, std::string_view)>& fn) const {
  rocksdb::ReadOptions r;
  r.readahead_size = 2 << 20;
  r.fill_cache = false;
  PartitionIterator c(db_.get(), handles_[1], p, r);
  rocksdb::Iterator* it = c.it.get();
  // The chunk holding `from` may start before it.
  const Key start(p, from);
  it->SeekForPrev(start.slice());
  if (!it->Valid()) it->Seek(start.slice());
  for (; it->Valid(); it->Next()) {
    Result<uint64_t> first = OffsetOf(*it);
    if (!first.ok()) return first.status();
    uint64_t offset = *first;
    const std::string_view v(it->value().data(), it->value().size());
    Status st = ForEachChunkEntry(v, [&](std::string_view event) {
      const uint64_t at = offset++;
      return !event.empty() && at >= from ? fn(at, event) : Status::Ok();
    });
    if (!st.ok()) return st;
  }
  return FromRocks(it->status(), "reading the event store");
}


Result<uint64_t> LogStore::NextOffset(PartitionId p) const {
  PartitionIterator c(db_.get(), handles_[1], p, rocksdb::ReadOptions());
  c.it->SeekToLast();  // p's last chunk
  if (!c.it->Valid()) {
    if (Status st = FromRocks(c.it->status(), "reading the event store"); !st.ok()) return st;
    return uint64_t{0};
  }
  Result<uint64_t> first = OffsetOf(*c.it);
  if (!first.ok()) return first;
  // Counted by walking the chunk: a header whose count its entries do not bear out is
  // Corruption, not a jump of the partition's offsets.
  uint64_t count = 0;
  Status st = ForEachChunkEntry(std::string_view(c.it->value().data(), c.it->value().size()),
                                [&](std::string_view) { return ++count, Status::Ok(); });
  if (!st.ok()) return st;
  return *first + count;
}

Result<uint64_t> LogStore::FirstOffset(PartitionId p) const {
  PartitionIterator c(db_.get(), handles_[1], p, rocksdb::ReadOptions());
  c.it->SeekToFirst();
  if (!c.it->Valid()) {
    if (Status st = FromRocks(c.it->status(), "reading the event store"); !st.ok()) return st;
    return NextOffset(p);
  }
  return OffsetOf(*c.it);
}

Status LogStore::DeleteBelow(PartitionId p, uint64_t offset) {
  if (offset == 0) return Status::Ok();
  const Key from(p, 0), to(p, offset);
  return FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), handles_[1], from.slice(), to.slice()),
                   "deleting expired events");
}

namespace {
constexpr char kMarkPrefix[] = "mark/";
std::string MarkKey(int64_t ms) {
  std::string k(kMarkPrefix);
  char b[8];
  PutBig64(static_cast<uint64_t>(ms), b);  // wall times are positive: byte order = time order
  k.append(b, 8);
  return k;
}
}  // namespace

void LogStore::PutMark(const Mark& m) {
  std::string v;
  for (uint64_t o : m.next_offsets) {
    char b[8];
    PutBig64(o, b);
    v.append(b, 8);
  }
  batch_->Put(handles_[0], MarkKey(m.ms), v);
}

Result<std::vector<LogStore::Mark>> LogStore::Marks() const {
  std::vector<Mark> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[0]));
  for (it->Seek(kMarkPrefix); it->Valid() && it->key().starts_with(kMarkPrefix); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (k.size() != sizeof(kMarkPrefix) - 1 + 8 || v.size() % 8 != 0) {
      return Status::Corruption("event store: malformed retention mark");
    }
    Mark m;
    m.ms = static_cast<int64_t>(GetBig64(k.data() + sizeof(kMarkPrefix) - 1));
    for (size_t i = 0; i < v.size(); i += 8) m.next_offsets.push_back(GetBig64(v.data() + i));
    out.push_back(std::move(m));
  }
  if (Status st = FromRocks(it->status(), "reading retention marks"); !st.ok()) return st;
  return out;
}

Status LogStore::DeleteMarksBefore(int64_t ms) {
  return FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), handles_[0], MarkKey(0), MarkKey(ms)),
                   "deleting retention marks");
}

StoreStats LogStore::Stats() const {
  StoreStats s;
  s.batches = batches_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  db_->GetIntProperty(handles_[1], rocksdb::DB::Properties::kLiveSstFilesSize, &s.live_sst_bytes);
  db_->GetIntProperty(handles_[1], rocksdb::DB::Properties::kCurSizeAllMemTables, &s.memtable_bytes);
  db_->GetIntProperty(handles_[1], rocksdb::DB::Properties::kEstimateNumKeys, &s.estimated_keys);
  db_->GetIntProperty(handles_[1], rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                      &s.pending_compaction_bytes);
  s.wal_bytes = stats_->getTickerCount(rocksdb::WAL_FILE_BYTES);
  s.wal_syncs = stats_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  s.stall_micros = stats_->getTickerCount(rocksdb::STALL_MICROS);
  return s;
}

}  // namespace eddy
