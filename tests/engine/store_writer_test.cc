// StoreWriter: a round stores what was published, advances the durable offsets and only
// then answers the requests that waited for durability; with ack wal the ingesting thread
// runs that round itself; a failing store refuses ingest and recovers by itself.
#include "engine/store_writer.h"

#include <gtest/gtest.h>

#include <future>
#include <latch>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "engine/components.h"
#include "engine/ingest_path.h"
#include "store/event_codec.h"
#include "util/hash.h"

namespace eddy {
namespace {

struct Stored {
  // `capacity`: log.capacity_per_partition (0: the test default).
  explicit Stored(const test::TempDir& dir, AckLevel ack = AckLevel::kWal,
                  int64_t commit_delay_us = DurabilityOptions{}.commit_delay_us,
                  uint32_t capacity = 0) {
    o = test::ComponentOptions();
    o.durability.data_dir = dir.path().string();
    o.durability.ack = ack;
    o.durability.commit_delay_us = commit_delay_us;
    if (capacity != 0) o.log.capacity_per_partition = capacity;
    store = std::move(LogStore::Open(o.durability.data_dir + "/log", o.log.partitions)).value();
    parts = std::make_unique<test::Parts>(o, /*consumers=*/2);
    writer = std::make_unique<StoreWriter>(
        parts->options, *store, *parts->log, *parts->interners, parts->set, parts->duplicates,
        Clock::System(), std::vector<uint64_t>(o.log.partitions, 0), 0,
        [this](LogStore::Mark m) { marks.push_back(std::move(m)); });
    parts->StartShards(writer->durable());
    writer->Start();
    ingest = std::make_unique<IngestPath>(parts->options, *parts->log, *parts->interners,
                                          parts->set, writer.get(), parts->clock, nullptr);
    ctx = ingest->NewContext();
  }
  ~Stored() {
    writer->Stop();
    parts->StopShards();
  }
  // The reply, and the thread it came on.
  std::pair<IngestReply, std::thread::id> SendAndWhere(std::vector<std::string> lines) {
    std::promise<std::pair<IngestReply, std::thread::id>> p;
    std::string body = test::Ndjson(lines);
    ingest->Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                   [&p](IngestReply r) { p.set_value({std::move(r), std::this_thread::get_id()}); });
    return p.get_future().get();
  }
  std::future<IngestReply> Send(std::vector<std::string> lines) {
    auto p = std::make_shared<std::promise<IngestReply>>();
    std::string body = test::Ndjson(lines);
    ingest->Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                   [p](IngestReply r) { p->set_value(std::move(r)); });
    return p->get_future();
  }
  uint64_t Commits() const {
    StoreStatus st;
    writer->FillStatus(&st);
    return st.batches;
  }
  uint64_t StoredEvents() {
    uint64_t n = 0;
    for (uint32_t p = 0; p < o.log.partitions; ++p) {
      EXPECT_TRUE(store->Scan(PartitionId(p), 0, [&](uint64_t, std::string_view v) {
        StoredEventView e;
        if (Status st = DecodeStoredEventView(v, &e); !st.ok()) return st;
        ++n;
        return Status::Ok();
      }).ok());
    }
    return n;
  }

  Options o;
  std::unique_ptr<LogStore> store;
  std::unique_ptr<test::Parts> parts;
  std::vector<LogStore::Mark> marks;  // store thread; read after it stopped
  std::unique_ptr<StoreWriter> writer;
  std::unique_ptr<IngestPath> ingest;
  std::unique_ptr<IngestContext> ctx;
};

// Views of items i<from>.. by `users` users, u0, u1, ... in turn.
std::vector<std::string> Views(int n, int from = 0, int users = 7) {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) {
    v.push_back(test::EventBuilder().User("u" + std::to_string(i % users)).Type("view")
                    .Item("i" + std::to_string(i)).Json());
  }
  return v;
}

TEST(StoreWriterTest, RepliesOnceTheEventsAreDurable) {
  test::TempDir dir;
  Stored s(dir);
  IngestReply r = s.Send(Views(40)).get();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.accepted, 40u);
  // Answered after the write: every event is in the store and below the durable offsets.
  EXPECT_EQ(s.StoredEvents(), 40u);
  uint64_t durable = 0;
  for (uint32_t p = 0; p < s.o.log.partitions; ++p) {
    durable += s.writer->durable()[p].load();
    EXPECT_EQ(s.writer->durable()[p].load(), s.parts->log->partition(PartitionId(p)).head());
  }
  EXPECT_EQ(durable, 40u);
  StoreStatus st;
  s.writer->FillStatus(&st);
  EXPECT_TRUE(st.enabled);
  EXPECT_FALSE(st.failing);
  EXPECT_EQ(st.persisted_events, 40u);
}

