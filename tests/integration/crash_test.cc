// SPEC §4 against the real binary: with ack fsync or wal, kill -9 the daemon at random moments
// (some while a checkpoint is being written), restart it on the same data dir, and check
// that (a) every acknowledged event is stored exactly once and (b) every kind of answer
// equals a recomputation over the stored events: exactly, by brute force in this test,
// for engagement counts and recent items; and, for all answers, equal to a fresh eddy
// that ingests exactly the stored events (whose own answers the oracle tests in
// tests/engine check by brute force).
#include <signal.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <regex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "testutil/daemon.h"
#include "testutil/http_client.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace eddy {
namespace {

constexpr int kUsers = 30, kItems = 60, kCategories = 8;
constexpr int64_t kT0 = 1'700'000'000'000;

std::string Config(const char* ack) {
  return std::string("[log]\npartitions = 4\n[runtime]\nshards = 2\n[clock]\nmode = \"event\"\n"
                     "[durability]\ncheckpoint_interval = \"0m\"\nack = \"") +
         ack + "\"\n[logging]\nlevel = \"info\"\n"
               // Fraud rules this stream trips now and then, and bot filtering on.
               "[fraud]\nfilter_bots = true\nip_orders = 3\nhigh_value = 3000.0\n"
               "bot_events_per_minute = 14\n";
}

std::string Hex(const EventIdHash& h) {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(h.hi),
                static_cast<unsigned long long>(h.lo));
  return buf;
}

// Event n of the whole test: deterministic fields, unique id and strictly increasing time.
std::string EventJson(uint64_t n) {
  std::mt19937_64 rng(n);
  const char* types[] = {"view", "view", "view", "view", "click", "add_to_cart", "purchase"};
  const int item = static_cast<int>(rng() % kItems);
  if (rng() % 30 == 0) {  // a catalog change of the item (in the item's partition)
    test::EventBuilder c;
    c.Id("ev-" + std::to_string(n))
        .Type(rng() % 3 ? "catalog_patch" : "catalog_put")
        .Item("i" + std::to_string(item))
        .Raw("timestamp", std::to_string(kT0 + static_cast<int64_t>(n) * 250))
        .Raw("price", std::to_string(1 + rng() % 100))
        .Raw("stock", std::to_string(rng() % 10))
        .Raw("hidden", rng() % 4 == 0 ? "true" : "false");
    if (rng() % 2) c.Raw("lowStockThreshold", std::to_string(rng() % 4));
    return c.Json();
  }
  if (rng() % 50 == 0) {  // a producer's segment update (insights)
    test::EventBuilder s;
    s.Id("ev-" + std::to_string(n))
        .User("u" + std::to_string(rng() % kUsers))
        .Type("segment_update")
        .Str("newSegment", rng() % 2 ? "VIP" : "Regular")
        .Raw("timestamp", std::to_string(kT0 + static_cast<int64_t>(n) * 250));
    return s.Json();
  }
  if (rng() % 30 == 0) {  // a stock level (in the item's partition)
    test::EventBuilder v;
    v.Id("ev-" + std::to_string(n))
        .Type("inventory")
        .Item("i" + std::to_string(item))
        .Raw("timestamp", std::to_string(kT0 + static_cast<int64_t>(n) * 250))
        .Raw("stock", std::to_string(rng() % 12));
    return v.Json();
  }
  test::EventBuilder b;
  b.Id("ev-" + std::to_string(n))
      .User("u" + std::to_string(rng() % kUsers))
      .Item("i" + std::to_string(item))
      .Category("c" + std::to_string(item % kCategories))
      .Raw("timestamp", std::to_string(kT0 + static_cast<int64_t>(n) * 250));
  // Purchases with orders and prices (some unpriced), cancels of them, producer session
  // ids: state for sessions, the funnel and revenue.
  const std::string type = rng() % 20 == 0 ? "cancel" : types[rng() % 7];
  b.Type(type);
  if (type == "purchase" || type == "cancel") b.Str("orderId", "o" + std::to_string(rng() % 40));
  if (type == "purchase" && rng() % 4 != 0) b.Raw("price", std::to_string(1 + rng() % 5000) + ".25");
  if (rng() % 6 == 0) b.Str("sessionId", "s" + std::to_string(rng() % 4));
  // IPs and countries for fraud scoring (ip_burst, impossible_travel).
  if (rng() % 3 == 0) b.Str("ip", "10.0.0." + std::to_string(rng() % 3));
  if (rng() % 4 == 0) {
    const char* countries[] = {"DE", "BR", "US", "FR"};
    b.Raw("location", std::string("{\"country\":\"") + countries[rng() % 4] + "\",\"city\":\"x\"}");
  }
  return b.Json();
}

