// The HTTP server's backpressure, in process: the connection cap, the read deadline, and
// the 429 of a full read queue (SPEC §1.4: every refusal says why).
#include "http/server.h"

#include <gtest/gtest.h>

#include <future>

#include "testutil/http_client.h"
#include "testutil/served.h"
#include "testutil/sse_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::Served;

Options ServerTestOptions() {
  Options o = test::TestOptions(2, 1);
  o.server.port = 0;
  return o;
}

// Blocks the engine's only shard: a read whose callback waits runs on the shard thread.
// Returns the promise that releases it. The tests that use it give the server an I/O
// thread of its own (server.io_threads = 1): by default the shard thread runs the I/O too,
// and a blocked shard holds up its connections with it (docs/architecture.md, "One thread
// per core").
std::shared_ptr<std::promise<void>> BlockTheShard(Engine& engine) {
  auto ctx = engine.NewIngestContext();
  EXPECT_EQ(engine.IngestSync(*ctx, test::EventBuilder().User("blocker").Type("view").Item("i").Json())
                .accepted,
            1u);
  auto release = std::make_shared<std::promise<void>>();
  std::promise<void> entered;
  engine.RecentItems("blocker", 1, [release, &entered](std::vector<RecentItem>) {
    entered.set_value();
    release->get_future().wait();
  });
  entered.get_future().wait();
  return release;
}

TEST(ServerTest, ConnectionsPastTheCapAreAnswered503) {
  Options o = ServerTestOptions();
  o.server.max_connections = 2;
  Served s(o);
  test::HttpClient a(s.server->port()), b(s.server->port());
  EXPECT_EQ(a.Get("/healthz").status, 200);
  EXPECT_EQ(b.Get("/healthz").status, 200);
  test::HttpClient c(s.server->port());
  test::HttpResult refused = c.Get("/healthz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("too many connections (server.max_connections = 2)"),
            std::string::npos)
      << refused.body;
  // The admitted connections keep working.
  EXPECT_EQ(a.Get("/healthz").status, 200);
}

TEST(ServerTest, AReadPastItsDeadlineIs503AndTheConnectionStaysUsable) {
  Options o = ServerTestOptions();
  o.server.io_threads = 1;
  o.server.read_deadline_ms = 50;
  Served s(o);
  auto release = BlockTheShard(*s.engine);
  test::HttpClient client(s.server->port());
  test::HttpResult late = client.Get("/v1/users/blocker/recent");
  EXPECT_EQ(late.status, 503);
  EXPECT_NE(late.body.find("no answer within server.read_deadline_ms = 50 ms"), std::string::npos)
      << late.body;
  release->set_value();
  // The late answer was dropped, not sent as the reply to the next request.
  test::HttpResult next = client.Get("/healthz");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, R"({"status":"ok"})");
  test::HttpResult read = client.Get("/v1/users/blocker/recent");
  EXPECT_EQ(read.status, 200) << read.body;
}

TEST(ServerTest, ReadsPastTheShardQueueAre429WithRetryAfter) {
  Options o = ServerTestOptions();
  o.server.io_threads = 1;
  o.runtime.max_queued_reads = 2;
  o.server.retry_after_s = 3;
  Served s(o);
  auto release = BlockTheShard(*s.engine);
  // Two reads wait behind the blocked one: the queue is full.
  std::promise<void> a, b;
  s.engine->RecentItems("blocker", 1, [&](std::vector<RecentItem>) { a.set_value(); });
  s.engine->RecentItems("blocker", 1, [&](std::vector<RecentItem>) { b.set_value(); });
  const eddy::Status admit = s.engine->AdmitRead();
  EXPECT_EQ(admit.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(admit.message(),
            "shard 0 has 2 reads waiting (runtime.max_queued_reads = 2); retry later");
  test::HttpClient client(s.server->port());
  test::HttpResult refused = client.Get("/v1/trending/categories?window=1h");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.Header("retry-after"), "3");
  EXPECT_NE(refused.body.find("reads waiting"), std::string::npos) << refused.body;
  // Ingest is not a read: it is still taken.
  EXPECT_EQ(client.Post("/v1/events", test::EventBuilder().User("u").Type("view").Item("i").Json())
                .status,
            200);
  release->set_value();
  a.get_future().wait();
  b.get_future().wait();
  EXPECT_TRUE(s.engine->AdmitRead().ok());
  EXPECT_EQ(client.Get("/v1/trending/categories?window=1h").status, 200);
}

// GET /v1/alerts/stream: each alert raised or cleared after the client connected arrives
// as an `alert` event; a client that goes away is dropped; a server stopping with streams
// open stops cleanly.
TEST(ServerTest, AlertStreamPushesEachAlertRaisedAndCleared) {
  Served s(ServerTestOptions());
  auto ctx = s.engine->NewIngestContext();
  test::SseClient early(s.server->port(), "/v1/alerts/stream");
  ASSERT_TRUE(early.ok()) << early.head();
  EXPECT_NE(early.head().find("Cache-Control: no-cache"), std::string::npos);
  test::SseClient gone(s.server->port(), "/v1/alerts/stream");
  ASSERT_TRUE(gone.ok());
  gone.Close();
  const auto send = [&](const std::string& json) {
    ASSERT_EQ(s.engine->IngestSync(*ctx, json).accepted, 1u);
  };
  send(test::EventBuilder().Type("catalog_put").Item("sku").Raw("stock", "2").Raw("lowStockThreshold", "2").Json());
  send(test::EventBuilder().User("u").Type("purchase").Item("sku").Json());  // 2 -> 1: low
  std::optional<test::SseEvent> raised = early.Next(std::chrono::seconds(30));
  ASSERT_TRUE(raised.has_value());
  EXPECT_EQ(raised->event, "alert");
  EXPECT_TRUE(raised->id.starts_with("inventory-sku-")) << raised->id;
  EXPECT_TRUE(raised->id.ends_with("-1")) << raised->id;
  EXPECT_NE(raised->data.find(R"("active":true,"cleared":null,"stock":1,"threshold":2)"),
            std::string::npos)
      << raised->data;
  // A client connecting now sees what comes next only.
  test::SseClient late(s.server->port(), "/v1/alerts/stream");
  ASSERT_TRUE(late.ok());
  send(test::EventBuilder().Type("inventory").Item("sku").Raw("stock", "9").Json());  // cleared
  for (test::SseClient* c : {&early, &late}) {
    std::optional<test::SseEvent> cleared = c->Next(std::chrono::seconds(30));
    ASSERT_TRUE(cleared.has_value());
    EXPECT_EQ(cleared->id, raised->id);
    EXPECT_NE(cleared->data.find(R"("active":false)"), std::string::npos) << cleared->data;
  }
  // The same alerts, from the store of alerts.
  const AlertsAnswer kept = s.engine->AlertsSync({});
  ASSERT_EQ(kept.alerts.size(), 1u);
  EXPECT_FALSE(kept.alerts[0].active);
}

}  // namespace
}  // namespace eddy
