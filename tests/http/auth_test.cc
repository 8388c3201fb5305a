// Auth, rate limits and CORS on a live in-process server: every route × credential ×
// scope, JWT claims, token buckets per client, preflights.
#include <gtest/gtest.h>
#include <jwt.h>

#include <ctime>
#include <set>

#include "http/auth.h"
#include "http/router.h"
#include "http/server.h"
#include "testutil/http_client.h"
#include "testutil/served.h"
#include "testutil/sse_client.h"
#include "testutil/testutil.h"

namespace eddy {
namespace {

constexpr char kSecret[] = "an HS256 secret of at least 32 bytes, for tests";

using test::Served;

ApiKey Key(std::string id, uint8_t scopes, const std::string& secret) {
  return ApiKey{std::move(id), scopes, Sha256Hex(secret)};
}

Options AuthOptions() {
  Options o = test::TestOptions(2, 1);
  o.server.port = 0;
  o.auth.enabled = true;
  o.auth.keys = {Key("reader", kScopeRead, "reader-secret"), Key("writer", kScopeIngest, "writer-secret"),
                 Key("ops", kScopeAdmin, "ops-secret"),
                 Key("all", kScopeRead | kScopeIngest | kScopeAdmin, "all-secret")};
  o.auth.jwt_secret = kSecret;
  return o;
}

struct Claims {
  std::string scope = "read ingest admin";
  std::string aud = "eddy";
  std::string sub = "alice";
  std::optional<long> exp = std::time(nullptr) + 3600;
  std::optional<long> nbf = std::nullopt;
  std::string secret = kSecret;
  jwt_alg_t alg = JWT_ALG_HS256;
};

std::string Jwt(const Claims& c) {
  jwt_t* j = nullptr;
  jwt_new(&j);
  if (!c.scope.empty()) jwt_add_grant(j, "scope", c.scope.c_str());
  if (!c.aud.empty()) jwt_add_grant(j, "aud", c.aud.c_str());
  jwt_add_grant(j, "sub", c.sub.c_str());
  if (c.exp) jwt_add_grant_int(j, "exp", *c.exp);
  if (c.nbf) jwt_add_grant_int(j, "nbf", *c.nbf);
  jwt_set_alg(j, c.alg, reinterpret_cast<const unsigned char*>(c.secret.data()),
              c.alg == JWT_ALG_NONE ? 0 : static_cast<int>(c.secret.size()));
  char* s = jwt_encode_str(j);
  std::string out = s != nullptr ? s : "";
  free(s);
  jwt_free(j);
  return out;
}

struct Call {
  std::string method, target, body;
  Scope scope;
};

// One request per route (the test checks below that these cover every route).
std::vector<Call> EveryRoute() {
  const std::string ev = test::EventBuilder().User("u").Type("view").Item("i").Json();
  return {
      {"GET", "/", "", Scope::kOpen},  // the dashboard page
      {"GET", "/v1/dashboard/stream", "", Scope::kRead},  // a stream: refusals only, below
      {"GET", "/healthz", "", Scope::kOpen},
      {"GET", "/readyz", "", Scope::kOpen},
      {"POST", "/v1/events", ev, Scope::kIngest},
      {"POST", "/v1/streaming/events/purchase", R"({"userId":"u","itemId":"i","price":3})", Scope::kIngest},
      {"POST", "/v1/streaming/events/batch", "[" + ev + "]", Scope::kIngest},
      {"POST", "/v1/streaming/events/segment-update", R"({"userId":"u","newSegment":"vip"})", Scope::kIngest},
      {"POST", "/v1/items", R"({"itemId":"i","category":"c"})", Scope::kIngest},
      {"PUT", "/v1/items/i", R"({"category":"c"})", Scope::kIngest},
      // An item id that is also a route's path: still a catalog write.
      {"DELETE", "/v1/items/popular", "", Scope::kIngest},
      {"POST", "/v1/admin/checkpoint", "", Scope::kAdmin},
      {"POST", "/v1/admin/reload", "", Scope::kAdmin},  // no reloader in process: 503
      {"GET", "/metrics", "", Scope::kRead},
      {"GET", "/v1/stream/status", "", Scope::kRead},
      {"GET", "/v1/recommendations?userId=u", "", Scope::kRead},
      {"POST", "/v1/offers/rank", R"({"userId":"u","offers":[{"offerId":"o"}]})", Scope::kRead},
      {"GET", "/v1/experiments", "", Scope::kRead},
      {"GET", "/v1/experiments/e", "", Scope::kRead},
      {"POST", "/v1/admin/experiments/e/reallocate", "", Scope::kAdmin},
      {"GET", "/v1/items/popular", "", Scope::kRead},
      {"GET", "/v1/trending/categories", "", Scope::kRead},
      {"GET", "/v1/categories/c/velocity", "", Scope::kRead},
      {"GET", "/v1/items/i/engagement", "", Scope::kRead},
      {"GET", "/v1/items/i/similar", "", Scope::kRead},
      {"GET", "/v1/users/u/recent", "", Scope::kRead},
      {"GET", "/v1/users/u/affinity", "", Scope::kRead},
      {"GET", "/v1/items/i", "", Scope::kRead},
      {"GET", "/v1/users/u/sessions", "", Scope::kRead},
      {"GET", "/v1/users/u/fraud", "", Scope::kRead},
      {"GET", "/v1/users/u/insights", "", Scope::kRead},
      {"GET", "/v1/streaming/insights/u", "", Scope::kRead},
      {"GET", "/v1/streaming/stream/status", "", Scope::kRead},
      {"GET", "/v1/orders/o/fraud", "", Scope::kRead},
      {"GET", "/v1/analytics/funnel", "", Scope::kRead},
      {"GET", "/v1/analytics/revenue", "", Scope::kRead},
      {"GET", "/v1/items/i/inventory", "", Scope::kRead},
      {"GET", "/v1/inventory/low", "", Scope::kRead},
      {"GET", "/v1/alerts", "", Scope::kRead},
      {"GET", "/v1/alerts/stream", "", Scope::kRead},  // a stream: refusals only, below
  };
}

TEST(AuthTest, Sha256HexIsTheStandardDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, TheRouteTableCoversEveryRouteWithItsScope) {
  std::set<uint16_t> seen;
  for (const Call& c : EveryRoute()) {
    const RouteMatch m = Router::Match(http::string_to_verb(c.method), c.target);
    EXPECT_NE(m.label, 0) << c.target;
    EXPECT_EQ(m.scope, c.scope) << c.method << " " << c.target;
    seen.insert(m.label);
  }
  for (size_t l = 1; l < Router::RouteLabels().size(); ++l) {
    EXPECT_TRUE(seen.count(static_cast<uint16_t>(l))) << "untested route " << Router::RouteLabels()[l];
  }
}

TEST(AuthTest, EveryRouteTimesEveryCredentialAndScope) {
  Served s(AuthOptions());
  struct Credential {
    std::string name, header, value;
    uint8_t scopes;  // 0xff: refused (401) whatever the route
  };
  const std::vector<Credential> credentials = {
      {"none", "", "", 0xff},
      {"unknown key", "Authorization", "Bearer not-a-key", 0xff},
      {"reader", "Authorization", "Bearer reader-secret", kScopeRead},
      {"writer (X-API-Key)", "X-API-Key", "writer-secret", kScopeIngest},
      {"ops", "Authorization", "Bearer ops-secret", kScopeAdmin},
      {"all", "Authorization", "Bearer all-secret", kScopeRead | kScopeIngest | kScopeAdmin},
      {"jwt read", "Authorization", "Bearer " + Jwt({.scope = "read"}), kScopeRead},
      {"jwt ingest admin", "Authorization", "Bearer " + Jwt({.scope = "ingest admin"}),
       kScopeIngest | kScopeAdmin},
  };
  for (const Credential& cred : credentials) {
    test::HttpClient c(s.server->port());
    if (!cred.header.empty()) c.SetHeader(cred.header, cred.value);
    for (const Call& call : EveryRoute()) {
      const bool stream = call.target.ends_with("/stream");
      const uint8_t need = call.scope == Scope::kRead     ? kScopeRead
                           : call.scope == Scope::kIngest ? kScopeIngest
                           : call.scope == Scope::kAdmin  ? kScopeAdmin
                                                          : 0;
      int want = 0;  // 0: anything but 401 and 403
      if (need != 0 && cred.scopes == 0xff) want = 401;
      if (need != 0 && cred.scopes != 0xff && (cred.scopes & need) == 0) want = 403;
      if (stream && want == 0) continue;  // admitted: a stream, tested with SseClient below
      const std::string ct = call.body.empty() ? "" : "application/json";
      test::HttpResult r = c.Request(call.method, call.target, call.body, ct);
      SCOPED_TRACE(cred.name + ": " + call.method + " " + call.target + " -> " +
                   std::to_string(r.status) + " " + r.body);
      if (want == 0) {
        EXPECT_NE(r.status, 401);
        EXPECT_NE(r.status, 403);
        EXPECT_NE(r.status, 0);
      } else {
        EXPECT_EQ(r.status, want);
        EXPECT_EQ(r.body.front(), '{');  // a JSON error
        EXPECT_NE(r.body.find("\"error\":"), std::string::npos);
        if (want == 401) {
          EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"eddy\"");
        } else {
          EXPECT_NE(r.body.find(std::string(ScopeName(call.scope)) + " scope"), std::string::npos);
        }
      }
    }
  }
  // The stream, admitted: by header-less EventSource-style access_token.
  test::SseClient stream(s.server->port(), "/v1/alerts/stream?access_token=reader-secret");
  EXPECT_TRUE(stream.ok()) << stream.head();
  test::SseClient refused(s.server->port(), "/v1/alerts/stream?access_token=writer-secret");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.head().find(" 403 "), std::string::npos) << refused.head();
  // A reload ends the streams opened under the old credentials: the client reconnects and
  // is judged again (a key removed by the reload no longer streams).
  ASSERT_TRUE(s.server->Reconfigure(s.options).ok());
  EXPECT_EQ(stream.Next(std::chrono::seconds(30)), std::nullopt);
}