// Every URL whose answer is compared.
std::vector<std::string> Queries() {
  std::vector<std::string> q = {"/v1/trending/categories?window=1h&k=20",
                                "/v1/trending/categories?window=24h&k=20",
                                "/v1/items/popular?k=30"};
  for (int c = 0; c < kCategories; ++c) q.push_back("/v1/items/popular?k=10&category=c" + std::to_string(c));
  for (const char* w : {"5m", "1h"}) {
    q.push_back(std::string("/v1/analytics/revenue?window=") + w);
    q.push_back(std::string("/v1/analytics/revenue?window=") + w + "&category=c1");
  }
  q.push_back("/v1/inventory/low?k=100");
  q.push_back("/v1/alerts?k=1000");
  q.push_back("/v1/alerts?kind=fraud&k=1000");
  for (int o = 0; o < 40; ++o) q.push_back("/v1/orders/o" + std::to_string(o) + "/fraud");
  q.push_back("/v1/analytics/funnel?window=1h");
  q.push_back("/v1/analytics/funnel?window=7d&category=c2");
  for (int u = 0; u < kUsers; ++u) {
    q.push_back("/v1/users/u" + std::to_string(u) + "/sessions?k=20");
    q.push_back("/v1/users/u" + std::to_string(u) + "/recent?k=50");
    q.push_back("/v1/users/u" + std::to_string(u) + "/affinity?k=10");
    q.push_back("/v1/users/u" + std::to_string(u) + "/fraud?k=20");
    q.push_back("/v1/users/u" + std::to_string(u) + "/insights?hours=0");
  }
  for (int i = 0; i < kItems; ++i) {
    q.push_back("/v1/items/i" + std::to_string(i));
    q.push_back("/v1/items/i" + std::to_string(i) + "/similar?k=20");
    q.push_back("/v1/items/i" + std::to_string(i) + "/engagement");
    q.push_back("/v1/items/i" + std::to_string(i) + "/inventory");
  }
  return q;
}

std::map<std::string, std::string> Ask(uint16_t port) {
  test::HttpClient c(port);
  std::map<std::string, std::string> out;
  for (const std::string& q : Queries()) {
    test::HttpResult r = c.Get(q);
    // 404: an item with no stock yet, an order not yet bought (early rounds); the error
    // body is compared too.
    EXPECT_TRUE(r.status == 200 || (r.status == 404 && (q.ends_with("/inventory") ||
                                                        q.ends_with("/fraud"))))
        << q << ": " << r.status << " " << r.body;
    out[q] = r.body;
  }
  return out;
}

// JSON equality with numbers compared to 1e-9 relative (decayed sums may add in another
// order); reports the first difference in *why. A ranked answer's "recommId" names that
// one answer (every answer gets a new one): present in both, its value is not compared.
bool SameJson(simdjson::dom::element a, simdjson::dom::element b, std::string* why) {
  using simdjson::dom::element_type;
  if (a.type() != b.type()) {
    const bool numbers = (a.is_number() && b.is_number());
    if (!numbers) return *why = "type differs", false;
  }
  if (a.is_number()) {
    const double x = double(a), y = double(b);
    if (std::fabs(x - y) > 1e-9 * std::max(std::fabs(x), std::fabs(y))) {
      std::ostringstream os;
      os << x << " != " << y;
      return *why = os.str(), false;
    }
    return true;
  }
  switch (a.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array x = a, y = b;
      if (x.size() != y.size()) return *why = "array length differs", false;
      auto j = y.begin();
      for (auto e : x) {
        if (!SameJson(e, *j, why)) return false;
        ++j;
      }
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object x = a, y = b;
      if (x.size() != y.size()) return *why = "object size differs", false;
      for (auto [k, e] : x) {
        simdjson::dom::element other;
        if (y[k].get(other) != simdjson::SUCCESS) return *why = "key " + std::string(k) + " missing", false;
        if (k == "recommId") continue;
        if (!SameJson(e, other, why)) return *why = std::string(k) + ": " + *why, false;
      }
      return true;
    }
    case element_type::STRING:
      return std::string_view(a) == std::string_view(b) ? true : (*why = "string differs", false);
    default:
      return a.is_null() || (bool(a) == bool(b)) ? true : (*why = "value differs", false);
  }
}

