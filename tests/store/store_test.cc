// The event store: the event codec, chunks in RocksDB, metadata checks, and an engine
// that recovers its answers from the store after a restart.
#include <rocksdb/db.h>

#include <gtest/gtest.h>

#include <sched.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "eddy/engine.h"
#include "store/checkpoint.h"
#include "store/event_codec.h"
#include "store/log_store.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace eddy {
namespace {

Event FullEvent(Interners& in) {
  Event e;
  e.time = EventTime(1'700'000'123'456);
  e.event_id = StableHash128("evt-1");
  e.recomm = RecommHash("r-1");
  e.user = UserId(in.users.Intern("user-1"));
  e.item = ItemId(in.items.Intern("item-1"));
  e.category = CategoryId(in.categories.Intern("shoes"));
  e.session = SessionId(in.sessions.Intern("s-9"));
  e.order = OrderId(in.orders.Intern("o-7"));
  e.query = StringId(in.strings.Intern("red shoes"));
  e.device = StringId(in.strings.Intern("mobile"));
  e.ip = StringId(in.strings.Intern("10.0.0.1"));
  e.location = StringId(in.strings.Intern("DE/BE/Berlin"));
  e.country = StringId(in.strings.Intern("DE"));
  e.quantity = 3;
  e.price_micros = -12'340'000;  // negative survives the zigzag (validation is the decoder's)
  e.stock = 42;
  e.type = EventType::kPurchase;
  e.flags = Event::kHasPrice | Event::kHasStock;
  e.user_hash = static_cast<uint32_t>(StableHash64("user-1"));
  return e;
}

TEST(EventCodecTest, RoundTripsEveryFieldThroughOtherInterners) {
  Interners a;
  a.users.Intern("someone-else");  // ids differ between the two runs
  const Event e = FullEvent(a);
  std::string bytes;
  EncodeEvent(e, a, &bytes);
  Interners b;
  Event d;
  ASSERT_TRUE(DecodeStoredEvent(bytes, b, &d).ok());
  EXPECT_EQ(d.time, e.time);
  EXPECT_EQ(d.event_id, e.event_id);
  EXPECT_EQ(d.recomm, e.recomm);
  EXPECT_EQ(b.users.Lookup(d.user.value()), "user-1");
  EXPECT_EQ(b.items.Lookup(d.item.value()), "item-1");
  EXPECT_EQ(b.categories.Lookup(d.category.value()), "shoes");
  EXPECT_EQ(b.sessions.Lookup(d.session.value()), "s-9");
  EXPECT_EQ(b.orders.Lookup(d.order.value()), "o-7");
  EXPECT_EQ(b.strings.Lookup(d.query.value()), "red shoes");
  EXPECT_EQ(b.strings.Lookup(d.device.value()), "mobile");
  EXPECT_EQ(b.strings.Lookup(d.ip.value()), "10.0.0.1");
  EXPECT_EQ(b.strings.Lookup(d.location.value()), "DE/BE/Berlin");
  EXPECT_EQ(b.strings.Lookup(d.country.value()), "DE");
  EXPECT_EQ(d.quantity, 3u);
  EXPECT_EQ(d.price_micros, -12'340'000);
  EXPECT_EQ(d.stock, 42);
  EXPECT_EQ(d.type, EventType::kPurchase);
  EXPECT_EQ(d.flags, e.flags);
  EXPECT_EQ(d.user_hash, e.user_hash);
}

TEST(EventCodecTest, MinimalEventHasNoOptionalFields) {
  Interners a;
  Event e;
  e.time = EventTime(-5);  // before the epoch: zigzag
  e.item = ItemId(a.items.Intern("only-item"));
  e.type = EventType::kInventory;
  std::string bytes;
  EncodeEvent(e, a, &bytes);
  Interners b;
  Event d;
  ASSERT_TRUE(DecodeStoredEvent(bytes, b, &d).ok());
  EXPECT_EQ(d.time.millis(), -5);
  EXPECT_FALSE(d.user.valid());
  EXPECT_FALSE(d.event_id.present());
  EXPECT_EQ(d.recomm, 0u);
  EXPECT_FALSE(d.has_price());
  // No user: the partition key is the item, as at ingest.
  EXPECT_EQ(d.user_hash, static_cast<uint32_t>(StableHash64("only-item")));
}

// eddy's experiment records (a served answer, an allocation) are stored and read back
// like events, with their binary record intact.
TEST(EventCodecTest, ExperimentRecordsRoundTrip) {
  Interners a;
  for (EventType type : {EventType::kServed, EventType::kAllocation, EventType::kImpression}) {
    Event e;
    e.type = type;
    e.time = EventTime(1'700'000'000'000);
    if (type != EventType::kAllocation) e.user = UserId(a.users.Intern("u"));
    e.query = StringId(a.strings.Intern(std::string("\x03exp\x00\x1f\xff", 7)));
    e.recomm = 0xfedcba9876543210ull;
    e.quantity = 0;
    std::string bytes;
    EncodeEvent(e, a, &bytes);
    Interners b;
    Event d;
    ASSERT_TRUE(DecodeStoredEvent(bytes, b, &d).ok()) << EventTypeName(type);
    EXPECT_EQ(d.type, type);
    EXPECT_EQ(d.recomm, e.recomm);
    EXPECT_EQ(d.quantity, 0u);
    EXPECT_EQ(b.strings.Lookup(d.query.value()), std::string("\x03exp\x00\x1f\xff", 7));
  }
}

TEST(EventCodecTest, EveryTruncationAndAWrongVersionAreCorruption) {
  Interners a;
  std::string bytes;
  EncodeEvent(FullEvent(a), a, &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Interners b;
    Event d;
    const Status st = DecodeStoredEvent(std::string_view(bytes).substr(0, n), b, &d);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << "prefix of " << n << " bytes";
  }
  std::string longer = bytes + "x";
  Interners b;
  Event d;
  EXPECT_EQ(DecodeStoredEvent(longer, b, &d).message(), "stored event: trailing bytes");
  bytes[0] = 9;
  const Status st = DecodeStoredEvent(bytes, b, &d);
  EXPECT_EQ(st.message(), "stored event: format version 9 (this eddy reads version 1)");
}

std::vector<std::pair<uint64_t, std::string>> ScanAll(const LogStore& s, uint32_t p,
                                                      uint64_t from) {
  std::vector<std::pair<uint64_t, std::string>> out;
  Status st = s.Scan(PartitionId(p), from, [&](uint64_t off, std::string_view v) {
    out.emplace_back(off, std::string(v));
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(LogStoreTest, ChunksScanInOffsetOrderAndSurviveReopen) {
  test::TempDir dir;
  const std::string path = (dir.path() / "log").string();
  {
    auto s = std::move(LogStore::Open(path, 4)).value();
    ChunkBuilder c;
    c.Begin();
    c.Add("a");
    c.AddSkip();
    c.Add("c");
    s->Put(PartitionId(1), 0, c.Finish(), c.count());
    c.Begin();
    c.Add("d");
    s->Put(PartitionId(1), 3, c.Finish(), c.count());
    c.Begin();
    c.Add("x");
    s->Put(PartitionId(2), 0, c.Finish(), c.count());
    ASSERT_TRUE(s->Commit(/*sync=*/true).ok());
    EXPECT_EQ(s->Stats().records, 5u);
  }
  auto s = std::move(LogStore::Open(path, 4)).value();
  using V = std::vector<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(ScanAll(*s, 1, 0), (V{{0, "a"}, {2, "c"}, {3, "d"}}));
  EXPECT_EQ(ScanAll(*s, 1, 2), (V{{2, "c"}, {3, "d"}}));  // from inside a chunk
  EXPECT_EQ(ScanAll(*s, 1, 4), V{});
  EXPECT_EQ(ScanAll(*s, 2, 0), (V{{0, "x"}}));
  EXPECT_EQ(ScanAll(*s, 0, 0), V{});
  EXPECT_EQ(*s->NextOffset(PartitionId(0)), 0u);
  EXPECT_EQ(*s->NextOffset(PartitionId(1)), 4u);
  EXPECT_EQ(*s->NextOffset(PartitionId(2)), 1u);
  EXPECT_EQ(*s->NextOffset(PartitionId(3)), 0u);
  ASSERT_TRUE(s->DeleteBelow(PartitionId(1), 3).ok());
  EXPECT_EQ(ScanAll(*s, 1, 0), (V{{3, "d"}}));
}

// The scheduling policy of each of this process's threads whose name starts with `name`.
std::vector<int> PoliciesOf(const std::string& name) {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string got;
    std::getline(comm, got);
    if (got.starts_with(name)) out.push_back(sched_getscheduler(std::stoi(task.path().filename().string())));
  }
  return out;
}

// durability.background_priority = "idle" (the default): RocksDB's flush (and compaction)
// threads run under SCHED_IDLE, so their bursts take only CPU that eddy's own threads leave.
TEST(LogStoreTest, BackgroundWorkRunsAtIdlePriority) {
  test::TempDir dir;
  auto s = std::move(LogStore::Open((dir.path() / "log").string(), 1)).value();
  ASSERT_TRUE(s->SetBackgroundPriority(BackgroundPriority::kIdle).ok());
  ChunkBuilder c;
  c.Begin();
  c.Add("a");
  s->Put(PartitionId(0), 0, c.Finish(), c.count());
  ASSERT_TRUE(s->Commit(/*sync=*/false).ok());
  ASSERT_TRUE(s->FlushForTest().ok());  // a flush job: its thread takes the priority first
  const std::vector<int> flushers = PoliciesOf("rocksdb:high");
  ASSERT_FALSE(flushers.empty());
  for (int policy : flushers) EXPECT_EQ(policy, SCHED_IDLE);
}

// Writes `key` = `value` in the store's metadata (default column family) behind its back.
void PokeMeta(const std::string& path, const std::string& key, const std::string& value) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"log", rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &db).ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], key, value).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST(LogStoreTest, RefusesANewerFormatAndAnotherPartitionCount) {
  test::TempDir dir;
  const std::string path = (dir.path() / "log").string();
  ASSERT_TRUE(LogStore::Open(path, 4).ok());
  Result<std::unique_ptr<LogStore>> other = LogStore::Open(path, 8);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(),
            "log.partitions is 8 but the event store in this data_dir was written with 4 "
            "partitions; set log.partitions = 4 (repartitioning a store is not supported yet)");
  PokeMeta(path, "format_version", "2");
  Result<std::unique_ptr<LogStore>> newer = LogStore::Open(path, 4);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(newer.status().message(),
            "the event store has format version 2; this eddy reads 1 (written by a newer eddy: "
            "upgrade eddy, or start on a new data_dir)");
}

