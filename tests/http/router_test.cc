#include "http/router.h"

#include <gtest/gtest.h>

#include <chrono>

#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "http/json_writer.h"
#include "ranker/experiments.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

TEST(BodyFormatTest, FromContentType) {
  EXPECT_EQ(BodyFormatFor("application/json"), BodyFormat::kAuto);
  EXPECT_EQ(BodyFormatFor("Application/JSON; charset=utf-8"), BodyFormat::kAuto);
  EXPECT_EQ(BodyFormatFor(""), BodyFormat::kAuto);
  EXPECT_EQ(BodyFormatFor("application/x-ndjson"), BodyFormat::kNdjson);
  EXPECT_EQ(BodyFormatFor("application/jsonl"), BodyFormat::kNdjson);
  EXPECT_FALSE(BodyFormatFor("application/x-www-form-urlencoded").has_value());
  EXPECT_FALSE(BodyFormatFor("text/plain").has_value());
}

// Money is printed exactly from its integer millionths.
TEST(JsonWriterTest, MicrosAreExactDecimals) {
  JsonWriter w;
  w.BeginArray();
  for (int64_t v : {int64_t{0}, int64_t{39'980'000}, int64_t{-1}, int64_t{5'000'000},
                    int64_t{1'000'050}, INT64_MIN, INT64_MAX}) {
    w.Micros(v);
  }
  w.EndArray();
  EXPECT_EQ(w.str(), "[0,39.98,-0.000001,5,1.00005,-9223372036854.775808,9223372036854.775807]");
}

