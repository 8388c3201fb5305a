// eddy-load: a load generator for eddy. See `eddy-load --help`.
#include <cmath>
#include <cstdio>
#include <optional>
#include <iostream>
#include <random>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <CLI/CLI.hpp>

#include "load/runner.h"
#include "load/source.h"
#include "load/sources.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace eddy::load;
using eddy::LoadReplay;
using eddy::ReplayEvent;
using eddy::SplitColumns;

// The server's ack level, from /v1/stream/status ("unknown" if it does not say).
std::string ServerAck(const std::string& host, uint16_t port) {
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address(host), port));
    http::request<http::empty_body> req{http::verb::get, "/v1/stream/status", 11};
    req.set(http::field::host, host);
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    const std::string& b = res.body();
    size_t k = b.find("\"ack\":\"");
    if (k == std::string::npos) return "unknown";
    return b.substr(k + 7, b.find('"', k + 7) - (k + 7));
  } catch (const std::exception&) {
    return "unreachable";
  }
}

uint16_t FreePort() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::optional<double> ParseNumber(const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// "max" -> 0 (as fast as possible); a positive number -> itself; else nullopt.
std::optional<double> ParsePace(const std::string& text) {
  if (text == "max") return 0.0;
  std::optional<double> v = ParseNumber(text);
  return v && *v > 0 ? v : std::nullopt;
}

void PrintText(const char* name, const OpStats& s, double secs) {
  if (s.requests == 0) return;
  if (s.events != 0) std::printf("%-7s events/s %11.0f  ", name, static_cast<double>(s.events) / secs);
  else std::printf("%-7s %20s  ", name, "");
  std::printf("requests/s %9.0f  p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms"
              "  p999 %8.3f ms  max %8.3f ms  errors %llu\n",
              static_cast<double>(s.requests) / secs,
              Ms(s.latency_ns.Percentile(50)), Ms(s.latency_ns.Percentile(90)),
              Ms(s.latency_ns.Percentile(99)), Ms(s.latency_ns.Percentile(99.9)),
              Ms(s.latency_ns.max()), static_cast<unsigned long long>(s.errors));
  for (auto [status, n] : s.status) {
    std::printf("        status %s: %llu\n",
                status == 0 ? "transport-error" : std::to_string(status).c_str(),
                static_cast<unsigned long long>(n));
  }
}

void PrintJsonOp(const OpStats& s, double secs) {
  std::printf("{\"requests\":%llu,\"events\":%llu,\"accepted\":%llu,\"errors\":%llu,"
              "\"events_per_s\":%.1f,\"requests_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,"
              "\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},\"status\":{",
              static_cast<unsigned long long>(s.requests),
              static_cast<unsigned long long>(s.events),
              static_cast<unsigned long long>(s.accepted),
              static_cast<unsigned long long>(s.errors), static_cast<double>(s.events) / secs,
              static_cast<double>(s.requests) / secs, Ms(s.latency_ns.Percentile(50)),
              Ms(s.latency_ns.Percentile(90)), Ms(s.latency_ns.Percentile(99)),
              Ms(s.latency_ns.Percentile(99.9)), Ms(s.latency_ns.max()));
  bool first = true;
  for (auto [status, n] : s.status) {
    std::printf("%s\"%d\":%llu", first ? "" : ",", status, static_cast<unsigned long long>(n));
    first = false;
  }
  std::printf("}}");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "eddy-load: synthetic or replayed e-commerce load for eddy, open or closed loop, with "
      "latency percentiles measured from each request's scheduled time (no coordinated "
      "omission)."};
  RunOptions run;
  SyntheticOptions syn;
  std::string rate = "max", speed = "max", replay, csv_columns, mix;
  int batch = 1;
  uint64_t pool_events = 200'000, emit_redis = 0;
  bool json = false, no_progress = false, free_port = false;

  app.add_option("--host", run.host, "eddy's address")->capture_default_str();
  app.add_option("--port", run.port, "eddy's port")->capture_default_str();
  std::vector<std::string> headers;
  app.add_option("--header", headers,
                 "An extra header field for every request, \"Name: value\" (repeatable), "
                 "e.g. \"Authorization: Bearer <key>\"");
  app.add_option("--rate", rate,
                 "Events per second, open loop (requests are due on a timetable and latency "
                 "counts from the due time), or 'max' for closed loop")
      ->capture_default_str();
  app.add_option("--connections", run.connections, "Ingest connections")->capture_default_str();
  app.add_option("--threads", run.threads, "Client I/O threads")->capture_default_str();
  app.add_option("--batch", batch,
                 "Events per request: 1 sends one JSON object, more send NDJSON")
      ->capture_default_str();
  app.add_option("--duration", run.duration_s, "Seconds of load")->capture_default_str();
  app.add_option("--reads", run.reads_per_s,
                 "Recent-items reads per second (open loop) beside the ingest; 0 = none")
      ->capture_default_str();
  std::string read_path = "/v1/users/{user}/recent?k=10";
  app.add_option("--read-path", read_path,
                 "The read each --reads request makes; {user} becomes a synthetic user, e.g. "
                 "'/v1/recommendations?userId={user}&k=10'")
      ->capture_default_str();
  app.add_option("--read-connections", run.read_connections, "Connections for reads")
      ->capture_default_str();
  app.add_option("--users", syn.users, "Synthetic: distinct users")->capture_default_str();
  app.add_option("--items", syn.items, "Synthetic: distinct items")->capture_default_str();
  app.add_option("--categories", syn.categories, "Synthetic: distinct categories")
      ->capture_default_str();
  app.add_option("--user-skew", syn.user_skew, "Synthetic: Zipf exponent of users")
      ->capture_default_str();
  app.add_option("--item-skew", syn.item_skew, "Synthetic: Zipf exponent of items")
      ->capture_default_str();
  app.add_option("--category-skew", syn.category_skew,
                 "Synthetic: Zipf exponent of categories (an item keeps one category)")
      ->capture_default_str();
  app.add_option("--mix", mix,
                 "Synthetic: fractions view,add_to_cart,wishlist,purchase (the rest are "
                 "clicks); default 0.89,0.055,0.03,0.022 (close to Taobao's)");
  app.add_option("--max-burst", syn.max_burst,
                 "Synthetic: a user emits 1..N events in a row (a session-like burst)")
      ->capture_default_str();
  std::string shape = "synthetic";
  app.add_option("--shape", shape,
                 "Synthetic: 'synthetic' (short ids, numeric fields) or 'seed' (events shaped "
                 "like seed 002's examples: ISO timestamps, sessionId, deviceType, a location "
                 "object, mostly new customers)")
      ->check(CLI::IsMember({"synthetic", "seed"}))
      ->capture_default_str();
  app.add_option("--seed", syn.seed, "Synthetic: random seed (same seed, same stream)")
      ->capture_default_str();
  app.add_option("--pool-events", pool_events,
                 "Synthetic: events generated up front and cycled during the run")
      ->capture_default_str();
  app.add_option("--replay", replay, "Replay this file instead: NDJSON, or CSV with --csv-columns");
  app.add_option("--csv-columns", csv_columns,
                 "CSV column names, e.g. user_id,item_id,category_id,behavior,timestamp "
                 "(the Taobao sample); '-' skips a column");
  app.add_option("--speed", speed,
                 "Replay pace: a factor of real time from the events' timestamps, or 'max'")
      ->capture_default_str();
  app.add_flag("--json", json, "Print the summary as one JSON object");
  std::string line_name;
  app.add_option("--line", line_name,
                 "Print the summary as one line per operation named NAME (db_bench style)");
  app.add_flag("--no-progress", no_progress, "No progress line per second on stderr");
  app.add_option("--emit-redis", emit_redis,
                 "Write the seed design's Redis commands (RESP) for N synthetic events to "
                 "stdout and exit (for bench/baseline-redis.sh)");
  app.add_flag("--print-free-port", free_port, "Print a free loopback TCP port and exit");
  CLI11_PARSE(app, argc, argv);
  syn.seed_shape = shape == "seed";
  for (const std::string& h : headers) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "eddy-load: --header needs \"Name: value\", not \"" << h << "\"\n";
      return 2;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    run.headers.emplace_back(h.substr(0, colon), std::move(value));
  }

  if (free_port) {
    std::printf("%u\n", FreePort());
    return 0;
  }
  if (!mix.empty()) {
    std::vector<std::string> parts = SplitColumns(mix);
    double f[4] = {};
    bool ok = parts.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) {
      std::optional<double> v = ParseNumber(parts[i]);
      ok = v && *v >= 0 && *v <= 1;
      f[i] = v.value_or(0);
    }
    if (!ok || f[0] + f[1] + f[2] + f[3] > 1.0 + 1e-9) {
      std::cerr << "eddy-load: --mix needs 4 fractions in [0, 1] adding up to at most 1: "
                   "view,add_to_cart,wishlist,purchase\n";
      return 2;
    }
    syn.view = f[0];
    syn.cart = f[1];
    syn.wishlist = f[2];
    syn.purchase = f[3];
  }
  const std::optional<double> rate_v = ParsePace(rate), speed_v = ParsePace(speed);
  if (!rate_v || !speed_v) {
    std::cerr << "eddy-load: --rate and --speed take a positive number or 'max'\n";
    return 2;
  }
  if (emit_redis > 0) {
    Synthetic gen(syn);
    std::string json_event, out;
    EventFields f;
    const int64_t minute = 29'000'000;  // a fixed minute: the stream is reproducible
    for (uint64_t i = 0; i < emit_redis; ++i) {
      json_event.clear();
      gen.Next(&json_event, &f);
      AppendRedisCommands(f, minute, &out);
      if (out.size() > (1 << 20)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (batch < 1 || run.connections < 1 || run.threads < 1 || run.duration_s <= 0) {
    std::cerr << "eddy-load: --batch, --connections, --threads and --duration must be > 0\n";
    return 2;
  }
  run.progress = !no_progress;

  std::unique_ptr<RequestSource> source;
  std::string what;
  if (!replay.empty()) {
    uint64_t skipped = 0;
    std::vector<ReplayEvent> events =
        LoadReplay(replay, csv_columns.empty() ? std::vector<std::string>{}
                                               : SplitColumns(csv_columns),
                   &skipped);
    if (events.empty()) {
      std::cerr << "eddy-load: " << replay << ": no events\n";
      return 2;
    }
    const double x = *speed_v;
    what = "replay " + replay + " (" + std::to_string(events.size()) + " events, " +
           std::to_string(skipped) + " unmappable rows skipped, speed " + speed + ")";
    source = std::make_unique<ReplaySource>(std::move(events), batch, x);
  } else {
    const double r = *rate_v;
    what = std::string(syn.seed_shape ? "seed-shaped" : "synthetic") + " (seed " + std::to_string(syn.seed) + ", rate " + rate + " events/s)";
    source = std::make_unique<SyntheticSource>(syn, batch, r, pool_events);
  }
  const std::string ack = ServerAck(run.host, run.port);
  Synthetic reader_names(syn);
  std::mt19937_64 read_rng(syn.seed + 1);
  const size_t user_at = read_path.find("{user}");
  auto read_target = [&] {
    if (user_at == std::string::npos) return read_path;
    std::string t = read_path;
    t.replace(user_at, 6, reader_names.SampleUser(read_rng));
    return t;
  };

  RunResult r = Run(run, *source, read_target);
  const double secs = r.elapsed_s;
  if (!line_name.empty()) {
    auto one = [&](const std::string& name, const OpStats& s) {
      if (s.requests == 0) return;
      std::printf("%-34s %11.0f events/s %9.0f req/s  p50 %7.3f  p99 %7.3f  p999 %7.3f  max %8.3f ms"
                  "  errors %llu\n",
                  name.c_str(), static_cast<double>(s.events) / secs,
                  static_cast<double>(s.requests) / secs, Ms(s.latency_ns.Percentile(50)),
                  Ms(s.latency_ns.Percentile(99)), Ms(s.latency_ns.Percentile(99.9)),
                  Ms(s.latency_ns.max()), static_cast<unsigned long long>(s.errors));
    };
    one(line_name, r.ingest);
    one(line_name + "/reads", r.read);
  } else if (json) {
    std::printf("{\"target\":\"%s:%u\",\"ack\":\"%s\",\"batch\":%d,\"connections\":%d,"
                "\"elapsed_s\":%.3f,\"ingest\":",
                run.host.c_str(), run.port, ack.c_str(), batch, run.connections, secs);
    PrintJsonOp(r.ingest, secs);
    std::printf(",\"read\":");
    PrintJsonOp(r.read, secs);
    std::printf("}\n");
  } else {
    std::printf("eddy-load: %s:%u ack=%s, %s, batch %d, %d connections, %.1f s\n",
                run.host.c_str(), run.port, ack.c_str(), what.c_str(), batch, run.connections,
                secs);
    PrintText("ingest", r.ingest, secs);
    PrintText("read", r.read, secs);
  }
  return r.ingest.requests == 0 ? 1 : 0;
}
