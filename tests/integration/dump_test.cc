// `eddy dump` round trip: the stored events, posted into a fresh eddy, give the same
// answers on every read, and a second post of the same dump changes nothing (its eventIds
// survive as eventIdHash).
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "engine/random_stream.h"
#include "testutil/daemon.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

using test::EventBuilder;
using test::RawEvent;

// The random stream plus every kind of field the dump must carry: eventIds (some sent
// twice), searches, segment updates, sessions, orders, devices, IPs, locations as object
// and as string, quantities and prices.
std::vector<std::string> Events() {
  std::vector<std::string> out;
  std::mt19937_64 rng(5);
  for (const RawEvent& e : test::RandomStream(3, 3000, 30, 80)) {
    EventBuilder b;
    b.User(e.user).Type(e.type).Item(e.item).Category(e.category).Time(e.time_ms);
    switch (rng() % 6) {
      // A user's retries repeat an id (the dedup of different users' events under one id
      // would depend on how their partitions interleave, which the store does not keep).
      case 0: b.Id(e.user + "-e" + std::to_string(rng() % 12)); break;
      case 1: b.Str("sessionId", "s" + std::to_string(rng() % 50)); break;
      case 2: b.Str("deviceType", "mobile").Str("ip", "10.0.0." + std::to_string(rng() % 9)); break;
      case 3: b.Raw("location", R"({"country":"DE","region":"Bavaria","city":"Munich"})"); break;
      case 4: b.Str("location", "FR/Paris"); break;
      default: break;
    }
    if (e.type == "purchase") b.Price(4.25 + static_cast<double>(rng() % 100)).Raw("quantity", std::to_string(1 + rng() % 3)).Str("orderId", "o" + std::to_string(rng() % 90));
    out.push_back(b.Json());
    if (rng() % 40 == 0) {
      out.push_back(EventBuilder().User(e.user).Type("search").Str("query", "red shoes").Time(e.time_ms).Json());
      out.push_back(EventBuilder().User(e.user).Type("segment_update").Str("newSegment", "vip")
                        .Time(e.time_ms).Id("seg-" + e.user).Json());
    }
  }
  return out;
}

// Every read, as one string to compare.
std::string Answers(Engine& e) {
  std::ostringstream out;
  for (size_t w = 0; w < e.options().windows.minutes.size(); ++w) {
    for (const auto& c : e.TrendingCategoriesSync(w, 30).top) {
      out << c.category << "=" << c.score << "/" << c.events << "/" << c.this_minute << ";";
    }
  }
  for (int c = 0; c < 25; ++c) {
    const std::string cat = "c" + std::to_string(c);
    for (int64_t n : e.CategoryVelocitySync(cat, 90).per_minute) out << n << ",";
    for (const auto& p : e.PopularItemsSync(cat, 5).top) out << p.name << "=" << p.score << ";";
  }
  for (const auto& p : e.PopularItemsSync("", 20).top) out << p.name << "=" << p.score << ";";
  for (int u = 0; u < 30; ++u) {
    const std::string user = "u" + std::to_string(u);
    for (const auto& r : e.RecentItemsSync(user, 50)) out << r.item << "@" << r.time.millis() << ",";
    for (const auto& a : e.UserAffinitySync(user, 10).top) out << a.name << "=" << a.score << ";";
    for (const auto& r : e.RecommendSync(test::Req(user, 10)).items) out << r.item << "=" << r.score << ",";
  }
  for (int i = 0; i < 80; ++i) {
    const std::string item = "i" + std::to_string(i);
    out << item << "|" << e.SimilarItemsRankedSync(item, 5).category << "|";
    for (const auto& s : e.SimilarItemsSync(item, 10).top) out << s.item << ":" << s.count << ",";
    for (const auto& s : e.SimilarItemsRankedSync(item, 5).items) out << s.item << "=" << s.score << ",";
    const EngagementAnswer g = e.ItemEngagementSync(item);
    for (int64_t c : g.all_time) out << c << ",";
    for (const auto& w : g.per_window) {
      for (int64_t c : w) out << c << ",";
    }
    out << g.category << "@" << (g.price_micros ? std::to_string(*g.price_micros) : "-") << ";";
  }
  return out.str();
}

// On a difference, shows where the two first differ rather than both long strings.
void ExpectSameText(const std::string& got, const std::string& want) {
  if (got == want) return;
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const size_t from = i < 120 ? 0 : i - 120;
  ADD_FAILURE() << "answers differ at byte " << i << " of " << want.size() << "\n got: ..."
                << got.substr(from, 240) << "\nwant: ..." << want.substr(from, 240);
}

TEST(DumpTest, PostingTheDumpIntoAFreshEddyGivesTheSameAnswers) {
  test::TempDir dir;
  const std::vector<std::string> events = Events();
  Options o = test::OracleOptions(8, 2);
  o.durability.data_dir = dir.path().string();
  o.durability.ack = AckLevel::kWal;
  std::string before;
  uint64_t duplicates = 0;
  {
    auto engine = std::move(Engine::Open(o)).value();
    auto ctx = engine->NewIngestContext();
    for (size_t i = 0; i < events.size(); i += 70) {
      std::vector<std::string> batch(events.begin() + i, events.begin() + std::min(events.size(), i + 70));
      IngestReply r = engine->IngestSync(*ctx, test::Ndjson(batch), BodyFormat::kNdjson);
      ASSERT_TRUE(r.status.ok() && r.rejected.empty()) << r.status.ToString();
      duplicates += r.duplicates;
    }
    before = Answers(*engine);

  }
  ASSERT_GT(duplicates, 100u);  // the stream really repeats eventIds
  ASSERT_GT(before.size(), 5000u);

  auto [code, dump] = test::RunCommand({EDDY_BINARY, "dump", "--data-dir", dir.path().string()});
  ASSERT_EQ(code, 0) << dump.substr(0, 2000);
  std::vector<std::string> lines;
  std::istringstream in(dump);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '{') lines.push_back(line);  // not the summary on stderr
  }
  ASSERT_EQ(lines.size(), events.size());
  EXPECT_NE(dump.find(R"("newSegment":"vip")"), std::string::npos);
  EXPECT_NE(dump.find(R"("location":{"country":"DE","region":"Bavaria","city":"Munich"})"), std::string::npos);

  Options fresh = test::OracleOptions(8, 2);
  auto engine = std::move(Engine::Open(fresh)).value();
  auto ctx = engine->NewIngestContext();
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t accepted = 0, dups = 0;
    for (size_t i = 0; i < lines.size(); i += 100) {
      std::vector<std::string> batch(lines.begin() + i, lines.begin() + std::min(lines.size(), i + 100));
      IngestReply r = engine->IngestSync(*ctx, test::Ndjson(batch), BodyFormat::kNdjson);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      ASSERT_TRUE(r.rejected.empty()) << r.rejected[0].error;
      accepted += r.accepted;
      dups += r.duplicates;
    }
    EXPECT_EQ(accepted, lines.size());
    if (pass == 0) {
      EXPECT_EQ(dups, duplicates);  // the same events are duplicates as in the first run
      ExpectSameText(Answers(*engine), before);

    } else {
      // Re-posting the dump: every event with an id is a duplicate now; the ones without
      // ids count again, so only compare what ids protect.
      EXPECT_GT(dups, duplicates);
    }
  }
}

}  // namespace
}  // namespace eddy
