#include "http/dashboard.h"

#include <algorithm>

#include "http/json_writer.h"
#include "http/params.h"
#include "util/time.h"

namespace eddy {

// The page's bytes, placed by the assembler (.incbin) from the page built at build time
// (src/http/dashboard/index.html with Chart.js inlined; CMakeLists.txt).
extern "C" const char eddy_dashboard_page[];
extern "C" const char eddy_dashboard_page_end[];

std::string_view DashboardPage() {
  return std::string_view(eddy_dashboard_page,
                          static_cast<size_t>(eddy_dashboard_page_end - eddy_dashboard_page));
}

namespace {

// The q-quantile of the observations between two snapshots of one histogram, in ms: the
// upper bound of the bucket it falls in (0 when nothing was observed).
double QuantileMs(const HistogramSnapshot& now, const HistogramSnapshot& before, double q) {
  const uint64_t base = before.count;
  if (now.count <= base) return 0;
  const double want = q * static_cast<double>(now.count - base);
  for (size_t b = 0; b < now.cumulative.size(); ++b) {
    const uint64_t below = before.cumulative.empty() ? 0 : before.cumulative[b];
    if (static_cast<double>(now.cumulative[b] - below) >= want) return now.upper_bounds_seconds[b] * 1e3;
  }
  return now.upper_bounds_seconds.empty() ? 0 : now.upper_bounds_seconds.back() * 1e3;
}

}  // namespace

DashboardFeed::DashboardFeed(Engine& engine, std::chrono::milliseconds period)
    : engine_(engine), period_(period) {}

DashboardFeed::~DashboardFeed() { Stop(); }

uint64_t DashboardFeed::Subscribe(Listener listener) {
  std::lock_guard lock(mu_);
  if (stopped_) return 0;
  const uint64_t handle = next_++;
  listeners_.emplace_back(handle, std::move(listener));
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_all();
  return handle;
}

void DashboardFeed::Unsubscribe(uint64_t handle) {
  std::lock_guard lock(mu_);
  std::erase_if(listeners_, [handle](const auto& l) { return l.first == handle; });
}

void DashboardFeed::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    listeners_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DashboardFeed::Run() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (listeners_.empty()) {
      cv_.wait(lock);
      continue;
    }
    lock.unlock();
    auto text = std::make_shared<const std::string>("event: snapshot\ndata: " + Snapshot() + "\n\n");
    lock.lock();
    for (const auto& [handle, listener] : listeners_) listener(text);
    cv_.wait_for(lock, period_, [this] { return stopped_; });
  }
}

