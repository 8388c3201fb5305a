// The real `eddy` binary over real HTTP on a free loopback port.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testutil/daemon.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::Daemon;
using test::EventBuilder;
using test::HttpClient;
using test::HttpResult;

// The default I/O (io_threads = 0: on the shard threads); FullLogGives429... below runs
// I/O threads of their own.
const char* kConfig = R"(
[server]
io_threads = 0
body_limit_bytes = 65536
[log]
partitions = 4
[runtime]
shards = 2
[logging]
level = "info"
)";

TEST(DaemonTest, IngestShapesReadBackAndStopCleanly) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());

  HttpResult single = c.Post("/v1/events", EventBuilder().User("u1").Type("view").Item("a").Json());
  EXPECT_EQ(single.status, 200) << single.body;
  EXPECT_EQ(single.body, R"({"accepted":1,"duplicates":0,"rejected":[]})");
  EXPECT_EQ(single.Header("content-type"), "application/json");

  HttpResult array = c.Post(
      "/v1/events", test::JsonArray({EventBuilder().User("u1").Type("click").Item("b").Json(),
                                     EventBuilder().User("u1").Type("bogus").Item("x").Json()}));
  EXPECT_EQ(array.status, 200);
  EXPECT_NE(array.body.find(R"("accepted":1)"), std::string::npos) << array.body;
  EXPECT_NE(array.body.find(R"({"index":1,"error":"type: unknown event type 'bogus')"),
            std::string::npos);

  HttpResult nd = c.Post("/v1/events",
                         test::Ndjson({R"({"user_id":"u1","behavior":"cart","item_id":"c"})",
                                       R"({"user_id":"u2","behavior":"pv","item_id":"z"})"}),
                         "application/x-ndjson");
  EXPECT_EQ(nd.body, R"({"accepted":2,"duplicates":0,"rejected":[]})");

  HttpResult recent = c.Get("/v1/users/u1/recent?k=10");
  EXPECT_EQ(recent.status, 200);
  size_t pc = recent.body.find("\"itemId\":\"c\""), pb = recent.body.find("\"itemId\":\"b\""),
         pa = recent.body.find("\"itemId\":\"a\"");
  ASSERT_NE(pa, std::string::npos) << recent.body;
  EXPECT_LT(pc, pb);  // newest first
  EXPECT_LT(pb, pa);

  HttpResult status = c.Get("/v1/stream/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find("\"accepted_total\":4"), std::string::npos) << status.body;
  EXPECT_EQ(c.Get("/healthz").status, 200);
  EXPECT_EQ(c.Get("/readyz").status, 200);

  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  EXPECT_NE(d.Log().find("stopped cleanly"), std::string::npos);
}