TEST(LogStoreTest, AMalformedChunkIsCorruptionNotACrash) {
  test::TempDir dir;
  const std::string path = (dir.path() / "log").string();
  {
    auto s = std::move(LogStore::Open(path, 1)).value();
    ChunkBuilder c;
    c.Begin();
    c.Add("abc");
    std::string v(c.Finish());
    v[1] = 9;  // claims 9 entries, holds 1
    s->Put(PartitionId(0), 0, v, 1);
    ASSERT_TRUE(s->Commit(false).ok());
  }
  auto s = std::move(LogStore::Open(path, 1)).value();
  Status st = s->Scan(PartitionId(0), 0, [](uint64_t, std::string_view) { return Status::Ok(); });
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_EQ(st.message(), "event store: truncated chunk");
}

Options StoreOptions(const test::TempDir& dir, AckLevel ack) {
  Options o = test::TestOptions(4, 2);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = ack;
  o.clock = ClockMode::kEvent;  // answers depend on the events only, not on when we ask
  // The store's counts below are of log entries: with inventory on, each purchase and
  // cancel would bring stock moves too (tests/commerce/inventory_test.cc has those).
  o.inventory.enabled = false;
  return o;
}

std::string Batch(int from, int n) {
  std::vector<std::string> events;
  for (int i = from; i < from + n; ++i) {
    events.push_back(test::EventBuilder()
                         .User("u" + std::to_string(i % 7))
                         .Item("i" + std::to_string(i % 11))
                         .Category("c" + std::to_string(i % 3))
                         .Type(i % 5 == 0 ? "purchase" : "view")
                         .Id("e" + std::to_string(i))
                         .Raw("timestamp", std::to_string(1'700'000'000'000 + i * 1000))
                         .Raw("price", std::to_string(1 + i % 13) + ".25")
                         .Json());
  }
  return test::Ndjson(events);
}

