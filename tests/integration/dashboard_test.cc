// The live dashboard in a real browser: headless Chromium driven through ChromeDriver's
// WebDriver HTTP API (Debian chromium, chromium-driver). The page is loaded, events are
// posted, and the page's figures (DOM values, not pixels) must follow; a screenshot is
// saved as <build dir>/dashboard.png.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/asio.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testutil/daemon.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::HttpClient;
using test::HttpResult;

uint16_t FreePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;
    acc = acc << 6 | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// A ChromeDriver child and one headless Chromium session.
class Browser {
 public:
  Browser() {
    port_ = FreePort();
    pid_ = test::Spawn({"/usr/bin/chromedriver", "--port=" + std::to_string(port_)},
                       (dir_.path() / "chromedriver.log").string());
    // Poll until it answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      HttpClient c(port_);
      if (c.Get("/status").status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    client_ = std::make_unique<HttpClient>(port_);
    HttpResult r = client_->Post("/session", R"({"capabilities":{"alwaysMatch":{"browserName":"chrome",
      "goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox",
      "--disable-gpu","--disable-dev-shm-usage","--window-size=1400,1100","--user-data-dir=)" +
                                                  (dir_.path() / "profile").string() + R"("]}}}})");
    simdjson::dom::element e;
    std::string_view id;
    if (r.status == 200 && !parser_.parse(r.body).get(e) && !e["value"]["sessionId"].get(id)) {
      session_ = "/session/" + std::string(id);
    } else {
      error_ = "no session: " + std::to_string(r.status) + " " + r.body;
    }
  }
  ~Browser() {
    if (!session_.empty()) client_->Request("DELETE", session_, "", "");
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  const std::string& error() const { return error_; }

  void Open(const std::string& url) {
    HttpResult r = client_->Post(session_ + "/url", R"({"url":")" + url + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // The value a script returns, as text ("" on an error).
  std::string Eval(const std::string& script) {
    std::string body = R"({"script":)";
    body += '"';
    for (char c : script) {
      if (c == '"' || c == '\\') body += '\\';
      body += c;
    }
    body += R"(","args":[]})";
    HttpResult r = client_->Post(session_ + "/execute/sync", body);
    simdjson::dom::element e;
    if (r.status != 200 || parser_.parse(r.body).get(e)) return "";
    simdjson::dom::element v = e["value"];
    if (std::string_view s; !v.get_string().get(s)) return std::string(s);
    return simdjson::minify(v);
  }
  // Polls `script` until it returns `want` (up to 30 s); the last value.
  std::string WaitFor(const std::string& script, const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string got;
    while ((got = Eval(script)) != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return got;
  }
  std::string Screenshot() {
    HttpResult r = client_->Get(session_ + "/screenshot");
    simdjson::dom::element e;
    std::string_view b64;
    if (r.status != 200 || parser_.parse(r.body).get(e) || e["value"].get(b64)) return "";
    return Base64Decode(b64);
  }

 private:
  test::TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<HttpClient> client_;
  std::string session_, error_;
  simdjson::dom::parser parser_;
};

TEST(DashboardTest, TheFiguresFollowTheEventsInHeadlessChromium) {
  if (!std::filesystem::exists("/usr/bin/chromium") || !std::filesystem::exists("/usr/bin/chromedriver")) {
    GTEST_SKIP() << "chromium and chromium-driver are not installed: tools/setup-deps.sh installs them";
  }
  test::Daemon d("[server]\nio_threads = 0\n[log]\npartitions = 4\n[runtime]\nshards = 2\n"
                 "[[experiments]]\nname = \"exp\"\nimpressions = \"serve\"\n"
                 "[[experiments.variants]]\nname = \"A\"\nshare = 0.5\n"
                 "[[experiments.variants]]\nname = \"B\"\nshare = 0.5\n");
  ASSERT_TRUE(d.started()) << d.Log();
  HttpClient c(d.port());
  HttpResult page = c.Get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("Chart.js v3"), std::string::npos);  // inlined, no CDN
  EXPECT_EQ(page.body.find("<script src="), std::string::npos);

  Browser b;
  ASSERT_TRUE(b.error().empty()) << b.error();
  b.Open("http://127.0.0.1:" + std::to_string(d.port()) + "/");
  // The first snapshot arrives: the page is live and shows nothing accepted.
  EXPECT_EQ(b.WaitFor("return document.getElementById('state').textContent", "live"), "live");
  EXPECT_EQ(b.Eval("return document.getElementById('accepted-total').textContent"), "0");

  // Events: shoes trend, one session goes view → cart → purchase, an item runs low.
  std::vector<std::string> events;
  for (int i = 0; i < 6; ++i) {
    events.push_back(test::EventBuilder().User("v" + std::to_string(i)).Type("view").Item("boot").Category("shoes").Json());
  }
  events.push_back(test::EventBuilder().User("h").Type("view").Item("cap").Category("hats").Json());
  events.push_back(test::EventBuilder().User("buyer").Type("view").Item("boot").Category("shoes").Json());
  events.push_back(test::EventBuilder().User("buyer").Type("add_to_cart").Item("boot").Category("shoes").Json());
  events.push_back(test::EventBuilder().User("buyer").Type("purchase").Item("boot").Category("shoes").Price(80).Json());
  events.push_back(test::EventBuilder().Type("catalog_put").Item("scarf").Raw("stock", "2").Raw("lowStockThreshold", "2").Json());
  events.push_back(test::EventBuilder().User("buyer").Type("purchase").Item("scarf").Category("winter").Price(20).Json());
  HttpResult posted = c.Post("/v1/events", test::Ndjson(events), "application/x-ndjson");
  ASSERT_EQ(posted.status, 200) << posted.body;

  EXPECT_EQ(b.WaitFor("return document.getElementById('accepted-total').textContent", "12"), "12");
  EXPECT_EQ(b.WaitFor("return document.querySelector('#trending li').dataset.category", "shoes"), "shoes");
  EXPECT_EQ(b.WaitFor("return document.getElementById('funnel-purchased').textContent", "1"), "1");
  EXPECT_EQ(b.WaitFor("return document.getElementById('revenue-total').textContent", "100"), "100");
  EXPECT_EQ(b.WaitFor("return document.querySelector('#alerts li') ? document.querySelector('#alerts li').textContent.includes('inventory scarf') : false",
                      "true"),
            "true");
  // An answer served under the experiment shows in its variant's row.
  HttpResult rec = c.Get("/v1/recommendations?userId=buyer");
  ASSERT_EQ(rec.status, 200) << rec.body;
  const size_t at = rec.body.find(R"("variant":")");
  ASSERT_NE(at, std::string::npos) << rec.body;
  const std::string variant = rec.body.substr(at + 11, 1);
  EXPECT_EQ(b.WaitFor("const r = document.querySelector('[data-variant=\"exp/" + variant +
                          "\"]'); return r ? r.cells[1].textContent : ''",
                      "1"),
            "1");
  // Events/s by type: the view row appeared (the rates come from the counts' deltas).
  EXPECT_EQ(b.WaitFor("return document.getElementById('rate-view') !== null", "true"), "true");
  // Snapshots keep coming (the feed sends one every 500 ms; not timed here).
  const int before = std::stoi(b.Eval("return document.body.dataset.snapshots"));
  EXPECT_EQ(b.WaitFor("return Number(document.body.dataset.snapshots) > " + std::to_string(before + 1),
                      "true"),
            "true");

  const std::string png = b.Screenshot();
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  std::ofstream(std::string(EDDY_BUILD_DIR) + "/dashboard.png", std::ios::binary) << png;
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

}  // namespace
}  // namespace eddy