class RouterTest : public ::testing::Test {
 protected:
  Response Call(http::verb verb, std::string target, std::string body = "",
                std::string content_type = "application/json") {
    Request req{verb, target, 11};
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    std::promise<Response> p;
    router_.Handle(req, *ctx_, [&](Response r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::unique_ptr<Engine> engine_ = std::move(Engine::Open(test::TestOptions())).value();
  std::unique_ptr<IngestContext> ctx_ = engine_->NewIngestContext();
  Router router_{*engine_, engine_->options().server, 1};
};

TEST_F(RouterTest, IngestAndRecent) {
  Response r = Call(http::verb::post, "/v1/events",
                    test::EventBuilder().User("a b").Type("view").Item("i1").Json());
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_EQ(r.body(), R"({"accepted":1,"duplicates":0,"rejected":[]})");
  Response g = Call(http::verb::get, "/v1/users/a%20b/recent?k=5");
  EXPECT_EQ(g.result(), http::status::ok);
  EXPECT_NE(g.body().find(R"("userId":"a b","items":[{"itemId":"i1")"), std::string::npos)
      << g.body();
}

// Replies are valid JSON always: an id that is not UTF-8 once decoded is refused, never
// echoed.
TEST_F(RouterTest, IdsInPathAndQueryMustBeUtf8) {
  for (const char* target : {"/v1/users/%FF/recent", "/v1/users/a%C3/affinity",
                             "/v1/items/%ED%A0%80/similar", "/v1/categories/%FE/velocity",
                             "/v1/items/popular?category=%FF", "/v1/recommendations?userId=%FF"}) {
    Response r = Call(http::verb::get, target);
    EXPECT_EQ(r.result(), http::status::bad_request) << target;
    EXPECT_NE(r.body().find("not valid UTF-8 once percent-decoded"), std::string::npos)
        << target << " " << r.body();
    EXPECT_EQ(r.body().find('\xFF'), std::string::npos) << target;
  }
  EXPECT_EQ(Call(http::verb::get, "/v1/users/caf%C3%A9/recent").result(), http::status::ok);
}

TEST_F(RouterTest, AllRejectedIs400WithTheRejections) {
  Response r = Call(http::verb::post, "/v1/events", R"({"userId":"u","type":"view"})");
  EXPECT_EQ(r.result(), http::status::bad_request);
  EXPECT_EQ(r.body(),
            R"({"error":"no event accepted: itemId: required for view events","accepted":0,)"
            R"("duplicates":0,"rejected":[{"index":0,"error":"itemId: required for view events"}]})");
}

TEST_F(RouterTest, SeedRoutesDefaultTheType) {
  Response r = Call(http::verb::post, "/v1/streaming/events/purchase",
                    R"({"customerId":"c","productId":"p","price":3})");
  EXPECT_EQ(r.result(), http::status::ok) << r.body();
  Response s = Call(http::verb::post, "/v1/streaming/events/segment-update",
                    R"({"customerId":"c","newSegment":"Loyal"})");
  EXPECT_EQ(s.result(), http::status::ok) << s.body();
  Response b = Call(http::verb::post, "/v1/streaming/events/batch",
                    R"([{"customerId":"c","productId":"p"},{"customerId":"c","newSegment":"X"}])");
  EXPECT_EQ(b.body(), R"({"accepted":2,"duplicates":0,"rejected":[]})");
}

TEST_F(RouterTest, ErrorStatuses) {
  EXPECT_EQ(Call(http::verb::post, "/v1/events", "{}", "text/csv").result(),
            http::status::unsupported_media_type);
  Response bad = Call(http::verb::post, "/v1/events", "[{\"userId\": }]");
  EXPECT_EQ(bad.result(), http::status::bad_request);
  EXPECT_NE(bad.body().find("\"detail\":{\"offset\":"), std::string::npos) << bad.body();
  Response nf = Call(http::verb::get, "/v2/nothing");
  EXPECT_EQ(nf.result(), http::status::not_found);
  EXPECT_EQ(nf.body(), R"({"error":"no route GET /v2/nothing"})");
  Response m = Call(http::verb::get, "/v1/events");
  EXPECT_EQ(m.result(), http::status::method_not_allowed);
  EXPECT_EQ(m[http::field::allow], "POST");
  EXPECT_EQ(Call(http::verb::get, "/v1/users/u/recent?k=0").result(), http::status::bad_request);
  EXPECT_EQ(Call(http::verb::get, "/v1/users/u/recent?k=51").body(),
            R"({"error":"k: must be an integer in [1, 50]"})");
  EXPECT_EQ(Call(http::verb::get, "/v1/users/%zz/recent").result(), http::status::bad_request);
}

TEST_F(RouterTest, TrendingAndVelocity) {
  for (const char* cat : {"shoes", "shoes", "hats"}) {
    ASSERT_EQ(Call(http::verb::post, "/v1/events",
                   test::EventBuilder().User("u").Type("click").Item("i").Category(cat).Json())
                  .result(),
              http::status::ok);
  }
  Response t = Call(http::verb::get, "/v1/trending/categories?window=1h&k=1");
  EXPECT_EQ(t.result(), http::status::ok) << t.body();
  EXPECT_NE(t.body().find(R"("window":"1h")"), std::string::npos) << t.body();
  EXPECT_NE(t.body().find(R"({"rank":1,"category":"shoes","score":6,"events":2,)"
                          R"("velocity":{"this_minute":2,"previous_minute":0,"change":2}})"),
            std::string::npos)
      << t.body();
  EXPECT_EQ(t.body().find("hats"), std::string::npos);  // k=1
  EXPECT_NE(Call(http::verb::get, "/v1/trending/categories?window=24h").body().find("hats"),
            std::string::npos);
  Response bad = Call(http::verb::get, "/v1/trending/categories?window=2h");
  EXPECT_EQ(bad.result(), http::status::bad_request);
  EXPECT_EQ(bad.body(),
            R"({"error":"window: must be one of the configured windows: 1h, 24h"})");
  Response v = Call(http::verb::get, "/v1/categories/shoes/velocity?minutes=3");
  EXPECT_EQ(v.result(), http::status::ok) << v.body();
  EXPECT_NE(v.body().find(R"("events":0},{"minute")"), std::string::npos) << v.body();
  EXPECT_NE(v.body().find(R"("events":2}])"), std::string::npos) << v.body();
  EXPECT_EQ(Call(http::verb::get, "/v1/categories/shoes/velocity?minutes=0").result(),
            http::status::bad_request);
  Response e = Call(http::verb::get, "/v1/items/i/engagement");
  EXPECT_EQ(e.result(), http::status::ok) << e.body();
  EXPECT_NE(e.body().find(R"("all_time":{"view":0,"click":3,)"), std::string::npos) << e.body();
  EXPECT_NE(e.body().find(R"("windows":{"1h":{"view":0,"click":3,)"), std::string::npos)
      << e.body();
  EXPECT_NE(e.body().find(R"("24h":{"view":0,"click":3,)"), std::string::npos) << e.body();
}

TEST_F(RouterTest, PopularAffinitySimilar) {
  const int64_t t = Clock::System()->Now().millis();  // recent: decayed scores are not ~0
  std::vector<std::string> evs = {
      test::EventBuilder().User("u").Type("view").Item("a").Category("shoes").Time(t).Json(),
      test::EventBuilder().User("u").Type("click").Item("b").Category("hats").Time(t).Json(),
      test::EventBuilder().User("u").Type("view").Item("a").Category("shoes").Time(t).Json()};
  ASSERT_EQ(Call(http::verb::post, "/v1/events", test::JsonArray(evs)).result(), http::status::ok);
  // Live clock: scores decay from the events' time to now, so check names and order.
  Response p = Call(http::verb::get, "/v1/items/popular?k=5");
  EXPECT_EQ(p.result(), http::status::ok) << p.body();
  EXPECT_NE(p.body().find(R"("items":[{"rank":1,"itemId":"b","score":)"), std::string::npos)
      << p.body();
  EXPECT_NE(p.body().find(R"({"rank":2,"itemId":"a","score":)"), std::string::npos) << p.body();
  Response pc = Call(http::verb::get, "/v1/items/popular?category=shoes&k=5");
  EXPECT_NE(pc.body().find(R"("category":"shoes","items":[{"rank":1,"itemId":"a",)"),
            std::string::npos)
      << pc.body();
  EXPECT_EQ(pc.body().find(R"("itemId":"b")"), std::string::npos) << pc.body();
  Response pw = Call(http::verb::get, "/v1/items/popular?window=1h");
  EXPECT_EQ(pw.result(), http::status::bad_request);
  EXPECT_NE(pw.body().find("popularity is not windowed"), std::string::npos) << pw.body();
  EXPECT_EQ(Call(http::verb::get, "/v1/items/popular?k=0").result(), http::status::bad_request);

  Response a = Call(http::verb::get, "/v1/users/u/affinity?k=1");
  EXPECT_EQ(a.result(), http::status::ok) << a.body();
  EXPECT_NE(a.body().find(R"("categories":[{"rank":1,"category":"hats","score":)"),
            std::string::npos)
      << a.body();
  EXPECT_EQ(a.body().find("shoes"), std::string::npos) << a.body();
  EXPECT_NE(Call(http::verb::get, "/v1/users/nobody/affinity").body().find(R"("categories":[])"),
            std::string::npos);

  Response s = Call(http::verb::get, "/v1/items/a/similar?k=3");
  EXPECT_EQ(s.result(), http::status::ok) << s.body();
  // a then b: one pair; b then a: a is b's latest other item, a second pair.
  EXPECT_NE(s.body().find(R"({"itemId":"a","category":"shoes","recommId":"r)"),
            std::string::npos)
      << s.body();
  EXPECT_NE(s.body().find(R"(","items":[{"rank":1,"itemId":"b","score":)"), std::string::npos)
      << s.body();
  EXPECT_NE(s.body().find(R"("category":"hats","count":2,"error":0,"source":"coview"}]})"),
            std::string::npos)
      << s.body();
  Response se = Call(http::verb::get, "/v1/items/a/similar?explain=true");
  EXPECT_NE(se.body().find(R"("signals":{"coview":{"raw":2,"normalised":1,"contribution":0.4})"),
            std::string::npos)
      << se.body();
  EXPECT_EQ(Call(http::verb::get, "/v1/items/a/similar?k=abc").result(), http::status::bad_request);
  EXPECT_EQ(Call(http::verb::post, "/v1/items/a/similar").result(),
            http::status::method_not_allowed);
}

TEST_F(RouterTest, RecommendationsAndTheirParameters) {
  const int64_t t = Clock::System()->Now().millis();
  std::vector<std::string> evs = {
      test::EventBuilder().User("u").Type("view").Item("a").Category("shoes").Price(20).Time(t).Json(),
      test::EventBuilder().User("u").Type("view").Item("b").Category("hats").Price(5).Time(t).Json()};
  ASSERT_EQ(Call(http::verb::post, "/v1/events", test::JsonArray(evs)).result(), http::status::ok);
  Response r = Call(http::verb::get, "/v1/recommendations?userId=u&k=5&maxPrice=10&explain=true");
  ASSERT_EQ(r.result(), http::status::ok) << r.body();
  EXPECT_NE(r.body().find(R"("items":[{"rank":1,"itemId":"b","score":)"), std::string::npos)
      << r.body();
  EXPECT_EQ(r.body().find(R"("itemId":"a")"), std::string::npos) << r.body();  // price 20 > 10
  EXPECT_NE(r.body().find(R"("price":5,"source":"recent+coview+popular+affinity","signals":{)"),
            std::string::npos)
      << r.body();

  struct Bad {
    std::string target, error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"/v1/recommendations", "userId: required"},
           {"/v1/recommendations?userId=", "userId: must be a percent-encoded string of 1-128 bytes"},
           {"/v1/recommendations?userId=u&k=0", "k: must be an integer in [1, 1000]"},
           {"/v1/recommendations?userId=u&minPrice=-1", "minPrice: must be a number in [0, 1e12]"},
           {"/v1/recommendations?userId=u&maxPrice=x", "maxPrice: must be a number in [0, 1e12]"},
           {"/v1/recommendations?userId=u&minPrice=5&maxPrice=4", "minPrice: must not exceed maxPrice"},
           {"/v1/recommendations?userId=u&explain=yes", "explain: must be true or false"},
           {"/v1/recommendations?userId=u&variant=A", "variant: no experiment is running"}}) {
    Response bad = Call(http::verb::get, b.target);
    EXPECT_EQ(bad.result(), http::status::bad_request) << b.target;
    EXPECT_EQ(bad.body(), R"({"error":")" + b.error + R"("})") << b.target;
  }
  EXPECT_EQ(Call(http::verb::post, "/v1/recommendations?userId=u").result(),
            http::status::method_not_allowed);
  // Every answer has its own id; no experiment, no variant.
  EXPECT_NE(r.body().find(R"("recommId":"r)"), std::string::npos) << r.body();
  EXPECT_EQ(r.body().find(R"("variant")"), std::string::npos) << r.body();
}

// Under a running experiment: the answer names it and the user's variant; ?variant=
// forces another (a variant of another experiment, or none, is an error).
// Test options with one experiment, "exp1", whose variants share the users evenly.
Options WithExperiment(const std::vector<std::string>& variants) {
  Options o = test::TestOptions();
  Experiment e;
  e.name = "exp1";
  e.salt = "exp1";
  for (const std::string& name : variants) {
    ExperimentVariant v;
    v.name = name;
    v.share = 1.0 / static_cast<double>(variants.size());
    v.ranking = o.ranking;
    e.variants.push_back(v);
  }
  o.experiments.push_back(e);
  return o;
}

TEST(RouterExperimentTest, AnswersNameTheExperimentAndVariantWhichMayBeForced) {
  const Options o = WithExperiment({"A", "B"});
  const Experiment& e = o.experiments.front();
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  Router router{*engine, engine->options().server, 1};
  const auto call = [&](const std::string& target, std::string body = "") {
    Request req{body.empty() ? http::verb::get : http::verb::post, target, 11};
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    std::promise<Response> p;
    router.Handle(req, *ctx, [&](Response r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  const std::string own = e.variants[ranker::VariantOf(e, "u")].name;
  const std::string other = own == "A" ? "B" : "A";
  Response r = call("/v1/recommendations?userId=u");
  ASSERT_EQ(r.result(), http::status::ok) << r.body();
  EXPECT_NE(r.body().find(R"("experiment":"exp1","variant":")" + own + R"(")"), std::string::npos) << r.body();
  Response forced = call("/v1/recommendations?userId=u&variant=" + other);
  ASSERT_EQ(forced.result(), http::status::ok) << forced.body();
  EXPECT_NE(forced.body().find(R"("variant":")" + other + R"(")"), std::string::npos) << forced.body();
  Response bad = call("/v1/recommendations?userId=u&variant=C");
  EXPECT_EQ(bad.result(), http::status::bad_request);
  EXPECT_EQ(bad.body(), R"j({"error":"variant: not a variant of experiment \"exp1\" (its variants: A, B)"})j");
  // Offers name the user's variant too; every answer has its own id.
  Response offers = call("/v1/offers/rank", R"({"userId":"u","offers":[{"offerId":"o1"}]})");
  ASSERT_EQ(offers.result(), http::status::ok) << offers.body();
  EXPECT_NE(offers.body().find(R"(","experiment":"exp1","variant":")" + own + R"(","offers":[)"),
            std::string::npos) << offers.body();
  std::set<std::string> ids;
  for (const Response* a : {&r, &forced, &offers}) {
    const size_t at = a->body().find(R"("recommId":")");
    ASSERT_NE(at, std::string::npos) << a->body();
    EXPECT_TRUE(ids.insert(a->body().substr(at + 12, 25)).second) << a->body();
  }
}

// An answer the server gave up on (its claim's deadline passed, or the server's sweep
// answered 503 first) is not recorded as served under the experiment; one it sends is.
TEST(RouterExperimentTest, AnAnswerGivenUpOnIsNotRecordedAsServed) {
  auto engine = std::move(Engine::Open(WithExperiment({"A"}))).value();
  auto ctx = engine->NewIngestContext();
  for (const char* item : {"i1", "i2", "i3"}) {
    ASSERT_EQ(engine->IngestSync(*ctx, test::EventBuilder().User("v").Type("view").Item(item).Json()).accepted, 1u);
  }
  Router router{*engine, engine->options().server, 1};
  const auto recommend = [&](std::shared_ptr<AnswerClaim> claim) {
    Request req{http::verb::get, "/v1/recommendations?userId=u", 11};
    std::promise<Response> p;
    router.Handle(req, *ctx, Respond([&](Response r) { p.set_value(std::move(r)); }, std::move(claim)));
    Response r = p.get_future().get();
    EXPECT_EQ(r.result(), http::status::ok) << r.body();
    EXPECT_NE(r.body().find(R"("itemId":"i1")"), std::string::npos) << r.body();
  };
  const auto past = std::make_shared<AnswerClaim>(AnswerClaim::Clock::now() - std::chrono::milliseconds(1));
  recommend(past);
  EXPECT_FALSE(past->Answer());  // given up by its deadline: the server answers 503
  const auto given_up = std::make_shared<AnswerClaim>();
  ASSERT_TRUE(given_up->GiveUp());  // the sweep came first
  recommend(given_up);
  const auto fresh = std::make_shared<AnswerClaim>(AnswerClaim::Clock::now() + std::chrono::hours(1));
  recommend(fresh);
  EXPECT_FALSE(fresh->GiveUp());  // answered: too late to give up
  recommend(nullptr);             // no claim (in process): recorded
  // Each call returned after its answer was (or was not) recorded, all in user u's
  // partition: once the last is counted, every earlier one recorded would be too.
  const auto served = [&] {
    Request req{http::verb::get, "/v1/experiments/exp1", 11};
    std::promise<Response> p;
    router.Handle(req, *ctx, [&](Response r) { p.set_value(std::move(r)); });
    const std::string body = p.get_future().get().body();
    const size_t at = body.find(R"("served":)");
    return at == std::string::npos ? uint64_t{0} : std::strtoull(body.c_str() + at + 9, nullptr, 10);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (served() < 2 && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(served(), 2u);
}

TEST_F(RouterTest, OffersAndTheirErrors) {
  Response r = Call(http::verb::post, "/v1/offers/rank",
                    R"({"userId":"u","k":1,"offers":[{"offerId":"A","category":"fashion","priority":90},)"
                    R"({"offer_id":"B","category":"electronics","priority":85}]})");
  ASSERT_EQ(r.result(), http::status::ok) << r.body();
  EXPECT_NE(r.body().find(R"("offers":[{"rank":1,"offerId":"A","category":"fashion","score":)"),
            std::string::npos)
      << r.body();
  EXPECT_NE(r.body().find(R"("breakdown":{"priority":90,"trending":0,"affinity":0,"bandit":)"),
            std::string::npos)
      << r.body();
  EXPECT_EQ(r.body().find(R"("offerId":"B")"), std::string::npos) << r.body();  // k = 1
  struct Bad {
    std::string body, error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"[", "body: not valid JSON"},
           {"[]", "body: must be a JSON object"},
           {R"({"userId":"u"})", "offers: required"},
           {R"({"offers":[]})", "offers: must be an array of 1-1000 offers"},
           {R"({"offers":[{"category":"x"}]})", "offers[0].offerId: required"},
           {R"({"offers":[{"offerId":"a"},{"offerId":7}]})", "offers[1].offerId: must be a string of 1-128 bytes"},
           {R"({"offers":[{"offerId":"a","priority":"high"}]})", "offers[0].priority: must be a number in [-1e9, 1e9]"},
           {R"({"offers":[{"offerId":"a","colour":"red"}]})", "offers[0]: unknown field 'colour' (known: offerId, category, priority)"},
           {R"({"offers":[{"offerId":"a"}],"k":0})", "k: must be an integer in [1, 1000]"},
           {R"({"offers":[{"offerId":"a"}],"user":"u"})", "unknown field 'user' (known: userId, offers, k)"},
           {R"({"offers":[{"offerId":"a"}],"offers":[{"offerId":"b"}]})", "offers: given twice"},
           {R"({"offers":[{"offerId":"a","id":"b"}]})", "offers[0].offerId: given twice"}}) {
    Response bad = Call(http::verb::post, "/v1/offers/rank", b.body);
    EXPECT_EQ(bad.result(), http::status::bad_request) << b.body;
    EXPECT_EQ(bad.body(), R"({"error":")" + b.error + R"("})") << b.body;
  }
  EXPECT_EQ(Call(http::verb::get, "/v1/offers/rank").result(), http::status::method_not_allowed);
}

TEST_F(RouterTest, SessionsFunnelRevenue) {
  const int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count() - 120'000;
  const std::vector<std::string> events = {
      test::EventBuilder().User("u1").Type("view").Item("i1").Category("c1").Time(t0).Json(),
      test::EventBuilder().User("u1").Type("add_to_cart").Item("i1").Category("c1")
          .Time(t0 + 1000).Json(),
      test::EventBuilder().User("u1").Type("purchase").Item("i1").Category("c1")
          .Time(t0 + 2000).Raw("price", "19.99").Raw("quantity", "2").Str("orderId", "o1").Json(),
      test::EventBuilder().User("u2").Type("purchase").Item("i2").Time(t0).Raw("price", "5")
          .Json(),
  };
  ASSERT_EQ(Call(http::verb::post, "/v1/events", test::Ndjson(events), "application/x-ndjson")
                .result(),
            http::status::ok);
  Response s = Call(http::verb::get, "/v1/users/u1/sessions?k=5");
  EXPECT_EQ(s.result(), http::status::ok);
  for (const std::string& part :
       {"\"sessionId\":\"auto-" + std::to_string(t0) + "\"", std::string("\"source\":\"gap\""),
        std::string("\"duration_ms\":2000,\"open\":true"),
        std::string("\"counts\":{\"view\":1,\"add_to_cart\":1,\"purchase\":1},\"events\":3"),
        std::string("\"page_views\":1,\"items\":[\"i1\"],\"converted\":true,\"revenue\":39.98")}) {
    EXPECT_NE(s.body().find(part), std::string::npos) << part << " in " << s.body();
  }
  Response f = Call(http::verb::get, "/v1/analytics/funnel?window=1h");
  EXPECT_EQ(f.result(), http::status::ok);
  EXPECT_NE(f.body().find("\"sessions\":2,\"viewed\":1,\"carted\":1,\"purchased\":1,"
                          "\"rates\":{\"view_to_cart\":1,\"cart_to_purchase\":1,"
                          "\"view_to_purchase\":1}"),
            std::string::npos)
      << f.body();
  Response fc = Call(http::verb::get, "/v1/analytics/funnel?window=30m&category=c2");
  EXPECT_NE(fc.body().find("\"sessions\":0,\"viewed\":0,\"carted\":0,\"purchased\":0,"
                           "\"rates\":{\"view_to_cart\":null"),
            std::string::npos)
      << fc.body();
  const std::string range =
      "&from=" + std::to_string(t0 - 3'600'000) + "&to=" + std::to_string(t0 + 3'600'000);
  Response r = Call(http::verb::get, "/v1/analytics/revenue?window=5m" + range);
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_NE(r.body().find("\"total\":{\"start\":"), std::string::npos) << r.body();
  EXPECT_NE(r.body().find("\"orders\":2,\"priced_orders\":2,\"units\":3,\"revenue\":44.98,"
                          "\"average_order_value\":22.49,\"unpriced\":0,\"cancelled\":0"),
            std::string::npos)
      << r.body();
  Response rc = Call(http::verb::get, "/v1/analytics/revenue?window=1h&category=c1" + range);
  EXPECT_NE(rc.body().find("\"orders\":1,\"priced_orders\":1,\"units\":2,\"revenue\":39.98"),
            std::string::npos)
      << rc.body();
  const std::pair<std::string, std::string> bad[] = {
      {"/v1/analytics/revenue?window=2m", "window: must be one of revenue.windows: 5m, 1h"},
      {"/v1/analytics/revenue?from=2026-01-01T00:00:00Z",
       "from, to: give both, or neither (the last 12 windows)"},
      {"/v1/analytics/revenue?from=2000&to=1000", "to: must be after from"},
      {"/v1/analytics/revenue?from=x&to=1000",
       "from: must be an ISO-8601 time or epoch seconds or milliseconds"},
      {"/v1/analytics/revenue?window=5m&from=0&to=9000000000000",
       "from, to: the range holds more than 10000 windows"},
      {"/v1/analytics/funnel?window=8d",
       "window: must be a duration such as 30m, 1h or 7d, at most sessions.funnel_retention (7d)"},
      {"/v1/users/u1/sessions?k=0", "k: "},
  };
  for (const auto& [target, error] : bad) {
    Response b = Call(http::verb::get, target);
    EXPECT_EQ(b.result(), http::status::bad_request) << target;
    EXPECT_NE(b.body().find(error), std::string::npos) << target << " " << b.body();
  }
}

TEST_F(RouterTest, ItemCatalogRoutes) {
  Response put = Call(http::verb::put, "/v1/items/sku%201",
                      R"({"category":"shoes","price":19.99,"stock":5,"lowStockThreshold":2,)"
                      R"("attributes":{"size":42,"color":"red"}})");
  EXPECT_EQ(put.result(), http::status::ok) << put.body();
  EXPECT_EQ(put.body(), R"({"accepted":1,"duplicates":0,"rejected":[]})");
  Response get = Call(http::verb::get, "/v1/items/sku%201");
  EXPECT_EQ(get.result(), http::status::ok);
  EXPECT_NE(get.body().find(R"({"itemId":"sku 1","catalog":{"deleted":false,"hidden":false,)"
                            R"("category":"shoes","price":19.99,"stock":5,"lowStockThreshold":2,)"
                            R"("attributes":{"color":"red","size":42},"updated":)"),
            std::string::npos)
      << get.body();
  EXPECT_NE(get.body().find(R"("engagement":{"now":)"), std::string::npos) << get.body();
  // PATCH changes only what it names.
  ASSERT_EQ(Call(http::verb::patch, "/v1/items/sku%201", R"({"price":"bad"})").result(),
            http::status::bad_request);
  ASSERT_EQ(Call(http::verb::patch, "/v1/items/sku%201", R"( { "price": 7, "hidden": true })")
                .result(),
            http::status::ok);
  get = Call(http::verb::get, "/v1/items/sku%201");
  EXPECT_NE(get.body().find(R"("hidden":true,"category":"shoes","price":7,"stock":5)"),
            std::string::npos)
      << get.body();
  ASSERT_EQ(Call(http::verb::delete_, "/v1/items/sku%201").result(), http::status::ok);
  get = Call(http::verb::get, "/v1/items/sku%201");
  EXPECT_NE(get.body().find(R"("catalog":{"deleted":true)"), std::string::npos) << get.body();
  // Bulk: NDJSON of items, per-item errors.
  Response bulk = Call(http::verb::post, "/v1/items",
                       "{\"itemId\":\"a\",\"category\":\"c\"}\n"
                       "{\"itemId\":\"b\",\"price\":-1}\n"
                       "{\"itemId\":\"c\",\"type\":\"catalog_delete\"}\n",
                       "application/x-ndjson");
  EXPECT_EQ(bulk.result(), http::status::ok);
  EXPECT_NE(bulk.body().find(R"("accepted":2)"), std::string::npos) << bulk.body();
  EXPECT_NE(bulk.body().find(R"({"index":1,"error":"price: )"), std::string::npos) << bulk.body();
  EXPECT_NE(Call(http::verb::get, "/v1/items/a").body().find(R"("category":"c")"),
            std::string::npos);
  EXPECT_EQ(Call(http::verb::get, "/v1/items/popular").result(), http::status::ok);
  const std::pair<Response, std::string> bad[] = {
      {Call(http::verb::put, "/v1/items/x", "[1]"), "body: must be one JSON object"},
      {Call(http::verb::put, "/v1/items/x", R"({"itemId":"y"})"),
       "itemId: differs from the item in the path"},
      {Call(http::verb::put, "/v1/items/x", R"({"type":"view"})"), "type: not allowed here"},
      {Call(http::verb::put, "/v1/items/popular", "{}"), "itemId: 'popular' is reserved"},
      {Call(http::verb::put, "/v1/items/x", R"({"behavior":"catalog_delete"})"),
       "behavior: not allowed here"},
      {Call(http::verb::patch, "/v1/items/x", R"({"eventType":"purchase","userId":"u"})"),
       "eventType: not allowed here"},
      {Call(http::verb::post, "/v1/items", R"({"itemId":"x","type":"purchase","userId":"u"})"),
       "type: must be catalog_put, catalog_patch or catalog_delete on /v1/items"},
      {Call(http::verb::post, "/v1/items", R"({"itemId":"x","attributes":{"color":"\q"}})"),
       "attributes.color: must be a string or a number"},
      {Call(http::verb::put, "/v1/items/x", R"({"attributes":{"a":[1]}})"),
       "attributes.a: must be a string or a number"},
  };
  for (const auto& [r, error] : bad) {
    EXPECT_EQ(r.result(), http::status::bad_request) << error;
    EXPECT_NE(r.body().find(error), std::string::npos) << r.body();
  }
  EXPECT_EQ(Call(http::verb::get, "/v1/items/unknown").result(), http::status::not_found);
  Response wrong = Call(http::verb::post, "/v1/items/x");
  EXPECT_EQ(wrong.result(), http::status::method_not_allowed);
  EXPECT_EQ(wrong[http::field::allow], "GET, PUT, PATCH, DELETE");
}

TEST_F(RouterTest, HealthReadyStatus) {
  EXPECT_EQ(Call(http::verb::get, "/healthz").body(), R"({"status":"ok"})");
  EXPECT_EQ(Call(http::verb::get, "/readyz").result(), http::status::ok);
  Response s = Call(http::verb::get, "/v1/stream/status");
  EXPECT_EQ(s.result(), http::status::ok);
  EXPECT_NE(s.body().find("\"partitions\":4"), std::string::npos) << s.body();
  for (const char* agg : {"recent", "dedup", "trending", "engagement", "popularity", "affinity",
                          "coview"}) {
    EXPECT_NE(s.body().find("\"" + std::string(agg) + "\":{\"keys\":"), std::string::npos) << agg;
  }
  EXPECT_NE(s.body().find("\"total_bytes\":"), std::string::npos) << s.body();
  engine_->Stop();
  EXPECT_EQ(Call(http::verb::get, "/readyz").result(), http::status::service_unavailable);
  Response r = Call(http::verb::post, "/v1/events",
                    test::EventBuilder().User("u").Type("view").Item("i").Json());
  EXPECT_EQ(r.result(), http::status::service_unavailable);
  EXPECT_FALSE(r.keep_alive());
}

TEST_F(RouterTest, InventoryLowStockAndAlertRoutes) {
  ASSERT_EQ(Call(http::verb::put, "/v1/items/sku",
                 R"({"stock":3,"lowStockThreshold":2,"timestamp":1700000000000})")
                .result(),
            http::status::ok);
  ASSERT_EQ(Call(http::verb::post, "/v1/events",
                 R"({"userId":"u","type":"purchase","itemId":"sku","quantity":2,"timestamp":1700000060000})")
                .result(),
            http::status::ok);
  Response inv = Call(http::verb::get, "/v1/items/sku/inventory");
  ASSERT_EQ(inv.result(), http::status::ok) << inv.body();
  // (The live clock is years after the sale: none in the velocity window.)
  EXPECT_NE(inv.body().find(R"("stock":1,"oversold":0,"soldInWindow":0,"windowDays":7)"),
            std::string::npos)
      << inv.body();
  EXPECT_NE(inv.body().find(R"("threshold":2,"low":true)"), std::string::npos) << inv.body();
  Response none = Call(http::verb::get, "/v1/items/nothing/inventory");
  EXPECT_EQ(none.result(), http::status::not_found);
  EXPECT_NE(none.body().find("no stock given and no sale seen"), std::string::npos);

  Response low = Call(http::verb::get, "/v1/inventory/low?k=5");
  EXPECT_NE(low.body().find(R"("items":[{"itemId":"sku","stock":1,"threshold":2,)"
                            R"("since":"2023-11-14T22:14:20.000Z"}]})"),
            std::string::npos)
      << low.body();
  EXPECT_EQ(Call(http::verb::get, "/v1/inventory/low?k=0").result(), http::status::bad_request);

  Response alerts = Call(http::verb::get, "/v1/alerts?kind=inventory&since=2023-11-14T22:00:00Z");
  EXPECT_EQ(alerts.body(),
            R"({"alerts":[{"id":"inventory-sku-1700000060000-1","kind":"inventory","itemId":"sku",)"
            R"("time":"2023-11-14T22:14:20.000Z","active":true,"cleared":null,"stock":1,)"
            R"("threshold":2,"message":"stock of sku fell to 1, below its threshold 2"}]})");
  EXPECT_EQ(Call(http::verb::get, "/v1/alerts?since=2023-11-14T23:00:00Z").body(), R"({"alerts":[]})");
  EXPECT_EQ(Call(http::verb::get, "/v1/alerts?kind=fraud").body(), R"({"alerts":[]})");
  Response kind = Call(http::verb::get, "/v1/alerts?kind=weather");
  EXPECT_EQ(kind.result(), http::status::bad_request);
  EXPECT_NE(kind.body().find("kind: must be inventory, fraud, anomaly or insight"), std::string::npos);
  EXPECT_EQ(Call(http::verb::get, "/v1/alerts?since=yesterday").result(), http::status::bad_request);
  EXPECT_EQ(Call(http::verb::get, "/v1/alerts?k=1001").result(), http::status::bad_request);
  EXPECT_EQ(Call(http::verb::post, "/v1/alerts").result(), http::status::method_not_allowed);
  EXPECT_EQ(Call(http::verb::post, "/v1/alerts/stream").result(), http::status::method_not_allowed);
  EXPECT_EQ(Call(http::verb::delete_, "/v1/items/sku/inventory").result(),
            http::status::method_not_allowed);
}

// The fraud and insight routes, and seed 002's: the segment-update body of seeds/002 feeds
// the insights, /v1/streaming/insights/{id} answers as /v1/users/{id}/insights, and
// /v1/streaming/stream/status as /v1/stream/status.
TEST_F(RouterTest, FraudInsightAndSeed002Routes) {
  ASSERT_EQ(Call(http::verb::post, "/v1/streaming/events/segment-update",
                 R"({"customerId":"customer-123","previousSegment":"New Customer",)"
                 R"("newSegment":"Potential Loyalist","segmentationScore":0.85,)"
                 R"("reasonCodes":["high_value_customer"],"timestamp":"2025-01-19T10:30:00Z",)"
                 R"("confidence":0.85,"modelVersion":"v1.0"})")
                .result(),
            http::status::ok);
  ASSERT_EQ(Call(http::verb::post, "/v1/streaming/events/purchase",
                 R"({"customerId":"customer-123","productId":"product-456","productCategory":"beverages",)"
                 R"("quantity":2,"price":24.99,"totalAmount":49.98,"timestamp":"2025-01-19T10:31:00Z",)"
                 R"("orderId":"o-1","ip":"10.1.2.3","location":"Store A"})")
                .result(),
            http::status::ok);
  Response native = Call(http::verb::get, "/v1/users/customer-123/insights?hours=0");
  ASSERT_EQ(native.result(), http::status::ok) << native.body();
  EXPECT_NE(native.body().find(R"("customer":true,"segment":)"), std::string::npos) << native.body();
  EXPECT_NE(native.body().find(R"("producerSegment":"Potential Loyalist","orders":1,"spend":49.98)"),
            std::string::npos)
      << native.body();
  EXPECT_NE(native.body().find(R"({"type":"segment_migration","priority":"low",)"
                               R"("time":"2025-01-19T10:30:00.000Z","from":null,)"
                               R"("to":"Potential Loyalist","source":"producer"})"),
            std::string::npos)
      << native.body();
  Response seed = Call(http::verb::get, "/v1/streaming/insights/customer-123?hours=0");
  // The same answer but for "now" (the live clock moves between the two reads).
  const auto without_now = [](std::string body) {
    const size_t at = body.find("\"now\":\"");
    return at == std::string::npos ? body : body.erase(at, body.find('"', at + 7) + 2 - at);
  };
  EXPECT_EQ(without_now(seed.body()), without_now(native.body()));
  EXPECT_NE(without_now(seed.body()).find(R"({"userId":"customer-123","customer":true,)"),
            std::string::npos)
      << without_now(seed.body());
  EXPECT_EQ(Call(http::verb::get, "/v1/users/customer-123/insights?hours=-1").result(),
            http::status::bad_request);
  const std::string status = Call(http::verb::get, "/v1/stream/status").body();
  const std::string seed_status = Call(http::verb::get, "/v1/streaming/stream/status").body();
  EXPECT_EQ(seed_status.substr(0, seed_status.find("\"events_per_second_10s\"")),
            status.substr(0, status.find("\"events_per_second_10s\"")));
  EXPECT_NE(status.find("\"filtered_total\":0"), std::string::npos) << status;

  Response order = Call(http::verb::get, "/v1/orders/o-1/fraud");
  ASSERT_EQ(order.result(), http::status::ok) << order.body();
  EXPECT_NE(order.body().find(R"("orderId":"o-1","userId":"customer-123",)"), std::string::npos)
      << order.body();
  // (A minute after the visit began with the segment update: no instant checkout.)
  EXPECT_NE(order.body().find(R"("value":49.98,"lines":1,"score":0,"alerted":false,)"
                              R"("reasons":[],"ipOrders":1,"userOrders":1,"newUser":true})"),
            std::string::npos)
      << order.body();
  Response none = Call(http::verb::get, "/v1/orders/o-2/fraud");
  EXPECT_EQ(none.result(), http::status::not_found);
  EXPECT_NE(none.body().find("order o-2: no score"), std::string::npos);
  Response user = Call(http::verb::get, "/v1/users/customer-123/fraud?k=1");
  EXPECT_NE(user.body().find(R"({"userId":"customer-123","tracked":true,"bot":false,"flagged":false,)"
                             R"("marked":null,"firstSeen":"2025-01-19T10:30:00.000Z","orders":1,)"),
            std::string::npos)
      << user.body();
  EXPECT_EQ(Call(http::verb::get, "/v1/users/customer-123/fraud?k=0").result(), http::status::bad_request);
  EXPECT_NE(Call(http::verb::get, "/v1/users/nobody/fraud").body().find(R"("tracked":false)"),
            std::string::npos);
}

}  // namespace
}  // namespace eddy