// What a user can see, as one string to compare.
std::string Answers(Engine& e) {
  std::string out;
  for (const auto& c : e.TrendingCategoriesSync(0, 10).top) {
    out += c.category + "=" + std::to_string(c.score) + ";";
  }
  for (const auto& p : e.PopularItemsSync("", 10).top) out += p.name + "=" + std::to_string(p.score) + ";";
  for (int u = 0; u < 7; ++u) {
    for (const auto& r : e.RecentItemsSync("u" + std::to_string(u), 50)) out += r.item + ",";
    for (const auto& a : e.UserAffinitySync("u" + std::to_string(u), 5).top) {
      out += a.name + "=" + std::to_string(a.score) + ";";
    }
    // Recommendations exclude what the user bought: the bought items are restored too.
    for (const auto& r : e.RecommendSync(test::Req("u" + std::to_string(u), 8)).items) {
      out += r.item + "=" + std::to_string(r.score) + ",";
    }
  }
  for (int i = 0; i < 11; ++i) {
    for (const auto& s : e.SimilarItemsSync("i" + std::to_string(i), 5).top) {
      out += s.item + ":" + std::to_string(s.count) + ",";
    }
    const EngagementAnswer g = e.ItemEngagementSync("i" + std::to_string(i));
    for (int64_t c : g.all_time) out += std::to_string(c) + ",";
    out += g.category + "@" + (g.price_micros ? std::to_string(*g.price_micros) : "-") + ";";
  }
  return out;
}