struct Stored {
  std::string user, item, type, hash;
  int64_t time;
  std::string line;  // as `eddy dump` printed it
};

// Every event in the store of `data`, in partition and offset order (so each user's events
// in acceptance order), read with `eddy dump` (read-only, beside a running daemon too).
std::vector<Stored> DumpStore(const std::string& data) {
  auto [code, dump] = test::RunCommand({EDDY_BINARY, "dump", "--data-dir", data});
  EXPECT_EQ(code, 0) << dump;
  std::vector<Stored> stored;
  simdjson::dom::parser parser;
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;  // the summary line on stderr
    simdjson::dom::element e = parser.parse(line);
    Stored s;
    std::string_view user;
    if (e["userId"].get(user) == simdjson::SUCCESS) s.user = std::string(user);
    std::string_view item;  // none for a segment update
    if (e["itemId"].get(item) == simdjson::SUCCESS) s.item = std::string(item);
    s.type = std::string(std::string_view(e["type"]));
    s.hash = std::string(std::string_view(e["eventIdHash"]));
    s.time = int64_t(e["timestamp"]);
    s.line = line;
    stored.push_back(std::move(s));
  }
  return stored;
}

// Every acknowledged event is stored, none twice.
void ExpectEachAcknowledgedEventStoredOnce(const std::vector<Stored>& stored,
                                           const std::set<std::string>& acked,
                                           const std::string& when) {
  std::map<std::string, int> seen;
  for (const Stored& s : stored) ++seen[s.hash];
  for (const auto& [hash, n] : seen) EXPECT_EQ(n, 1) << when << ": stored twice: " << hash;
  size_t missing = 0;
  for (const std::string& h : acked) missing += seen.count(h) == 0;
  EXPECT_EQ(missing, 0u) << when << ": acknowledged events lost";
}

// A fresh eddy (ack memory) fed exactly the stored events, as the reference answers. The
// store only grows, and each round's events are newer than every earlier one, so each
// check feeds it only the events stored since the previous one. They are sent in the
// order they were accepted (their times rise with it): stock, which a purchase changes in
// its item's partition, depends on the order across partitions.
class FreshIngest {
 public:
  FreshIngest() : daemon_(Config("memory")) { EXPECT_TRUE(daemon_.started()) << daemon_.Log(); }
  ~FreshIngest() { EXPECT_EQ(daemon_.Stop(SIGTERM), 0); }

