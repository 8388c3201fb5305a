// Apply cost of each aggregate (ns/event), and of a shard's whole Apply, on one synthetic
// stream: Zipf users (200k), items (100k) and categories (2k), the load generator's type
// mix, time advancing 1 ms per event (a shard at 1M events/s). items/s = events/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "agg/affinity.h"
#include "agg/coview.h"
#include "agg/engagement.h"
#include "agg/popularity.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "commerce/revenue.h"
#include "commerce/sessions.h"
#include "engine/shard_state.h"
#include "learn/embedding.h"
#include "load/zipf.h"

namespace eddy {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

struct Stream {
  std::vector<Event> events;
  std::vector<double> weight;  // per event, from the default weights
};

const Stream& TheStream() {
  static const Stream s = [] {
    Stream s;
    std::mt19937_64 rng(42);
    load::Zipf users(200'000, 0.9), items(100'000, 1.0), cats(2'000, 1.0);
    std::vector<uint32_t> cat_of(100'001);
    for (auto& c : cat_of) c = static_cast<uint32_t>(cats.Sample(rng));
    const EventWeights w = Options().weights;
    std::discrete_distribution<int> mix({89, 2, 3, 5.5, 2.2});
    const EventType types[] = {EventType::kView, EventType::kClick, EventType::kWishlist,
                               EventType::kAddToCart, EventType::kPurchase};
    for (int i = 0; i < 1'000'000; ++i) {
      Event e;
      e.user = UserId(static_cast<uint32_t>(users.Sample(rng)));
      const uint32_t item = static_cast<uint32_t>(items.Sample(rng));
      e.item = ItemId(item);
      e.category = CategoryId(cat_of[item]);
      e.type = types[mix(rng)];
      e.time = EventTime(kT0 + i);
      s.weight.push_back(w[static_cast<size_t>(e.type)]);
      s.events.push_back(e);
    }
    return s;
  }();
  return s;
}

// Runs `apply(event, weight, time_offset)` over the stream, cycling with time moving on.
template <typename F>
void Run(benchmark::State& state, F apply) {
  const Stream& s = TheStream();
  size_t i = 0;
  int64_t offset = 0;
  for (auto _ : state) {
    apply(s.events[i], s.weight[i], offset);
    if (++i == s.events.size()) {
      i = 0;
      offset += static_cast<int64_t>(s.events.size());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

EventTime At(const Event& e, int64_t offset) { return EventTime(e.time.millis() + offset); }

void BM_Recent(benchmark::State& state) {
  RecentItems r(50, 2'000'000);
  Run(state, [&](const Event& e, double, int64_t off) { r.Touch(e.user, e.item, At(e, off)); });
}
BENCHMARK(BM_Recent);

void BM_Trending(benchmark::State& state) {
  CategoryWindows t({60, 1440});
  Run(state, [&](const Event& e, double w, int64_t off) {
    t.Apply(e.category, At(e, off).millis() / 60'000, static_cast<int64_t>(w * 1e6));
  });
}
BENCHMARK(BM_Trending);

void BM_Engagement(benchmark::State& state) {
  Engagement g({60, 1440}, 2'000'000);
  Run(state, [&](const Event& e, double, int64_t off) {
    g.Apply(e.item, e.type, At(e, off).millis() / 60'000);
  });
}
BENCHMARK(BM_Engagement);

void BM_Popularity(benchmark::State& state) {
  Popularity p(1440 * 60'000, 1000, 2'000'000);
  Run(state, [&](const Event& e, double w, int64_t off) {
    p.Apply(e.item, e.category, At(e, off), w);
  });
}
BENCHMARK(BM_Popularity);

void BM_Affinity(benchmark::State& state) {
  Affinity a(7 * 1440 * 60'000, 64, 2'000'000);
  Run(state, [&](const Event& e, double w, int64_t off) {
    a.Apply(e.user, e.category, At(e, off), w);
  });
}
BENCHMARK(BM_Affinity);

// A state at its cap, every event from a new key (keys 1..cap applied first, untimed), so
// every one makes the least recently used key go. longest_apply_ms is the slowest single
// apply: what a shard's reads and connections wait for at most (a pass over the whole
// table every cap/8 new keys when an eighth went at once).
template <typename Apply>
void PastTheCap(benchmark::State& state, uint32_t cap, Apply apply) {
  for (uint32_t k = 1; k <= cap; ++k) apply(k);
  uint32_t next = cap + 1;
  int64_t longest_ns = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    apply(next++);
    longest_ns = std::max<int64_t>(longest_ns, (std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["longest_apply_ms"] = static_cast<double>(longest_ns) / 1e6;
}

// Affinity at 1 M users (a shard's half of the default 2 M).
void BM_AffinityPastTheCap(benchmark::State& state) {
  Affinity a(7 * 1440 * 60'000, 64, 1'000'000);
  PastTheCap(state, 1'000'000, [&](uint32_t u) {
    a.Apply(UserId(u), CategoryId(u % 2000 + 1), EventTime(kT0 + u), 1.0);
  });
  state.counters["evicted"] = static_cast<double>(a.evicted_users());
}
BENCHMARK(BM_AffinityPastTheCap)->Iterations(1'000'000);

// Item embeddings at 500 k items (a shard's half of the default 1 M), 64 dimensions.
void BM_EmbeddingPastTheCap(benchmark::State& state) {
  Options o;
  o.embedding.max_items = 500'000;
  EmbeddingState st(o, CapShare{});
  ApplyInfo info;
  info.weight = 1;
  Event ev;
  ev.user = UserId(1);
  PastTheCap(state, 500'000, [&](uint32_t item) {
    ev.item = ItemId(item);
    ev.user_hash = item * 2654435761u;
    st.ApplyEvent(ev, info);
  });
  state.counters["evicted"] = static_cast<double>(st.Memory().evicted);
}
BENCHMARK(BM_EmbeddingPastTheCap)->Iterations(500'000);

// Co-view at 500 k items (a shard's half of the default 1 M): every new item paired with
// item 1, so each makes a list (and item 1's list stays at its cut). An apply that fills
// the buffer folds it (16 k pairs): that fold is in the slowest apply either way.
void BM_CoViewPastTheCap(benchmark::State& state) {
  CoView cv(100, 500'000);
  PastTheCap(state, 500'000, [&](uint32_t item) { cv.AddPair(ItemId(item), ItemId(1)); });
  cv.Flush();
  state.counters["evicted"] = static_cast<double>(cv.evicted_items());
}
BENCHMARK(BM_CoViewPastTheCap)->Iterations(500'000);

// Engagement at 1 M items (a shard's half of the default 2 M), default windows, a new
// minute every 1,000 events (so the buckets hold a day of minutes once warm).
void BM_EngagementPastTheCap(benchmark::State& state) {
  Engagement e(Options().windows.minutes, 1'000'000);
  PastTheCap(state, 1'000'000, [&](uint32_t item) {
    e.Apply(ItemId(item), EventType::kView, item / 1000);
  });
  state.counters["evicted"] = static_cast<double>(e.evicted_items());
}
BENCHMARK(BM_EngagementPastTheCap)->Iterations(1'000'000);

// Popularity at 1 M items (a shard's half of the default 2 M), 2,000 categories.
void BM_PopularityPastTheCap(benchmark::State& state) {
  Popularity p(6 * 60 * 60'000, 1000, 1'000'000);
  PastTheCap(state, 1'000'000, [&](uint32_t item) {
    p.Apply(ItemId(item), CategoryId(item % 2000 + 1), EventTime(kT0 + item), 1.0);
  });
  state.counters["evicted"] = static_cast<double>(p.evicted_items());
}
BENCHMARK(BM_PopularityPastTheCap)->Iterations(1'000'000);

// Co-view with the recent-items update it relies on (as the shard does it): co-view's own
// cost is this minus BM_Recent. A fixed count of events, so runs hold the same tables.
void BM_RecentAndCoView(benchmark::State& state) {
  RecentItems r(50, 2'000'000);
  CoView cv(100, 1'000'000);
  Run(state, [&](const Event& e, double, int64_t off) {
    const int64_t from = At(e, off).millis() - 30 * 60'000;
    if (const auto* items = r.Find(e.user)) {
      uint32_t taken = 0;
      for (auto it = items->rbegin(); it != items->rend() && taken < 10; ++it) {
        if (it->item == e.item) continue;
        ++taken;
        if (it->time.millis() >= from) cv.AddPair(it->item, e.item);
      }
    }
    r.Touch(e.user, e.item, At(e, off));
  });
}
BENCHMARK(BM_RecentAndCoView)->Iterations(3'000'000);

// Sessions and the funnel (commerce/sessions.h), default options; one shard of one.
void BM_Sessions(benchmark::State& state) {
  Options o;
  SessionState st(o, CapShare{1, 1});
  Run(state, [&](const Event& e, double w, int64_t off) {
    Event ev = e;
    ev.time = At(e, off);
    st.ApplyEvent(ev, {w, 0, ev.time.millis() / 60'000});
  });
}
BENCHMARK(BM_Sessions);

// Revenue windows (commerce/revenue.h): purchases (5.5% of the stream), one order each,
// default options.
void BM_Revenue(benchmark::State& state) {
  Options o;
  RevenueState st(o, CapShare{1, 1});
  Run(state, [&](const Event& e, double w, int64_t off) {
    Event ev = e;
    ev.time = At(e, off);
    ev.order = OrderId(static_cast<uint32_t>(e.time.millis() - kT0 + 1));
    ev.price_micros = 9'990'000;
    ev.flags |= Event::kHasPrice;
    st.ApplyEvent(ev, {w, 0, ev.time.millis() / 60'000});
  });
}
BENCHMARK(BM_Revenue);

// Default options with the commerce analytics of `mask` on: 1 sessions, 2 revenue,
// 4 inventory.
Options WithCommerceStates(int64_t mask) {
  Options o;
  o.sessions.enabled = (mask & 1) != 0;
  o.revenue.enabled = (mask & 2) != 0;
  o.inventory.enabled = (mask & 4) != 0;
  return o;
}

// Everything a shard does per event (ShardState::Apply), default options but for the
// commerce analytics, a mask of which are on: 1 sessions, 2 revenue, 4 inventory (/7 the
// default, /0 all off).
void BM_ShardApplyAll(benchmark::State& state) {
  Options o = WithCommerceStates(state.range(0));
  o.log.partitions = 1;
  PartitionedLog log(1, 16, 1);
  std::atomic<uint64_t> dups{0};
  Interners interners;
  ShardState shard(0, o, &log, &interners, {PartitionId(0)}, Clock::System(), &dups);
  LogEntry entry;
  entry.kind = LogEntry::kEvent;
  Run(state, [&](const Event& e, double, int64_t off) {
    entry.event = e;
    entry.event.time = At(e, off);
    shard.Apply(entry, PartitionId(0));
  });
}
BENCHMARK(BM_ShardApplyAll)->Arg(7)->Arg(1)->Arg(2)->Arg(4)->Arg(0);

// As BM_ShardApplyAll through the shard's poll loop (with its prefetch pipeline): runs of
// 1024 events appended to the log, then polled. items/s = events/s.
void BM_ShardDrain(benchmark::State& state) {
  constexpr uint32_t kRun = 1024;
  Options o = WithCommerceStates(state.range(0));
  o.log.partitions = 1;
  PartitionedLog log(1, 2 * kRun, 1);
  std::atomic<uint64_t> dups{0};
  Interners interners;
  ShardState shard(0, o, &log, &interners, {PartitionId(0)}, Clock::System(), &dups);
  PartitionLog& pl = log.partition(PartitionId(0));
  const Stream& s = TheStream();
  size_t i = 0;
  int64_t offset = 0;
  for (auto _ : state) {
    const uint64_t first = *pl.TryReserve(kRun);
    for (uint32_t k = 0; k < kRun; ++k) {
      LogEntry& entry = pl.At(first + k);
      entry = LogEntry{};
      entry.kind = LogEntry::kEvent;
      entry.event = s.events[i];
      entry.event.time = At(s.events[i], offset);
      pl.Publish(first + k);
      if (++i == s.events.size()) {
        i = 0;
        offset += static_cast<int64_t>(s.events.size());
      }
    }
    while (shard.Poll(+[] { return false; }) != 0) {
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRun);
}
BENCHMARK(BM_ShardDrain)->Arg(7)->Arg(1)->Arg(0);

}  // namespace
}  // namespace eddy