// Ingests batches [from, to) of 50 events each.
void IngestBatches(Engine& e, int from, int to) {
  auto ctx = e.NewIngestContext();
  for (int b = from; b < to; ++b) {
    IngestReply r = e.IngestSync(*ctx, Batch(b * 50, 50));
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    ASSERT_EQ(r.accepted, 50u);
  }
}

// The answers after ingesting 20 batches in one run, as the reference.
std::string ReferenceAnswers() {
  test::TempDir dir;
  auto engine = std::move(Engine::Open(StoreOptions(dir, AckLevel::kMemory))).value();
  IngestBatches(*engine, 0, 20);
  return Answers(*engine);
}

std::unique_ptr<Engine> Reopen(const test::TempDir& dir, AckLevel ack = AckLevel::kWal) {
  Result<std::unique_ptr<Engine>> e = Engine::Open(StoreOptions(dir, ack));
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

std::vector<std::string> CheckpointFiles(const test::TempDir& dir) {
  return ListCheckpoints((dir.path() / "checkpoints").string());
}

TEST(EngineStoreTest, CleanRestartLoadsTheShutdownCheckpointInEachAckLevel) {
  const std::string reference = ReferenceAnswers();
  ASSERT_GT(reference.size(), 300u);  // every kind of answer is in it
  for (AckLevel ack : {AckLevel::kMemory, AckLevel::kWal, AckLevel::kFsync}) {
    test::TempDir dir;
    {
      auto engine = Reopen(dir, ack);
      IngestBatches(*engine, 0, 20);
      ASSERT_EQ(Answers(*engine), reference);
    }  // Stop: everything applied, then a checkpoint
    auto engine = Reopen(dir, ack);
    const StoreStatus st = engine->Status().store;
    EXPECT_NE(st.recovered_from_checkpoint, 0u);
    EXPECT_EQ(st.recovered_events, 0u);  // the checkpoint covers everything
    EXPECT_EQ(Answers(*engine), reference) << "ack level " << static_cast<int>(ack);
    // eventIds seen before the restart are still duplicates.
    auto ctx = engine->NewIngestContext();
    EXPECT_EQ(engine->IngestSync(*ctx, Batch(10, 5)).duplicates, 5u);
  }
}

TEST(EngineStoreTest, WithoutACheckpointTheWholeStoreIsReplayed) {
  const std::string reference = ReferenceAnswers();
  test::TempDir dir;
  {
    auto engine = Reopen(dir);
    IngestBatches(*engine, 0, 20);
  }
  std::filesystem::remove_all(dir.path() / "checkpoints");
  auto engine = Reopen(dir);
  EXPECT_EQ(engine->Status().store.recovered_from_checkpoint, 0u);
  EXPECT_EQ(engine->Status().store.recovered_events, 1000u);
  EXPECT_EQ(Answers(*engine), reference);
}

// 8 batches, a checkpoint, 12 more batches, a clean stop (the shutdown checkpoint):
// returns the two checkpoint files, newest first.
std::vector<std::string> TwoCheckpoints(const test::TempDir& dir) {
  {
    auto engine = Reopen(dir);
    IngestBatches(*engine, 0, 8);
    EXPECT_TRUE(engine->TakeCheckpoint().ok());
    IngestBatches(*engine, 8, 20);
  }
  return CheckpointFiles(dir);
}

// A checkpoint in the middle, more events after it, and the shutdown checkpoint lost: the
// older checkpoint plus the events after it give the same answers.
TEST(EngineStoreTest, ACheckpointPlusTheEventsAfterItGiveTheSameAnswers) {
  const std::string reference = ReferenceAnswers();
  test::TempDir dir;
  std::vector<std::string> files = TwoCheckpoints(dir);
  ASSERT_EQ(files.size(), 2u);
  std::filesystem::remove(files[0]);
  auto engine = Reopen(dir);
  EXPECT_EQ(engine->Status().store.recovered_from_checkpoint, CheckpointSequenceOf(files[1]));
  EXPECT_EQ(engine->Status().store.recovered_events, 600u);
  EXPECT_EQ(Answers(*engine), reference);
}

// Damage to the newest checkpoint: recovery uses the previous one (and the log after it).
TEST(EngineStoreTest, ADamagedCheckpointFallsBackToThePreviousOne) {
  const std::string reference = ReferenceAnswers();
  enum Damage { kTruncate, kFlipByte, kNewerVersion };
  for (Damage damage : {kTruncate, kFlipByte, kNewerVersion}) {
    test::TempDir dir;
    std::vector<std::string> files = TwoCheckpoints(dir);
    ASSERT_EQ(files.size(), 2u);
    std::string bytes = test::ReadFile(files[0]);
    ASSERT_GT(bytes.size(), 100u);
    if (damage == kTruncate) bytes.resize(bytes.size() / 2);
    if (damage == kFlipByte) bytes[bytes.size() - 7] ^= 0x10;
    if (damage == kNewerVersion) bytes[8] = static_cast<char>(kCheckpointFormatVersion + 1);
    test::WriteFile(files[0], bytes);
    const Result<Checkpoint> read = ReadCheckpoint(files[0]);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kCorruption);
    const std::string why[] = {
        "truncated or padded", "checksum mismatch",
        "checkpoint format version " + std::to_string(kCheckpointFormatVersion + 1) +
            "; this eddy reads " + std::to_string(kCheckpointFormatVersion)};
    EXPECT_NE(read.status().message().find(why[damage]), std::string::npos)
        << read.status().message();
    auto engine = Reopen(dir);
    EXPECT_EQ(engine->Status().store.recovered_from_checkpoint, CheckpointSequenceOf(files[1]));
    EXPECT_EQ(Answers(*engine), reference) << "damage " << damage;
  }
}