TEST(AuthTest, JwtClaimsAreChecked) {
  Served s(AuthOptions());
  test::HttpClient c(s.server->port());
  const long now = std::time(nullptr);
  const auto status_with = [&](const std::string& token) {
    c.SetHeader("Authorization", "Bearer " + token);
    return c.Get("/v1/trending/categories");
  };
  EXPECT_EQ(status_with(Jwt({})).status, 200);
  EXPECT_EQ(status_with(Jwt({.aud = "someone-else"})).status, 401);
  EXPECT_EQ(status_with(Jwt({.exp = now - 3600})).status, 401);
  EXPECT_EQ(status_with(Jwt({.exp = std::nullopt})).status, 401);
  EXPECT_EQ(status_with(Jwt({.nbf = now + 3600})).status, 401);
  EXPECT_EQ(status_with(Jwt({.nbf = now - 10})).status, 200);
  EXPECT_EQ(status_with(Jwt({.secret = "another secret, also 32 bytes long or more"})).status, 401);
  EXPECT_EQ(status_with(Jwt({.alg = JWT_ALG_NONE})).status, 401);
  test::HttpResult expired = status_with(Jwt({.exp = now - 3600}));
  EXPECT_NE(expired.body.find("JWT expired"), std::string::npos) << expired.body;
  test::HttpResult aud = status_with(Jwt({.aud = "someone-else"}));
  EXPECT_NE(aud.body.find("audience is not \\\"eddy\\\""), std::string::npos) << aud.body;
  // Scopes from a "scopes" array work as the "scope" string does; none: 403.
  EXPECT_EQ(status_with(Jwt({.scope = ""})).status, 403);
  // The leeway: a token expired 10 s ago is still taken (auth.jwt_leeway_s = 30).
  EXPECT_EQ(status_with(Jwt({.exp = now - 10})).status, 200);
}

