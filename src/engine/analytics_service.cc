#include "engine/analytics_service.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "commerce/alerts.h"
#include "commerce/catalog.h"
#include "commerce/inventory.h"
#include "commerce/revenue.h"
#include "commerce/sessions.h"
#include "engine/alert_feed.h"
#include "util/time.h"

namespace eddy {

AnalyticsService::AnalyticsService(const Options& options, const ShardSet& shards,
                                   const Interners& interners, const PartitionedLog& log,
                                   const EngineClock& clock, const Live<FraudOptions>& fraud)
    : options_(options),
      fraud_(fraud),
      shards_(shards),
      interners_(interners),
      log_(log),
      clock_(clock) {}

void AnalyticsService::ItemCatalog(std::string_view item,
                                   std::function<void(CatalogRecord)> done) const {
  const uint32_t id = interners_.items.Find(item);
  if (id == 0) return done({});
  // Catalog changes live in the item's partition.
  const PartitionId p = log_.PartitionOfKey(item);
  shards_.OnShard(shards_.ShardOf(p), [this, p, id, done = std::move(done)](ShardState& st) {
    st.CatchUp(p);
    CatalogRecord out;
    if (const eddy::CatalogItem* c = st.Get<CatalogState>().Find(ItemId(id))) {
      out.found = true;
      out.deleted = c->deleted;
      out.hidden = c->hidden;
      if (c->category.valid()) out.category = interners_.categories.Lookup(c->category.value());
      out.price_micros = c->price();
      out.stock = c->stock_level();
      if (c->has & eddy::CatalogItem::kThreshold) out.low_stock_threshold = c->threshold;
      out.attributes = c->attributes.valid() ? std::string(interners_.strings.Lookup(
                                                   c->attributes.value()))
                                             : "{}";
      out.updated = EventTime(c->updated_ms);
    }
    done(std::move(out));
  });
}

void AnalyticsService::UserSessions(std::string_view user, uint32_t k,
                                    std::function<void(SessionsAnswer)> done) const {
  SessionsAnswer answer;
  const int64_t now_ms = clock_.NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  const uint32_t uid = interners_.users.Find(user);
  if (uid == 0 || k == 0) return done(std::move(answer));
  const PartitionId p = log_.PartitionOfKey(user);
  shards_.OnShard(shards_.ShardOf(p), [this, p, uid, k, now_ms, answer = std::move(answer),
                                       done = std::move(done)](ShardState& st) mutable {
    st.CatchUp(p);
    const std::vector<Session>* sessions = st.Get<SessionState>().Find(UserId(uid));
    if (sessions != nullptr) {
      for (auto s = sessions->rbegin(); s != sessions->rend() && answer.sessions.size() < k; ++s) {
        SessionSummary& out = answer.sessions.emplace_back();
        out.from_producer = s->producer.valid();
        out.session_id = out.from_producer
                             ? std::string(interners_.sessions.Lookup(s->producer.value()))
                             : "auto-" + std::to_string(s->start);
        out.start = EventTime(s->start);
        out.end = EventTime(s->end);
        out.open = now_ms != INT64_MIN && now_ms - s->end < options_.sessions.gap_ms;
        out.counts = s->counts;
        out.revenue_micros = s->revenue_micros;
        out.items.reserve(s->items.size());
        for (const auto& [item, t] : s->items) {
          out.items.emplace_back(interners_.items.Lookup(item.value()));
        }
      }
    }
    done(std::move(answer));
  });
}

void AnalyticsService::Funnel(int64_t window_minutes, std::string_view category,
                              std::function<void(FunnelAnswer)> done) const {
  FunnelAnswer answer;
  const int64_t now_ms = clock_.NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  answer.window_minutes = window_minutes;
  answer.category = std::string(category);
  CategoryId cat;
  if (!category.empty()) {
    cat = CategoryId(interners_.categories.Find(category));
    if (!cat.valid()) return done(std::move(answer));
  }
  if (now_ms == INT64_MIN || window_minutes <= 0) return done(std::move(answer));
  const int64_t g = MinuteOf(now_ms);
  shards_.ScatterGather<SessionState::Partial>(
      [cat, g, window_minutes](ShardState& st) {
        SessionState::Partial p{};
        st.Get<SessionState>().AddFunnel(cat, g, window_minutes, &p);
        return p;
      },
      [answer = std::move(answer),
       done = std::move(done)](std::vector<SessionState::Partial>& parts) mutable {
        SessionState::Partial sum{};
        for (const auto& p : parts) SessionState::Merge(sum, p);
        answer.sessions = sum[0];
        answer.viewed = sum[1];
        answer.carted = sum[2];
        answer.purchased = sum[3];
        done(std::move(answer));
      });
}

void AnalyticsService::Revenue(const RevenueRequest& request,
                               std::function<void(RevenueAnswer)> done) const {
  RevenueAnswer answer;
  const int64_t now_ms = clock_.NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  answer.category = request.category;
  const std::vector<int64_t>& sizes = options_.revenue.window_minutes;
  const auto at = std::find(sizes.begin(), sizes.end(), request.window_minutes);
  if (at == sizes.end()) return done(std::move(answer));
  const size_t size = static_cast<size_t>(at - sizes.begin());
  const int64_t w = request.window_minutes;
  // Windows starting in [from, to): minutes [ceil(from / W) * W, ceil(to / W) * W).
  const auto ceil_window = [w](int64_t ms) { return CeilDiv(CeilDiv(ms, 60'000), w) * w; };
  int64_t to_ms = 0;
  if (request.to_ms) {
    to_ms = *request.to_ms;
  } else if (now_ms != INT64_MIN) {
    to_ms = ceil_window(now_ms + 1) * 60'000;  // the end of now's window
  }
  const int64_t from_ms = request.from_ms.value_or(to_ms - 12 * w * 60'000);
  if (to_ms <= from_ms || (to_ms - from_ms) / (w * 60'000) > kMaxRevenueWindows) {
    return done(std::move(answer));
  }
  answer.window_minutes = w;
  answer.total.start = EventTime(from_ms);
  answer.total.end = EventTime(to_ms);
  const int64_t from_minute = ceil_window(from_ms), to_minute = ceil_window(to_ms);
  CategoryId cat;
  if (!request.category.empty()) cat = CategoryId(interners_.categories.Find(request.category));
  // A category never seen still gets its (empty) windows.
  const bool unknown_category = !request.category.empty() && !cat.valid();
  shards_.ScatterGather<RevenueState::Partial>(
      [size, cat, from_minute, to_minute, unknown_category](ShardState& st) {
        RevenueState::Partial p;
        if (!unknown_category) {
          st.Get<RevenueState>().AddWindows(size, cat, from_minute, to_minute, &p);
        }
        return p;
      },
      [w, from_minute, to_minute, answer = std::move(answer),
       done = std::move(done)](std::vector<RevenueState::Partial>& parts) mutable {
        RevenueState::Partial sum;
        for (const auto& p : parts) RevenueState::Merge(sum, p);
        for (int64_t m = from_minute; m < to_minute; m += w) {
          RevenueWindow& out = answer.windows.emplace_back();
          out.start = EventTime(m * 60'000);
          out.end = EventTime((m + w) * 60'000);
          auto it = sum.find(m);
          if (it != sum.end()) static_cast<RevenueFigures&>(out) = it->second;
        }
        for (const RevenueWindow& x : answer.windows) answer.total.Add(x);
        done(std::move(answer));
      });
}

void AnalyticsService::ItemInventory(std::string_view item,
                                     std::function<void(InventoryAnswer)> done) const {
  InventoryAnswer answer;
  const int64_t now_ms = clock_.NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  const uint32_t id = interners_.items.Find(item);
  if (id == 0) return done(std::move(answer));
  // Stock lives with the item's catalog record, in the item's partition.
  const PartitionId p = log_.PartitionOfKey(item);
  shards_.OnShard(shards_.ShardOf(p), [this, p, id, now_ms, answer = std::move(answer),
                                       done = std::move(done)](ShardState& st) mutable {
    st.CatchUp(p);
    const InventoryState& inventory = st.Get<InventoryState>();
    if (const InventoryItem* it = inventory.Find(ItemId(id))) {
      answer.found = true;
      answer.stock = it->stock_level();
      answer.oversold = it->oversold;
      answer.window_days = inventory.window_days();
      if (now_ms != INT64_MIN) {
        answer.sold_in_window = inventory.UnitsSold(*it, now_ms);
        answer.velocity = inventory.Velocity(*it, now_ms);
      }
      if (answer.stock && answer.velocity > 0) answer.days_of_cover = *answer.stock / answer.velocity;
      if (answer.stock) {
        const double days = options_.inventory.lead_time_days + options_.inventory.safety_days;
        const auto need = static_cast<int64_t>(std::ceil(answer.velocity * days - 1e-9));
        answer.reorder = std::max<int64_t>(0, need - *answer.stock);
      }
      answer.threshold = inventory.ThresholdOf(*it);
      answer.low = it->low;
      answer.updated = EventTime(it->updated_ms);
    }
    done(std::move(answer));
  });
}

void AnalyticsService::LowStock(uint32_t k, std::function<void(LowStockAnswer)> done) const {
  LowStockAnswer answer;
  answer.now = EngineClock::AnswerTime(clock_.NowMs());
  const auto before = [](const LowStockItem& a, const LowStockItem& b) {
    if (a.stock != b.stock) return a.stock < b.stock;
    if (a.threshold != b.threshold) return a.threshold > b.threshold;
    return a.item_id < b.item_id;
  };
  shards_.ScatterGather<std::vector<LowStockItem>>(
      [this, k, before](ShardState& st) {
        std::vector<LowStockItem> part;
        const InventoryState& inventory = st.Get<InventoryState>();
        inventory.ForEachLow([&](ItemId item, const InventoryItem& it) {
          part.push_back({std::string(interners_.items.Lookup(item.value())), it.stock,
                          inventory.ThresholdOf(it), EventTime(it.low_since_ms)});
        });
        std::sort(part.begin(), part.end(), before);
        if (part.size() > k) part.resize(k);
        return part;
      },
      [k, before, answer = std::move(answer),
       done = std::move(done)](std::vector<std::vector<LowStockItem>>& parts) mutable {
        for (auto& p : parts) {
          answer.items.insert(answer.items.end(), std::make_move_iterator(p.begin()),
                              std::make_move_iterator(p.end()));
        }
        std::sort(answer.items.begin(), answer.items.end(), before);
        if (answer.items.size() > k) answer.items.resize(k);
        done(std::move(answer));
      });
}

void AnalyticsService::Alerts(const AlertsRequest& request,
                              std::function<void(AlertsAnswer)> done) const {
  AlertsAnswer answer;
  std::optional<AlertKind> kind;
  if (!request.kind.empty()) {
    kind = AlertKindOf(request.kind);
    if (!kind) return done(std::move(answer));  // a kind with no alerts yet (fraud, anomaly)
  }
  const int64_t since = request.since_ms;
  const uint32_t k = request.k;
  shards_.ScatterGather<std::vector<AlertRecord>>(
      [kind, since, k](ShardState& st) {
        std::vector<AlertRecord> part;
        st.Get<AlertState>().Collect(kind ? &*kind : nullptr, since, k, &part);
        return part;
      },
      [this, k, answer = std::move(answer),
       done = std::move(done)](std::vector<std::vector<AlertRecord>>& parts) mutable {
        const std::shared_ptr<const FraudOptions> fraud = fraud_.Get();
        for (const auto& p : parts) {
          for (const AlertRecord& r : p) {
            answer.alerts.push_back(ToAlert(r, interners_, options_, *fraud));
          }
        }
        // Newest first; ties in an order no layout changes.
        std::sort(answer.alerts.begin(), answer.alerts.end(), [](const Alert& a, const Alert& b) {
          if (a.time != b.time) return a.time > b.time;
          return a.id > b.id;
        });
        if (answer.alerts.size() > k) answer.alerts.resize(k);
        done(std::move(answer));
      });
}

}  // namespace eddy
