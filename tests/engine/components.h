#pragma once
// A small wiring of the engine's parts for the components' own unit tests: options, the
// engine clock, interners, the partitioned log and a ShardSet with shard threads — what
// engine.cc wires, without the components under test.
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "engine/engine_clock.h"
#include "engine/shard_set.h"
#include "engine/shard_state.h"
#include "ingest/decoder.h"
#include "log/partitioned_log.h"
#include "testutil/testutil.h"

namespace eddy::test {

struct Parts {
  explicit Parts(Options o, int consumers = 1)
      : options(std::move(o)),
        clock(options.clock, Clock::System()),
        log(std::make_unique<PartitionedLog>(options.log.partitions,
                                             options.log.capacity_per_partition, consumers)) {
    set.states = NewStates(interners.get());
  }
  ~Parts() { StopShards(); }

  std::vector<std::unique_ptr<ShardState>> NewStates(Interners* in) {
    return NewShardStates(options.runtime.shards, options, log.get(), in, Clock::System(),
                          &duplicates);
  }

  // `threads` 0: a thread per shard state (ShardSet::Start).
  void StartShards(const std::atomic<uint64_t>* gate = nullptr, size_t threads = 0) {
    set.Start(gate, threads);
  }
  // Every shard catches up with every acknowledged event (a read of them all).
  void CatchUp() {
    std::promise<void> done;
    set.ScatterGather<int>([](ShardState&) { return 0; },
                           [&done](std::vector<int>&) { done.set_value(); });
    done.get_future().wait();
  }
  void StopShards() { set.Stop(); }

  // Decodes NDJSON lines into events with these interners (as an I/O thread would).
  std::vector<Event> Decode(const std::vector<std::string>& lines) {
    Decoder decoder(*interners, options.ingest, Clock::System());
    std::string body = Ndjson(lines);
    body.reserve(body.size() + Decoder::kPadding);
    std::vector<Event> events;
    std::vector<Rejection> rejected;
    EXPECT_TRUE(decoder.Decode(body, body.capacity(), BodyFormat::kNdjson, DefaultType::kNone,
                               &events, &rejected).status.ok());
    EXPECT_TRUE(rejected.empty());
    return events;
  }

  Options options;
  EngineClock clock;
  std::unique_ptr<Interners> interners = std::make_unique<Interners>();
  std::unique_ptr<PartitionedLog> log;
  ShardSet set;
  std::atomic<uint64_t> duplicates{0};
};

// Runs `start(callback)` and waits for the answer it calls back with (a component's read).
template <typename T, typename Start>
T Wait(Start start) {
  std::promise<T> p;
  start([&p](T v) { p.set_value(std::move(v)); });
  return p.get_future().get();
}

inline Options ComponentOptions(uint32_t partitions = 4, int shards = 2) {
  Options o = TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  return o;
}

}  // namespace eddy::test