TEST(AuthTest, RateLimitsPerClientWithRetryAfter) {
  Options o = AuthOptions();
  o.limits.reads_per_second = 0.01;  // a token per 100 s: the test never sees a refill
  o.limits.reads_burst = 2;
  o.limits.ingest_events_per_second = 0.01;
  o.limits.ingest_burst_events = 5;
  Served s(o);
  test::HttpClient reader(s.server->port()), all(s.server->port());
  reader.SetHeader("Authorization", "Bearer reader-secret");
  all.SetHeader("Authorization", "Bearer all-secret");
  EXPECT_EQ(reader.Get("/v1/trending/categories").status, 200);
  EXPECT_EQ(reader.Get("/v1/trending/categories").status, 200);
  test::HttpResult limited = reader.Get("/v1/trending/categories");
  EXPECT_EQ(limited.status, 429);
  EXPECT_GE(std::stoi(limited.Header("retry-after")), 1);
  EXPECT_NE(limited.body.find("limits.reads_per_second spent for 'reader'"), std::string::npos)
      << limited.body;
  // Another key has its own bucket; open routes are not limited.
  EXPECT_EQ(all.Get("/v1/trending/categories").status, 200);
  EXPECT_EQ(reader.Get("/healthz").status, 200);
  // Ingest: a request may overdraw the bucket (8 events > 5), the next waits.
  std::vector<std::string> events;
  for (int i = 0; i < 8; ++i) events.push_back(test::EventBuilder().User("u").Type("view").Item("i").Json());
  test::HttpResult first = all.Post("/v1/events", test::Ndjson(events), "application/x-ndjson");
  EXPECT_EQ(first.status, 200) << first.body;
  test::HttpResult second = all.Post("/v1/events", events[0]);
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("limits.ingest_events_per_second"), std::string::npos);
  // Reloaded without limits: admitted at once.
  Options unlimited = o;
  unlimited.limits = LimitOptions{};
  ASSERT_TRUE(s.server->Reconfigure(unlimited).ok());
  EXPECT_EQ(all.Post("/v1/events", events[0]).status, 200);
}

