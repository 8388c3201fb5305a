// eddy: the daemon and its subcommands.
//   eddy [--config FILE] [--port N] [--host H] [--data-dir D] [--set section.key=value]...
//   eddy check-config FILE
//   eddy replay [the daemon's options]   rebuild all state from the event store
//   eddy dump [--data-dir D]             print the stored events as NDJSON
//   eddy keygen --id NAME [--scopes S]   make an API key and its auth.keys entry
//   eddy --version | --help

#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/eval.h"
#include "cli/reload.h"
#include "config/loader.h"
#include "eddy/engine.h"
#include "http/auth.h"
#include "http/json_writer.h"
#include "http/server.h"
#include "http/webhooks.h"
#include "store/event_codec.h"
#include "store/log_store.h"
#include "util/hash.h"
#include "util/time.h"

namespace {

using eddy::ConfigSources;
using eddy::Options;

int CheckConfig(const std::string& file) {
  ConfigSources src;
  src.file = file;
  src.use_env = false;
  eddy::Result<Options> o = eddy::LoadOptions(src);
  if (!o.ok()) {
    std::cerr << "eddy: " << o.status().message() << "\n";
    return 2;
  }
  std::cout << file << ": OK\n";
  return 0;
}

// `eddy keygen`: a random key (32 bytes from the kernel, hex) and its auth.keys entry,
// checked by the config's own parser.
int KeyGen(const std::string& id, const std::string& scopes) {
  char bytes[32];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(bytes, sizeof bytes)) {
    std::cerr << "eddy keygen: cannot read /dev/urandom\n";
    return 1;
  }
  const std::string key = "eddy_" + eddy::HexOf(std::string_view(bytes, sizeof bytes));
  const std::string entry = id + ":" + scopes + ":" + eddy::Sha256Hex(key);
  eddy::Result<Options> check = eddy::ParseOptions("[auth]\nkeys = [\"" + entry + "\"]\n", "keygen");
  if (!check.ok()) {
    std::cerr << "eddy keygen: " << check.status().message() << "\n";
    return 2;
  }
  std::cout << "key:   " << key << "\n"
            << "entry: \"" << entry << "\"   (add it to [auth] keys)\n";
  return 0;
}

