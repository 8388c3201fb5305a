// Operating the daemon: config reload (POST /v1/admin/reload and SIGHUP) and the access log.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "http/auth.h"
#include "testutil/daemon.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::Daemon;
using test::HttpClient;
using test::HttpResult;

std::string Config(const std::string& extra, const std::string& server_extra = "") {
  return "[server]\nio_threads = 2\n" + server_extra + "[log]\npartitions = 4\n[runtime]\nshards = 2\n" + extra;
}

std::string AuthSection(bool enabled, const std::string& more_keys = "") {
  return std::string("[auth]\nenabled = ") + (enabled ? "true" : "false") + "\nkeys = [\"ops:admin,read,ingest:" +
         Sha256Hex("ops-secret") + "\"" + more_keys + "]\n";
}

void Rewrite(const Daemon& d, const std::string& toml) {
  std::ofstream((d.dir().path() / "eddy.toml").string(), std::ios::trunc) << toml;
}

TEST(OpsTest, ReloadAppliesLiveSettingsNamesRestartOnesAndRefusesInvalidOnes) {
  Daemon d(Config(AuthSection(true)));
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient ops(d.port()), anon(d.port());
  ops.SetHeader("Authorization", "Bearer ops-secret");
  EXPECT_EQ(anon.Post("/v1/admin/reload", "").status, 401);
  HttpResult same = ops.Post("/v1/admin/reload", "");
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.body, R"({"reloaded":true,"applied":[],"restart_required":[]})");

  // Live keys and a restart-only one.
  Rewrite(d, Config(AuthSection(true, ", \"reader:read:" + Sha256Hex("reader-secret") + "\"") +
                    "[ranking]\nweight_coview = 0.9\n[limits]\nreads_per_second = 1000\n"
                    "[logging]\nlevel = \"debug\"\n[fraud]\nthreshold = 0.5\n") +
              "");
  HttpResult changed = ops.Post("/v1/admin/reload", "");
  EXPECT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.body,
            R"({"reloaded":true,"applied":["auth","limits","logging","ranking"],)"
            R"("restart_required":["fraud"]})");
  HttpClient reader(d.port());
  reader.SetHeader("Authorization", "Bearer reader-secret");
  EXPECT_EQ(reader.Get("/v1/alerts").status, 200);  // the new key works at once
  EXPECT_EQ(reader.Post("/v1/admin/reload", "").status, 403);

  // An invalid file changes nothing and says why.
  Rewrite(d, Config(AuthSection(false) + "[ranking]\nweight_coview = \"high\"\n"));
  HttpResult invalid = ops.Post("/v1/admin/reload", "");
  EXPECT_EQ(invalid.status, 400) << invalid.body;
  EXPECT_NE(invalid.body.find("ranking.weight_coview"), std::string::npos) << invalid.body;
  EXPECT_NE(invalid.body.find("\"reloaded\":false"), std::string::npos) << invalid.body;
  EXPECT_EQ(anon.Get("/v1/alerts").status, 401);  // auth still on
  EXPECT_EQ(reader.Get("/v1/alerts").status, 200);

  // SIGHUP does the same: auth off, polled until the server takes it.
  Rewrite(d, Config(AuthSection(false)));
  d.Signal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while ((status = anon.Get("/v1/alerts").status) == 401 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(status, 200) << d.Log();
  EXPECT_NE(d.Log().find("reload: applied auth"), std::string::npos) << d.Log();
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

TEST(OpsTest, AccessLogWritesOneJsonLinePerRequest) {
  test::TempDir dir;
  const std::string log = (dir.path() / "access.log").string();
  Daemon d(Config(AuthSection(true), "access_log = \"" + log + "\"\n"));
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  c.SetHeader("Authorization", "Bearer ops-secret");
  EXPECT_EQ(c.Get("/v1/items/boots/engagement").status, 200);
  EXPECT_EQ(c.Post("/v1/events", "{}").status, 400);
  c.SetHeader("Authorization", "");
  EXPECT_EQ(c.Get("/v1/alerts").status, 401);
  // Each line is written before its response is sent.
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << d.Log();
  EXPECT_NE(lines[0].find(R"("method":"GET","route":"/v1/items/{id}/engagement","status":200,)"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(R"("key":"ops","client":"127.0.0.1"})"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(R"("route":"/v1/events","status":400)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(R"("route":"/v1/alerts","status":401)"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(R"("key":"")"), std::string::npos) << lines[2];
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

TEST(OpsTest, KeygenMakesAKeyTheDaemonTakes) {
  auto [code, out] = test::RunCommand({EDDY_BINARY, "keygen", "--id", "shop", "--scopes", "read,ingest"});
  ASSERT_EQ(code, 0) << out;
  const size_t k = out.find("key:   ") + 7;
  const std::string key = out.substr(k, out.find('\n', k) - k);
  const size_t e = out.find("entry: \"") + 8;
  const std::string entry = out.substr(e, out.find('"', e) - e);
  EXPECT_EQ(key.size(), 5u + 64u) << out;
  EXPECT_EQ(entry, "shop:read,ingest:" + Sha256Hex(key));
  Daemon d(Config("[auth]\nenabled = true\nkeys = [\"" + entry + "\"]\n"));
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  c.SetHeader("X-API-Key", key);
  EXPECT_EQ(c.Post("/v1/events", test::EventBuilder().User("u").Type("view").Item("i").Json()).status, 200);
  EXPECT_EQ(c.Post("/v1/admin/checkpoint", "").status, 403);
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

}  // namespace
}  // namespace eddy
