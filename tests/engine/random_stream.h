#pragma once
// A reproducible random event stream for oracle tests of the aggregates, and the helper
// that ingests it in batches. Each event keeps its raw fields so a test can recompute any
// aggregate by brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "eddy/engine.h"
#include "testutil/testutil.h"

namespace eddy::test {

constexpr int64_t kT0 = 1'700'000'000'000;  // ms

struct RawEvent {
  std::string user, type, item, category;
  int64_t time_ms;
  std::string json;
};

inline constexpr const char* kStreamTypes[] = {"view",     "view",     "view",
                                               "click",    "add_to_cart", "wishlist",
                                               "purchase", "remove_from_cart"};

// `n` events of `users` users over 25 categories and `items` items; each user's clock
// wanders forward 0-6 min and one time in five steps back up to 10 min (out of order
// within the user's stream), ~2 h per user at 4000 events over 40 users.
inline std::vector<RawEvent> RandomStream(uint32_t seed, int n, int users = 40,
                                          int items = 300) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> user_clock(users, kT0);
  std::vector<RawEvent> out;
  for (int i = 0; i < n; ++i) {
    int u = static_cast<int>(rng() % users);
    int64_t step = rng() % 5 == 0 ? -static_cast<int64_t>(rng() % 600'000)
                                  : static_cast<int64_t>(rng() % 360'000);
    user_clock[u] = std::max(kT0, user_clock[u] + step);
    RawEvent e;
    e.user = "u" + std::to_string(u);
    e.type = kStreamTypes[rng() % 8];
    e.category = "c" + std::to_string(std::min<uint64_t>(rng() % 25, rng() % 25));
    e.item = "i" + std::to_string(std::min<uint64_t>(rng() % items, rng() % items));
    e.time_ms = user_clock[u];
    EventBuilder b;
    b.User(e.user).Type(e.type).Item(e.item).Category(e.category).Time(e.time_ms);
    if (e.type == "purchase") b.Price(9.5);
    e.json = b.Json();
    out.push_back(std::move(e));
  }
  return out;
}

inline EventType TypeOf(const std::string& name) {
  for (int t = 0; t < kEventTypeCount; ++t) {
    if (EventTypeName(static_cast<EventType>(t)) == name) return static_cast<EventType>(t);
  }
  ADD_FAILURE() << "unknown type " << name;
  return EventType::kView;
}

inline int64_t NewestMs(const std::vector<RawEvent>& events) {
  int64_t newest = INT64_MIN;
  for (const RawEvent& e : events) newest = std::max(newest, e.time_ms);
  return newest;
}

inline void IngestAll(Engine& engine, const std::vector<RawEvent>& events, size_t batch) {
  auto ctx = engine.NewIngestContext();
  for (size_t i = 0; i < events.size(); i += batch) {
    std::vector<std::string> objs;
    for (size_t j = i; j < std::min(events.size(), i + batch); ++j) objs.push_back(events[j].json);
    IngestReply r = engine.IngestSync(*ctx, Ndjson(objs), BodyFormat::kNdjson);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_EQ(r.accepted, objs.size());
  }
}

// Options of the aggregate oracle tests: event clock (answers at the newest event time),
// windows 5m/1h/24h, a fractional weight.
inline Options OracleOptions(uint32_t partitions, int shards) {
  Options o = TestOptions(partitions, shards);
  o.clock = ClockMode::kEvent;
  o.windows.minutes = {5, 60, 1440};
  o.weights[static_cast<size_t>(EventType::kWishlist)] = 4.25;
  o.log.capacity_per_partition = 4096;
  return o;
}

// Brute force, written from the SPEC text: per user, the distinct items touched, most
// recent first, with the time of their last touch.
inline std::map<std::string, std::map<std::string, uint64_t>> BruteCoView(
    const std::vector<RawEvent>& events, const Options& o) {
  std::map<std::string, std::map<std::string, uint64_t>> pairs;
  std::map<std::string, std::vector<std::pair<std::string, int64_t>>> recent;  // newest first
  const int64_t window_ms = o.coview.window_minutes * 60'000;
  for (const RawEvent& e : events) {  // acceptance order = stream order (one producer)
    if (o.weights[static_cast<size_t>(test::TypeOf(e.type))] <= 0) continue;
    auto& list = recent[e.user];
    uint32_t taken = 0;
    for (const auto& [item, last] : list) {
      if (item == e.item) continue;
      if (taken++ == o.coview.recent_items) break;
      if (last >= e.time_ms - window_ms) {
        ++pairs[item][e.item];
        ++pairs[e.item][item];
      }
    }
    std::erase_if(list, [&](const auto& p) { return p.first == e.item; });
    list.insert(list.begin(), {e.item, e.time_ms});
  }
  return pairs;
}

inline std::vector<SimilarItem> ExpectedSimilar(const std::map<std::string, uint64_t>& neighbours, size_t k) {
  std::vector<SimilarItem> v;
  for (const auto& [item, n] : neighbours) v.push_back({item, n, 0});
  std::sort(v.begin(), v.end(), [](const SimilarItem& a, const SimilarItem& b) {
    return a.count != b.count ? a.count > b.count : a.item < b.item;
  });
  if (v.size() > k) v.resize(k);
  return v;
}

}  // namespace eddy::test
