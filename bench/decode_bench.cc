// Decode + validate + intern of request bodies on one core (SPEC §1), against simdjson
// alone on the same bytes. One line per workload; items/s = events/s.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "benchutil.h"
#include "eddy/clock.h"
#include "ingest/decoder.h"

namespace eddy {
namespace {

constexpr size_t kBatch = 1000;

struct Fixture {
  Interners interners;
  IngestOptions options;
  ManualClock clock{EventTime(1'600'000'000'000)};
  Decoder decoder{interners, options, &clock};
  std::vector<std::string> bodies;
  std::vector<Event> events;
  std::vector<Rejection> rejected;

  Fixture(bool ndjson) {
    options.max_future_skew_ms = int64_t{1} << 50;
    std::vector<std::string> ev = bench::TaobaoEvents(96'000);
    for (size_t i = 0; i + kBatch <= ev.size(); i += kBatch) {
      std::string body;
      if (ndjson) {
        body = bench::JoinNdjson(ev, i, kBatch);
      } else {
        body = "[";
        for (size_t j = 0; j < kBatch; ++j) body += (j ? "," : "") + ev[i + j];
        body += "]";
      }
      body.reserve(body.size() + Decoder::kPadding);
      bodies.push_back(std::move(body));
    }
  }
};

void Run(benchmark::State& state, BodyFormat format) {
  Fixture f(format == BodyFormat::kNdjson);
  size_t i = 0, events = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& b = f.bodies[i++ % f.bodies.size()];
    DecodeResult r = f.decoder.Decode(b, b.capacity(), format, DefaultType::kNone, &f.events,
                                      &f.rejected);
    if (!r.status.ok() || !f.rejected.empty()) state.SkipWithError("decode failed");
    events += f.events.size();
    bytes += b.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(bench::HaveTaobao() ? "taobao" : "synthetic taobao-shaped");
}

void BM_DecodeNdjson(benchmark::State& state) { Run(state, BodyFormat::kNdjson); }
void BM_DecodeJsonArray(benchmark::State& state) { Run(state, BodyFormat::kAuto); }

// simdjson alone: parse each NDJSON line and visit every field, no validation or interning.
void BM_SimdjsonOnlyNdjson(benchmark::State& state) {
  Fixture f(true);
  simdjson::ondemand::parser parser;
  size_t i = 0, events = 0;
  for (auto _ : state) {
    const std::string& b = f.bodies[i++ % f.bodies.size()];
    size_t pos = 0;
    while (pos < b.size()) {
      size_t nl = b.find('\n', pos);
      if (nl == std::string::npos) nl = b.size();
      simdjson::ondemand::document doc;
      if (parser.iterate(b.data() + pos, nl - pos, b.capacity() - pos).get(doc)) break;
      simdjson::ondemand::object obj;
      if (doc.get_object().get(obj)) break;
      for (auto field : obj) {
        std::string_view k;
        if (field.unescaped_key().get(k)) break;
        simdjson::ondemand::value v;
        if (!field.value().get(v)) {
          std::string_view s;
          if (v.get_string().get(s)) {
            int64_t n = 0;
            if (v.get_int64().get(n)) n = -1;
            benchmark::DoNotOptimize(n);
          }
          benchmark::DoNotOptimize(s);
        }
      }
      ++events;
      pos = nl + 1;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}

BENCHMARK(BM_DecodeNdjson);
BENCHMARK(BM_DecodeJsonArray);
BENCHMARK(BM_SimdjsonOnlyNdjson);

}  // namespace
}  // namespace eddy
