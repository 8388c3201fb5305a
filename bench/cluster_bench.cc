// The JetStream log's cost (issue 20): events/s and CPU µs per event through
// JetStreamLog::Publish (batches of the given number of messages, waiting for every
// acknowledgement), against one nats-server (R1) and a 3-server cluster (R3) on this box —
// client and servers share its cores. `per_message`: events of ~200 bytes carried by one
// message (1: a message per event; more: a request's run of one partition in one message).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <string>
#include <vector>

#include "cluster/jetstream.h"
#include "testutil/nats_server.h"

namespace eddy {
namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void BM_JetStreamPublish(benchmark::State& state) {
  if (!test::HaveNatsServer()) return state.SkipWithError("nats-server is not installed");
  const int servers = static_cast<int>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  const size_t per_message = static_cast<size_t>(state.range(2));
  test::NatsCluster nats(servers);
  if (!nats.started()) return state.SkipWithError("nats-server did not start");
  ClusterOptions o;
  o.servers = nats.urls();
  o.stream = "bench";
  o.replicas = static_cast<uint32_t>(servers);
  auto log = JetStreamLog::Open(o, 16);
  if (!log.ok()) return state.SkipWithError(std::string(log.status().message()).c_str());
  const std::string payload(200 * per_message, 'x');
  uint64_t id = 0, n = 0;
  std::vector<JetStreamLog::Record> records(batch);
  std::vector<JetStreamLog::Ack> acks;
  const double cpu0 = CpuSeconds();
  for (auto _ : state) {
    for (auto& r : records) {
      r.partition = static_cast<uint32_t>(id % 16);
      r.data = payload;
      r.msg_id = "e" + std::to_string(id++);
    }
    if (!(*log)->Publish(records, &acks).ok()) return state.SkipWithError("publish failed");
    n += batch * per_message;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  // This process's CPU (the client side; the servers' is their own).
  state.counters["client_cpu_us_per_event"] = (CpuSeconds() - cpu0) * 1e6 / static_cast<double>(n);
}
BENCHMARK(BM_JetStreamPublish)->ArgNames({"servers", "batch", "per_message"})
    ->Args({1, 100, 1})->Args({1, 1000, 1})->Args({3, 100, 1})->Args({3, 1000, 1})
    ->Args({1, 100, 25})->Args({3, 100, 25})->Args({3, 16, 100})
    ->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace eddy