// Logs go to stderr (stdout stays free for subcommands' output, e.g. eddy dump), one
// timestamped line each.
void SetUpLogging(const std::string& level) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("eddy"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

// Blocks SIGINT/SIGTERM in every thread (threads inherit the mask) so that sigwait()
// in main receives them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Prints every stored event of every partition as one NDJSON line, in partition and offset
// order (so each user's events in acceptance order), with the fields ingest accepts plus
// "partition" and "offset" (ignored by ingest): posting the output into a fresh eddy gives
// the same state. An eventId is printed as "eventIdHash" (the store keeps its 128-bit hash,
// not its text), which ingest accepts in its place, so a re-post keeps idempotency; a
// purchase's "acceptLagMs" (how far the engine clock was ahead of it when it was first
// accepted) keeps its revenue lateness.
// Read-only: works beside a running daemon.
// A location sent as an object is stored as "country/region/city" plus the country; print
// it as an object again so that a re-post stores both the same way.
void DumpLocation(const eddy::StoredEventView& e, eddy::JsonWriter& w) {
  if (e.location.data() == nullptr) return;
  const std::string_view loc = e.location;
  const size_t last = loc.rfind('/');
  if (e.country.data() == nullptr || loc.substr(0, e.country.size() + 1) != std::string(e.country) + "/" ||
      last < e.country.size() + 1) {
    w.Key("location").String(loc);
    return;
  }
  const size_t from = e.country.size() + 1;
  w.Key("location").BeginObject();
  w.Key("country").String(e.country);
  w.Key("region").String(loc.substr(from, last - from));
  w.Key("city").String(loc.substr(last + 1));
  w.EndObject();
}

int Dump(const std::string& data_dir) {
  eddy::Result<std::unique_ptr<eddy::LogStore>> store =
      eddy::LogStore::OpenReadOnly(data_dir + "/log");
  if (!store.ok()) {
    std::cerr << "eddy dump: " << store.status().message() << "\n";
    return 1;
  }
  std::string line;
  uint64_t events = 0, moves = 0, served = 0;
  for (uint32_t p = 0; p < (*store)->partitions(); ++p) {
    eddy::Status st = (*store)->Scan(eddy::PartitionId(p), 0, [&](uint64_t offset, std::string_view v) {
      eddy::StoredEventView e;
      if (eddy::Status d = eddy::DecodeStoredEventView(v, &e); !d.ok()) {
        return eddy::Status::Corruption("partition " + std::to_string(p) + " offset " +
                                        std::to_string(offset) + ": " + std::string(d.message()));
      }
      // A stock move is the ingest path's copy of a purchase or cancel printed elsewhere;
      // re-posting the dump derives it again.
      if (e.event.derived()) return ++moves, eddy::Status::Ok();
      // eddy's own records of experiments (answers served, reallocations): no client posts them.
      if (e.event.type == eddy::EventType::kServed || e.event.type == eddy::EventType::kAllocation) {
        return ++served, eddy::Status::Ok();
      }
      eddy::JsonWriter w;
      w.BeginObject().Key("partition").Uint(p).Key("offset").Uint(offset);
      w.Key("type").String(eddy::EventTypeName(e.event.type));
      w.Key("timestamp").Int(e.event.time.millis());
      // A segment update keeps its new segment where searches keep their query.
      const char* query_key =
          e.event.type == eddy::EventType::kSegmentUpdate ? "newSegment" : "query";
      const bool catalog = eddy::IsCatalogChange(e.event.type);
      const std::pair<const char*, std::string_view> strings[] = {
          {"userId", e.user},     {"itemId", e.item},     {"category", e.category},
          {"sessionId", e.session}, {"orderId", e.order},
          {query_key, catalog ? std::string_view() : e.query},
          {"deviceType", e.device}, {"ip", e.ip}};
      for (const auto& [key, s] : strings) {
        if (s.data() != nullptr) w.Key(key).String(s);
      }
      if (catalog) {
        // A catalog change keeps its attributes (canonical JSON) where searches keep
        // their query.
        if (e.query.data() != nullptr) w.Key("attributes").RawJson(e.query);
        if (e.event.flags & eddy::Event::kHasHidden) {
          w.Key("hidden").Bool(e.event.flags & eddy::Event::kHidden);
        }
        if (e.event.flags & eddy::Event::kHasThreshold) {
          w.Key("lowStockThreshold").Uint(e.event.quantity);
        }
      }
      DumpLocation(e, w);
      if (e.event.has_price()) w.Key("price").Double(static_cast<double>(e.event.price_micros) / 1e6);
      if (e.event.quantity != 1 && !catalog) w.Key("quantity").Uint(e.event.quantity);
      if (e.event.flags & eddy::Event::kHasStock) w.Key("stock").Int(e.event.stock);
      if (e.event.flags & eddy::Event::kHasAcceptLag) {
        w.Key("acceptLagMs").Uint(e.event.accept_lag_ms);
      }
      if (e.event.flags & eddy::Event::kHasIpOrders) w.Key("ipOrders").Uint(e.event.ip_orders);
      if (e.event.event_id.present()) {
        char hex[33];
        std::snprintf(hex, sizeof(hex), "%016llx%016llx",
                      static_cast<unsigned long long>(e.event.event_id.hi),
                      static_cast<unsigned long long>(e.event.event_id.lo));
        w.Key("eventIdHash").String(hex);
      }
      if (e.event.recomm != 0) {
        char hex[17];
        std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(e.event.recomm));
        w.Key("recommIdHash").String(hex);
      }
      w.EndObject();
      line = w.Take();
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
      ++events;
      return eddy::Status::Ok();
    });
    if (!st.ok()) {
      std::cerr << "eddy dump: " << st.message() << "\n";
      return 1;
    }
  }
  std::fflush(stdout);
  std::cerr << "eddy dump: " << events << " events from " << (*store)->partitions()
            << " partitions (and " << moves << " stock moves and " << served
            << " experiment records, not printed)\n";
  return 0;
}

