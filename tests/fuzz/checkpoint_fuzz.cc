// fuzz_checkpoint: a shard's checkpoint as recovery reads it (engine/shard_state.h Load,
// each state's LoadFrom), after the file's checksum passed — so the bytes of a section are
// anything a bug or an older build could have written. The base is the checkpoint of a
// shard that applied a few hundred events of every kind; the input's first byte picks the
// section (state) its other bytes replace: the index in registration order (so a state
// added later does not move the others' regression inputs; a byte past the last one is
// not an input). Load either refuses, or gives a shard that can
// apply more events and checkpoint again, and whose checkpoint loads back (to a
// checkpoint of the same size: hash tables may list their entries in another order).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/shard_state.h"
#include "fuzz/check.h"
#include "log/partitioned_log.h"
#include "experiments/attribution.h"
#include "util/serial.h"

using eddy::fuzz::Check;

namespace {

using eddy::Event;
using eddy::EventType;

constexpr int64_t kT0 = 1'700'000'000'000;

struct Base {
  eddy::Options options;
  std::unique_ptr<eddy::PartitionedLog> log;
  eddy::Interners interners;
  std::atomic<uint64_t> dups{0};
  std::vector<std::pair<std::string, std::string>> sections;  // (name + version, bytes)
  std::vector<uint64_t> versions;

  std::unique_ptr<eddy::ShardState> NewShard() {
    return std::make_unique<eddy::ShardState>(0, options, log.get(), &interners,
                                              std::vector<eddy::PartitionId>{eddy::PartitionId(0)},
                                              eddy::Clock::System(), &dups);
  }
};

// Events of every kind the states take, ids small so that they collide.
void ApplySome(eddy::ShardState& shard, eddy::Interners& interners, int n, int64_t t) {
  // Answers served under an experiment (and impressions of them), then events that
  // attribution takes: by recommId now and then, else by last touch.
  const std::string record = eddy::EncodeServed("exp", "A", {"1", "2", "3"});
  const std::string other = eddy::EncodeServed("exp", "B", {"4", "5"});
  const EventType types[] = {EventType::kView, EventType::kClick, EventType::kAddToCart,
                             EventType::kPurchase, EventType::kCancel, EventType::kInventory,
                             EventType::kCatalogPut, EventType::kSearch, EventType::kPurchase,
                             EventType::kSegmentUpdate};
  eddy::LogEntry entry;
  entry.kind = eddy::LogEntry::kEvent;
  for (int i = 0; i < n; ++i) {
    Event& e = entry.event;
    e = Event{};
    e.type = types[i % 10];
    e.time = eddy::EventTime(t + i * 37'000);
    e.user = eddy::UserId(1 + i % 7);
    e.item = eddy::ItemId(1 + i % 11);
    e.category = eddy::CategoryId(1 + i % 3);
    e.order = eddy::OrderId(1 + i % 5);
    e.quantity = 1 + i % 3;
    if (e.type == EventType::kPurchase) {
      e.price_micros = (i % 4 == 3 ? 900'000'000 : 1'990'000);  // now and then an anomaly
      e.flags |= Event::kHasPrice;
      e.ip = eddy::StringId(1 + i % 2);  // fraud: IP bursts, travel
      e.ip_orders = static_cast<uint16_t>(1 + i % 7);
      e.flags |= Event::kHasIpOrders;
    }
    if (i % 3 == 0) e.country = eddy::StringId(3 + i % 2);
    if (e.type == EventType::kSegmentUpdate) e.query = eddy::StringId(5 + i % 2);
    if (e.type == EventType::kInventory || e.type == EventType::kCatalogPut) {
      e.stock = i % 9;
      e.flags |= Event::kHasStock;
    }
    if (i % 4 == 1) e.recomm = 1 + i % 6;
    if (i % 6 == 0) {
      Event served = e;
      served.type = i % 12 == 0 ? EventType::kServed : EventType::kImpression;
      served.query = eddy::StringId(interners.strings.Intern(i % 24 == 0 ? record : other));
      served.recomm = 1 + i % 6;
      served.quantity = i % 2;
      served.flags = 0;
      eddy::LogEntry s;
      s.event = served;
      shard.Apply(s, eddy::PartitionId(0));
    }
    shard.Apply(entry, eddy::PartitionId(0));
    if (e.type == EventType::kPurchase || e.type == EventType::kCancel) {
      e.flags |= Event::kDerived;  // its stock move, as the ingest path appends it
      shard.Apply(entry, eddy::PartitionId(0));
    }
  }
}

std::string Save(eddy::ShardState& shard) {
  std::string bytes;
  eddy::SerialWriter w(&bytes);
  shard.Save(w);
  return bytes;
}

Base& TheBase() {
  static Base* base = [] {
    auto* b = new Base;
    b->options.log.partitions = 1;
    b->log = std::make_unique<eddy::PartitionedLog>(1, 16, 1);
    auto shard = b->NewShard();
    for (int i = 1; i <= 11; ++i) b->interners.items.Intern(std::to_string(i));
    ApplySome(*shard, b->interners, 400, kT0);
    const std::string bytes = Save(*shard);
    eddy::SerialReader r(bytes);
    const uint64_t n = r.Count(3);
    for (uint64_t i = 0; i < n; ++i) {
      const std::string name(r.Bytes());
      b->versions.push_back(r.U64());
      b->sections.emplace_back(name, std::string(r.Bytes()));
    }
    Check(r.done());
    return b;
  }();
  return *base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Base& base = TheBase();
  const size_t pick = data[0];
  if (pick >= base.sections.size()) return 0;
  std::string cp;
  eddy::SerialWriter w(&cp);
  w.U64(base.sections.size());
  for (size_t i = 0; i < base.sections.size(); ++i) {
    w.Bytes(base.sections[i].first);
    w.U64(base.versions[i]);
    w.Bytes(i == pick ? std::string_view(reinterpret_cast<const char*>(data + 1), size - 1)
                      : std::string_view(base.sections[i].second));
  }
  auto shard = base.NewShard();
  eddy::SerialReader r(cp);
  if (!shard->Load(r)) return 0;
  const std::string once = Save(*shard);
  auto again = base.NewShard();
  eddy::SerialReader r2(once);
  Check(again->Load(r2));
  Check(Save(*again).size() == once.size());
  ApplySome(*shard, base.interners, 50, kT0 + 3'600'000);
  (void)Save(*shard);
  return 0;
}
