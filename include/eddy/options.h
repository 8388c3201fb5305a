#pragma once
// eddy::Options: every tunable of the engine and daemon, with the defaults of
// config/eddy.toml. Loaded and validated by src/config (toml++, env, CLI overrides).
// A plain value type.

#include <cstdint>
#include <string>
#include <vector>

#include "eddy/event.h"

namespace eddy {

enum class AckLevel : uint8_t { kMemory, kWal, kFsync };

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int io_threads = 2;
  uint64_t body_limit_bytes = 16ull << 20;
  int read_timeout_ms = 30'000;   // also the keep-alive idle timeout
  int write_timeout_ms = 30'000;
  int retry_after_s = 1;          // Retry-After of a 429
  int drain_timeout_ms = 10'000;  // how long SIGTERM waits for in-flight requests
};

struct LogOptions {
  uint32_t partitions = 16;
  uint32_t capacity_per_partition = 32'768;  // events; rounded up to a power of two
};

struct RuntimeOptions {
  int shards = 0;  // 0 = one per core
};

struct IngestOptions {
  int64_t max_future_skew_ms = 300'000;  // timestamps further ahead are rejected
  int64_t dedup_horizon_ms = 86'400'000; // eventIds remembered this long (event time)
  uint64_t dedup_max_ids = 10'000'000;   // and at most this many; oldest forgotten first
};

struct RecentOptions {
  uint32_t max_items = 50;       // distinct items kept per user
  uint64_t max_users = 2'000'000;  // users tracked; least recently active evicted first
};

// Windows of the windowed aggregates, in minutes (SPEC §3): each a whole number of
// minutes, at most 7 days.
struct WindowOptions {
  std::vector<int64_t> minutes = {60, 1440};
};

// The engine clock (SPEC §3): "live" = max(wall clock, newest event time); "event" = the
// newest event time only (replaying history gives the answers history had).
enum class ClockMode : uint8_t { kLive, kEvent };

struct DurabilityOptions {
  std::string data_dir = "./data";
  AckLevel ack = AckLevel::kMemory;
};

struct LoggingOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
};

struct Options {
  ServerOptions server;
  LogOptions log;
  RuntimeOptions runtime;
  IngestOptions ingest;
  RecentOptions recent;
  WindowOptions windows;
  ClockMode clock = ClockMode::kLive;
  DurabilityOptions durability;
  LoggingOptions logging;
  EventWeights weights = DefaultEventWeights();
};

}  // namespace eddy
