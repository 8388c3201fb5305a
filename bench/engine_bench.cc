// The whole in-process ingest path without HTTP: decode + validate + intern + partition
// + append, with the shard threads applying concurrently. items/s = events/s.
#include <benchmark/benchmark.h>

#include "benchutil.h"
#include "eddy/engine.h"

namespace eddy {
namespace {

void BM_EngineIngestNdjson(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  Options o;
  o.durability.data_dir = "";
  o.ingest.max_future_skew_ms = int64_t{1} << 50;
  o.runtime.shards = 1;  // the benchmark thread is the producer; one shard applies
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  std::vector<std::string> ev = bench::TaobaoEvents(96'000);
  std::vector<std::string> bodies;
  for (size_t i = 0; i + batch <= ev.size(); i += batch) {
    bodies.push_back(bench::JoinNdjson(ev, i, batch));
  }
  size_t i = 0, n = 0;
  std::string body;
  for (auto _ : state) {
    body = bodies[i++ % bodies.size()];
    IngestReply r;
    do {
      r = engine->IngestSync(*ctx, body, BodyFormat::kNdjson);
    } while (r.status.code() == StatusCode::kResourceExhausted);
    if (!r.status.ok()) state.SkipWithError("ingest failed");
    n += r.accepted;
  }
  engine->Stop();
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_EngineIngestNdjson)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace eddy