// Rebuilds all aggregate state from the retained event store with the current settings
// (e.g. after changing weights), ignoring every checkpoint, and writes a fresh one. The
// daemon must not be running (the data dir is locked).
int Replay(const ConfigSources& src) {
  eddy::Result<Options> loaded = eddy::LoadOptions(src);
  if (!loaded.ok()) {
    std::cerr << "eddy: " << loaded.status().message() << "\n";
    return 2;
  }
  Options options = *loaded;
  SetUpLogging("warn");
  if (options.durability.data_dir.empty()) {
    std::cerr << "eddy replay: durability.data_dir is empty: there is no event store\n";
    return 2;
  }
  options.recovery.ignore_checkpoints = true;
  const bool tty = isatty(STDERR_FILENO);
  options.recovery.progress = [tty](uint64_t done, uint64_t total) {
    const double pct = total ? 100.0 * static_cast<double>(std::min(done, total)) / total : 100.0;
    const int bars = static_cast<int>(pct / 2.5);
    std::fprintf(stderr, "%sreplay [%-40s] %5.1f%%  %llu / %llu events%s",
                 tty ? "\r" : "", std::string(bars, '#').c_str(), pct,
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 tty ? "" : "\n");
  };
  eddy::Result<std::unique_ptr<eddy::Engine>> engine = eddy::Engine::Open(options);
  if (tty) std::fprintf(stderr, "\n");
  if (!engine.ok()) {
    std::cerr << "eddy replay: " << engine.status().message() << "\n";
    return 1;
  }
  (*engine)->Stop();  // writes the checkpoint of the rebuilt state
  const eddy::StoreStatus st = (*engine)->Status().store;
  const double rate =
      st.recovery_seconds > 0 ? static_cast<double>(st.recovered_events) / st.recovery_seconds : 0.0;
  if (st.checkpoints_taken == 0) {
    std::fprintf(stderr, "eddy replay: %llu events in %.2f s = %.0f events/s, but the checkpoint "
                 "could not be written (see the log above)\n",
                 static_cast<unsigned long long>(st.recovered_events), st.recovery_seconds, rate);
    return 1;
  }
  std::fprintf(stderr, "eddy replay: %llu events in %.2f s = %.0f events/s; wrote checkpoint %llu\n",
               static_cast<unsigned long long>(st.recovered_events), st.recovery_seconds, rate,
               static_cast<unsigned long long>(st.last_checkpoint));
  return 0;
}

int Serve(const ConfigSources& src, const std::string& port_file) {
  eddy::Result<Options> loaded = eddy::LoadOptions(src);
  if (!loaded.ok()) {
    std::cerr << "eddy: " << loaded.status().message() << "\n";
    return 2;
  }
  const Options& options = *loaded;
  SetUpLogging(options.logging.level);

  sigset_t signals = BlockStopSignals();
  eddy::Result<std::unique_ptr<eddy::Engine>> engine = eddy::Engine::Open(options);
  if (!engine.ok()) {
    spdlog::critical("cannot start: {}", engine.status().message());
    return 1;
  }
  // Before the server: a failure returns with nothing serving yet.
  eddy::WebhookDispatcher webhooks(**engine, options);
  if (eddy::Status st = webhooks.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.message());
    return 1;
  }
  eddy::HttpServer server(**engine, options);
  eddy::Reloader reloader(src, options, **engine, server);
  server.SetReloader([&reloader] {
    eddy::ReloadOutcome r = reloader.Reload();
    return std::make_pair(r.status.ok(), r.Json());
  });
  if (eddy::Status st = server.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.message());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  spdlog::info("eddy {} ready on http://{}:{}", EDDY_VERSION, options.server.host, server.port());

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading the config");
      reloader.Reload();  // logs what it applied, or why it refused the config
      continue;
    }
    spdlog::info("{}: stopping: refusing new requests, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  server.BeginShutdown();
  (*engine)->Stop();
  // After the engine applied everything accepted (its alerts reach the outbox); what is
  // not delivered yet waits there for the next start.
  webhooks.Stop();
  server.Join();
  spdlog::info("stopped cleanly");
  return 0;
}

