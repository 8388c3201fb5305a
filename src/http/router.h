#pragma once
// Routing of eddy's HTTP API (SPEC §2) onto the Engine. Transport-free: takes a parsed
// request and produces a response through a callback, so it is tested without sockets.
//
// Thread-safety: call from an I/O thread with that thread's IngestContext. `respond` runs
// exactly once, on the calling thread or on a shard thread (the caller re-posts it).

#include <functional>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "eddy/engine.h"

namespace eddy {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Respond = std::function<void(Response)>;

// A JSON error reply: {"error": message, "detail": detail_json} (detail omitted if empty).
Response ErrorResponse(http::status status, unsigned version, std::string_view message,
                       std::string_view detail_json = {});

// How the body of a POST is read, from its Content-Type; nullopt = unsupported (415).
std::optional<BodyFormat> BodyFormatFor(std::string_view content_type);

// Whether `target` names an ingest route (POST with a body).
bool IsIngestRoute(std::string_view target);

class Router {
 public:
  Router(Engine& engine, const ServerOptions& options) : engine_(engine), options_(options) {}

  // `req.body()` may be moved from or grow (padding for the JSON parser).
  void Handle(Request& req, IngestContext& ctx, Respond respond);
  // Whether the request is a read of the engine's state (those get a deadline and are
  // refused with 429 when the shards' read queues are full).
  static bool IsRead(const Request& req);
  // Whether the request asks for the alert stream (GET /v1/alerts/stream): the server
  // answers it itself, as Server-Sent Events, each alert written by WriteAlert.
  static bool IsAlertStream(const Request& req);

 private:
  struct Route;
  static const Route kRoutes[];
  static const Route* Find(std::string_view path, std::string_view* id);
  void Ready(const Request& req, Respond respond);
  void Checkpoint(const Request& req, Respond respond);
  void Ingest(Request& req, IngestContext& ctx, DefaultType type, Respond respond);
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
  static bool IsCatalogWrite(http::verb v) {
    return v == http::verb::put || v == http::verb::patch || v == http::verb::delete_;
  }
  void CatalogWrite(Request& req, IngestContext& ctx, std::string_view item, Respond respond);
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
  Response StreamStatusResponse(unsigned version);

  Engine& engine_;
  const ServerOptions& options_;
};

}  // namespace eddy
