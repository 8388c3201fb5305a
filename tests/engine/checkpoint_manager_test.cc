// CheckpointManager: a checkpoint taken over running shards is what recovery loads into
// fresh states; settings that shape a state make it replay instead; the fingerprint
// follows the registered states' settings.
#include "engine/checkpoint_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>

#include "agg/recent.h"
#include "agg/trending.h"
#include "engine/components.h"
#include "engine/ingest_path.h"
#include "engine/store_writer.h"
#include "store/checkpoint.h"

namespace eddy {
namespace {

Options StoreOptions(const test::TempDir& dir) {
  Options o = test::ComponentOptions();
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  o.windows.minutes = {60};
  return o;
}

// Runs the parts with a store writer and ingest, sends `lines`, takes a checkpoint.
uint64_t IngestAndCheckpoint(const Options& o, LogStore& store, const std::vector<std::string>& lines) {
  test::Parts parts(o, 2);
  CheckpointManager cm(parts.options, store, *parts.log, parts.clock, nullptr);
  std::vector<uint64_t> start;
  EXPECT_TRUE(cm.Recover(&parts.interners, &parts.set, [&](Interners* in) { return parts.NewStates(in); }, &start).ok());
  StoreWriter writer(parts.options, store, *parts.log, *parts.interners, parts.set,
                     parts.duplicates, Clock::System(), start, cm.last_mark_ms(),
                     [&](LogStore::Mark m) { cm.AddMark(std::move(m)); });
  parts.StartShards(writer.durable());
  writer.Start();
  cm.Start(&parts.set, parts.interners.get());
  IngestPath ingest(parts.options, *parts.log, *parts.interners, parts.set, &writer, parts.clock,
                    nullptr);
  auto ctx = ingest.NewContext();
  std::promise<IngestReply> done;
  std::string body = test::Ndjson(lines);
  ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                [&](IngestReply r) { done.set_value(std::move(r)); });
  EXPECT_EQ(done.get_future().get().accepted, lines.size());
  parts.CatchUp();  // the reply came once stored; the checkpoint should cover the apply too
  std::promise<uint64_t> seq;
  cm.Request([&](Status st, uint64_t s) {
    EXPECT_TRUE(st.ok()) << st.ToString();
    seq.set_value(s);
  });
  const uint64_t taken = seq.get_future().get();
  cm.StopPeriodic();
  writer.Stop();
  parts.StopShards();
  return taken;
}

std::vector<std::string> Stream() {
  std::vector<std::string> lines;
  for (int i = 0; i < 60; ++i) {
    lines.push_back(test::EventBuilder().User("u" + std::to_string(i % 5)).Type("view")
                        .Item("i" + std::to_string(i % 9)).Category("c" + std::to_string(i % 3))
                        .Time(1'700'000'000'000 + i * 1000).Json());
  }
  return lines;
}

// Start-up recovery into `parts` from `store`; the recovery figures.
StoreStatus Recover(test::Parts& parts, LogStore& store, std::vector<uint64_t>* start) {
  CheckpointManager cm(parts.options, store, *parts.log, parts.clock, nullptr);
  EXPECT_TRUE(cm.Recover(&parts.interners, &parts.set, [&](Interners* in) { return parts.NewStates(in); }, start).ok());
  StoreStatus st;
  cm.FillStatus(&st);
  return st;
}

// The user's recent items and category c0's window sum, as the states hold them.
std::string StateOf(test::Parts& parts) {
  std::string out;
  for (auto& st : parts.set.states) {
    for (int u = 0; u < 5; ++u) {
      const uint32_t id = parts.interners->users.Find("u" + std::to_string(u));
      std::vector<RecentItems::Entry> entries;
      if (id != 0) st->Get<RecentState>().Get(UserId(id), 50, &entries);
      for (const auto& e : entries) out += std::string(parts.interners->items.Lookup(e.item.value())) + ",";
    }
    CategoryWindows::Sums sums;
    st->Get<TrendingState>().AddWindow(0, MinuteOf(1'700'000'000'000 + 59'000), &sums);
    std::map<std::string, std::string> by_name;  // ids follow arrival order: compare names
    for (const auto& [c, cell] : sums) {
      by_name[std::string(parts.interners->categories.Lookup(c.value()))] =
          std::to_string(cell.weight) + "/" + std::to_string(cell.count);
    }
    for (const auto& [name, v] : by_name) out += name + "=" + v + ";";
    out += "|";
  }
  return out;
}

TEST(CheckpointManagerTest, RecoveryLoadsTheCheckpointIntoFreshStates) {
  test::TempDir dir;
  const Options o = StoreOptions(dir);
  auto store = std::move(LogStore::Open(o.durability.data_dir + "/log", o.log.partitions)).value();
  const uint64_t seq = IngestAndCheckpoint(o, *store, Stream());
  EXPECT_EQ(seq, 1u);
  EXPECT_EQ(ListCheckpoints(o.durability.data_dir + "/checkpoints").size(), 1u);

  // The reference: every event replayed into fresh states.
  std::string replayed;
  {
    Options full = o;
    full.recovery.ignore_checkpoints = true;
    test::Parts parts(full, 2);
    std::vector<uint64_t> start;
    const StoreStatus st = Recover(parts, *store, &start);
    EXPECT_EQ(st.recovered_events, 60u);
    EXPECT_EQ(st.recovered_from_checkpoint, 0u);
    replayed = StateOf(parts);
  }
  test::Parts parts(o, 2);
  std::vector<uint64_t> start;
  const StoreStatus st = Recover(parts, *store, &start);
  EXPECT_EQ(st.recovered_from_checkpoint, 1u);
  EXPECT_EQ(st.recovered_events, 0u);  // the checkpoint covers everything stored
  uint64_t total = 0;
  for (uint64_t s : start) total += s;
  EXPECT_EQ(total, 60u);  // each partition's log continues after what is stored
  EXPECT_EQ(parts.clock.newest_event_ms(), 1'700'000'000'000 + 59'000);
  EXPECT_EQ(StateOf(parts), replayed);
  EXPECT_GT(replayed.size(), 60u);
}

TEST(CheckpointManagerTest, ChangedSettingsReplayInsteadOfLoading) {
  test::TempDir dir;
  Options o = StoreOptions(dir);
  auto store = std::move(LogStore::Open(o.durability.data_dir + "/log", o.log.partitions)).value();
  IngestAndCheckpoint(o, *store, Stream());
  o.recent.max_items = 3;
  test::Parts parts(o, 2);
  std::vector<uint64_t> start;
  const StoreStatus st = Recover(parts, *store, &start);
  EXPECT_EQ(st.recovered_from_checkpoint, 0u);
  EXPECT_EQ(st.recovered_events, 60u);
}

TEST(CheckpointManagerTest, TheFingerprintFollowsTheStatesSettings) {
  const Options o = test::ComponentOptions();
  test::Parts base(o);
  const uint64_t f = SettingsFingerprint(o, *base.set.states[0]);
  Options port = o;
  port.server.port = 9999;  // shapes no state
  test::Parts same(port);
  EXPECT_EQ(SettingsFingerprint(port, *same.set.states[0]), f);
  Options cv = o;
  cv.coview.max_neighbours = 7;
  test::Parts other(cv);
  EXPECT_NE(SettingsFingerprint(cv, *other.set.states[0]), f);
  Options w = o;
  w.weights[static_cast<size_t>(EventType::kView)] = 2;
  test::Parts weights(w);
  EXPECT_NE(SettingsFingerprint(w, *weights.set.states[0]), f);
}

}  // namespace
}  // namespace eddy
