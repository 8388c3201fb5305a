// Cluster mode's ranked reads without NATS: two "nodes" (each its own shard states and
// interners, numbering every string otherwise) answer each other's part requests for the
// partitions each owns, and the node that ranks gives the same recommendations, ranked
// similar items and offers as one engine holding every partition — also for items and
// categories only the other node has seen.
#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <mutex>
#include <random>

#include "engine/components.h"
#include "engine/experiment_service.h"
#include "engine/ingest_path.h"
#include "engine/query_service.h"
#include "engine/recommender.h"

namespace eddy {
namespace {

using test::Wait;

constexpr int64_t kT0 = 1'700'000'000'000;

// Views, carts, purchases and catalog records of 40 users over `items` items named
// `prefix`<n> in 6 categories named `category`<n>.
std::vector<std::string> Events(uint64_t seed, int n, int64_t t0, const std::string& prefix, int items,
                                const std::string& category) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < items; i += 4) {
    lines.push_back(test::EventBuilder().Type("catalog_put").Item(prefix + std::to_string(i))
                        .Category(category + std::to_string(i % 6)).Raw("price", "12.5")
                        .Raw("attributes", "{\"color\":\"red\"}").Time(t0).Json());
  }
  static const char* kTypes[] = {"view", "view", "view", "click", "add_to_cart", "purchase"};
  for (int k = 0; k < n; ++k) {
    const int item = static_cast<int>(std::min(rng() % items, rng() % items));
    const std::string type = kTypes[rng() % 6];
    test::EventBuilder b;
    b.User("u" + std::to_string(rng() % 40)).Type(type).Item(prefix + std::to_string(item))
        .Category(category + std::to_string(item % 6)).Time(t0 + k * 900);
    if (type == "purchase") b.Str("orderId", "o" + std::to_string(k)).Raw("price", "9.99");
    lines.push_back(b.Json());
  }
  return lines;
}

// In requests of 200, each applied before the next (a partition's log holds 1024 entries
// here: a full one refuses the request).
void Ingest(test::Parts& parts, IngestPath& ingest, const std::vector<std::string>& all) {
  for (size_t at = 0; at < all.size(); at += 200) {
    const std::vector<std::string> lines(all.begin() + static_cast<ptrdiff_t>(at),
                                         all.begin() + static_cast<ptrdiff_t>(std::min(all.size(), at + 200)));
    auto ctx = ingest.NewContext();
    std::string body = test::Ndjson(lines);
    std::promise<IngestReply> done;
    ingest.Ingest(*ctx, body, BodyFormat::kNdjson, DefaultType::kNone,
                  [&](IngestReply r) { done.set_value(std::move(r)); });
    const IngestReply reply = done.get_future().get();
    ASSERT_TRUE(reply.status.ok()) << reply.status.message();
    ASSERT_TRUE(reply.rejected.empty()) << reply.rejected[0].error;
    parts.CatchUp();
  }
}

// One engine's parts and the components a ranked read needs.
struct Node {
  explicit Node(int other_strings) : parts(test::ComponentOptions(4, 4)) {
    for (Interner* in : parts.interners->All()) {
      for (int i = 0; i < other_strings; ++i) in->Intern("other-" + std::to_string(i));
    }
    parts.StartShards(nullptr, 2);  // a state per partition on 2 threads, as cluster mode
  }
  test::Parts parts;
  IngestPath ingest{parts.options, *parts.log, *parts.interners, parts.set, nullptr, parts.clock, nullptr};
  QueryService queries{parts.options, parts.set, *parts.interners, *parts.log, parts.clock};
  ExperimentService experiments{parts.set, queries, &ingest};
  Recommender recommender{parts.options, parts.set, *parts.interners, queries, &experiments};
};

RecommendRequest Request(std::string user, uint32_t k, std::string category = "") {
  RecommendRequest r;
  r.user = std::move(user);
  r.k = k;
  r.category = std::move(category);
  return r;
}

std::string Format(const std::vector<RankedItem>& items) {
  std::string out;
  char line[256];
  for (const RankedItem& it : items) {
    std::snprintf(line, sizeof line, "%s %s %.9g %s %llu/%llu", it.item.c_str(), it.category.c_str(), it.score,
                  it.source.c_str(), static_cast<unsigned long long>(it.coview_count),
                  static_cast<unsigned long long>(it.coview_error));
    out += line;
    for (const SignalBreakdown& s : it.signals) {
      std::snprintf(line, sizeof line, " %.9g", s.raw);
      out += line;
    }
    out += "\n";
  }
  return out;
}