TEST(EngineStoreTest, ChangedWeightsReplayTheStoreInsteadOfLoadingTheCheckpoint) {
  test::TempDir dir;
  {
    auto engine = Reopen(dir);
    IngestBatches(*engine, 0, 20);
  }
  Options o = StoreOptions(dir, AckLevel::kWal);
  o.weights[static_cast<size_t>(EventType::kView)] = 2.5;
  auto engine = std::move(Engine::Open(o)).value();
  EXPECT_EQ(engine->Status().store.recovered_from_checkpoint, 0u);
  EXPECT_EQ(engine->Status().store.recovered_events, 1000u);
  // The same as a fresh ingest with the new weights.
  test::TempDir fresh_dir;
  Options f = StoreOptions(fresh_dir, AckLevel::kMemory);
  f.weights = o.weights;
  auto fresh = std::move(Engine::Open(f)).value();
  IngestBatches(*fresh, 0, 20);
  EXPECT_EQ(Answers(*engine), Answers(*fresh));
}

// Retention deletes what was written more than `retention` ago, once a kept checkpoint
// covers it; answers (from the checkpoint) do not change, and a full replay then sees only
// the retained events.
TEST(EngineStoreTest, RetentionDeletesOldEventsOnlyBehindACheckpoint) {
  test::TempDir dir;
  ManualClock clock(EventTime(1'800'000'000'000));
  Options o = StoreOptions(dir, AckLevel::kWal);
  o.durability.retention_minutes = 60;
  o.durability.checkpoints_kept = 1;
  o.durability.checkpoint_interval_minutes = 0;
  std::string before;
  uint64_t deleted = 0;
  {
    auto engine = std::move(Engine::Open(o, &clock)).value();
    IngestBatches(*engine, 0, 4);      // 200 events at T
    clock.Advance(61'000);
    IngestBatches(*engine, 4, 5);      // 50 more at T + 61 s: a mark at T + 61 s
    clock.Advance(2 * 3'600'000);
    IngestBatches(*engine, 5, 8);      // 150 at T + 2 h: within the hour
    EXPECT_EQ(engine->Status().store.retention_deleted, 0u);  // no checkpoint yet
    ASSERT_TRUE(engine->TakeCheckpoint().ok());
    // The mark at T + 61 s covers what the store's round at that time held: all 200 of T
    // and the part of the next request published by then (a request's partitions are
    // published one after another; usually all 50, fewer when the store thread wakes in
    // between — seen under TSan on a loaded box). The rest of it waits for a later mark.
    deleted = engine->Status().store.retention_deleted;
    EXPECT_GE(deleted, 200u);
    EXPECT_LE(deleted, 250u);
    before = Answers(*engine);
  }
  {
    auto engine = std::move(Engine::Open(o, &clock)).value();
    EXPECT_EQ(Answers(*engine), before);  // the state came from the checkpoint
  }
  o.recovery.ignore_checkpoints = true;  // what `eddy replay` does
  auto engine = std::move(Engine::Open(o, &clock)).value();
  EXPECT_EQ(engine->Status().store.recovered_events, 400u - deleted);
}

// A store that cannot write: the waiting request is not answered (its events are not
// durable), new ingests get 503 naming the cause, /readyz is down; once writes succeed the
// store catches up by itself and the waiting request is answered.
TEST(EngineStoreTest, AFailingStoreRefusesIngestAndRecoversByItself) {
  test::TempDir dir;
  auto engine = Reopen(dir, AckLevel::kWal);
  IngestBatches(*engine, 0, 2);
  engine->FailStoreWritesForTest(true);
  auto ctx = engine->NewIngestContext();
  std::promise<IngestReply> waiting;
  std::string body = Batch(100, 50);
  engine->Ingest(*ctx, body, BodyFormat::kAuto, DefaultType::kNone,
                 [&](IngestReply r) { waiting.set_value(std::move(r)); });
  while (!engine->Status().store.failing) std::this_thread::yield();
  EXPECT_FALSE(engine->Ready());
  EXPECT_NE(engine->Status().store.last_error.find("injected by a test"), std::string::npos);
  IngestReply refused = engine->IngestSync(*ctx, Batch(200, 5));
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status.message().find("the event store cannot write"), std::string::npos)
      << refused.status.message();
  engine->FailStoreWritesForTest(false);
  IngestReply answered = waiting.get_future().get();
  EXPECT_TRUE(answered.status.ok()) << answered.status.message();
  EXPECT_EQ(answered.accepted, 50u);
  while (engine->Status().store.failing) std::this_thread::yield();
  EXPECT_TRUE(engine->Ready());
  EXPECT_EQ(engine->IngestSync(*ctx, Batch(300, 5)).accepted, 5u);
  EXPECT_EQ(engine->Status().store.persisted_events, 155u);
}