  void CatchUp(const std::vector<Stored>& stored) {
    std::vector<const Stored*> novel;
    for (const Stored& s : stored) {
      if (fed_.insert(s.hash).second) novel.push_back(&s);
    }
    std::stable_sort(novel.begin(), novel.end(),
                     [](const Stored* a, const Stored* b) { return a->time < b->time; });
    test::HttpClient c(daemon_.port());
    for (size_t i = 0; i < novel.size(); i += 500) {
      std::vector<std::string> chunk;
      for (size_t k = i; k < std::min(novel.size(), i + 500); ++k) chunk.push_back(novel[k]->line);
      test::HttpResult r = c.Post("/v1/events", test::Ndjson(chunk), "application/x-ndjson");
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }
  uint16_t port() const { return daemon_.port(); }

 private:
  test::Daemon daemon_;
  std::set<std::string> fed_;
};

// The answers with each "recommId" value blanked (every answer gets its own).
std::map<std::string, std::string> WithoutRecommIds(std::map<std::string, std::string> answers) {
  static const std::regex kId(R"re("recommId":"[^"]*")re");
  for (auto& [q, body] : answers) body = std::regex_replace(body, kId, R"("recommId":"")");
  return answers;
}

// Every answer of the recovered daemon equals the fresh ingest's.
void ExpectSameAnswers(const std::map<std::string, std::string>& recovered,
                       const std::map<std::string, std::string>& expected, const std::string& when) {
  simdjson::dom::parser pa, pb;
  for (const std::string& q : Queries()) {
    std::string why;
    EXPECT_TRUE(SameJson(pa.parse(recovered.at(q)), pb.parse(expected.at(q)), &why))
        << when << ": " << q << ": " << why << "\nrecovered: " << recovered.at(q)
        << "\nfresh:     " << expected.at(q);
  }
}

// An integer from the environment (tools/crash-soak.sh sets the rounds and the seed), or
// `fallback`.
unsigned EnvOr(const char* name, unsigned fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? static_cast<unsigned>(std::stoul(v)) : fallback;
}

// Rounds of: start on the same data dir (recovering what the previous round left), check
// that every acknowledged event so far is stored exactly once and every answer equals a
// fresh ingest of the stored events, then ingest (batches of 1-120 events) with ack wal
// or fsync at random, with checkpoints requested back to back in about half the rounds,
// and kill -9 after a random amount of progress.
// EDDY_CRASH_ROUNDS (default 6) and EDDY_CRASH_SEED (default 2026) drive the soak.
TEST(CrashTest, KillNineNeverLosesAnAcknowledgedEventAndRecoversEveryAnswer) {
  test::TempDir shared;
  const std::string data = (shared.path() / "data").string();
  std::set<std::string> acked;  // eventId hashes of every acknowledged event
  const unsigned seed = EnvOr("EDDY_CRASH_SEED", 2026);
  const int kRounds = static_cast<int>(EnvOr("EDDY_CRASH_ROUNDS", 6));
  std::mt19937 rng(seed);
  uint64_t next_event = 0;
  int checkpoints_seen = 0;
  int killed_mid_checkpoint = 0;
  int wal_rounds = 0;
  FreshIngest fresh;
  for (int round = 0; round < kRounds; ++round) {
    // Round 0 fsync, round 1 checkpoints: the default 6 rounds always cover both.
    const bool wal = round > 0 && rng() % 2 == 0;
    const bool checkpoints = round == 1 || (round > 1 && rng() % 2 == 0);
    wal_rounds += wal;
    const unsigned batch_seed = static_cast<unsigned>(rng());
    test::Daemon d(Config(wal ? "wal" : "fsync"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    if (round > 0) {  // the recovery of the previous round's kill
      const std::string when = "after the kill of round " + std::to_string(round - 1);
      const std::vector<Stored> stored = DumpStore(data);
      ExpectEachAcknowledgedEventStoredOnce(stored, acked, when);
      fresh.CatchUp(stored);
      ExpectSameAnswers(Ask(d.port()), Ask(fresh.port()), when);
      if (::testing::Test::HasFailure()) return;
    }
    std::atomic<bool> stop{false};
    std::atomic<int> batches{0};
    std::vector<std::string> round_acked;
    std::atomic<bool> checkpoint_in_flight{false};
    std::thread writer([&] {
      test::HttpClient c(d.port());
      std::mt19937 sizes(batch_seed);
      while (!stop.load()) {
        std::vector<std::string> events;
        std::vector<std::string> ids;
        const int n = 1 + static_cast<int>(sizes() % 120);
        for (int k = 0; k < n; ++k) {
          events.push_back(EventJson(next_event));
          ids.push_back(Hex(StableHash128("ev-" + std::to_string(next_event))));
          ++next_event;
        }
        test::HttpResult r = c.Post("/v1/events", test::Ndjson(events), "application/x-ndjson");
        if (r.status == 0) return;  // the daemon is gone
        ASSERT_EQ(r.status, 200) << r.body;
        const std::string accepted = "\"accepted\":" + std::to_string(n);
        const size_t at = r.body.find(accepted);
        ASSERT_NE(at, std::string::npos) << r.body;
        ASSERT_FALSE(std::isdigit(static_cast<unsigned char>(r.body[at + accepted.size()])))
            << r.body;
        round_acked.insert(round_acked.end(), ids.begin(), ids.end());
        batches.fetch_add(1);
      }
    });
    // Checkpoint rounds also ask for checkpoints back to back, so the kill may land in one.
    std::thread checkpointer;
    if (checkpoints) {
      checkpointer = std::thread([&] {
        test::HttpClient c(d.port());
        while (!stop.load()) {
          checkpoint_in_flight.store(true);
          test::HttpResult r = c.Post("/v1/admin/checkpoint", "");
          if (r.status == 0) return;
          checkpoint_in_flight.store(false);
          if (r.status == 200) ++checkpoints_seen;
        }
      });
    }
    // Kill after a random amount of progress (polled, not timed); in the checkpoint rounds,
    // while a checkpoint request is being served.
    const int target = 5 + static_cast<int>(rng() % 40);
    while (batches.load() < target || (checkpoints && !checkpoint_in_flight.load())) {
      std::this_thread::yield();
    }
    EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
    stop.store(true);
    writer.join();
    if (checkpointer.joinable()) checkpointer.join();
    acked.insert(round_acked.begin(), round_acked.end());
    // A checkpoint cut short by the kill leaves its .tmp file (removed by the next one).
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(data + "/checkpoints", ec)) {
      killed_mid_checkpoint += e.path().extension() == ".tmp";
    }
  }
  EXPECT_GT(checkpoints_seen, 0);
  ASSERT_GT(acked.size(), 1000u);

  // Restart once more: the last kill's recovery, checked like the others.
  std::map<std::string, std::string> recovered;
  {
    test::Daemon d(Config("fsync"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    recovered = Ask(d.port());
    EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
    EXPECT_NE(d.Log().find("recovery: "), std::string::npos);
    // The stream raised and cleared low-stock alerts: the comparisons cover them.
    EXPECT_NE(recovered["/v1/alerts?k=1000"].find("\"active\":true"), std::string::npos);
    EXPECT_NE(recovered["/v1/alerts?k=1000"].find("\"active\":false"), std::string::npos);
    // And fraud alerts and insights: the comparisons cover the scores, anomalies, segments
    // and predictions.
    EXPECT_NE(recovered["/v1/alerts?kind=fraud&k=1000"].find("\"kind\":\"fraud\""), std::string::npos);
    std::string insights;
    for (int u = 0; u < kUsers; ++u) insights += recovered["/v1/users/u" + std::to_string(u) + "/insights?hours=0"];
    for (const char* type : {"spending_anomaly", "segment_migration", "consumption_prediction"}) {
      EXPECT_NE(insights.find(type), std::string::npos) << type;
    }
  }
  // A clean SIGTERM and restart (from the shutdown checkpoint) answers identically.
  {
    test::Daemon d(Config("fsync"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    EXPECT_NE(d.Log().find("replayed 0 events"), std::string::npos) << d.Log();
    EXPECT_EQ(WithoutRecommIds(Ask(d.port())), WithoutRecommIds(recovered));  // bit for bit
    EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  }

  // (a) The store: every acknowledged event exactly once.
  const std::vector<Stored> stored = DumpStore(data);
  ExpectEachAcknowledgedEventStoredOnce(stored, acked, "at the end");
  EXPECT_GE(stored.size(), acked.size());  // unacknowledged ones may have persisted too
  std::printf("crash test: seed %u, %d rounds (%d with ack wal), %zu events acknowledged, %zu "
              "stored, %d checkpoints completed in the killed rounds, %d kills during a "
              "checkpoint write; store and answers checked after each of the %d recoveries\n",
              seed, kRounds, wal_rounds, acked.size(), stored.size(), checkpoints_seen,
              killed_mid_checkpoint, kRounds);

  // (b1) Brute force over the stored events: engagement counts and recent items.
  {
    simdjson::dom::parser parser;
    std::map<std::string, std::map<std::string, int64_t>> counts;  // item -> type -> n
    std::map<std::string, std::deque<std::string>> recent;         // user -> newest first
    for (const Stored& s : stored) {
      if (s.type.starts_with("catalog_") || s.type == "segment_update") continue;  // no item
      ++counts[s.item][s.type];
      if (s.type == "cancel" || s.type == "inventory") continue;  // weight 0: not a touch
      auto& r = recent[s.user];
      r.erase(std::remove(r.begin(), r.end(), s.item), r.end());
      r.push_front(s.item);
      if (r.size() > 50) r.pop_back();
    }
    for (const auto& [item, by_type] : counts) {
      simdjson::dom::element e = parser.parse(recovered["/v1/items/" + item + "/engagement"]);
      for (const auto& [type, n] : by_type) {
        EXPECT_EQ(int64_t(e["all_time"][type]), n) << item << " " << type;
      }
    }
    for (const auto& [user, items] : recent) {
      simdjson::dom::element e = parser.parse(recovered["/v1/users/" + user + "/recent?k=50"]);
      std::vector<std::string> got;
      for (auto it : simdjson::dom::array(e["items"])) got.emplace_back(std::string_view(it["itemId"]));
      EXPECT_EQ(got, std::vector<std::string>(items.begin(), items.end())) << user;
    }
  }

  // (b2) The fresh eddy given exactly the stored events answers the same everything.
  fresh.CatchUp(stored);
  ExpectSameAnswers(recovered, Ask(fresh.port()), "at the end");
  // Bots were filtered (a user above 14 events a minute now and then): the comparisons
  // cover the filtering too.
  test::HttpResult status = test::HttpClient(fresh.port()).Get("/v1/stream/status");
  EXPECT_EQ(status.body.find("\"filtered_total\":0,"), std::string::npos) << status.body;
}

// The file of `dir` with extension `ext` (RocksDB's <number>.log / <number>.sst) with the
// highest number, and that number ("" and 0 when there is none).
std::pair<std::filesystem::path, uint64_t> NewestFile(const std::string& dir, const std::string& ext) {
  std::pair<std::filesystem::path, uint64_t> newest{{}, 0};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ext) continue;
    const uint64_t n = std::stoull(e.path().stem().string());
    if (n >= newest.second) newest = {e.path(), n};
  }
  return newest;
}

std::vector<std::string> Events(uint64_t from, uint64_t to) {
  std::vector<std::string> out;
  for (uint64_t n = from; n < to; ++n) out.push_back(EventJson(n));
  return out;
}

// Posts `events` in batches of 100; each must be acknowledged whole.
void PostAll(uint16_t port, const std::vector<std::string>& events) {
  test::HttpClient c(port);
  for (size_t i = 0; i < events.size(); i += 100) {
    std::vector<std::string> batch(events.begin() + i,
                                   events.begin() + std::min(events.size(), i + 100));
    test::HttpResult r = c.Post("/v1/events", test::Ndjson(batch), "application/x-ndjson");
    ASSERT_EQ(r.status, 200) << r.body;
  }
}

// A power cut while the store writes (ack fsync): the newest WAL's tail is torn and a
// flush's SST was left half-written. Simulated on the files: the events of the second run
// went only to the newest WAL (the restart before it moved the first run's into an SST);
// that WAL is cut half-way through them, as if their commits had not completed (so they
// count as unacknowledged; no checkpoint covers them), and a half copy of an SST is left
// under a new file number. Recovery must keep every event before the tear, each once,
// drop the torn record whole (per partition, the stored offsets stay contiguous) and
// answer as a fresh ingest of what is stored; the lost events can then be sent again.
TEST(DiskFaultTest, ATornWalTailAndAHalfWrittenSstRecoverEveryEventBeforeTheTear) {
  test::TempDir shared;
  const std::string data = (shared.path() / "data").string();
  const std::string log_dir = data + "/log";
  const std::vector<std::string> first = Events(0, 2000), second = Events(2000, 3000);
  {
    test::Daemon d(Config("fsync"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    PostAll(d.port(), first);
    EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
  }
  std::filesystem::path wal;
  uint64_t before = 0;
  {
    test::Daemon d(Config("fsync"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    wal = NewestFile(log_dir, ".log").first;
    ASSERT_FALSE(wal.empty());
    before = std::filesystem::file_size(wal);
    PostAll(d.port(), second);
    EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
  }
  ASSERT_EQ(NewestFile(log_dir, ".log").first, wal);  // the second run's events are all in it
  const uint64_t after = std::filesystem::file_size(wal);
  ASSERT_GT(after, before);
  std::filesystem::resize_file(wal, before + (after - before) / 2);
  {
    const auto [sst, n] = NewestFile(log_dir, ".sst");
    ASSERT_FALSE(sst.empty());
    const std::string half = test::ReadFile(sst.string()).substr(0, std::filesystem::file_size(sst) / 2);
    char name[32];
    std::snprintf(name, sizeof(name), "%06llu.sst",
                  static_cast<unsigned long long>(std::max(n, NewestFile(log_dir, ".log").second) + 1));
    test::WriteFile(log_dir + "/" + name, half);
  }

  test::Daemon d(Config("fsync"), {}, data);
  ASSERT_TRUE(d.started()) << d.Log();
  std::set<std::string> acked;  // the first run's: every one acknowledged, none torn
  for (uint64_t n = 0; n < first.size(); ++n) acked.insert(Hex(StableHash128("ev-" + std::to_string(n))));
  const std::vector<Stored> stored = DumpStore(data);
  ExpectEachAcknowledgedEventStoredOnce(stored, acked, "after the tear");
  EXPECT_GT(stored.size(), first.size());                   // the commits before the tear
  EXPECT_LT(stored.size(), first.size() + second.size());   // not the torn ones
  {
    // Whole records only: of each user's events (an item's, for catalog and stock ones),
    // all in one partition, what is kept is a prefix in acceptance order.
    std::set<std::string> kept;
    for (const Stored& s : stored) kept.insert(s.hash);
    std::map<std::string, bool> lost_one;  // key -> an earlier event of it is not stored
    simdjson::dom::parser parser;
    for (uint64_t n = first.size(); n < first.size() + second.size(); ++n) {
      simdjson::dom::element e = parser.parse(second[n - first.size()]);
      std::string_view key;
      if (e["userId"].get(key) != simdjson::SUCCESS) key = std::string_view(e["itemId"]);
      const bool is_kept = kept.count(Hex(StableHash128("ev-" + std::to_string(n)))) > 0;
      bool& lost = lost_one[std::string(key)];
      EXPECT_FALSE(is_kept && lost) << "event " << n << " kept after a lost one of " << key;
      lost = lost || !is_kept;
    }
  }
  FreshIngest fresh;
  fresh.CatchUp(stored);
  ExpectSameAnswers(Ask(d.port()), Ask(fresh.port()), "after the tear");
  // The torn events were never applied: sent again they are new, the others duplicates.
  test::HttpClient c(d.port());
  test::HttpResult r = c.Post("/v1/events", test::Ndjson(second), "application/x-ndjson");
  ASSERT_EQ(r.status, 200) << r.body;
  size_t kept = 0;  // of the second run's, as duplicates (catalog changes are not: docs/api.md)
  for (const Stored& s : stored) kept += acked.count(s.hash) == 0 && !s.type.starts_with("catalog_");
  EXPECT_NE(r.body.find("\"accepted\":" + std::to_string(second.size()) + ","), std::string::npos)
      << r.body;  // "accepted" counts the duplicates too
  EXPECT_NE(r.body.find("\"duplicates\":" + std::to_string(kept) + ","), std::string::npos)
      << r.body;
  EXPECT_EQ(d.Stop(SIGTERM), 0) << d.Log();
}

// `eddy replay` after a weight change gives the answers of a fresh ingest with the new
// weights.
TEST(ReplayCommandTest, AfterAWeightChangeEqualsAFreshIngestWithTheNewWeights) {
  test::TempDir shared;
  const std::string data = (shared.path() / "data").string();
  std::vector<std::string> events;
  for (uint64_t n = 0; n < 3000; ++n) events.push_back(EventJson(n));
  std::map<std::string, std::string> before;  // with the default weights
  {
    test::Daemon d(Config("wal"), {}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    test::HttpClient c(d.port());
    for (size_t i = 0; i < events.size(); i += 300) {
      std::vector<std::string> chunk(events.begin() + i, events.begin() + i + 300);
      ASSERT_EQ(c.Post("/v1/events", test::Ndjson(chunk), "application/x-ndjson").status, 200);
    }
    before = Ask(d.port());
    ASSERT_EQ(d.Stop(SIGTERM), 0) << d.Log();
  }
  const std::string config_file = (shared.path() / "eddy.toml").string();
  test::WriteFile(config_file, Config("wal"));
  auto [code, out] = test::RunCommand({EDDY_BINARY, "replay", "--config", config_file,
                                       "--data-dir", data, "--set", "weights.view=7"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("eddy replay: 3000 events in"), std::string::npos) << out;
  std::map<std::string, std::string> replayed;
  {
    test::Daemon d(Config("wal"), {"--set", "weights.view=7"}, data);
    ASSERT_TRUE(d.started()) << d.Log();
    EXPECT_NE(d.Log().find("replayed 0 events"), std::string::npos) << d.Log();  // its checkpoint
    replayed = Ask(d.port());
    EXPECT_EQ(d.Stop(SIGTERM), 0);
  }
  test::Daemon fresh(Config("memory"), {"--set", "weights.view=7"});
  ASSERT_TRUE(fresh.started()) << fresh.Log();
  {
    test::HttpClient c(fresh.port());
    ASSERT_EQ(c.Post("/v1/events", test::Ndjson(events), "application/x-ndjson").status, 200);
  }
  ExpectSameAnswers(replayed, Ask(fresh.port()), "after eddy replay");
  // And the weight change shows: trending scores moved.
  const std::string trending = "/v1/trending/categories?window=24h&k=20";
  EXPECT_NE(replayed[trending], before[trending]);
  EXPECT_EQ(fresh.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace eddy
