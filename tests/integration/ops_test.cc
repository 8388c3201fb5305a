// Operating the daemon: config reload (POST /v1/admin/reload and SIGHUP) and the access log.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>

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
  return "[server]\nio_threads = 0\n" + server_extra + "[log]\npartitions = 4\n[runtime]\nshards = 2\n" + extra;
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

  // A new user's order of 600 scores 0.3 (new_user_high_value): under fraud.threshold 0.7
  // no alert.
  const auto order = [&](const std::string& user) {
    ASSERT_EQ(ops.Post("/v1/events", test::EventBuilder().User(user).Type("purchase").Item("tv")
                                         .Raw("orderId", "\"o-" + user + "\"").Price(600).Json())
                  .status,
              200);
  };
  order("before");
  EXPECT_EQ(ops.Get("/v1/alerts?kind=fraud").body.find("\"userId\":\"before\""), std::string::npos);

  // Live keys and restart-only ones.
  Rewrite(d, Config(AuthSection(true, ", \"reader:read:" + Sha256Hex("reader-secret") + "\"") +
                    "[ranking]\nweight_coview = 0.9\nmax_k = 50\n[limits]\nreads_per_second = 1000\n"
                    "[logging]\nlevel = \"debug\"\n[fraud]\nthreshold = 0.25\nmax_users = 1000\n"));
  HttpResult changed = ops.Post("/v1/admin/reload", "");
  EXPECT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.body,
            R"({"reloaded":true,"applied":["auth","limits","logging","ranking","fraud"],)"
            R"j("restart_required":["ranking.max_k","fraud (enabled, ip_window, caps)"]})j");
  // The new threshold scores the orders from now on: the same order raises an alert.
  order("after");
  HttpResult fraud = ops.Get("/v1/alerts?kind=fraud");
  EXPECT_NE(fraud.body.find("\"userId\":\"after\""), std::string::npos) << fraud.body;
  EXPECT_NE(fraud.body.find("\"threshold\":0.25"), std::string::npos) << fraud.body;
  EXPECT_EQ(fraud.body.find("\"userId\":\"before\""), std::string::npos) << fraud.body;
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

// A webhook receiver on 127.0.0.1: answers each POST with what `decide` says (given the
// delivery number and how many times it was seen) and records the ones answered 200.
class Receiver {
 public:
  using Decide = std::function<int(const std::string& delivery, int attempt)>;
  Receiver(uint16_t port, Decide decide) : decide_(std::move(decide)) {
    namespace net = boost::asio;
    acceptor_.open(net::ip::tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind({net::ip::make_address("127.0.0.1"), port});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    boost::system::error_code ignored;
    stopping_ = true;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket poke(ioc_);
    poke.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ignored);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  // The alert keys accepted (200), in arrival order, once there are `n` (up to 60 s).
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return accepted_.size() >= n; });
    return accepted_;
  }
  // The same, once the last accepted key satisfies `done`.
  std::vector<std::string> WaitUntil(const std::function<bool(const std::string&)>& done) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return !accepted_.empty() && done(accepted_.back()); });
    return accepted_;
  }
  int attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    for (;;) {
      boost::asio::ip::tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_ || ec) return;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      const std::string delivery(req["X-Eddy-Delivery"]);
      int status = 200;
      {
        std::lock_guard lock(mu_);
        ++attempts_;
        status = decide_(delivery, ++seen_[delivery]);
      }
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.body() = "{}";
      res.prepare_payload();
      http::write(socket, res, ec);
      if (status == 200) {
        std::lock_guard lock(mu_);
        EXPECT_NE(req.body().find("\"id\":"), std::string::npos) << req.body();
        accepted_.push_back(std::string(req["X-Eddy-Alert-Key"]));
        cv_.notify_all();
      }
    }
  }
  Decide decide_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> seen_;
  std::vector<std::string> accepted_;
  int attempts_ = 0;
};

// The key of the alert `n`-th raised (or cleared) for `sku` (ids end in the subject's count).
bool IsKey(const std::string& key, const std::string& sku, const char* change) {
  return key.starts_with("inventory-" + sku + "-") && key.ends_with(change);
}

// Where in `got` the (sku, change) is, or -1.
int IndexOf(const std::vector<std::string>& got, const std::string& sku, const char* change) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (IsKey(got[i], sku, change)) return static_cast<int>(i);
  }
  return -1;
}

// `got` holds exactly the `want` changes, each once; the changes of one item in the order
// they happened. (An item's alerts come from its own shard, in its feed's order; alerts of
// items on different shards are in the order the shards raised them, which no client can
// cause — so only the per-item order is asserted.)
void ExpectDeliveries(const std::vector<std::string>& got,
                      const std::vector<std::pair<std::string, const char*>>& want) {
  ASSERT_EQ(got.size(), want.size());
  std::map<std::string, int> last;  // sku -> index of its previous change in `got`
  for (const auto& [sku, change] : want) {
    const int at = IndexOf(got, sku, change);
    ASSERT_GE(at, 0) << sku << change;
    if (auto it = last.find(sku); it != last.end()) {
      EXPECT_LT(it->second, at) << sku << change;
    }
    last[sku] = at;
  }
}