// Every ranked answer the test compares, as text: a user's by `owner(user)` (the node
// that owns the user's partition: step 1 is local to it), the rest by `node`.
std::string Answers(Node& node, const std::function<Node&(const std::string&)>& owner) {
  std::string out;
  std::vector<RecommendRequest> requests;
  for (int u = 0; u < 40; u += 3) requests.push_back(Request("u" + std::to_string(u), 12));
  requests.push_back(Request("u4", 6, "c2"));
  requests.push_back(Request("u7", 6, "n1"));  // a category the ranking node never saw
  requests.push_back(Request("nobody", 8));
  RecommendRequest filtered = Request("u9", 8);
  filtered.filter.attributes.emplace_back("color", "red");
  requests.push_back(filtered);
  for (const RecommendRequest& r : requests) {
    const RecommendAnswer a = Wait<RecommendAnswer>([&](auto cb) { owner(r.user).recommender.Recommend(r, cb); });
    EXPECT_TRUE(a.status.ok()) << a.status.message();
    out += "R " + r.user + " " + r.category + "\n" + Format(a.items);
  }
  for (const std::string item : {"i0", "i3", "i11", "n2", "n5", "unknown"}) {
    const RankedSimilarAnswer a =
        Wait<RankedSimilarAnswer>([&](auto cb) { node.recommender.SimilarItemsRanked(item, 8, {}, cb); });
    EXPECT_TRUE(a.status.ok()) << a.status.message();
    out += "S " + item + " " + a.category + "\n" + Format(a.items);
  }
  std::vector<Offer> offers;
  for (int i = 0; i < 12; ++i) {
    offers.push_back({(i % 4 == 3 ? "n" : "i") + std::to_string(i * 2), "c" + std::to_string(i % 6), double(i % 3)});
  }
  offers.push_back({"n3", "n4", 1});
  for (const std::string user : {"u1", "u8", ""}) {
    Node& ranks = user.empty() ? node : owner(user);
    const OffersAnswer a = Wait<OffersAnswer>([&](auto cb) { ranks.recommender.RankOffers(user, offers, 6, cb); });
    EXPECT_TRUE(a.status.ok()) << a.status.message();
    out += "O " + user + "\n";
    char line[256];
    for (const RankedOffer& o : a.top) {
      std::snprintf(line, sizeof line, "%s %.9g %d %llu %llu %.9g\n", o.offer_id.c_str(), o.score, o.trending_rank,
                    static_cast<unsigned long long>(o.views), static_cast<unsigned long long>(o.conversions),
                    o.affinity);
      out += line;
    }
  }
  return out;
}

