// Appends to one partition of the lock-free log: reserve, fill, publish, with the
// consumer cursor advanced in step (a consumer that keeps up). items/s = events/s.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "log/partitioned_log.h"

namespace eddy {
namespace {

void BM_LogAppendSingleProducer(benchmark::State& state) {
  const uint32_t run = static_cast<uint32_t>(state.range(0));
  PartitionLog log(1 << 16, 1);
  Event ev;
  ev.user = UserId(1);
  uint64_t n = 0;
  for (auto _ : state) {
    std::optional<uint64_t> first = log.TryReserve(run);
    for (uint32_t j = 0; j < run; ++j) {
      LogEntry& e = log.At(*first + j);
      e.event = ev;
      e.tag = nullptr;
      e.kind = LogEntry::kEvent;
    }
    for (uint32_t j = 0; j < run; ++j) log.Publish(*first + j);
    log.Advance(0, *first + run);
    n += run;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_LogAppendSingleProducer)->Arg(1)->Arg(16)->Arg(100);

// One producer (the benchmark thread) and one consumer thread draining concurrently.
void BM_LogAppendWithConsumerThread(benchmark::State& state) {
  const uint32_t run = static_cast<uint32_t>(state.range(0));
  PartitionLog log(1 << 16, 1);
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    uint64_t cur = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t start = cur;
      while (const LogEntry* e = log.Peek(cur)) {
        benchmark::DoNotOptimize(e->event.user);
        ++cur;
      }
      if (cur != start) log.Advance(0, cur);
    }
  });
  Event ev;
  uint64_t n = 0;
  for (auto _ : state) {
    std::optional<uint64_t> first;
    while (!(first = log.TryReserve(run))) {
    }
    for (uint32_t j = 0; j < run; ++j) log.At(*first + j).event = ev;
    for (uint32_t j = 0; j < run; ++j) log.Publish(*first + j);
    n += run;
  }
  stop = true;
  consumer.join();
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_LogAppendWithConsumerThread)->Arg(100)->UseRealTime();

}  // namespace
}  // namespace eddy
