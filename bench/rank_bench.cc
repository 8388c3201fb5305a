// Cost of scoring recommendation candidates (ranker::Rank): rules, normalisation, weighted
// sum, ordering and diversity over N candidates with all six signals, top 10; with at most
// `per_category` of a category (0 = no cap: the default ranking.max_per_category).
#include <benchmark/benchmark.h>

#include <random>

#include "ranker/scorer.h"

namespace eddy::ranker {
namespace {

void BM_Rank(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Candidate> c(static_cast<size_t>(state.range(0)));
  std::vector<std::string> items(c.size()), categories(c.size());  // what the views see
  for (size_t i = 0; i < c.size(); ++i) {
    items[i] = "item-" + std::to_string(i);
    categories[i] = "cat-" + std::to_string(rng() % 20);
    c[i].item = items[i];
    c[i].category = categories[i];
    c[i].price_micros = static_cast<int64_t>(rng() % 100'000'000);
    for (double& v : c[i].raw) v = u(rng);
  }
  const SignalValues w = {0.4, 0.3, 0.2, 0.1, 0.1, 0.1};
  Rules r;
  r.max_per_category = static_cast<uint32_t>(state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(Rank(c, w, r, 10));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rank)->ArgNames({"candidates", "per_category"})->ArgsProduct({{100, 500, 2000}, {0, 3}});

}  // namespace
}  // namespace eddy::ranker
