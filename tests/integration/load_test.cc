// eddy-load against the real eddy: nothing the generator sent goes missing.
#include <signal.h>

#include <gtest/gtest.h>

#include "testutil/daemon.h"
#include "testutil/http_client.h"

namespace eddy {
namespace {

uint64_t NumberAfter(const std::string& s, const std::string& key, size_t from = 0) {
  size_t k = s.find("\"" + key + "\":", from);
  if (k == std::string::npos) return UINT64_MAX;
  return std::stoull(s.substr(k + key.size() + 3));
}

TEST(LoadIntegrationTest, ServerAcceptedEqualsGeneratorSent) {
  test::Daemon d("[log]\npartitions = 4\n");
  ASSERT_TRUE(d.started()) << d.Log();
  for (const char* batch : {"1", "50"}) {
    test::HttpClient c(d.port());
    const uint64_t before = NumberAfter(c.Get("/v1/stream/status").body, "accepted_total");
    auto [code, out] = test::RunCommand({EDDY_LOAD_BINARY, "--port", std::to_string(d.port()),
                                         "--duration", "1.5", "--connections", "4", "--batch",
                                         batch, "--threads", "2", "--reads", "200", "--json",
                                         "--no-progress"});
    ASSERT_EQ(code, 0) << out;
    const size_t ingest = out.find("\"ingest\":");
    const size_t read = out.find("\"read\":");
    ASSERT_NE(ingest, std::string::npos) << out;
    const uint64_t events = NumberAfter(out, "events", ingest);
    const uint64_t accepted = NumberAfter(out, "accepted", ingest);
    const uint64_t errors = NumberAfter(out, "errors", ingest);
    EXPECT_GT(events, 0u);
    // At full speed on a small box the shards may fall behind and the log fills: the only
    // failures allowed are 429s (backpressure), whose events were not taken.
    const size_t status = out.find("\"status\":{", ingest);
    const uint64_t too_many = out.find("\"429\":", status) < read
                                  ? NumberAfter(out, "429", status) : 0;
    EXPECT_EQ(errors, too_many) << out;
    EXPECT_EQ(accepted, events) << out;  // every event the server acknowledged was sent
    EXPECT_NE(out.find("\"ack\":\"wal\""), std::string::npos) << out;  // the default
    EXPECT_GT(NumberAfter(out, "requests", read), 0u) << out;  // reads ran beside ingest
    const uint64_t after = NumberAfter(c.Get("/v1/stream/status").body, "accepted_total");
    EXPECT_EQ(after - before, events) << "server accepted count != generator sent count";
  }
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

TEST(LoadIntegrationTest, ReplaysTaobaoShapedCsv) {
  test::TempDir dir;
  const std::string csv = (dir.path() / "ub.csv").string();
  FILE* f = fopen(csv.c_str(), "w");
  for (int i = 0; i < 500; ++i) {
    fprintf(f, "%d,%d,%d,%s,%d\n", 1000 + i % 37, 5000 + i % 101, 77 + i % 5,
            i % 10 == 0 ? "cart" : (i % 17 == 0 ? "fav" : "pv"), 1511658000 + i / 10);
  }
  fputs("broken,row\n", f);
  fclose(f);
  test::Daemon d("");
  ASSERT_TRUE(d.started()) << d.Log();
  auto [code, out] = test::RunCommand(
      {EDDY_LOAD_BINARY, "--port", std::to_string(d.port()), "--replay", csv, "--csv-columns",
       "user_id,item_id,category_id,behavior,timestamp", "--batch", "100", "--json",
       "--no-progress", "--duration", "60"});
  ASSERT_EQ(code, 0) << out;
  const size_t ingest = out.find("\"ingest\":");
  EXPECT_EQ(NumberAfter(out, "events", ingest), 500u) << out;
  EXPECT_EQ(NumberAfter(out, "accepted", ingest), 500u) << out;
  test::HttpClient c(d.port());
  EXPECT_EQ(NumberAfter(c.Get("/v1/stream/status").body, "accepted_total"), 500u);
  EXPECT_EQ(d.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace eddy