// GET /metrics: the Prometheus text format, checked by promtool (Debian `prometheus`,
// installed by tools/setup-deps.sh), with the figures of what was sent.
TEST(DaemonTest, MetricsAreValidPrometheusTextWithTheFigures) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  ASSERT_EQ(c.Post("/v1/events", test::Ndjson({EventBuilder().User("u1").Type("view").Item("a").Json(),
                                               EventBuilder().User("u2").Type("purchase").Item("b").Json(),
                                               EventBuilder().User("u2").Type("view").Item("a").Json()}),
                   "application/x-ndjson")
                .status,
            200);
  // One event of two rejected (no userId): 200, and a rejection counted by its field.
  ASSERT_EQ(c.Post("/v1/events", test::Ndjson({EventBuilder().User("u3").Type("view").Item("c").Json(),
                                               R"({"type":"view","itemId":"c"})"}),
                   "application/x-ndjson")
                .status,
            200);
  ASSERT_EQ(c.Get("/v1/no-such-route").status, 404);
  ASSERT_EQ(c.Get("/v1/items/a/engagement").status, 200);
  HttpResult m = c.Get("/metrics");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  // (State figures are published about once a second and the store counts log entries,
  // the purchase's stock move included: those are checked for presence only.)
  // (The scrape answers itself after it is rendered: it is not in its own figures.)
  for (const char* line : {"# TYPE eddy_events_accepted_total counter\neddy_events_accepted_total 4\n",
                           "\neddy_events_rejected_total{reason=\"userId\"} 1\n",
                           "\neddy_http_request_duration_seconds_count{route=\"/v1/events\",code=\"200\"} 2\n",
                           "\neddy_http_request_duration_seconds_count{route=\"unmatched\",code=\"404\"} 1\n",
                           "\neddy_http_request_duration_seconds_bucket{route=\"/v1/items/{id}/engagement\","
                           "code=\"200\",le=\"+Inf\"} 1\n",
                           "# TYPE eddy_ingest_visible_seconds histogram\n",
                           "# TYPE eddy_store_commit_duration_seconds histogram\n",
                           "\neddy_alerts_raised_total{kind=\"fraud\"} 0\n",
                           "\neddy_state_keys{state=\"recent\"} ",
                           "\neddy_store_persisted_events_total ",
                           "# TYPE process_resident_memory_bytes gauge\n"}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
  const std::string file = (d.dir().path() / "metrics.txt").string();
  test::WriteFile(file, m.body);
  if (test::RunCommand({"/bin/sh", "-c", "command -v promtool"}).first != 0) {
    GTEST_SKIP() << "promtool (Debian prometheus) is not installed: tools/setup-deps.sh installs it";
  }
  auto [code, out] = test::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

// The object of `item` in a ranked answer ("" when absent).
std::string ItemObject(const std::string& body, std::string_view item) {
  const size_t at = body.find("\"itemId\":\"" + std::string(item) + "\"");
  if (at == std::string::npos) return "";
  const size_t end = body.find("{\"rank\"", at);
  return body.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST(DaemonTest, RecommendationsFollowEachEventWithExplain) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  std::vector<std::string> events;
  for (int u = 0; u < 5; ++u) {
    const std::string user = "shopper" + std::to_string(u);
    events.push_back(EventBuilder().User(user).Type("view").Item("boots").Category("shoes").Price(80).Json());
    events.push_back(EventBuilder().User(user).Type("view").Item("socks").Category("hosiery").Price(4).Json());
  }
  events.push_back(EventBuilder().User("alice").Type("view").Item("scarf").Category("winter").Price(25).Json());
  ASSERT_EQ(c.Post("/v1/events", test::Ndjson(events), "application/x-ndjson").status, 200);

  HttpResult before = c.Get("/v1/recommendations?userId=alice&k=5&explain=true");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_NE(before.body.find(R"("signals":{"coview":{"raw":)"), std::string::npos) << before.body;
  EXPECT_NE(before.body.find(R"("itemId":"scarf")"), std::string::npos) << before.body;
  EXPECT_EQ(ItemObject(before.body, "socks").find(R"("source":"coview)"), std::string::npos)
      << before.body;

  // Alice views boots: socks (co-viewed with boots by five shoppers) is recommended from
  // co-view in the very next answer.
  ASSERT_EQ(c.Post("/v1/events", EventBuilder().User("alice").Type("view").Item("boots").Json()).status,
            200);
  HttpResult after = c.Get("/v1/recommendations?userId=alice&k=5&explain=true");
  ASSERT_EQ(after.status, 200);
  const std::string socks = ItemObject(after.body, "socks");
  EXPECT_NE(socks.find(R"("source":"coview)"), std::string::npos) << after.body;
  EXPECT_NE(socks.find(R"("coview":{"raw":5,"normalised":1,"contribution":0.4})"), std::string::npos)
      << after.body;

  // She buys socks: bought items are not recommended; a price filter applies.
  ASSERT_EQ(c.Post("/v1/events", EventBuilder().User("alice").Type("purchase").Item("socks").Price(4).Json())
                .status,
            200);
  HttpResult bought = c.Get("/v1/recommendations?userId=alice&k=5");
  EXPECT_EQ(ItemObject(bought.body, "socks"), "") << bought.body;
  HttpResult cheap = c.Get("/v1/recommendations?userId=alice&k=5&maxPrice=30");
  EXPECT_NE(cheap.body.find(R"("itemId":"scarf")"), std::string::npos) << cheap.body;
  EXPECT_EQ(cheap.body.find(R"("itemId":"boots")"), std::string::npos) << cheap.body;

  HttpResult similar = c.Get("/v1/items/boots/similar?k=3&explain=true");
  EXPECT_NE(similar.body.find(R"({"rank":1,"itemId":"socks")"), std::string::npos) << similar.body;

  HttpResult offers = c.Post("/v1/offers/rank",
                             R"({"userId":"alice","offers":[{"offerId":"o1","category":"winter","priority":10},)"
                             R"({"offerId":"o2","category":"garden","priority":10}],"k":2})");
  ASSERT_EQ(offers.status, 200) << offers.body;
  EXPECT_NE(offers.body.find(R"("offerId":"o1","category":"winter")"), std::string::npos);
  EXPECT_NE(offers.body.find(R"("breakdown":{"priority":10,)"), std::string::npos) << offers.body;
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

TEST(DaemonTest, ErrorStatusesOverHttp) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());

  HttpResult too_big = c.Post("/v1/events", std::string(70'000, ' '));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(too_big.body, R"({"error":"request body too large","detail":{"limit_bytes":65536}})");

  HttpClient c2(d.port());
  HttpResult form = c2.Post("/v1/events", "userId=u", "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 415);
  EXPECT_NE(form.body.find("unsupported Content-Type 'application/x-www-form-urlencoded'"),
            std::string::npos);

  HttpClient c3(d.port());
  HttpResult malformed = c3.Post("/v1/events", R"({"userId": "u", "type": )");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("malformed JSON"), std::string::npos) << malformed.body;
  EXPECT_NE(malformed.body.find("\"offset\":"), std::string::npos);

  EXPECT_EQ(c3.Get("/nope").status, 404);
  EXPECT_EQ(c3.Get("/nope").body, R"({"error":"no route GET /nope"})");
  HttpResult wrong = c3.Request("DELETE", "/v1/events", "", "");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.Header("allow"), "POST");

  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

TEST(DaemonTest, KeepAliveAndPipelining) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  std::string body = EventBuilder().User("p").Type("view").Item("x").Json();
  std::string req = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string get = "GET /v1/users/p/recent HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<HttpResult> rs = c.Raw(req + req + req + get, 4);
  ASSERT_EQ(rs.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rs[i].status, 200) << rs[i].body;
  EXPECT_EQ(rs[3].status, 200);
  EXPECT_NE(rs[3].body.find("\"itemId\":\"x\""), std::string::npos);
  EXPECT_EQ(d.Stop(SIGINT), 0);
}

TEST(DaemonTest, ExpectContinueIsAnswered) {
  Daemon d(kConfig);
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  std::string body = EventBuilder().User("e").Type("view").Item("x").Json();
  std::string req = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Expect: 100-continue\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<HttpResult> rs = c.Raw(req, 2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 100);
  EXPECT_EQ(rs[1].status, 200) << rs[1].body;
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

// A log of 16 events per partition and requests of 16 events from several connections:
// whenever a request arrives before the shard has applied the previous one, it is refused
// whole with 429 and Retry-After. Every accepted event is applied exactly once.
TEST(DaemonTest, FullLogGives429WithRetryAfterAndLosesNothing) {
  Daemon d(R"(
[server]
io_threads = 2
retry_after_s = 3
[log]
partitions = 1
capacity_per_partition = 16
[runtime]
shards = 1
)");
  ASSERT_TRUE(d.started()) << d.Log();
  std::vector<std::string> objs;
  for (int i = 0; i < 16; ++i) {
    objs.push_back(EventBuilder().User("u" + std::to_string(i)).Type("view").Item("i").Json());
  }
  const std::string body = test::Ndjson(objs);
  std::atomic<int> ok{0}, full{0}, other{0};
  std::atomic<bool> saw_retry_after{true};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&] {
      HttpClient c(d.port());
      for (int i = 0; i < 5000 && full.load() < 20; ++i) {
        HttpResult r = c.Post("/v1/events", body, "application/x-ndjson");
        if (r.status == 200) {
          ok.fetch_add(1);
        } else if (r.status == 429) {
          full.fetch_add(1);
          if (r.Header("retry-after") != "3" ||
              r.body.find("is full; retry later") == std::string::npos) {
            saw_retry_after = false;
          }
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_GT(full.load(), 0) << "no request met a full log";
  EXPECT_TRUE(saw_retry_after.load());
  EXPECT_EQ(other.load(), 0);
  HttpClient c(d.port());
  HttpResult status = c.Get("/v1/stream/status");
  const std::string want = "\"accepted_total\":" + std::to_string(ok.load() * 16);
  EXPECT_NE(status.body.find(want), std::string::npos) << want << " in " << status.body;
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

TEST(DaemonTest, BadConfigStopsStartupNamingTheKey) {
  test::TempDir dir;
  std::string file = (dir.path() / "bad.toml").string();
  FILE* f = fopen(file.c_str(), "w");
  fputs("[server]\nport = \"eighty\"\n", f);
  fclose(f);
  auto [code, out] = test::RunCommand({EDDY_BINARY, "--config", file});
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("server.port: expected an integer in [0, 65535], got \"eighty\""),
            std::string::npos)
      << out;
  auto [ccode, cout] = test::RunCommand({EDDY_BINARY, "check-config", file});
  EXPECT_EQ(ccode, 2);
  auto [okcode, okout] = test::RunCommand(
      {EDDY_BINARY, "check-config", std::string(EDDY_SOURCE_DIR) + "/config/eddy.toml"});
  EXPECT_EQ(okcode, 0) << okout;
  auto [vcode, vout] = test::RunCommand({EDDY_BINARY, "--version"});
  EXPECT_EQ(vcode, 0);
  EXPECT_EQ(vout.rfind("eddy ", 0), 0u);
}

}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

// An idle keep-alive connection and a request stuck half-way through its header are both
// closed after server.read_timeout_ms (the read below returns only when the server closes).
TEST(DaemonTest, ReadTimeoutClosesIdleAndSlowConnections) {
  Daemon d("[server]\nread_timeout_ms = 300\n");
  ASSERT_TRUE(d.started()) << d.Log();
  test::HttpClient idle(d.port());
  ASSERT_EQ(idle.Get("/healthz").status, 200);
  std::vector<test::HttpResult> after = idle.Raw("", 1);  // nothing sent: wait for the close
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status, 0);
  EXPECT_EQ(after[0].body, "end of stream");

  test::HttpClient slow(d.port());
  std::vector<test::HttpResult> r = slow.Raw("POST /v1/events HTTP/1.1\r\nHost: x\r\n", 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 0);

  test::HttpClient fresh(d.port());  // the server itself is fine
  EXPECT_EQ(fresh.Get("/healthz").status, 200);
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace eddy
