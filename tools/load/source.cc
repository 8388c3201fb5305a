#include "load/source.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cmath>
#include <fstream>

namespace eddy::load {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64: a deterministic per-item draw
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double Unit(uint64_t x) { return static_cast<double>(Mix(x) >> 11) * 0x1.0p-53; }

void Resp(std::string* out, std::initializer_list<std::string_view> args) {
  *out += '*';
  *out += std::to_string(args.size());
  *out += "\r\n";
  for (std::string_view a : args) {
    *out += '$';
    *out += std::to_string(a.size());
    *out += "\r\n";
    out->append(a);
    *out += "\r\n";
  }
}

}  // namespace

Synthetic::Synthetic(const SyntheticOptions& o)
    : o_(o),
      rng_(o.seed),
      users_(o.users, o.user_skew),
      items_(o.items, o.item_skew),
      categories_(o.categories, o.category_skew) {}

std::string Synthetic::SampleUser(std::mt19937_64& rng) const {
  return "u" + std::to_string(users_.Sample(rng));
}

void Synthetic::Next(std::string* out, EventFields* fields) {
  if (burst_left_ <= 0) {
    // Seed shape: 4 bursts in 5 by a customer never seen before.
    // (New ones are numbered past --users and per --seed, so runs with other seeds bring
    // other new customers.)
    user_ = o_.seed_shape && rng_() % 5 != 0 ? o_.users + (o_.seed << 32) + new_users_++
                                             : users_.Sample(rng_);
    ++sessions_;
    burst_left_ = 1 + static_cast<int>(rng_() % static_cast<uint64_t>(std::max(1, o_.max_burst)));
  }
  --burst_left_;
  const uint64_t item = items_.Sample(rng_);
  const uint64_t category = categories_.RankFor(Unit(item));  // fixed per item
  const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const char* type = "click";
  int weight = 3;
  if (r < o_.view) {
    type = "view", weight = 1;
  } else if (r < o_.view + o_.cart) {
    type = "add_to_cart", weight = 5;
  } else if (r < o_.view + o_.cart + o_.wishlist) {
    type = "wishlist", weight = 4;
  } else if (r < o_.view + o_.cart + o_.wishlist + o_.purchase) {
    type = "purchase", weight = 10;
  }
  if (o_.seed_shape) {
    AppendSeedShaped(out, item, category, type, weight);
    if (fields != nullptr) *fields = EventFields{"customer-" + std::to_string(user_),
                                                 "product-" + std::to_string(item),
                                                 "category-" + std::to_string(category), type, weight};
    return;
  }
  const std::string u = "u" + std::to_string(user_), i = "i" + std::to_string(item),
                    c = "c" + std::to_string(category);
  *out += "{\"userId\":\"" + u + "\",\"itemId\":\"" + i + "\",\"category\":\"" + c +
          "\",\"type\":\"" + type + "\"";
  if (weight == 10) {
    const double price = 1.0 + std::floor(Unit(item ^ 0x5eed) * 19900.0) / 100.0;
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, price).ptr;
    *out += ",\"price\":" + std::string(buf, end) + ",\"orderId\":\"o" +
            std::to_string(o_.seed) + "-" + std::to_string(++orders_) + "\"";
  }
  *out += '}';
  if (fields != nullptr) *fields = EventFields{u, i, c, type, weight};
}

void Synthetic::AppendSeedShaped(std::string* out, uint64_t item, uint64_t category,
                                 const char* type, int weight) {
  static constexpr const char* kDevices[] = {"web", "mobile", "pos"};
  static constexpr const char* kPlaces[][3] = {{"DE", "Bavaria", "Munich"},
                                               {"US", "California", "San Francisco"},
                                               {"FR", "Ile-de-France", "Paris"},
                                               {"JP", "Kanto", "Tokyo"}};
  // The wall clock when generated (a pool is cycled for a few minutes at most, well within
  // eddy's past horizon; never ahead of it, which eddy would refuse).
  const int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char iso[96];  // room for any int the compiler imagines in tm
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(t % 1000));
  const auto& place = kPlaces[user_ % 4];
  *out += "{\"customerId\":\"customer-" + std::to_string(user_) + "\",\"productId\":\"product-" +
          std::to_string(item) + "\",\"productCategory\":\"category-" + std::to_string(category) +
          "\",\"type\":\"" + type + "\",\"timestamp\":\"" + iso + "\",\"sessionId\":\"sess-" +
          std::to_string(o_.seed) + "-" + std::to_string(sessions_) + "\",\"deviceType\":\"" +
          kDevices[user_ % 3] + "\",\"ip\":\"10." + std::to_string(user_ >> 16 & 255) + "." +
          std::to_string(user_ >> 8 & 255) + "." + std::to_string(user_ & 255) +
          "\",\"location\":{\"country\":\"" + place[0] +
          "\",\"region\":\"" + place[1] + "\",\"city\":\"" + place[2] + "\"}";
  if (weight == 10) {
    const double price = 1.0 + std::floor(Unit(item ^ 0x5eed) * 19900.0) / 100.0;
    const uint64_t quantity = 1 + rng_() % 3;
    char buf[96];
    std::snprintf(buf, sizeof buf, ",\"quantity\":%llu,\"price\":%.2f,\"totalAmount\":%.2f",
                  static_cast<unsigned long long>(quantity), price,
                  price * static_cast<double>(quantity));
    *out += buf;
    *out += ",\"orderId\":\"order-" + std::to_string(o_.seed) + "-" + std::to_string(++orders_) +
            "\",\"paymentMethod\":\"credit_card\"";
  }
  *out += '}';
}

void AppendRedisCommands(const EventFields& e, int64_t minute, std::string* out) {
  const std::string w = std::to_string(e.weight);
  const std::string vel = "velocity:" + e.category + ":" + std::to_string(minute);
  Resp(out, {"ZINCRBY", "trending:1h", w, e.category});
  Resp(out, {"ZINCRBY", "trending:24h", w, e.category});
  Resp(out, {"INCR", vel});
  Resp(out, {"EXPIRE", vel, "3600"});
  Resp(out, {"HINCRBY", "engagement:" + e.item, e.type, "1"});
  Resp(out, {"ZINCRBY", "affinity:" + e.user, w, e.category});
  Resp(out, {"LPUSH", "recent:" + e.user, e.item});
  Resp(out, {"LTRIM", "recent:" + e.user, "0", "49"});
}

}  // namespace eddy::load
