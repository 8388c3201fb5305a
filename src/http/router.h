#pragma once
// Routing of eddy's HTTP API (SPEC §2) onto the Engine. Transport-free: takes a parsed
// request and produces a response through a callback, so it is tested without sockets.
//
// Thread-safety: call from an I/O thread with that thread's IngestContext. `respond` runs
// exactly once, on the calling thread or on a shard thread (the caller re-posts it).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "eddy/engine.h"
#include "http/http_metrics.h"
#include "http/rate_limit.h"

namespace eddy {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Sends a request's response. `claim()`, when the server gives one (a read with a
// deadline), is what an answer with a side effect settles first (eddy/engine.h).
class Respond {
 public:
  Respond() = default;
  template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, Respond> && std::is_invocable_v<F&, Response>)
  Respond(F&& send, std::shared_ptr<AnswerClaim> claim = nullptr)  // NOLINT: a callable is a Respond
      : send_(std::forward<F>(send)), claim_(std::move(claim)) {}
  void operator()(Response res) const { send_(std::move(res)); }
  const std::shared_ptr<AnswerClaim>& claim() const { return claim_; }

 private:
  std::function<void(Response)> send_;
  std::shared_ptr<AnswerClaim> claim_;
};

// A JSON error reply: {"error": message, "detail": detail_json} (detail omitted if empty).
Response ErrorResponse(http::status status, unsigned version, std::string_view message,
                       std::string_view detail_json = {});

// How the body of a POST is read, from its Content-Type; nullopt = unsupported (415).
std::optional<BodyFormat> BodyFormatFor(std::string_view content_type);

// Whether `target` names an ingest route (POST with a body).
bool IsIngestRoute(std::string_view target);

// The credential scope a route needs (auth.enabled), valued as its AuthScope bit; kOpen
// routes need none.
enum class Scope : uint8_t {
  kOpen = 0,
  kRead = kScopeRead,
  kIngest = kScopeIngest,
  kAdmin = kScopeAdmin,
};
std::string_view ScopeName(Scope scope);

// What a request asks for, judged from its method and target alone (before its body is
// read): its route (a label for metrics and the access log), the scope it needs, and
// whether it is an engine read (those get a deadline and are refused with 429 when the
// shards' read queues are full).
struct RouteMatch {
  uint16_t label = 0;  // index into Router::RouteLabels(); 0: no route
  Scope scope = Scope::kRead;
  bool read = false;
};

class Router {
 public:
  // `io_threads`: how many threads answer requests (each has its slot in the metrics).
  Router(Engine& engine, const ServerOptions& options, int io_threads)
      : engine_(engine), options_(options), metrics_(io_threads, RouteLabels().size()),
        limiter_(LimitOptions{}) {}

  static RouteMatch Match(http::verb method, std::string_view target);
  // Each route's label: its path with "{id}" for the id segment ("/v1/items/{id}/similar");
  // [0] = "unmatched".
  static const std::vector<std::string>& RouteLabels();
  // POST /v1/admin/reload: re-reads the config; returns {applied, JSON reply body}. Set
  // before the server starts; without one the route answers 503.
  using ReloadFn = std::function<std::pair<bool, std::string>()>;
  void SetReloader(ReloadFn reload) { reload_ = std::move(reload); }
  HttpMetrics& metrics() { return metrics_; }
  RateLimiter& limiter() { return limiter_; }

  // `req.body()` may be moved from or grow (padding for the JSON parser). An ingest's
  // accepted events are charged to `client`'s rate limit bucket (limits.*) when that is set.
  // `from_node`: a read another cluster node sent (answered from this node's partitions).
  void Handle(Request& req, IngestContext& ctx, Respond respond, std::string_view client = {},
              bool from_node = false);
  // The Server-Sent Events streams the server answers itself: GET /v1/alerts/stream (each
  // alert written by WriteAlert) and GET /v1/dashboard/stream (the dashboard's snapshots).
  enum class Stream : uint8_t { kNone, kAlerts, kDashboard };
  static Stream StreamOf(const Request& req);

 private:
  struct Route;
  static const Route kRoutes[];
  static const Route* Find(std::string_view path, std::string_view* id);
  void Ready(const Request& req, Respond respond);
  // cluster_routes.cc: a read sent to its partition's owner or to every node; false when
  // this node answers it as it is.
  bool Distribute(Request& req, std::string_view path, std::string_view id,
                  std::string_view query, Respond& respond);
  void Checkpoint(const Request& req, Respond respond);
  void Ingest(Request& req, IngestContext& ctx, DefaultType type, Respond respond,
              std::string_view client);
  void Recent(const Request& req, std::string_view user, std::string_view query,
              Respond respond);
  void Trending(const Request& req, std::string_view query, Respond respond);
  void Velocity(const Request& req, std::string_view category, std::string_view query,
                Respond respond);
  void Engagement(const Request& req, std::string_view item, Respond respond);
  void Popular(const Request& req, std::string_view query, Respond respond);
  void Affinity(const Request& req, std::string_view user, std::string_view query,
                Respond respond);
  void Similar(const Request& req, std::string_view item, std::string_view query,
               Respond respond);
  // analytics_routes.cc
  // The item of a catalog write (PUT / PATCH / DELETE /v1/items/{itemId}); none for any
  // other request. Judged before the route table, where an exact path such as
  // /v1/items/popular would match first.
  static std::optional<std::string_view> CatalogWriteItem(http::verb method, std::string_view path);
  void CatalogWrite(Request& req, IngestContext& ctx, std::string_view item, Respond respond,
                    std::string_view client);
  void Item(const Request& req, std::string_view item, Respond respond);
  void Sessions(const Request& req, std::string_view user, std::string_view query,
                Respond respond);
  void Funnel(const Request& req, std::string_view query, Respond respond);
  void Revenue(const Request& req, std::string_view query, Respond respond);
  void Inventory(const Request& req, std::string_view item, Respond respond);
  void LowStock(const Request& req, std::string_view query, Respond respond);
  void Alerts(const Request& req, std::string_view query, Respond respond);
  // customer_routes.cc
  void OrderFraud(const Request& req, std::string_view order, Respond respond);
  void UserFraud(const Request& req, std::string_view user, std::string_view query,
                 Respond respond);
  void Insights(const Request& req, std::string_view user, std::string_view query,
                Respond respond);
  // rank_routes.cc
  void Recommendations(const Request& req, std::string_view query, Respond respond);
  void Offers(const Request& req, Respond respond);
  void Experiments(const Request& req, std::string_view name, Respond respond);
  void Reallocate(const Request& req, std::string_view name, Respond respond);
  Response StreamStatusResponse(unsigned version);

  Engine& engine_;
  const ServerOptions& options_;
  HttpMetrics metrics_;
  RateLimiter limiter_;
  ReloadFn reload_;
};

}  // namespace eddy
