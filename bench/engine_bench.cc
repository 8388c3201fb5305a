// The whole in-process ingest path without HTTP: decode + validate + intern + partition
// + append, with the shard threads applying concurrently. items/s = events/s. And the
// in-process latency of the aggregate reads (p50/p99 counters, in microseconds) on an
// engine holding the Taobao sample (or its synthetic stand-in), 2 shards.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "benchutil.h"
#include "eddy/engine.h"

namespace eddy {
namespace {

void BM_EngineIngestNdjson(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  Options o;
  o.durability.data_dir = "";
  o.durability.ack = AckLevel::kMemory;
  o.ingest.max_future_skew_ms = int64_t{1} << 50;
  o.runtime.shards = 1;  // the benchmark thread is the producer; one shard applies
  auto engine = std::move(Engine::Open(o)).value();
  auto ctx = engine->NewIngestContext();
  std::vector<std::string> ev = bench::TaobaoEvents(96'000);
  std::vector<std::string> bodies;
  for (size_t i = 0; i + batch <= ev.size(); i += batch) {
    bodies.push_back(bench::JoinNdjson(ev, i, batch));
  }
  size_t i = 0, n = 0, retries = 0;
  std::string body;
  for (auto _ : state) {
    body = bodies[i++ % bodies.size()];
    IngestReply r;
    do {
      r = engine->IngestSync(*ctx, body, BodyFormat::kNdjson);
      retries += r.status.code() == StatusCode::kResourceExhausted;
    } while (r.status.code() == StatusCode::kResourceExhausted);
    if (!r.status.ok()) state.SkipWithError("ingest failed");
    n += r.accepted;
  }
  engine->Stop();
  state.counters["retries"] = static_cast<double>(retries);
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_EngineIngestNdjson)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();

// An in-memory engine for the read benches: event clock (answers at the data's own time),
// 2 shards, any timestamp accepted.
std::unique_ptr<Engine> OpenReadEngine(uint32_t embedding_dims = Options().embedding.dimensions) {
  Options o;
  o.embedding.enabled = embedding_dims > 0;
  if (embedding_dims > 0) o.embedding.dimensions = embedding_dims;
  o.durability.data_dir = "";
  o.durability.ack = AckLevel::kMemory;
  o.clock = ClockMode::kEvent;
  o.runtime.shards = 2;
  o.ingest.max_future_skew_ms = int64_t{1} << 50;
  return std::move(Engine::Open(o)).value();
}

// Ingests `ev` in NDJSON batches of 1000 (retrying while the log is full), then reads every
// shard once so that everything is applied before a bench starts timing.
void IngestAll(Engine& e, const std::vector<std::string>& ev) {
  auto ctx = e.NewIngestContext();
  for (size_t i = 0; i < ev.size(); i += 1000) {
    const size_t n = std::min<size_t>(1000, ev.size() - i);
    IngestReply r;
    do {
      r = e.IngestSync(*ctx, bench::JoinNdjson(ev, i, n), BodyFormat::kNdjson);
    } while (r.status.code() == StatusCode::kResourceExhausted);
  }
  e.PopularItemsSync("", 1);
}

// An engine with the Taobao events in it.
Engine& Loaded() {
  static std::unique_ptr<Engine> engine = [] {
    auto e = OpenReadEngine();
    IngestAll(*e, bench::TaobaoEvents(96'000));
    return e;
  }();
  return *engine;
}

// Item ids of the first 1000 Taobao events (the sample's items vary in popularity).
std::vector<std::string> SampleItems() {
  std::vector<std::string> items;
  for (const std::string& j : bench::TaobaoEvents(1000)) {
    const size_t k = j.find("\"itemId\":\"");
    if (k != std::string::npos) items.push_back(j.substr(k + 10, j.find('"', k + 10) - k - 10));
  }
  return items;
}

// Times each call of `read` and reports p50 and p99 in microseconds.
template <typename F>
void TimeReads(benchmark::State& state, F read) {
  std::vector<double> us;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    read();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

void BM_ReadTrending(benchmark::State& state) {
  Engine& e = Loaded();
  TimeReads(state, [&] { benchmark::DoNotOptimize(e.TrendingCategoriesSync(0, 10)); });
}
BENCHMARK(BM_ReadTrending)->UseRealTime();

void BM_ReadSimilar(benchmark::State& state) {
  Engine& e = Loaded();
  const std::vector<std::string> items = SampleItems();
  size_t i = 0;
  TimeReads(state, [&] { benchmark::DoNotOptimize(e.SimilarItemsSync(items[i++ % items.size()], 10)); });
}
BENCHMARK(BM_ReadSimilar)->UseRealTime();

void BM_ReadPopular(benchmark::State& state) {
  Engine& e = Loaded();
  TimeReads(state, [&] { benchmark::DoNotOptimize(e.PopularItemsSync("", 10)); });
}
BENCHMARK(BM_ReadPopular)->UseRealTime();

// 1M events of history: the Taobao sample ten times over, each copy with its own users
// (suffix) and two hours later, so item and category skew stay real.
struct History {
  std::unique_ptr<Engine> engine;
  std::vector<std::string> users;
};
// `embedding_dims`: 0 = embeddings off. One engine at a time: asking for another setting
// stops the loaded one first (two resident engines of 1 M events each, with their threads,
// measured a p99 twice as high as either alone).
History& Loaded1M(uint32_t embedding_dims = Options().embedding.dimensions) {
  static History h;
  static uint32_t loaded_dims = UINT32_MAX;
  if (loaded_dims == embedding_dims) return h;
  h = History{};  // the previous engine stops and frees its state first
  loaded_dims = embedding_dims;
  h = [embedding_dims] {
    History out;
    out.engine = OpenReadEngine(embedding_dims);
    const std::vector<std::string> base = bench::TaobaoEvents(96'000);
    std::vector<std::string> ev;
    for (int copy = 0; ev.size() < 1'000'000; ++copy) {
      for (const std::string& j : base) {
        std::string e = j;
        const size_t u = e.find("\"userId\":\"");
        if (u != std::string::npos) {
          const size_t end = e.find('"', u + 10);
          e.insert(end, "-" + std::to_string(copy));
          if (copy == 0 && out.users.size() < 5000) out.users.push_back(e.substr(u + 10, end - u - 10 + 2));
        }
        const size_t t = e.find("\"timestamp\":");
        if (t != std::string::npos) {
          size_t p = t + 12, q = p;
          while (q < e.size() && (std::isdigit(static_cast<unsigned char>(e[q])) != 0)) ++q;
          const int64_t ts = std::stoll(e.substr(p, q - p)) + copy * int64_t{7'200};
          e.replace(p, q - p, std::to_string(ts));
        }
        ev.push_back(std::move(e));
        if (ev.size() == 1'000'000) break;
      }
    }
    IngestAll(*out.engine, ev);
    return out;
  }();
  return h;
}

// Recommendations (k = 10, explain data included) for users with history and, one in ten,
// for unknown users (cold start), over 1M events of history; the argument is
// embedding.dimensions (0: embeddings off, so the embed signal costs nothing).
// Recommendations for the loaded users, one in ten an unknown user (cold start), timed.
void TimeRecommendations(benchmark::State& state, History& h) {
  size_t i = 0;
  TimeReads(state, [&] {
    RecommendRequest r;
    r.user = (i % 10 == 9) ? "nobody-" + std::to_string(i) : h.users[i % h.users.size()];
    r.k = 10;
    ++i;
    benchmark::DoNotOptimize(h.engine->RecommendSync(r));
  });
}

void BM_Recommend(benchmark::State& state) {
  TimeRecommendations(state, Loaded1M(static_cast<uint32_t>(state.range(0))));
}
BENCHMARK(BM_Recommend)->ArgName("embedding_dims")->Arg(0)->Arg(64)->Arg(128)->Arg(256)->UseRealTime();

// The cost of serving under an experiment (issue 19): the same requests as BM_Recommend,
// with no experiment (0) and under a running A/B experiment whose variants rank alike (1),
// switched live on one loaded engine, so the difference is the experiment's own work:
// bucketing, and recording each answer as a served event (interned, appended to the
// user's partition, applied by the attribution state). Compare with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N.
void BM_RecommendExperiment(benchmark::State& state) {
  History& h = Loaded1M();
  const Options& o = h.engine->options();
  std::vector<Experiment> experiments;
  if (state.range(0) == 1) {
    Experiment e;
    e.name = "bench";
    e.salt = "bench";
    for (const char* name : {"A", "B"}) e.variants.push_back({name, 0.5, {}, o.ranking});
    experiments.push_back(std::move(e));
  }
  h.engine->SetRanking(o.ranking, o.offers, experiments);
  TimeRecommendations(state, h);
  h.engine->SetRanking(o.ranking, o.offers, o.experiments);
}
BENCHMARK(BM_RecommendExperiment)->ArgName("experiment")->Arg(0)->Arg(1)->UseRealTime();

void BM_SimilarRanked(benchmark::State& state) {
  History& h = Loaded1M();
  const std::vector<std::string> items = SampleItems();
  size_t i = 0;
  TimeReads(state, [&] {
    benchmark::DoNotOptimize(h.engine->SimilarItemsRankedSync(items[i++ % items.size()], 10));
  });
}
BENCHMARK(BM_SimilarRanked)->UseRealTime();

void BM_RankOffers(benchmark::State& state) {
  History& h = Loaded1M();
  std::vector<Offer> offers;
  for (int i = 0; i < 10; ++i) offers.push_back({"offer-" + std::to_string(i), "", 50.0 + i});
  size_t i = 0;
  TimeReads(state, [&] {
    benchmark::DoNotOptimize(h.engine->RankOffersSync(h.users[i++ % h.users.size()], offers, 3));
  });
}
BENCHMARK(BM_RankOffers)->UseRealTime();

}  // namespace
}  // namespace eddy
