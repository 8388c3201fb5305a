#pragma once
// Sessions and the funnel (SPEC §3.8), one state owned by the user's shard.
//
// Sessions. A user's events that carry a producer `sessionId` form that session, whatever
// their times. The user's other events form sessions by event time: two events belong to
// one session when no gap of `gap_ms` or more separates them (an event exactly `gap_ms`
// after the previous one starts a new session). An event out of order in time joins the
// session(s) within the gap of it; when it bridges two sessions they merge. So the
// sessions are those of the user's events sorted by time, however they arrived.
// A session knows its start, end, counts by event type, page views (`view` events), its
// earliest `max_items` distinct items (by first touch), whether it converted (has a
// purchase) and its revenue (Σ price · quantity of priced purchases).
//
// Funnel. Per session, overall and per category (the event's own `category`; at most
// `max_categories` per session): the furthest step reached of view → add_to_cart →
// purchase in event-time order — step 1 when it has a view; 2 when an add_to_cart is at
// or after its first view; 3 when a purchase is at or after such an add_to_cart. The
// shard keeps, per minute of session start and per category, how many sessions reached
// each step; a session that changes (a new step, an earlier start, a merge) moves its
// counts. A funnel read sums the minutes of its window over every shard (a partial: Merge).
//
// Memory: at most `max_users` users (least recently active forgotten), `max_per_user`
// sessions each (the oldest by start dropped; an event that would start a session older
// than all of a full user's is left out of sessions and the funnel), `max_items` items and `max_categories`
// categories per session, 16 add_to_cart times per session and category before the step is
// settled (oldest dropped), funnel minutes for `funnel_retention_minutes` (+ slack) of
// event time. Forgetting a session leaves its funnel counts (it happened).
//
// Thread-safety: none; owned and used by one shard thread.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "agg/lru_map.h"
#include "agg/state.h"
#include "eddy/event.h"
#include "eddy/ids.h"
#include "eddy/options.h"

namespace eddy {

// One scope of a session's funnel: the whole session (category invalid) or one category.
struct FunnelScope {
  static constexpr size_t kMaxCarts = 16;
  CategoryId category;
  uint8_t step = 0;  // 0 = no view yet, 1 viewed, 2 carted, 3 purchased
  int64_t first_view = INT64_MAX;
  int64_t last_purchase = INT64_MIN;
  std::vector<int64_t> carts;  // add_to_cart times, sorted; dropped once step 3 is reached

  void Add(EventType type, int64_t t);
  void MergeFrom(const FunnelScope& o);

 private:
  void Settle();
};

struct Session {
  // Inline room for the common session (a couple of items, one category): a new session
  // costs one allocation (its user's vector), not three.
  static constexpr size_t kInlineItems = 2;
  static constexpr size_t kInlineCategories = 1;
  SessionId producer;  // the producer's sessionId; invalid for a session split by gaps
  int64_t start = 0, end = 0;  // event times, ms
  // Supersets of BitOf over the session's items and over its categories' ids: an event
  // whose bit is clear is in neither list, known without a scan of them.
  uint64_t item_bits = 0, category_bits = 0;
  static uint64_t BitOf(uint32_t id) {
    return uint64_t{1} << ((id * 0x9E3779B97F4A7C15ull) >> 58);
  }
  std::array<uint32_t, kEventTypeCount> counts{};
  int64_t revenue_micros = 0;
  // The funnel of the whole session, in the session itself (every event updates it).
  FunnelScope whole;
  absl::InlinedVector<std::pair<ItemId, int64_t>, kInlineItems> items;  // (item, first
                                                                        // touch), earliest first
  absl::InlinedVector<FunnelScope, kInlineCategories> categories;  // per category followed
};

class SessionState final : public State {
 public:
  static constexpr uint32_t kMaxCategories = 32;  // the most sessions.max_categories allows
  SessionState(const Options& o, const CapShare& share);

  std::string_view Name() const override { return "sessions"; }
  uint32_t FormatVersion() const override { return 1; }
  bool Applies() const override { return options_.enabled; }
  void ApplyEvent(const Event& ev, const ApplyInfo& info) override;
  bool Prefetches() const override { return options_.enabled; }
  void Prefetch(const Event& ev, const ApplyInfo&) const override {
    if (ev.user.valid()) users_.Prefetch(ev.user);
  }
  // Stage 1: the user's slot (its index line came in); stage 2: their newest session;
  // stage 3: that session's newest item and its category's scope, where they live outside it.
  void PrefetchDeeper(const Event& ev, int stage) const override;
  void Tick(int64_t minute) override { AdvanceTo(minute); }
  void SaveTo(SerialWriter& w) override;
  bool LoadFrom(SerialReader& r, uint32_t version) override;
  void VisitIds(IdMarks& marks) override;
  StateMemory Memory() const override;
  void DescribeSettings(std::string* out) const override;

  // The user's sessions, sorted by start (nullptr: none kept).
  const std::vector<Session>* Find(UserId user) const { return users_.Find(user); }

  // Funnel counts: sessions with the scope, then those that reached steps 1, 2 and 3.
  using Partial = std::array<int64_t, 4>;
  static void Merge(Partial& into, const Partial& part) {
    for (size_t i = 0; i < into.size(); ++i) into[i] += part[i];
  }
  // Adds the counts of sessions started in minutes (g - minutes, g] for `category`
  // (invalid: overall).
  void AddFunnel(CategoryId category, int64_t g, int64_t minutes, Partial* out) const;

 private:
  using Cells = absl::flat_hash_map<CategoryId, Partial>;
  // One session's funnel steps, by scope, as last counted.
  struct Steps {
    int64_t minute = 0;
    size_t n = 0;
    std::array<std::pair<CategoryId, uint8_t>, 1 + kMaxCategories> scope;  // [0, n) set
  };
  static Steps StepsOf(const Session& s);
  // The heap a session holds: itself and its vectors' storage outside it, with (HeapOf)
  // or without (ShallowHeapOf) its scopes' cart lists.
  static uint64_t HeapOf(const Session& s);
  static uint64_t ShallowHeapOf(const Session& s);
  void Count(const Steps& st, int sign);
  void AdvanceTo(int64_t minute);
  Session* SessionFor(std::vector<Session>& sessions, const Event& ev, bool* counted);
  void AddTo(Session& s, const Event& ev, bool counted);
  // Sessions of `category` started in `minute` that reached steps from..to: `sign` each.
  void CountSteps(int64_t minute, CategoryId category, int from, int to, int sign = +1);
  // The oldest minute of session start the funnel keeps (INT64_MIN before any event).
  int64_t KeepFrom() const;
  void MergeInto(Session& into, Session& from);

  const SessionOptions options_;
  LruMap<UserId, std::vector<Session>> users_;
  std::map<int64_t, Cells> funnel_;  // by minute of session start
  int64_t cur_ = INT64_MIN;          // the newest minute seen (event time or tick)
  uint64_t sessions_ = 0;            // held now
  uint64_t heap_ = 0;                // Σ HeapOf over the sessions held
  uint64_t dropped_ = 0;             // sessions dropped by max_per_user
};

}  // namespace eddy
