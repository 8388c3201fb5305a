#pragma once
// Attribution (issue 19): which answer served under an experiment each later event of the
// same user came from, and per variant what those answers brought — the counts the
// experiment report (experiments/report.h) turns into rates and intervals.
//
// Every answer eddy serves under a running experiment is appended to the user's
// partition as a `served` event (its recommId's hash, experiment, variant, items) before
// the answer is sent; so in that partition it precedes every event the user posts after
// seeing it, in live runs, recovery and replay alike, and attribution is exact like every
// other state. This state keeps, per user, the newest attribution.answers_per_user
// answers, and attributes:
//
//   - an event naming a recommId (Event::recomm) to that answer, if it was served to this
//     user within attribution.window of the event's time;
//   - else an event for an item to the newest answer shown to the user within the window
//     that held the item (last touch). ("After" is the log's order: the window
//     bounds the time between the two either way, since a client's clock may be behind
//     the engine clock that stamped the answer.)
//   - a `view` or `click` counts as a click, `add_to_cart` as a cart, `purchase` as a
//     purchase line (price × quantity of revenue); a `cancel` takes the order's lines
//     back out; a purchase of an order already cancelled is counted as cancelled, never
//     as a conversion (as revenue does, SPEC §3.9); events of filtered users (bots,
//     fraud) are not attributed.
//
// An answer is shown when the client posts an `impression` event with its recommId, or
// at once when its experiment says impressions = "serve"; an event attributed to an
// answer not yet shown shows it (a click implies a view), so each rate is a proportion of
// shown answers: clicked / shown, carted / shown, bought / shown.
//
// Per variant ("experiment\x1fvariant") the counts are a partial summed over shards
// (Merge). Memory: at most attribution.max_users users (split over the partitions; the
// least recently served forgotten) × answers_per_user answers × their items, and
// orders_per_user cancelled order ids per user.
//
// Thread-safety: none; owned and used by one shard thread.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agg/lru_map.h"
#include "agg/state.h"
#include "eddy/engine.h"
#include "eddy/ids.h"
#include "eddy/options.h"
#include "util/interners.h"

namespace eddy {

using VariantCounts = ExperimentCounts;  // eddy/engine.h

// The served event's `query`: experiment, variant and items, length-prefixed (SerialWriter
// Bytes), so no byte of an item id is special.
std::string EncodeServed(std::string_view experiment, std::string_view variant,
                         const std::vector<std::string_view>& items);

// One Thompson reallocation of an experiment: when, and each variant's share.
struct AllocationRecord {
  int64_t time_ms = 0;
  std::vector<std::string> variants;
  std::vector<double> shares;
  bool operator==(const AllocationRecord&) const = default;
};
// The allocation event's `query`: experiment, then each variant's name and share.
std::string EncodeAllocation(std::string_view experiment, const AllocationRecord& a);
// The newest `kMaxAllocations` reallocations of each experiment are kept.
inline constexpr size_t kMaxAllocations = 1000;

class ExperimentState final : public State {
 public:
  ExperimentState(const Options& o, const CapShare& share, Interners& interners);

  std::string_view Name() const override { return "experiments"; }
  uint32_t FormatVersion() const override { return 1; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  bool TakesExperimentFeed() const override { return true; }
  void ApplyExperimentFeed(const Event& ev) override;
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  // Per variant key (experiment, kServedSep, variant): this shard's counts.
  struct Partial {
    std::map<std::string, VariantCounts> counts;
    uint64_t unmatched = 0;  // impressions and events whose recommId matched no answer
    // By experiment, oldest first (each experiment's are on the shard of its name's
    // partition).
    std::map<std::string, std::vector<AllocationRecord>> allocations;
  };
  void AddTo(Partial& p) const;
  static void Merge(Partial& into, const Partial& part);
  // A partial as bytes (cluster mode: another node's share of a report), and back.
  static void SavePartial(SerialWriter& w, const Partial& p);
  static bool LoadPartial(SerialReader& r, Partial* p);
  static std::string KeyOf(std::string_view experiment, std::string_view variant);

 private:
  enum AnswerFlags : uint8_t { kShown = 1, kClicked = 2, kCarted = 4 };
  struct Line {
    OrderId order;  // invalid: a purchase without an orderId (never cancelled)
    int64_t revenue_micros = 0;
  };
  struct Answer {
    uint64_t recomm = 0;
    int64_t time_ms = 0;
    uint32_t variant = 0;  // index into keys_
    uint8_t flags = 0;
    int64_t revenue_micros = 0;  // of its lines
    std::vector<Line> lines;     // attributed purchase lines not cancelled
    std::vector<ItemId> items;
  };
  struct User {
    std::vector<Answer> answers;       // oldest first
    std::vector<OrderId> cancelled;    // newest last, at most orders_per_user
  };

  uint32_t VariantIndex(std::string_view key);
  Answer* Match(User& u, const Event& ev);
  void Show(Answer& a);
  void Purchase(User& u, Answer& a, const Event& ev);
  void Cancel(User& u, const Event& ev);
  void SetRevenue(Answer& a, int64_t revenue_micros);
  void Forget(const Answer& a);  // leaves the memory estimate
  void Allocate(const Event& ev);

  const AttributionOptions options_;
  const int64_t window_ms_;
  Interners& interners_;
  std::vector<std::string> keys_;
  absl::flat_hash_map<std::string, uint32_t> key_index_;
  std::vector<VariantCounts> counts_;  // by variant index
  LruMap<UserId, User> users_;
  std::map<std::string, std::vector<AllocationRecord>> allocations_;  // as in Partial
  uint64_t answers_held_ = 0, items_held_ = 0;  // for Memory()
  uint64_t unmatched_ = 0;
  uint64_t malformed_ = 0;  // served events whose record could not be read (never expected)
};

}  // namespace eddy
