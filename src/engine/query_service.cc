#include "engine/query_service.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "agg/affinity.h"
#include "agg/coview.h"
#include "agg/engagement.h"
#include "agg/popularity.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "commerce/catalog.h"
#include "engine/item_facts.h"
#include "engine/read_task.h"
#include "util/time.h"

namespace eddy {

QueryService::QueryService(const Options& options, const ShardSet& shards,
                           const Interners& interners, const PartitionedLog& log,
                           const EngineClock& clock)
    : options_(options), shards_(shards), interners_(interners), log_(log), clock_(clock) {}

PartitionId QueryService::PartitionOfUser(std::string_view user) const {
  return log_.PartitionOfKey(user);
}

void QueryService::RecentItems(std::string_view user, uint32_t k,
                               std::function<void(std::vector<RecentItem>)> done) const {
  const uint32_t uid = interners_.users.Find(user);
  if (uid == 0) return done({});  // unknown: never seen, or no state holds it any more
  const PartitionId p = PartitionOfUser(user);
  shards_.OnShard(shards_.ShardOf(p), [this, p, uid, k, done = std::move(done)](ShardState& st) {
    st.CatchUp(p);
    std::vector<eddy::RecentItems::Entry> entries;
    st.Get<RecentState>().Get(UserId(uid), k, &entries);
    std::vector<RecentItem> out;
    out.reserve(entries.size());
    for (const auto& e : entries) {
      out.push_back({std::string(interners_.items.Lookup(e.item.value())), e.time});
    }
    done(std::move(out));
  });
}

void QueryService::TrendingCategories(size_t window, uint32_t k,
                                      std::function<void(TrendingAnswer)> done) const {
  TrendingAnswer answer;
  const std::vector<int64_t>& windows = options_.windows.minutes;
  answer.window_minutes = window < windows.size() ? windows[window] : 0;
  const int64_t now_ms = NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  if (window >= windows.size() || now_ms == INT64_MIN) return done(std::move(answer));
  const int64_t g = MinuteOf(now_ms);
  struct Partial {
    TrendingState::Partial window, this_minute, previous_minute;
  };
  shards_.ScatterGather<Partial>(
      [window, g](ShardState& st) {
        const TrendingState& t = st.Get<TrendingState>();
        Partial p;
        t.AddWindow(window, g, &p.window);
        t.AddBucket(g, &p.this_minute);
        t.AddBucket(g - 1, &p.previous_minute);
        return p;
      },
      [this, k, answer = std::move(answer), done = std::move(done)](std::vector<Partial>& parts) mutable {
        Partial sum;
        for (const Partial& p : parts) {
          TrendingState::Merge(sum.window, p.window);
          TrendingState::Merge(sum.this_minute, p.this_minute);
          TrendingState::Merge(sum.previous_minute, p.previous_minute);
        }
        const auto count_in = [](const TrendingState::Partial& m, CategoryId c) {
          auto it = m.find(c);
          return it == m.end() ? int64_t{0} : it->second.count;
        };
        std::vector<TrendingCategory> all;
        all.reserve(sum.window.size());
        for (const auto& [c, cell] : sum.window) {
          if (cell.count <= 0) continue;
          all.push_back({std::string(interners_.categories.Lookup(c.value())),
                         static_cast<double>(cell.weight) / 1e6, cell.count,
                         count_in(sum.this_minute, c), count_in(sum.previous_minute, c)});
        }
        const size_t top = std::min<size_t>(k, all.size());
        std::partial_sort(all.begin(), all.begin() + top, all.end(),
                          [](const TrendingCategory& a, const TrendingCategory& b) {
                            return a.score != b.score ? a.score > b.score : a.category < b.category;
                          });
        all.resize(top);
        answer.top = std::move(all);
        done(std::move(answer));
      });
}

void QueryService::CategoryVelocity(std::string_view category, uint32_t minutes,
                                    std::function<void(VelocityAnswer)> done) const {
  VelocityAnswer answer;
  const int64_t now_ms = NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  answer.per_minute.assign(minutes, 0);
  const uint32_t cat = interners_.categories.Find(category);
  if (cat == 0 || now_ms == INT64_MIN || minutes == 0) return done(std::move(answer));
  const int64_t g = MinuteOf(now_ms);
  shards_.ScatterGather<std::vector<int64_t>>(
      [g, minutes, cat](ShardState& st) {
        std::vector<int64_t> counts(minutes, 0);
        st.Get<TrendingState>().AddMinutes(CategoryId(cat), g, minutes, &counts);
        return counts;
      },
      [answer = std::move(answer),
       done = std::move(done)](std::vector<std::vector<int64_t>>& parts) mutable {
        for (const auto& p : parts) {
          for (size_t i = 0; i < p.size(); ++i) answer.per_minute[i] += p[i];
        }
        done(std::move(answer));
      });
}

void QueryService::ItemEngagement(std::string_view item,
                                  std::function<void(EngagementAnswer)> done) const {
  EngagementAnswer answer;
  const int64_t now_ms = NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  const size_t windows = options_.windows.minutes.size();
  answer.per_window.resize(windows);
  const uint32_t id = interners_.items.Find(item);
  if (id == 0 || now_ms == INT64_MIN) return done(std::move(answer));
  const int64_t g = MinuteOf(now_ms);
  // An item's events come from many users, so from every shard.
  struct Part {
    EngagementState::Partial counts;
    Engagement::Facts facts;
  };
  shards_.ScatterGather<Part>(
      [g, id, windows](ShardState& st) {
        const EngagementState& e = st.Get<EngagementState>();
        Part p;
        p.counts.per_window.resize(windows);
        e.Add(ItemId(id), g, &p.counts.all_time, &p.counts.per_window);
        if (const Engagement::Facts* f = e.FactsOf(ItemId(id))) p.facts = *f;
        return p;
      },
      [this, answer = std::move(answer), done = std::move(done)](std::vector<Part>& parts) mutable {
        EngagementState::Partial sum;
        MergedFacts facts;
        for (const Part& part : parts) {
          EngagementState::Merge(sum, part.counts);
          facts.Add(part.facts, interners_.categories);
        }
        answer.all_time = sum.all_time;
        if (!sum.per_window.empty()) answer.per_window = std::move(sum.per_window);
        answer.category = std::string(facts.category_name);
        answer.price_micros = facts.price_micros;
        answer.category_ms = facts.category_ms;
        answer.price_ms = facts.price_ms;
        done(std::move(answer));
      });
}

void QueryService::PopularItems(std::string_view category, uint32_t k,
                                std::function<void(PopularAnswer)> done) const {
  PopularAnswer answer;
  const int64_t now_ms = NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  CategoryId cat;
  if (!category.empty()) {
    cat = CategoryId(interners_.categories.Find(category));
    if (!cat.valid()) return done(std::move(answer));
  }
  if (now_ms == INT64_MIN || k == 0) return done(std::move(answer));
  Popular(cat, k, now_ms, std::move(answer), std::move(done));
}

// Exact top-k of a sum over shards (a threshold test, as in TPUT): round one takes each
// shard's best k and the bound on the rest; round two sums every shard's score of the
// candidates. If the k-th exact total beats the sum of the bounds, nothing unseen can enter
// the top; otherwise it is redone with every item of every shard as a candidate.
ReadTask QueryService::Popular(CategoryId cat, uint32_t k, int64_t now_ms, PopularAnswer answer,
                               std::function<void(PopularAnswer)> done) const {
  struct Top {
    std::vector<Popularity::Scored> top;
    double bound = 0;
  };
  for (const bool exhaustive : {false, true}) {
    // Exhaustive: every item of every shard is a candidate. Otherwise a few times k from
    // each, so the bounds fall well below the k-th total.
    const uint32_t fetch = exhaustive ? UINT32_MAX
                                      : static_cast<uint32_t>(
                                            std::clamp<uint64_t>(4ull * k, 64, UINT32_MAX));
    auto round_one = Gather<Top>(shards_, [cat, fetch, now_ms, exhaustive](ShardState& st) {
      Top t;
      t.bound = st.Get<PopularityState>().Top(cat, fetch, now_ms, exhaustive, &t.top);
      return t;
    });
    const std::vector<Top> tops = co_await round_one;
    auto cands = std::make_shared<std::vector<ItemId>>();
    absl::flat_hash_set<ItemId> seen;
    double bound = 0;
    for (const Top& t : tops) {
      bound += t.bound;
      for (const auto& [item, score] : t.top) {
        if (seen.insert(item).second) cands->push_back(item);
      }
    }
    struct Scores {
      PopularityState::Partial scores;
      std::vector<uint8_t> withdrawn;  // by the catalog, on the item's shard
    };
    auto round_two = Gather<Scores>(
        shards_,
        [cands, cat, now_ms](ShardState& st) {
          Scores s;
          st.Get<PopularityState>().ScoresOf(cat, *cands, now_ms, &s.scores);
          s.withdrawn = WithdrawnOf(st, *cands);
          return s;
        },
        /*catch_up=*/false);
    const std::vector<Scores> parts = co_await round_two;
    PopularityState::Partial sum(cands->size(), 0.0);
    std::vector<uint8_t> withdrawn(cands->size(), 0);
    for (const auto& p : parts) {
      PopularityState::Merge(sum, p.scores);
      for (size_t i = 0; i < withdrawn.size(); ++i) withdrawn[i] |= p.withdrawn[i];
    }
    // Items the catalog withdrew are not ranked (an unseen one could only be one more).
    std::vector<ScoredName> all;
    all.reserve(cands->size());
    for (size_t i = 0; i < cands->size(); ++i) {
      if (withdrawn[i]) continue;
      all.push_back({std::string(interners_.items.Lookup((*cands)[i].value())), sum[i]});
    }
    std::sort(all.begin(), all.end(), [](const ScoredName& a, const ScoredName& b) {
      return a.score != b.score ? a.score > b.score : a.name < b.name;
    });
    // Strictly greater: an unseen item tying the k-th could precede it by name.
    if (exhaustive || bound == 0 || (all.size() >= k && all[k - 1].score > bound)) {
      if (all.size() > k) all.resize(k);
      answer.top = std::move(all);
      done(std::move(answer));
      co_return;
    }
    popular_fallbacks_.fetch_add(1, std::memory_order_relaxed);
  }
}

void QueryService::UserAffinity(std::string_view user, uint32_t k,
                                std::function<void(AffinityAnswer)> done) const {
  AffinityAnswer answer;
  const int64_t now_ms = NowMs();
  answer.now = EngineClock::AnswerTime(now_ms);
  const uint32_t uid = interners_.users.Find(user);
  if (uid == 0 || now_ms == INT64_MIN) return done(std::move(answer));
  const PartitionId p = PartitionOfUser(user);
  shards_.OnShard(shards_.ShardOf(p), [this, p, uid, k, now_ms, answer = std::move(answer),
                                       done = std::move(done)](ShardState& st) mutable {
    st.CatchUp(p);
    std::vector<std::pair<CategoryId, double>> scores;
    st.Get<AffinityState>().Scores(UserId(uid), EventTime(now_ms), &scores);
    answer.top.reserve(scores.size());
    for (const auto& [c, score] : scores) {
      answer.top.push_back({std::string(interners_.categories.Lookup(c.value())), score});
    }
    std::sort(answer.top.begin(), answer.top.end(), [](const ScoredName& a, const ScoredName& b) {
      return a.score != b.score ? a.score > b.score : a.name < b.name;
    });
    if (answer.top.size() > k) answer.top.resize(k);
    done(std::move(answer));
  });
}

std::vector<uint8_t> QueryService::WithdrawnOf(const ShardState& st,
                                               const std::vector<ItemId>& items) {
  std::vector<uint8_t> out(items.size(), 0);
  const CatalogState& catalog = st.Get<CatalogState>();
  for (size_t i = 0; i < items.size(); ++i) out[i] = catalog.Withdrawn(items[i]);
  return out;
}

void QueryService::SimilarItems(std::string_view item, uint32_t k,
                                std::function<void(SimilarAnswer)> done) const {
  const uint32_t id = interners_.items.Find(item);
  if (id == 0 || k == 0) return done({});
  Similar(ItemId(id), k, std::move(done));
}

// Pairs are counted on the shard of the user who made them: merge every shard's list;
// then drop what the catalog withdrew (asked of every shard: only the item's holds it).
ReadTask QueryService::Similar(ItemId id, uint32_t k,
                               std::function<void(SimilarAnswer)> done) const {
  auto merge = Gather<CoViewState::Partial>(shards_, [id](ShardState& st) {
    CoViewState& cv = st.Get<CoViewState>();
    cv.FlushItems({&id, 1});
    CoViewState::Partial p;
    cv.AddTo(p, id);
    return p;
  });
  std::vector<CoViewState::Partial> parts = co_await merge;
  CoViewState::Partial sum = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) CoViewState::Merge(sum, parts[i]);
  auto items = std::make_shared<std::vector<ItemId>>();
  items->reserve(sum.sums.size());
  for (const auto& [i, d] : sum.sums) items->push_back(i);
  auto check = Gather<std::vector<uint8_t>>(
      shards_, [items](ShardState& st) { return WithdrawnOf(st, *items); }, /*catch_up=*/false);
  const std::vector<std::vector<uint8_t>> withdrawn = co_await check;
  SimilarAnswer answer;
  answer.top.reserve(items->size());
  size_t index = 0;
  for (const auto& [i, d] : sum.sums) {
    bool gone = false;
    for (const auto& w : withdrawn) gone |= w[index] != 0;
    ++index;
    if (gone) continue;
    const CoView::Neighbour n = sum.Bounds(d);
    answer.top.push_back({std::string(interners_.items.Lookup(i.value())), n.count, n.error});
  }
  const size_t top = std::min<size_t>(k, answer.top.size());
  std::partial_sort(answer.top.begin(), answer.top.begin() + top, answer.top.end(),
                    [](const SimilarItem& a, const SimilarItem& b) {
                      return a.count != b.count ? a.count > b.count : a.item < b.item;
                    });
  answer.top.resize(top);
  done(std::move(answer));
}

}  // namespace eddy