TEST(OpsTest, WebhooksDeliverEveryAlertInOrderThroughFailuresAndRestarts) {
  test::TempDir data;
  // Every delivery fails on its first attempt.
  auto first = std::make_unique<Receiver>(0, [](const std::string&, int attempt) {
    return attempt == 1 ? 500 : 200;
  });
  const uint16_t port = first->port();
  const std::string config = Config("[webhooks]\nurls = [\"http://127.0.0.1:" + std::to_string(port) +
                                    "/hook\"]\nmax_backoff_ms = 200\n");
  auto d = std::make_unique<Daemon>(config, std::vector<std::string>{}, data.path().string());
  ASSERT_TRUE(d->started()) << d->Log();
  HttpClient c(d->port());
  const auto send = [&](const std::string& json) { ASSERT_EQ(c.Post("/v1/events", json).status, 200); };
  const auto low = [&](const std::string& sku) {
    send(test::EventBuilder().Type("catalog_put").Item(sku).Raw("stock", "2").Raw("lowStockThreshold", "2").Json());
    send(test::EventBuilder().User("u").Type("purchase").Item(sku).Json());  // 2 -> 1: raised
  };
  const auto restock = [&](const std::string& sku) {
    send(test::EventBuilder().Type("inventory").Item(sku).Raw("stock", "9").Json());  // cleared
  };
  low("sku1");
  restock("sku1");
  low("sku2");
  std::vector<std::string> got = first->WaitFor(3);
  ASSERT_EQ(got.size(), 3u) << d->Log();
  ExpectDeliveries(got, {{"sku1", "/raised"}, {"sku1", "/cleared"}, {"sku2", "/raised"}});
  EXPECT_EQ(first->attempts(), 6);  // each retried once

  // The receiver goes away; two more alerts wait; eddy is killed (their events were
  // acknowledged: whether their alerts reached the outbox before the kill or are rebuilt
  // by recovery, they are delivered) and starts again.
  first.reset();
  restock("sku2");
  low("sku3");
  d->Stop(SIGKILL);
  Receiver second(port, [](const std::string&, int) { return 200; });
  d = std::make_unique<Daemon>(config, std::vector<std::string>{}, data.path().string());
  ASSERT_TRUE(d->started()) << d->Log();
  HttpClient c2(d->port());
  ASSERT_EQ(c2.Post("/v1/events", test::EventBuilder().Type("catalog_put").Item("sku4").Raw("stock", "2")
                                      .Raw("lowStockThreshold", "2").Json()).status, 200);
  ASSERT_EQ(c2.Post("/v1/events", test::EventBuilder().User("u").Type("purchase").Item("sku4").Json()).status,
            200);
  // Nothing lost, each item's in order: what the first receiver did not get, then the new one. At
  // least once: the kill may have come between the first receiver's answer to the last
  // delivery and eddy's cursor write, and that one delivery comes again (only that one).
  const std::string last_before_kill = got[2];
  got = second.WaitUntil([](const std::string& key) { return IsKey(key, "sku4", "/raised"); });
  if (!got.empty() && got.front() == last_before_kill) got.erase(got.begin());
  ASSERT_EQ(got.size(), 3u) << d->Log();
  ExpectDeliveries(got, {{"sku2", "/cleared"}, {"sku3", "/raised"}, {"sku4", "/raised"}});
  EXPECT_EQ(d->Stop(SIGTERM), 0) << d->Log();
}

TEST(OpsTest, AWebhookOutboxWithATornLastLineIsRepairedAndNothingRepeats) {
  test::TempDir data;
  Receiver receiver(0, [](const std::string&, int) { return 200; });
  const std::string config = Config("[webhooks]\nurls = [\"http://127.0.0.1:" +
                                    std::to_string(receiver.port()) + "/hook\"]\n");
  const auto low = [](HttpClient& c, const std::string& sku) {
    ASSERT_EQ(c.Post("/v1/events", test::EventBuilder().Type("catalog_put").Item(sku).Raw("stock", "2")
                                       .Raw("lowStockThreshold", "2").Json()).status, 200);
    ASSERT_EQ(c.Post("/v1/events", test::EventBuilder().User("u").Type("purchase").Item(sku).Json()).status, 200);
  };
  {
    Daemon d(config, {}, data.path().string());
    ASSERT_TRUE(d.started()) << d.Log();
    HttpClient c(d.port());
    low(c, "sku1");
    ASSERT_EQ(receiver.WaitFor(1).size(), 1u) << d.Log();
    EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  }
  // A crash (or a full disk) mid-append leaves half a line.
  std::ofstream((data.path() / "webhooks" / "outbox.ndjson").string(), std::ios::app) << R"({"seq":2,"key":"inv)";
  Daemon d(config, {}, data.path().string());
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  low(c, "sku2");
  const std::vector<std::string> got =
      receiver.WaitUntil([](const std::string& key) { return IsKey(key, "sku2", "/raised"); });
  ASSERT_EQ(got.size(), 2u) << d.Log();
  EXPECT_TRUE(IsKey(got[0], "sku1", "/raised")) << got[0];
  EXPECT_NE(d.Log().find("had a torn line; rewritten without it"), std::string::npos) << d.Log();
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

}  // namespace
}  // namespace eddy