TEST(AuthTest, WithoutAuthTheLimitIsPerClientAddress) {
  Options o = test::TestOptions(2, 1);
  o.server.port = 0;
  o.limits.reads_per_second = 0.01;
  o.limits.reads_burst = 1;
  Served s(o);
  test::HttpClient a(s.server->port()), b(s.server->port());
  EXPECT_EQ(a.Get("/v1/alerts").status, 200);
  test::HttpResult r = b.Get("/v1/alerts");  // the same address: the same bucket
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("for '127.0.0.1'"), std::string::npos) << r.body;
}

TEST(AuthTest, CorsPreflightAndAllowedOrigins) {
  Options o = AuthOptions();
  o.server.cors_origins = {"https://shop.example"};
  Served s(o);
  test::HttpClient c(s.server->port());
  c.SetHeader("Origin", "https://shop.example");
  c.SetHeader("Access-Control-Request-Method", "POST");
  // The preflight needs no credential (browsers send none).
  test::HttpResult pre = c.Request("OPTIONS", "/v1/events", "", "");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.Header("access-control-allow-origin"), "https://shop.example");
  EXPECT_NE(pre.Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_NE(pre.Header("access-control-allow-headers").find("Authorization"), std::string::npos);
  c.SetHeader("Access-Control-Request-Method", "");
  c.SetHeader("Authorization", "Bearer reader-secret");
  test::HttpResult get = c.Get("/v1/alerts");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.Header("access-control-allow-origin"), "https://shop.example");
  EXPECT_EQ(get.Header("vary"), "Origin");
  // Errors carry the header too (the page can read why).
  c.SetHeader("Authorization", "");
  EXPECT_EQ(c.Get("/v1/alerts").Header("access-control-allow-origin"), "https://shop.example");

  test::HttpClient other(s.server->port());
  other.SetHeader("Origin", "https://evil.example");
  test::HttpResult denied = other.Request("OPTIONS", "/v1/events", "", "");
  EXPECT_EQ(denied.status, 403);
  other.SetHeader("Authorization", "Bearer reader-secret");
  test::HttpResult plain = other.Get("/v1/alerts");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.Header("access-control-allow-origin"), "");
}

}  // namespace
}  // namespace eddy