// Holds the disk full while a batch is being committed (ack fsync): the write fails inside
// RocksDB with half its bytes on disk. The request waits unanswered and new ones are
// refused; once space is back the store resumes RocksDB and writes the round again. After
// a restart every acknowledged event is in the store exactly once (a full replay counts
// them) and the answers equal an uninterrupted run.
TEST(EngineStoreTest, ADiskFullMidCommitResumesAndLosesNothingAcrossARestart) {
  test::TempDir dir;
  {
    auto engine = Reopen(dir, AckLevel::kFsync);
    IngestBatches(*engine, 0, 4);
    engine->FailStoreWritesForTest(true);
    auto ctx = engine->NewIngestContext();
    std::promise<IngestReply> waiting;
    std::string body = Batch(200, 50);
    engine->Ingest(*ctx, body, BodyFormat::kAuto, DefaultType::kNone,
                   [&](IngestReply r) { waiting.set_value(std::move(r)); });
    while (!engine->Status().store.failing) std::this_thread::yield();
    EXPECT_NE(engine->Status().store.last_error.find("No space left"), std::string::npos)
        << engine->Status().store.last_error;
    EXPECT_EQ(engine->IngestSync(*ctx, Batch(250, 50)).status.code(), StatusCode::kUnavailable);
    engine->FailStoreWritesForTest(false);
    IngestReply answered = waiting.get_future().get();
    ASSERT_TRUE(answered.status.ok()) << answered.status.message();
    EXPECT_EQ(answered.accepted, 50u);
    IngestBatches(*engine, 5, 20);  // the refused batch 5 again, and the rest
  }
  const std::string reference = ReferenceAnswers();
  Options o = StoreOptions(dir, AckLevel::kFsync);
  o.recovery.ignore_checkpoints = true;  // the store alone
  auto replayed = std::move(Engine::Open(o)).value();
  EXPECT_EQ(replayed->Status().store.recovered_events, 1000u);
  EXPECT_EQ(Answers(*replayed), reference);
  replayed.reset();
  EXPECT_EQ(Answers(*Reopen(dir, AckLevel::kFsync)), reference);  // from the checkpoint
}

