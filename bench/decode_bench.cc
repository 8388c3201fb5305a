// Decode + validate + intern of request bodies on one core (SPEC §1), against simdjson
// alone on the same bytes. One line per workload; items/s = events/s.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "benchutil.h"
#include "eddy/clock.h"
#include "ingest/decoder.h"
#include "load/source.h"

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

  Fixture(bool ndjson, const std::vector<std::string>& ev) {
    options.max_future_skew_ms = int64_t{1} << 50;
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

std::string TaobaoLabel() { return bench::HaveTaobao() ? "taobao" : "synthetic taobao-shaped"; }

void Run(benchmark::State& state, BodyFormat format,
         const std::vector<std::string>& ev = bench::TaobaoEvents(96'000),
         const std::string& label = TaobaoLabel()) {
  Fixture f(format == BodyFormat::kNdjson, ev);
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
  state.SetLabel(label);
}

void BM_DecodeNdjson(benchmark::State& state) { Run(state, BodyFormat::kNdjson); }
void BM_DecodeJsonArray(benchmark::State& state) { Run(state, BodyFormat::kAuto); }

// simdjson alone: parse each NDJSON line and visit every field, no validation or interning.
void BM_SimdjsonOnlyNdjson(benchmark::State& state) {
  Fixture f(true, bench::TaobaoEvents(96'000));
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

// Seed-002-shaped events (eddy-load --shape seed): ISO timestamps, a new session per
// burst, a new order per purchase, a location object, mostly new customers, 20 M items with
// a flat skew — most strings are new to the interners, as in the daemon under that load.
// The pool (200 k events) is decoded once per pass, so later passes meet known strings
// again; the first pass is the cold figure, printed as its own benchmark.
std::vector<std::string> SeedShapedEvents() {
  load::SyntheticOptions so;
  so.seed_shape = true;
  so.users = 1'000'000;
  so.items = 20'000'000;
  so.item_skew = 0.2;
  so.categories = 2000;
  load::Synthetic gen(so);
  std::vector<std::string> ev(200 * kBatch);
  for (std::string& e : ev) gen.Next(&e);
  return ev;
}
void BM_DecodeSeedNdjson(benchmark::State& state) {
  Run(state, BodyFormat::kNdjson, SeedShapedEvents(), "seed-shaped");
}

BENCHMARK(BM_DecodeNdjson);
BENCHMARK(BM_DecodeSeedNdjson)->Iterations(200)->Name("BM_DecodeSeedNdjson/cold");
BENCHMARK(BM_DecodeSeedNdjson)->Name("BM_DecodeSeedNdjson/warm");
BENCHMARK(BM_DecodeJsonArray);
BENCHMARK(BM_SimdjsonOnlyNdjson);

}  // namespace
}  // namespace eddy