std::string DashboardFeed::Snapshot() {
  const auto now = std::chrono::steady_clock::now();
  const double dt = last_at_ == std::chrono::steady_clock::time_point{}
                        ? 0
                        : std::chrono::duration<double>(now - last_at_).count();
  const StreamStatus st = engine_.Status();
  JsonWriter w;
  w.BeginObject();
  w.Key("accepted_total").Uint(st.accepted_total);
  w.Key("events_per_second").Double(st.events_per_second_10s);
  // Accepted events/s by type since the previous snapshot.
  w.Key("by_type").BeginObject();
  last_by_type_.resize(st.accepted_by_type.size());
  for (size_t t = 0; t < st.accepted_by_type.size(); ++t) {
    const uint64_t n = st.accepted_by_type[t].second;
    const double rate = dt > 0 ? static_cast<double>(n - std::min(n, last_by_type_[t])) / dt : 0;
    w.Key(st.accepted_by_type[t].first).Double(rate);
    last_by_type_[t] = n;
  }
  w.EndObject();
  last_at_ = now;
  // Trending categories (the first window) and the velocity of the top three.
  const TrendingAnswer trending = engine_.TrendingCategoriesSync(0, 8);
  w.Key("now").String(FormatIso8601(trending.now));
  w.Key("trending").BeginArray();
  for (const TrendingCategory& c : trending.top) {
    w.BeginObject().Key("category").String(c.category).Key("score").Double(c.score);
    w.Key("events").Int(c.events).EndObject();
  }
  w.EndArray().Key("velocity").BeginArray();
  for (size_t i = 0; i < trending.top.size() && i < 3; ++i) {
    const VelocityAnswer v = engine_.CategoryVelocitySync(trending.top[i].category, 15);
    w.BeginObject().Key("category").String(trending.top[i].category).Key("per_minute").BeginArray();
    for (int64_t n : v.per_minute) w.Int(n);
    w.EndArray().EndObject();
  }
  w.EndArray();
  // Revenue: the shortest configured window, the last 12.
  const Options& o = engine_.options();
  w.Key("revenue").BeginObject();
  if (o.revenue.enabled && !o.revenue.window_minutes.empty()) {
    RevenueRequest req;
    req.window_minutes = o.revenue.window_minutes.front();
    const RevenueAnswer r = engine_.RevenueSync(req);
    w.Key("window").String(WindowLabel(r.window_minutes));
    w.Key("total").Double(static_cast<double>(r.total.revenue_micros) / 1e6);
    w.Key("orders").Int(r.total.orders).Key("windows").BeginArray();
    for (const RevenueWindow& win : r.windows) {
      w.BeginObject().Key("start").String(FormatIso8601(win.start));
      w.Key("revenue").Double(static_cast<double>(win.revenue_micros) / 1e6);
      w.Key("orders").Int(win.orders).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  // The funnel of the last hour's sessions.
  w.Key("funnel").BeginObject();
  if (o.sessions.enabled) {
    const FunnelAnswer f = engine_.FunnelSync(60, "");
    w.Key("sessions").Int(f.sessions).Key("viewed").Int(f.viewed).Key("carted").Int(f.carted);
    w.Key("purchased").Int(f.purchased);
  }
  w.EndObject();
  // The experiments in force, per variant: shown answers, click-through and conversion with
  // their 95% intervals, P(best) on the goal, the share new users get.
  const ExperimentsAnswer ex = engine_.ExperimentsSync("");
  w.Key("experiments").BeginArray();
  for (const ExperimentReport& e : ex.experiments) {
    if (!e.configured) continue;
    w.BeginObject().Key("name").String(e.name).Key("running").Bool(e.running);
    w.Key("goal").String(e.goal).Key("variants").BeginArray();
    for (const VariantReport& v : e.variants) {
      w.BeginObject().Key("name").String(v.name).Key("impressions").Uint(v.counts.shown);
      w.Key("ctr").BeginArray().Double(v.ctr.rate).Double(v.ctr.low).Double(v.ctr.high).EndArray();
      w.Key("conversion").BeginArray().Double(v.conversion.rate).Double(v.conversion.low);
      w.Double(v.conversion.high).EndArray();
      w.Key("p_best").Double(e.goal == "conversion" ? v.p_best_conversion : v.p_best_ctr);
      w.Key("allocated").Double(v.allocation).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  // The newest alerts.
  AlertsRequest ar;
  ar.k = 10;
  const AlertsAnswer alerts = engine_.AlertsSync(ar);
  w.Key("alerts").BeginArray();
  for (const Alert& a : alerts.alerts) {
    w.BeginObject().Key("id").String(a.id).Key("kind").String(a.kind);
    w.Key("subject").String(a.kind == "inventory" ? a.item_id : a.user_id);
    w.Key("time").String(FormatIso8601(a.time)).Key("active").Bool(a.active).EndObject();
  }
  w.EndArray();
  // Lag per shard and freshness since the previous snapshot.
  w.Key("lag").BeginArray();
  for (const ShardStatus& s : st.shard) w.Uint(s.lag_events);
  w.EndArray();
  // (Of the probes since the previous snapshot that had any: the last figures stay.)
  if (st.freshness.count > last_freshness_.count) {
    freshness_p50_ = QuantileMs(st.freshness, last_freshness_, 0.5);
    freshness_p99_ = QuantileMs(st.freshness, last_freshness_, 0.99);
    last_freshness_ = st.freshness;
  }
  w.Key("freshness_ms").BeginObject().Key("p50").Double(freshness_p50_);
  w.Key("p99").Double(freshness_p99_).EndObject();
  w.EndObject();
  return w.Take();
}

}  // namespace eddy
