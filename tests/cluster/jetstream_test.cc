// The JetStream log (src/cluster/jetstream.h) against real nats-servers: every partition
// reads back exactly what was published to it, in order, from any sequence; a publish
// retried with the same ids is stored once; and with three servers at R3, killing one
// mid-stream loses nothing acknowledged (publishes that failed during the re-election are
// retried with their ids and stored once).
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "cluster/jetstream.h"
#include "testutil/nats_server.h"

namespace eddy {
namespace {

constexpr uint32_t kPartitions = 4;

ClusterOptions Options(const test::NatsCluster& nats, uint32_t replicas) {
  ClusterOptions o;
  o.enabled = true;
  o.servers = nats.urls();
  o.node_id = "test";
  o.stream = "evt";
  o.replicas = replicas;
  o.publish_timeout_ms = 2000;
  // nats-server 2.9 takes 10-20 s here to elect a new metadata leader when the old one is
  // killed; publishes retry for up to this long, and so do the test's readers.
  o.connect_timeout_ms = 60'000;
  return o;
}

std::vector<JetStreamLog::Record> Records(int from, int to) {
  std::vector<JetStreamLog::Record> out;
  for (int i = from; i < to; ++i) {
    out.push_back({static_cast<uint32_t>(i % kPartitions), "event-" + std::to_string(i),
                   "id-" + std::to_string(i)});
  }
  return out;
}

// Every message of partition p from sequence `from`: (sequence, data) in stream order.
std::vector<std::pair<uint64_t, std::string>> ReadAll(JetStreamLog& log, uint32_t p, uint64_t from) {
  std::vector<std::pair<uint64_t, std::string>> out;
  // One attempt each (as the owner's feed does): retried while a new leader is elected.
  auto reader = log.NewReader(p, from);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!reader.ok() && std::chrono::steady_clock::now() < deadline) reader = log.NewReader(p, from);
  EXPECT_TRUE(reader.ok()) << reader.status().message();
  if (!reader.ok()) return out;
  const uint64_t last = log.LastSequence(p).value();
  while (out.empty() || out.back().first < last) {
    Result<size_t> n = (*reader)->Fetch(256, 2000, [&](uint64_t seq, std::string_view data) {
      out.emplace_back(seq, std::string(data));
    });
    EXPECT_TRUE(n.ok()) << n.status().message();
    if (!n.ok() || *n == 0) break;  // nothing more within 2 s: the test fails below
  }
  return out;
}

TEST(JetStreamLogTest, PartitionsReadBackInOrderAndARetryIsStoredOnce) {
  if (!test::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed: tools/setup-deps.sh installs it";
  test::NatsCluster nats(1);
  ASSERT_TRUE(nats.started()) << nats.Log(0);
  auto log = JetStreamLog::Open(Options(nats, 1), kPartitions);
  ASSERT_TRUE(log.ok()) << log.status().message();
  const auto records = Records(0, 1000);
  std::vector<JetStreamLog::Ack> acks;
  ASSERT_TRUE((*log)->Publish(records, &acks).ok());
  ASSERT_EQ(acks.size(), records.size());
  for (size_t i = 0; i < acks.size(); ++i) {
    EXPECT_FALSE(acks[i].duplicate);
    if (i > 0) {
      EXPECT_GT(acks[i].sequence, acks[i - 1].sequence);  // one publisher: in order
    }
  }
  // The same ids again (a client's retry): acknowledged as duplicates of the originals.
  std::vector<JetStreamLog::Ack> again;
  ASSERT_TRUE((*log)->Publish(Records(0, 100), &again).ok());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_TRUE(again[i].duplicate);
    EXPECT_EQ(again[i].sequence, acks[i].sequence);
  }
  for (uint32_t p = 0; p < kPartitions; ++p) {
    SCOPED_TRACE("partition " + std::to_string(p));
    const auto got = ReadAll(**log, p, 1);
    ASSERT_EQ(got.size(), records.size() / kPartitions);
    for (size_t j = 0; j < got.size(); ++j) {
      const size_t i = j * kPartitions + p;
      EXPECT_EQ(got[j].first, acks[i].sequence);
      EXPECT_EQ(got[j].second, records[i].data);
    }
    // From the middle: the records at or after that sequence.
    const auto tail = ReadAll(**log, p, acks[500 + p].sequence);
    ASSERT_EQ(tail.size(), (records.size() - 500) / kPartitions);
    EXPECT_EQ(tail.front().second, records[500 + p].data);
    EXPECT_EQ((*log)->LastSequence(p).value(), acks[records.size() - kPartitions + p].sequence);
  }
  // Every partition's last sequence in one round trip: the same, and 0 for one never written.
  std::vector<uint32_t> all;
  for (uint32_t p = 0; p < kPartitions; ++p) all.push_back(p);
  all.push_back(kPartitions + 5);
  Result<std::vector<uint64_t>> lasts = (*log)->LastSequences(all);
  ASSERT_TRUE(lasts.ok()) << lasts.status().message();
  ASSERT_EQ(lasts.value().size(), all.size());
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(lasts.value()[p], acks[records.size() - kPartitions + p].sequence) << p;
  }
  EXPECT_EQ(lasts.value().back(), 0u);
}

TEST(JetStreamLogTest, ThreeServersAtR3LoseNothingAcknowledgedWhenOneDies) {
  if (!test::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed: tools/setup-deps.sh installs it";
  test::NatsCluster nats(3);
  ASSERT_TRUE(nats.started()) << nats.Log(0);
  auto log = JetStreamLog::Open(Options(nats, 3), kPartitions);
  ASSERT_TRUE(log.ok()) << log.status().message();
  std::map<std::string, uint64_t> acked;  // data -> sequence
  int retries = 0;
  const auto publish = [&](int from, int to) {
    const auto records = Records(from, to);
    std::vector<JetStreamLog::Ack> acks;
    // A publish may fail while the stream's leader is re-elected: retry the same ids (the
    // duplicate window makes that safe) until acknowledged, within 60 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    Status st = (*log)->Publish(records, &acks);
    while (!st.ok() && std::chrono::steady_clock::now() < deadline) {
      ++retries;
      st = (*log)->Publish(records, &acks);
    }
    ASSERT_TRUE(st.ok()) << st.message();
    for (size_t i = 0; i < records.size(); ++i) acked[records[i].data] = acks[i].sequence;
  };
  publish(0, 400);
  nats.Kill(1, SIGKILL);
  publish(400, 800);
  // Every acknowledged record is in its partition once, at its acknowledged sequence.
  size_t seen = 0;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    std::map<std::string, uint64_t> got;
    for (const auto& [seq, data] : ReadAll(**log, p, 1)) {
      EXPECT_TRUE(got.emplace(data, seq).second) << data << " stored twice";
    }
    for (const auto& [data, seq] : got) {
      auto it = acked.find(data);
      ASSERT_NE(it, acked.end()) << data;
      EXPECT_EQ(it->second, seq) << data;
    }
    seen += got.size();
  }
  EXPECT_EQ(seen, acked.size());
  EXPECT_EQ(acked.size(), 800u);

  RecordProperty("publish_retries", retries);
}

}  // namespace
}  // namespace eddy
