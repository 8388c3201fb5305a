#include "testutil/testutil.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "http/json_writer.h"

namespace eddy::test {

EventBuilder& EventBuilder::Str(std::string_view key, std::string_view value) {
  std::string v;
  JsonWriter::AppendEscaped(&v, value);
  return Raw(key, v);
}

EventBuilder& EventBuilder::Raw(std::string_view key, std::string_view json_value) {
  if (!body_.empty()) body_ += ',';
  JsonWriter::AppendEscaped(&body_, key);
  body_ += ':';
  body_ += json_value;
  return *this;
}

EventBuilder& EventBuilder::Price(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return Raw("price", buf);
}

std::string JsonArray(const std::vector<std::string>& objects) {
  std::string out = "[";
  for (size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]";
}

std::string Ndjson(const std::vector<std::string>& objects) {
  std::string out;
  for (const std::string& o : objects) out += o + "\n";
  return out;
}

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    path_ = std::filesystem::temp_directory_path() /
            ("eddy-test-" + std::to_string(rd()) + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

Options TestOptions(uint32_t partitions, int shards) {
  Options o;
  o.durability.data_dir = "";
  o.durability.ack = AckLevel::kMemory;
  o.log.partitions = partitions;
  o.log.capacity_per_partition = 1024;
  o.runtime.shards = shards;
  o.server.io_threads = 0;  // the default: the shard threads run the I/O
  return o;
}

std::unique_ptr<Engine> OpenEngine(const Options& o) {
  Result<std::unique_ptr<Engine>> e = Engine::Open(o);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

IngestReply IngestRetrying(Engine& e, IngestContext& ctx, const std::string& body,
                           BodyFormat format) {
  for (;;) {
    IngestReply r = e.IngestSync(ctx, body, format);
    if (r.status.code() != StatusCode::kResourceExhausted) return r;
    std::this_thread::yield();
  }
}

RecommendRequest Req(std::string user, uint32_t k, std::string category,
                     std::optional<int64_t> min_price_micros,
                     std::optional<int64_t> max_price_micros) {
  RecommendRequest r;
  r.user = std::move(user);
  r.k = k;
  r.category = std::move(category);
  r.min_price_micros = min_price_micros;
  r.max_price_micros = max_price_micros;
  return r;
}

std::string LatencyLine(std::string_view label, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double q) {
    if (ms.empty()) return 0.0;
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-36s probes %6zu  p50 %7.3f  p99 %7.3f  p999 %7.3f  max %7.3f ms",
                std::string(label).c_str(), ms.size(), pct(0.5), pct(0.99), pct(0.999), pct(1.0));
  return buf;
}

}  // namespace eddy::test