// With ack wal the thread that appends a request stores it and answers it itself when the
// store thread dozes (it has had nothing to do for a while): the reply comes on the
// ingesting thread. A store thread may wake by its own timeout just then: tried until a
// request found it dozing. With ack fsync only the store thread writes.
TEST(StoreWriterTest, WithAckWalTheIngestingThreadStoresAndAnswersItsRequest) {
  test::TempDir dir;
  Stored s(dir, AckLevel::kWal);
  bool inline_reply = false;
  uint64_t sent = 0;
  for (int attempt = 0; attempt < 100 && !inline_reply; ++attempt) {
    while (!s.writer->Idle()) std::this_thread::yield();
    auto [reply, thread] = s.SendAndWhere(Views(40, attempt * 40));
    sent += 40;
    EXPECT_EQ(reply.accepted, 40u);
    inline_reply = thread == std::this_thread::get_id();
  }
  EXPECT_TRUE(inline_reply);
  EXPECT_EQ(s.StoredEvents(), sent);
}

// With ack wal or fsync, as with memory, a request to a partition holding over a quarter of
// its capacity unapplied is answered once its events are applied, not once written: the
// shards pace clients that send as fast as they are answered, instead of refusing them
// (429) once the log is full. Here every shard thread is held in a read while the requests
// come: a request sent while the partition had room is answered after its write, the ones
// sent once it held over a quarter still wait when every event is written and the store's
// replies are sent, and are answered when the shards, let go, apply them.
TEST(StoreWriterTest, ARequestToAFillingPartitionIsAnsweredOnceApplied) {
  for (AckLevel ack : {AckLevel::kWal, AckLevel::kFsync}) {
    SCOPED_TRACE(AckLevelName(ack));
    // Declared before `s`, so they outlive its shard threads (joined when `s` goes): a
    // shard let go may still be returning from release.wait() when the test ends.
    std::latch release(1);
    std::atomic<size_t> held{0};
    test::TempDir dir;
    Stored s(dir, ack, DurabilityOptions{}.commit_delay_us, /*capacity=*/16);
    s.parts->set.ScatterGather<int>(
        [&](ShardState&) {
          held.fetch_add(1);
          release.wait();  // the shard thread waits here
          return 0;
        },
        [](std::vector<int>&) {});
    while (held.load() < s.parts->set.states.size()) std::this_thread::yield();
    // Let go however the test leaves (a failed ASSERT too): stopping needs the shards.
    absl::Cleanup let_go = [&release] { release.count_down(); };
    // One user (u0), so one partition.
    EXPECT_EQ(s.Send(Views(5, 0, 1)).get().accepted, 5u);  // an empty partition: written
    std::vector<std::future<IngestReply>> paced;
    for (int r = 0; r < 3; ++r) paced.push_back(s.Send(Views(2, 5 + 2 * r, 1)));
    // Every event written, and the store thread's replies sent (it dozes after them).
    const PartitionId p = s.parts->log->PartitionOf(static_cast<uint32_t>(StableHash64("u0")));
    while (s.writer->durable()[p.value()].load() < 11 || !s.writer->Idle()) {
      std::this_thread::yield();
    }
    EXPECT_EQ(s.StoredEvents(), 11u);
    for (auto& f : paced) EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    std::move(let_go).Invoke();
    for (auto& f : paced) {
      const IngestReply r = f.get();
      EXPECT_TRUE(r.status.ok()) << r.status.message();
      EXPECT_EQ(r.accepted, 2u);
    }
  }
}

TEST(StoreWriterTest, WithAckFsyncOnlyTheStoreThreadWrites) {
  test::TempDir dir;
  Stored s(dir, AckLevel::kFsync);
  while (!s.writer->Idle()) std::this_thread::yield();
  auto [reply, thread] = s.SendAndWhere(Views(10));
  EXPECT_EQ(reply.accepted, 10u);
  EXPECT_NE(thread, std::this_thread::get_id());
  EXPECT_EQ(s.StoredEvents(), 10u);
}

