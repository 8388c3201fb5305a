#pragma once
// Where eddy-load's events come from: a synthetic e-commerce stream (Zipf-skewed users,
// items and categories, a Taobao-like type mix, session-like bursts, a fixed seed), or a
// replay of an NDJSON or CSV file. Events are JSON object texts; requests are batches.
// Thread-safety: none; the runner serialises access.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ingest/replay_reader.h"
#include "load/zipf.h"

namespace eddy::load {

struct SyntheticOptions {
  uint64_t users = 100'000;
  uint64_t items = 50'000;
  uint64_t categories = 500;
  double user_skew = 0.9;
  double item_skew = 1.1;
  double category_skew = 1.0;
  // Type mix (fractions; the rest are clicks). Default close to Taobao's behaviour mix.
  double view = 0.89;
  double cart = 0.055;
  double wishlist = 0.03;
  double purchase = 0.022;
  int max_burst = 8;  // a user emits 1..max_burst events in a row (a session-like burst)
  uint64_t seed = 42;
  // Events shaped like seed 002's examples: customerId/productId/productCategory names, an
  // ISO-8601 timestamp (the wall clock when generated), a sessionId per burst, deviceType,
  // a location object, and mostly customers never seen before (4 bursts in 5), with
  // quantity, totalAmount, orderId and paymentMethod on purchases.
  bool seed_shape = false;
};

// One event as the seed Redis layer would see it (for the baseline).
struct EventFields {
  std::string user, item, category, type;
  int weight = 1;
};

class Synthetic {
 public:
  explicit Synthetic(const SyntheticOptions& o);
  // Appends the next event's JSON object to `out`; fills `fields` if given.
  void Next(std::string* out, EventFields* fields = nullptr);
  // A user id as the stream names them, for read load: "u<rank>".
  std::string SampleUser(std::mt19937_64& rng) const;

 private:
  void AppendSeedShaped(std::string* out, uint64_t item, uint64_t category, const char* type,
                        int weight);

  SyntheticOptions o_;
  std::mt19937_64 rng_;
  Zipf users_, items_, categories_;
  uint64_t user_ = 0;
  int burst_left_ = 0;
  uint64_t orders_ = 0;
  uint64_t new_users_ = 0, sessions_ = 0;
};

// The seed design's Redis state layer for one event, as RESP commands (8 per event):
// trending ZINCRBY for 1h and 24h, per-minute velocity INCR + EXPIRE, engagement HINCRBY,
// affinity ZINCRBY, recent LPUSH + LTRIM.
void AppendRedisCommands(const EventFields& e, int64_t minute, std::string* out);

}  // namespace eddy::load