TEST(RecommenderNodesTest, TwoNodesRankAsOneEngineWithTheirPartitionsPartsAsStrings) {
  Node whole(0), a(37), b(91);
  const std::vector<std::string> first = Events(1, 3000, kT0, "i", 30, "c");
  ASSERT_NO_FATAL_FAILURE(Ingest(whole.parts, whole.ingest, first));
  ASSERT_NO_FATAL_FAILURE(Ingest(a.parts, a.ingest, first));
  ASSERT_NO_FATAL_FAILURE(Ingest(b.parts, b.ingest, first));
  // Later events of the users in b's partitions (2 and 3), of items and categories a has
  // never seen: only b (and the whole) get them.
  std::vector<std::string> later;
  for (const std::string& line : Events(2, 1500, kT0 + 3000 * 900, "n", 12, "n")) {
    const size_t at = line.find("\"userId\":\"");
    if (at == std::string::npos) continue;  // catalog records have no user: partition by item
    const std::string user = line.substr(at + 10, line.find('"', at + 10) - at - 10);
    if (b.parts.log->PartitionOfKey(user).value() >= 2) later.push_back(line);
  }
  ASSERT_GT(later.size(), 500u);
  ASSERT_NO_FATAL_FAILURE(Ingest(whole.parts, whole.ingest, later));
  ASSERT_NO_FATAL_FAILURE(Ingest(b.parts, b.ingest, later));
  ASSERT_EQ(a.parts.interners->items.Find("n2"), 0u);
  a.parts.clock.Observe(whole.parts.clock.newest_event_ms());  // a cluster read's round 1

  // a answers for partitions 0 and 1, b for 2 and 3 (its states of 0 and 1 are left out
  // of its answers, as a node's states of partitions it does not own).
  const auto gather = [&](std::string request, std::function<void(std::vector<NodeAnswer>)> done) {
    struct Gathered {
      std::mutex mu;
      std::vector<NodeAnswer> answers;
      std::function<void(std::vector<NodeAnswer>)> done;
    };
    auto g = std::make_shared<Gathered>();
    g->done = std::move(done);
    g->answers.resize(2);
    const auto ask = [&request, g](Node& node, size_t i, std::vector<uint32_t> partitions) {
      node.recommender.AnswerPart(request, partitions, [g, i, partitions](std::string response) {
        std::vector<NodeAnswer> all;
        {
          std::lock_guard lock(g->mu);
          g->answers[i] = NodeAnswer{Status::Ok(), i == 0 ? "a" : "b", partitions, std::move(response)};
          if (g->answers[0].node.empty() || g->answers[1].node.empty()) return;
          all = g->answers;
        }
        g->done(std::move(all));
      });
    };
    ask(a, 0, {0, 1});
    ask(b, 1, {2, 3});
  };
  a.recommender.GatherFromNodes(gather);
  b.recommender.GatherFromNodes(gather);
  const std::string want = Answers(whole, [&](const std::string&) -> Node& { return whole; });
  ASSERT_NE(want.find("\nn"), std::string::npos) << want;  // b's items are ranked
  ASSERT_NE(want.find("coview"), std::string::npos) << want;
  const auto owner = [&](const std::string& user) -> Node& {
    return a.parts.log->PartitionOfKey(user).value() < 2 ? a : b;
  };
  EXPECT_EQ(Answers(a, owner), want);
  EXPECT_EQ(Answers(b, owner), want);
}

TEST(RecommenderNodesTest, AMalformedOrFailedPartIsAnErrorNotAnAnswer) {
  Node a(0);
  ASSERT_NO_FATAL_FAILURE(Ingest(a.parts, a.ingest, Events(3, 400, kT0, "i", 20, "c")));
  std::string reply;
  a.recommender.AnswerPart("\x09garbage", {0}, [&](std::string r) { reply = std::move(r); });
  ASSERT_FALSE(reply.empty());
  EXPECT_EQ(reply[0], 0);  // refused, with why
  EXPECT_NE(reply.find("unknown ranking part request"), std::string::npos);
  // A node that answers with bytes that are no part, with a part of another shape than
  // asked (2 seed vectors for the user's 10 seeds), or not at all: 503s, not answers.
  const char kShape[] = "\x01\x01\x00\x00\x00\x00\x00\x02\xff\xff\xff\xff\x0f\xff\xff\xff\xff\x0f\x00";
  const std::pair<Status, std::string> answers[] = {
      {Status::Ok(), "\x01\x05zz"},
      {Status::Ok(), std::string(kShape, sizeof kShape - 1)},
      {Status::Unavailable("node b timed out"), ""}};
  for (const auto& answer : answers) {
    const Status& status = answer.first;
    a.recommender.GatherFromNodes([&answer](std::string, std::function<void(std::vector<NodeAnswer>)> done) {
      done({NodeAnswer{answer.first, "b", {0, 1, 2, 3}, answer.second}});
    });
    const RecommendAnswer r =
        Wait<RecommendAnswer>([&](auto cb) { a.recommender.Recommend(Request("u1", 5), cb); });
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status.message().find(status.ok() ? "could not be read" : "timed out"), std::string::npos)
        << r.status.message();
    EXPECT_TRUE(r.items.empty());
    const OffersAnswer o = Wait<OffersAnswer>(
        [&](auto cb) { a.recommender.RankOffers("u1", {{"i1", "c1", 1}}, 3, cb); });
    EXPECT_EQ(o.status.code(), StatusCode::kUnavailable);
    EXPECT_TRUE(o.top.empty());
    const RankedSimilarAnswer s =
        Wait<RankedSimilarAnswer>([&](auto cb) { a.recommender.SimilarItemsRanked("i1", 5, {}, cb); });
    EXPECT_EQ(s.status.code(), StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace eddy