// With a commit delay, a request published while the store thread sleeps out the delay
// does not wake it: fewer than kWakeAfterRequests requests wait, unwritten, while the sleep
// lasts; the last of them wakes it, and all are written in at most two writes (the count's
// wake, the delay's end; without the delay, a write each). A store thread starts in that
// sleep (it found nothing to do); a test thread that stalls past the delay finds it over
// (written, or dozing) and tries again with a new one.
TEST(StoreWriterTest, WithACommitDelayRequestsWaitForItOrForTheEighth) {
  for (AckLevel ack : {AckLevel::kWal, AckLevel::kFsync}) {
    SCOPED_TRACE(AckLevelName(ack));
    bool checked = false;
    // Under ThreadSanitizer the requests to a fresh engine often outlast the delay (an
    // attempt takes ~60 ms there): tried up to 100 times.
    for (int attempt = 0; attempt < 100 && !checked; ++attempt) {
      test::TempDir dir;
      Stored s(dir, ack, /*commit_delay_us=*/30'000);
      while (!s.writer->Delaying() && !s.writer->Idle()) std::this_thread::yield();
      if (s.writer->Idle()) continue;  // stalled past the delay
      const int n = StoreWriter::kWakeAfterRequests;
      std::vector<std::future<IngestReply>> replies;
      for (int r = 0; r + 1 < n; ++r) replies.push_back(s.Send(Views(1, r)));
      // All but the last sent within the delay, none written: this attempt's case.
      const bool waited = s.Commits() == 0 && s.writer->Delaying();
      replies.push_back(s.Send(Views(1, n - 1)));
      for (auto& f : replies) EXPECT_EQ(f.get().accepted, 1u);
      EXPECT_EQ(s.StoredEvents(), static_cast<uint64_t>(n));
      if (!waited) continue;
      EXPECT_LE(s.Commits(), 2u);
      checked = true;
    }
    // Under ThreadSanitizer on a loaded 2-core box every attempt may outlast the delay (at
    // most 32 ms): said, not failed.
    if (!checked) GTEST_SKIP() << "no attempt sent its requests within the commit delay";
  }
}

// The next round is woken for as many requests as the last one that had counted requests
// held: after a request alone (its client may send the next only after the reply, and would
// wait the delay for each), every request wakes the store thread; after a round of two, the
// second. (A round between the count below and the next request — the store thread's sleep
// ending while this thread stalls — finds them apart: tried again.)
TEST(StoreWriterTest, ARoundIsWokenForAsManyRequestsAsTheLastHeld) {
  test::TempDir dir;
  Stored s(dir, AckLevel::kFsync, /*commit_delay_us=*/30'000);
  EXPECT_EQ(s.writer->wake_after(), StoreWriter::kWakeAfterRequests);  // until a round counts
  bool two = false;
  for (int attempt = 0; attempt < 20 && !two; ++attempt) {
    EXPECT_EQ(s.Send(Views(10, 100 * attempt)).get().accepted, 10u);  // alone
    ASSERT_EQ(s.writer->wake_after(), 1u);
    EXPECT_TRUE(s.writer->CountWaitingRequest());  // the first wakes it
    EXPECT_EQ(s.Send(Views(10, 100 * attempt + 10)).get().accepted, 10u);  // with that one
    two = s.writer->wake_after() == 2;
  }
  EXPECT_TRUE(two);
}

// The early wake's count: the kWakeAfterRequests-th request since the last round asks for
// the store thread, the others do not (counted while the thread sleeps out its delay: a
// round, even an empty one, starts the count over; tried again if one ran meanwhile).
TEST(StoreWriterTest, TheEighthWaitingRequestWakesTheStoreThread) {
  bool checked = false;
  for (int attempt = 0; attempt < 20 && !checked; ++attempt) {
    test::TempDir dir;
    Stored s(dir, AckLevel::kWal, /*commit_delay_us=*/30'000);
    while (!s.writer->Delaying() && !s.writer->Idle()) std::this_thread::yield();
    if (s.writer->Idle()) continue;
    std::vector<bool> wakes;
    for (uint32_t r = 0; r < 2 * StoreWriter::kWakeAfterRequests; ++r) {
      wakes.push_back(s.writer->CountWaitingRequest());
    }
    if (!s.writer->Delaying()) continue;  // a poll may have started the count over
    std::vector<bool> want(wakes.size(), false);
    want[StoreWriter::kWakeAfterRequests - 1] = true;
    EXPECT_EQ(wakes, want);
    checked = true;
  }
  EXPECT_TRUE(checked);
}

TEST(StoreWriterTest, AFailingStoreRefusesIngestUntilItWritesAgain) {
  test::TempDir dir;
  Stored s(dir);
  s.store->FailWritesForTest(true);
  std::future<IngestReply> waiting = s.Send(Views(5));
  while (!s.writer->failing()) std::this_thread::yield();
  EXPECT_NE(s.writer->LastError().find("injected"), std::string::npos) << s.writer->LastError();
  IngestReply refused = s.Send(Views(3, 100)).get();
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status.message().find("the event store cannot write"), std::string::npos);
  s.store->FailWritesForTest(false);
  IngestReply later = waiting.get();  // the round is retried from the same offsets
  EXPECT_TRUE(later.status.ok());
  while (s.writer->failing()) std::this_thread::yield();
  EXPECT_EQ(s.StoredEvents(), 5u);
}

}  // namespace
}  // namespace eddy
