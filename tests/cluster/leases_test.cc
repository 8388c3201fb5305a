// The lease table and the nodes' requests (src/cluster/leases.h, rpc.h) against a real
// nats-server: a partition is held by one node at a time, renewed only at its revision,
// free again once its lease lapses; a request reaches the node it names and comes back
// answered, and one to a node that is not listening fails at once.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "cluster/leases.h"
#include "cluster/rpc.h"
#include "testutil/nats_server.h"

namespace eddy {
namespace {

ClusterOptions Options(const test::NatsCluster& nats) {
  ClusterOptions o;
  o.enabled = true;
  o.servers = nats.urls();
  o.node_id = "a";
  o.stream = "lt";
  o.lease_ms = 1000;
  return o;
}

TEST(LeaseTableTest, OneHolderAtATimeRenewedAtItsRevisionFreeOnceLapsed) {
  if (!test::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed: tools/setup-deps.sh installs it";
  test::NatsCluster nats(1);
  ASSERT_TRUE(nats.started()) << nats.Log(0);
  auto log = JetStreamLog::Open(Options(nats), 4);
  ASSERT_TRUE(log.ok()) << log.status().message();
  auto table = LeaseTable::Open(**log);
  ASSERT_TRUE(table.ok()) << table.status().message();
  LeaseTable& t = **table;

  EXPECT_FALSE(t.OwnerOf(2).value().has_value());
  Result<uint64_t> rev = t.Take(2, "a");
  ASSERT_TRUE(rev.ok()) << rev.status().message();
  EXPECT_EQ(t.Take(2, "b").status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(t.OwnerOf(2).value().has_value());
  EXPECT_EQ(t.OwnerOf(2).value()->node, "a");
  EXPECT_EQ(t.OwnerOf(2).value()->revision, *rev);
  // Renewed at its revision only: a stale one means the entry changed hands.
  Result<uint64_t> rev2 = t.Renew(2, "a", *rev);
  ASSERT_TRUE(rev2.ok()) << rev2.status().message();
  EXPECT_EQ(t.Renew(2, "a", *rev).status().code(), StatusCode::kAlreadyExists);

  ASSERT_TRUE(t.Beat("a", 1234).ok());
  auto nodes = t.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].first, "a");
  EXPECT_EQ((*nodes)[0].second, 1234);

  // Not renewed: the lease lapses (the server expires it) and another node may take it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (t.OwnerOf(2).value().has_value() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server's expiry: polled
  }
  EXPECT_FALSE(t.OwnerOf(2).value().has_value());
  EXPECT_TRUE(t.Take(2, "b").ok());
  EXPECT_EQ(t.OwnerOf(2).value()->node, "b");
  // Released: free at once.
  ASSERT_TRUE(t.Release(2).ok());
  EXPECT_FALSE(t.OwnerOf(2).value().has_value());
  EXPECT_TRUE(t.Take(2, "a").ok());
}

TEST(NodeRpcTest, ARequestComesBackAnsweredAndOneToAMissingNodeFailsAtOnce) {
  if (!test::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed: tools/setup-deps.sh installs it";
  test::NatsCluster nats(1);
  ASSERT_TRUE(nats.started()) << nats.Log(0);
  auto log = JetStreamLog::Open(Options(nats), 4);
  ASSERT_TRUE(log.ok()) << log.status().message();
  auto a = NodeRpc::Open(**log, "a", [](std::string req, NodeRpc::Reply reply) { reply("a:" + req); });
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = NodeRpc::Open(**log, "b", [](std::string req, NodeRpc::Reply reply) {
    // Answered later, from another thread.
    std::thread([req, reply] { reply("b:" + req); }).detach();
  });
  ASSERT_TRUE(b.ok()) << b.status().message();

  auto call = [&](NodeRpc& from, const std::string& to, const std::string& req) {
    std::promise<std::pair<Status, std::string>> p;
    from.Call(to, req, 600'000, [&p](Status st, std::string answer) { p.set_value({st, answer}); });
    return p.get_future().get();
  };
  auto [st1, answer1] = call(**a, "b", "hello");
  ASSERT_TRUE(st1.ok()) << st1.message();
  EXPECT_EQ(answer1, "b:hello");
  auto [st2, answer2] = call(**b, "a", std::string(100'000, 'x'));
  ASSERT_TRUE(st2.ok()) << st2.message();
  EXPECT_EQ(answer2, "a:" + std::string(100'000, 'x'));
  // Nobody listens as "c": NATS says so (no responders), not the call's timeout.
  auto [st3, answer3] = call(**a, "c", "anyone?");
  EXPECT_EQ(st3.code(), StatusCode::kUnavailable);
  EXPECT_NE(std::string(st3.message()).find("not listening"), std::string::npos) << st3.message();
}

}  // namespace
}  // namespace eddy
