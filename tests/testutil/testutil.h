#pragma once
// Shared test helpers: event builders, temp dirs, engine options for tests.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/engine.h"
#include "eddy/options.h"

namespace eddy::test {

// Builds one event as a JSON object: EventBuilder().User("u1").Type("view").Item("i1").Json()
class EventBuilder {
 public:
  EventBuilder& User(std::string_view v) { return Str("userId", v); }
  EventBuilder& Type(std::string_view v) { return Str("type", v); }
  EventBuilder& Item(std::string_view v) { return Str("itemId", v); }
  EventBuilder& Category(std::string_view v) { return Str("category", v); }
  EventBuilder& Id(std::string_view v) { return Str("eventId", v); }
  EventBuilder& Time(int64_t epoch_ms) { return Raw("timestamp", std::to_string(epoch_ms)); }
  EventBuilder& Price(double v);
  EventBuilder& Str(std::string_view key, std::string_view value);
  EventBuilder& Raw(std::string_view key, std::string_view json_value);
  std::string Json() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

std::string JsonArray(const std::vector<std::string>& objects);
std::string Ndjson(const std::vector<std::string>& objects);

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Whole-file helpers (binary-safe); ReadFile returns "" when the file cannot be read.
std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, std::string_view bytes);

// Options for an in-process engine: no data dir, small log, given shard/partition counts.
Options TestOptions(uint32_t partitions = 4, int shards = 2);
// Engine::Open that expects success (the test fails, naming the status, when it does not).
std::unique_ptr<Engine> OpenEngine(const Options& o);
// IngestSync sent again while it answers ResourceExhausted (429: the log is full until
// the shards catch up), as a client does; with ack memory a request may arrive before the
// previous ones are applied.
IngestReply IngestRetrying(Engine& e, IngestContext& ctx, const std::string& body,
                           BodyFormat format = BodyFormat::kAuto);

// A recommendation request.
RecommendRequest Req(std::string user, uint32_t k, std::string category = "",
                     std::optional<int64_t> min_price_micros = std::nullopt,
                     std::optional<int64_t> max_price_micros = std::nullopt);

// For the probes in bench/: "<label> probes N  p50 …  p99 …  p999 …  max … ms" of `ms`.
std::string LatencyLine(std::string_view label, std::vector<double> ms);

}  // namespace eddy::test