// `eddy eval` and its flags (src/cli/eval.h).
CLI::App* AddEvalCommand(CLI::App& app, eddy::EvalArgs* args) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Replay an event file into an in-memory engine and report next-item HitRate@k, "
              "MRR@k and NDCG@k of the recommendations beside the POP, Recent, Item-KNN and "
              "V-SKNN baselines");
  eval->add_option("--data", args->data, "Event file: NDJSON, or CSV with --csv-columns")
      ->required();
  eval->add_option("--csv-columns", args->csv_columns,
                   "CSV column names (eddy's field names or aliases; - skips a column), e.g. "
                   "user_id,item_id,category_id,behavior,timestamp");
  eval->add_option("--type", args->default_type,
                   "Event type of rows without one (default view)");
  eval->add_option("--item-categories", args->item_categories,
                   "CSV giving each item's category: item id first, categories last "
                   "('|'-separated, the first is used), e.g. MovieLens movies.csv");
  eval->add_option("--split", args->split,
                   "Share of the time-ordered events replayed before evaluating (default 0.8)");
  eval->add_option("--k", args->k, "Length of the recommendation lists (default 20)");
  eval->add_option("--exclude", args->exclude,
                   "none (default): every method may recommend what the user touched before; "
                   "seen: every method's list drops every item the user touched before")
      ->check(CLI::IsMember({"none", "seen"}));
  eval->add_flag("--tune", args->tune,
                 "Search the ranking weights on a validation slice carved from the end of the "
                 "replayed part (never the evaluated part), print them, and evaluate with them");
  eval->add_option("--tune-events", args->tune_events,
                   "Predictions the weight search scores each round (default 2000)");
  eval->add_option("--limit", args->limit,
                   "Evaluate at most this many events after the split (default all)");
  return eval;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eddy: an embedded real-time event streaming and recommendation engine"};
  app.set_version_flag("--version", std::string("eddy ") + EDDY_VERSION);

  ConfigSources src;
  std::string port_file;
  std::string host, data_dir, log_level;
  int port = -1;
  std::vector<std::string> sets;
  app.add_option("-c,--config", src.file, "TOML config file (default: none, built-in defaults)");
  app.add_option("--host", host, "Override server.host");
  app.add_option("-p,--port", port, "Override server.port (0 = any free port)");
  app.add_option("--data-dir", data_dir, "Override durability.data_dir");
  app.add_option("--log-level", log_level, "Override logging.level");
  app.add_option("--set", sets, "Override any key: --set section.key=value (repeatable)");
  app.add_option("--port-file", port_file,
                 "Write the bound port to this file once listening (for scripts and tests)");
  app.footer(
      "Precedence: config file < EDDY_<SECTION>_<KEY> environment variables < flags.\n"
      "Subcommands: check-config FILE validates a config file and exits; replay rebuilds\n"
      "all state from the event store; dump prints the stored events as NDJSON; eval\n"
      "measures the recommendations on an event file.");

  std::string check_file;
  CLI::App* check = app.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("file", check_file, "The TOML file")->required();
  CLI::App* replay = app.add_subcommand(
      "replay", "Rebuild all state from the event store with the current settings (e.g. after "
                "changing weights), write a checkpoint and exit; the daemon must be stopped");
  CLI::App* dump = app.add_subcommand(
      "dump", "Print the stored events as NDJSON (read-only; works beside a running daemon)");
  std::string key_id, key_scopes = "read";
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Make an API key: prints the key (for the client; eddy never stores it) and "
                "the auth.keys entry holding its SHA-256");
  keygen->add_option("--id", key_id, "The key's name (in logs, metrics and rate limits)")->required();
  keygen->add_option("--scopes", key_scopes, "Comma list of read, ingest, admin")
      ->capture_default_str();
  eddy::EvalArgs eval_args;
  CLI::App* eval = AddEvalCommand(app, &eval_args);
  // --config, --data-dir, --set ... also after the subcommand
  replay->fallthrough();
  dump->fallthrough();
  eval->fallthrough();

  CLI11_PARSE(app, argc, argv);
  if (*check) return CheckConfig(check_file);
  if (*keygen) return KeyGen(key_id, key_scopes);

  for (const std::string& s : sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) {
      std::cerr << "eddy: --set " << s << ": expected section.key=value\n";
      return 2;
    }
    src.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  if (!host.empty()) src.overrides.emplace_back("server.host", host);
  if (port >= 0) src.overrides.emplace_back("server.port", std::to_string(port));
  if (!data_dir.empty()) src.overrides.emplace_back("durability.data_dir", data_dir);
  if (!log_level.empty()) src.overrides.emplace_back("logging.level", log_level);
  if (*replay) return Replay(src);
  if (*eval) {
    SetUpLogging("warn");
    return eddy::RunEval(src, eval_args);
  }
  if (*dump) {
    eddy::Result<Options> o = eddy::LoadOptions(src);
    if (!o.ok()) {
      std::cerr << "eddy: " << o.status().message() << "\n";
      return 2;
    }
    return Dump(o->durability.data_dir);
  }
  return Serve(src, port_file);
}