// The disk fills mid-commit and eddy stops before space is back (ack fsync): the waiting
// request is answered 503 at the stop, nothing of it is stored (its torn WAL record is
// dropped at recovery); every acknowledged event is; its events can be sent again.
TEST(EngineStoreTest, AStopWhileTheDiskIsFullKeepsEveryAcknowledgedEventAndOnlyThose) {
  test::TempDir dir;
  IngestReply answer;
  bool answered = false;
  {
    auto engine = Reopen(dir, AckLevel::kFsync);
    IngestBatches(*engine, 0, 4);
    engine->FailStoreWritesForTest(true);
    auto ctx = engine->NewIngestContext();
    std::string body = Batch(200, 50);
    engine->Ingest(*ctx, body, BodyFormat::kAuto, DefaultType::kNone, [&](IngestReply r) {
      answer = std::move(r);
      answered = true;
    });
    while (!engine->Status().store.failing) std::this_thread::yield();
    EXPECT_FALSE(answered);
  }
  ASSERT_TRUE(answered);  // by the stop, not left hanging
  EXPECT_EQ(answer.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(answer.status.message().find("eddy stopped before these events could be stored"),
            std::string::npos)
      << answer.status.message();
  EXPECT_EQ(answer.accepted, 0u);
  Options o = StoreOptions(dir, AckLevel::kFsync);
  o.recovery.ignore_checkpoints = true;
  {
    auto replayed = std::move(Engine::Open(o)).value();
    EXPECT_EQ(replayed->Status().store.recovered_events, 200u);
  }
  auto engine = Reopen(dir, AckLevel::kFsync);  // from the shutdown checkpoint
  IngestBatches(*engine, 4, 20);  // the unacknowledged batch is not a duplicate
  EXPECT_EQ(Answers(*engine), ReferenceAnswers());
}

// Callbacks run outside locks: the refusal's callback may call back into the engine (an
// HTTP handler asking for status, say) — it used to run holding the store error's mutex,
// and Status() takes that mutex: a self-deadlock.
TEST(EngineStoreTest, TheRefusalCallbackMayCallIntoTheEngine) {
  test::TempDir dir;
  auto engine = Reopen(dir, AckLevel::kWal);
  engine->FailStoreWritesForTest(true);
  auto ctx = engine->NewIngestContext();
  std::string body = Batch(0, 5);
  engine->Ingest(*ctx, body, BodyFormat::kAuto, DefaultType::kNone, [](IngestReply) {});
  while (!engine->Status().store.failing) std::this_thread::yield();
  std::string error_seen_inside;
  std::string refused = Batch(100, 5);
  engine->Ingest(*ctx, refused, BodyFormat::kAuto, DefaultType::kNone, [&](IngestReply r) {
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
    error_seen_inside = engine->Status().store.last_error;  // takes the store's error mutex
  });
  EXPECT_NE(error_seen_inside.find("injected by a test"), std::string::npos) << error_seen_inside;
  engine->FailStoreWritesForTest(false);
}

}  // namespace
}  // namespace eddy
