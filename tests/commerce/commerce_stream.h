#pragma once
// A reproducible random commerce stream for the oracle tests of sessions, the funnel and
// revenue: users' events near a shared clock, some far behind it (out of order), some
// exactly or just under the session gap after the user's previous event, producer
// sessionIds on some events,
// multi-line orders, cancels, unpriced purchases. Each event keeps its raw fields, so the
// tests recompute every answer by brute force, independently of the engine's code.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "testutil/testutil.h"

namespace eddy::test {

inline constexpr int64_t kCommerceT0 = 1'700'000'000'000;  // ms
inline constexpr int64_t kCommerceGapMs = 30 * 60'000;

struct CommerceEvent {
  std::string user, type, item, category, session, order;
  int64_t time_ms = 0;
  int64_t price_cents = -1;  // -1: no price
  int64_t quantity = 1;
  std::string json;
};

inline std::vector<CommerceEvent> CommerceStream(uint32_t seed, int n, int users = 50) {
  static const char* kTypes[] = {"view", "view", "view", "view", "click", "add_to_cart",
                                 "add_to_cart", "purchase", "purchase", "cancel", "search"};
  std::mt19937_64 rng(seed);
  // A shared clock moves ~10 s per event; each event is a little behind it, or far behind
  // (out of order, often late for revenue), or exactly / just under the gap after the
  // user's previous event.
  int64_t global = kCommerceT0;
  std::vector<int64_t> last(users, kCommerceT0);
  std::vector<int> orders(users, 0);
  std::vector<CommerceEvent> out;
  for (int i = 0; i < n; ++i) {
    const int u = static_cast<int>(rng() % users);
    global += static_cast<int64_t>(rng() % 20'000);
    const uint64_t r = rng() % 20;
    int64_t t;
    if (r == 0) t = last[u] + kCommerceGapMs;
    else if (r == 1) t = last[u] + kCommerceGapMs - 1;
    else if (r <= 4) t = global - static_cast<int64_t>(rng() % (40 * 60'000));
    else t = global - static_cast<int64_t>(rng() % 60'000);
    t = std::max(kCommerceT0, t);
    global = std::max(global, t);
    last[u] = t;
    CommerceEvent e;
    e.user = "u" + std::to_string(u);
    e.type = kTypes[rng() % 11];
    e.time_ms = t;
    EventBuilder b;
    b.User(e.user).Type(e.type).Time(e.time_ms);
    if (e.type == "search") {
      b.Str("query", "q");
    } else if (e.type == "cancel") {
      e.order = "o" + std::to_string(u) + "-" + std::to_string(rng() % (orders[u] + 2));
      b.Str("orderId", e.order);
    } else {
      e.item = "i" + std::to_string(rng() % 40);
      b.Item(e.item);
      if (rng() % 6 != 0) {  // some events carry no category
        e.category = "c" + std::to_string(rng() % 4);
        b.Category(e.category);
      }
    }
    if (e.type == "purchase") {
      e.quantity = 1 + static_cast<int64_t>(rng() % 3);
      b.Raw("quantity", std::to_string(e.quantity));
      if (rng() % 5 != 0) {
        e.price_cents = static_cast<int64_t>(rng() % 10'000) + 1;
        b.Raw("price", std::to_string(e.price_cents / 100) + "." +
                           (e.price_cents % 100 < 10 ? "0" : "") +
                           std::to_string(e.price_cents % 100));
      }
      const uint64_t o = rng() % 3;
      if (o != 0) {  // one in three is an order of its own (no orderId)
        if (o == 1) ++orders[u];
        e.order = "o" + std::to_string(u) + "-" + std::to_string(orders[u]);
        b.Str("orderId", e.order);
      }
    }
    if (e.type != "cancel" && rng() % 5 == 0) {  // a producer session id
      e.session = "s" + std::to_string(u) + "-" + std::to_string(rng() % 3);
      b.Str("sessionId", e.session);
    }
    e.json = b.Json();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace eddy::test
