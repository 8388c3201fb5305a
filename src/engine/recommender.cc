#include "engine/recommender.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "agg/affinity.h"
#include "agg/engagement.h"
#include "agg/popularity.h"
#include "agg/recent.h"
#include "agg/trending.h"
#include "commerce/inventory.h"
#include "engine/item_facts.h"
#include "engine/read_task.h"
#include "ranker/offers.h"
#include "ranker/scorer.h"
#include "util/time.h"

namespace eddy {
namespace {

// Where a candidate came from (bits), named in explanations in this order.
enum Source : uint8_t {
  kFromRecent = 1,        // the user's recent items
  kFromCoView = 2,        // co-view neighbours of the user's seed items (or the query item)
  kFromPopular = 4,       // the most popular items overall
  kFromAffinity = 8,      // the most popular items of the user's best categories
  kFromCategory = 16,     // the most popular items of the requested (or the item's) category
};
constexpr std::pair<uint8_t, std::string_view> kSourceNames[] = {
    {kFromRecent, "recent"},
    {kFromCoView, "coview"},
    {kFromPopular, "popular"},
    {kFromAffinity, "affinity"},
    {kFromCategory, "category"}};

std::string SourceName(uint8_t bits) {
  std::string out;
  for (const auto& [bit, name] : kSourceNames) {
    if (!(bits & bit)) continue;
    if (!out.empty()) out += '+';
    out += name;
  }
  return out;
}

}  // namespace

struct Recommender::Job {
  std::shared_ptr<const LiveRanking> live;  // the settings in force when it started
  // The request.
  bool similar = false;  // ranked similar items of `query_item` instead of recommendations
  ItemId query_item;
  RecommendRequest request;
  ItemFilter filter;  // the request's (recommendations: request.filter)
  uint32_t k = 0;
  int64_t now_ms = 0;
  CategoryId filter_category;
  // Step 1: the user.
  std::vector<ItemId> recent;  // newest first
  size_t in_session = 0;       // the newest `in_session` of them are the current session's
  absl::flat_hash_set<ItemId> bought;
  std::vector<std::pair<CategoryId, double>> affinity;  // best first
  // Step 2 on: the user's (or the query item's) point in embedding space; empty when the
  // embed signal is not wanted or no seed has a vector.
  std::vector<double> profile;
  // Step 2 on: the candidates.
  struct Candidate {
    ItemId item;
    uint8_t sources = 0;
    uint64_t coview = 0, coview_error = 0;
    double recency = 0, popularity = 0, embed = 0;
    bool unwanted = false;  // the query item, or seen with exclude_seen: dropped at the cut
    MergedFacts facts;
    std::optional<CatalogItem> catalog;  // the item's catalog record, if it has one
    std::optional<int64_t> stock;        // its stock, if known (StockOf)
  };
  std::vector<Candidate> candidates;
  absl::flat_hash_map<ItemId, uint32_t> index;  // into candidates; stale after CutPopular
  // The categories the shards that proposed the candidates know them by (steps 1-2): step
  // 3 fetches their trending sums, so that step 4 is needed only for a candidate whose
  // category is one of none of them (its category changed on another shard, say).
  absl::flat_hash_set<CategoryId> likely_categories;
  absl::flat_hash_map<CategoryId, double> trending;  // per category of a candidate
  std::function<void(Job&, std::vector<RankedItem>)> done;
  // Where the acknowledged events ended when the request arrived: the steps that catch up
  // go that far, not further (what became durable since, the answer need not show).
  ShardSet::Horizon horizon;
  // Cluster mode: a node's part could not be had (the answer is empty, with this status).
  eddy::Status error;

  Candidate& Add(ItemId item, uint8_t source) {
    auto [it, inserted] = index.try_emplace(item, static_cast<uint32_t>(candidates.size()));
    if (inserted) {
      candidates.emplace_back();
      candidates.back().item = item;
    }
    Candidate& c = candidates[it->second];
    c.sources |= source;
    return c;
  }
};

Recommender::Recommender(const Options& options, const ShardSet& shards,
                         Interners& interners, const QueryService& queries,
                         ExperimentService* experiments)
    : options_(options),
      id_prefix_(std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32)),
      live_(MakeLive(options.ranking, options.offers, options.experiments)),
      shards_(shards),
      interners_(interners),
      queries_(queries),
      experiments_(experiments) {}

std::string Recommender::NextRecommId() {
  char id[40];
  std::snprintf(id, sizeof id, "r%016llx%08llx", static_cast<unsigned long long>(id_prefix_),
                static_cast<unsigned long long>(answers_.fetch_add(1, std::memory_order_relaxed)));
  return id;
}

LiveRanking Recommender::MakeLive(RankingOptions ranking, OfferOptions offers,
                                  std::vector<Experiment> experiments) const {
  const auto fixed_caps = [this](RankingOptions r) {
    r.bought_items = options_.ranking.bought_items;
    r.max_k = options_.ranking.max_k;
    return r;
  };
  LiveRanking live{fixed_caps(std::move(ranking)), std::move(offers), std::move(experiments), {}};
  if (const Experiment* running = RunningExperiment(live.experiments)) {
    for (const ExperimentVariant& v : running->variants) {
      live.variants.push_back(
          std::make_shared<const LiveRanking>(LiveRanking{fixed_caps(v.ranking), live.offers, {}, {}}));
    }
  }
  return live;
}

void Recommender::SetLive(const RankingOptions& ranking, const OfferOptions& offers,
                          const std::vector<Experiment>& experiments) {
  live_.Set(MakeLive(ranking, offers, experiments));
}

void Recommender::Recommend(const RecommendRequest& request,
                            std::function<void(RecommendAnswer)> done) {
  auto job = std::make_unique<Job>();
  job->live = Live();
  job->request = request;
  RecommendAnswer empty;
  empty.recomm_id = NextRecommId();
  // The running experiment: the user's variant (or the forced one) ranks this answer.
  // (`base` keeps the snapshot `experiment` points into alive: job->live moves on to the
  // variant's settings.)
  std::shared_ptr<const LiveRanking> base = job->live;
  const Experiment* experiment = RunningExperiment(base->experiments);
  if (const Experiment* e = experiment) {
    size_t v = experiments_->VariantOf(*e, request.user);
    for (size_t i = 0; i < e->variants.size(); ++i) {
      if (e->variants[i].name == request.variant) v = i;
    }
    empty.experiment = e->name;
    empty.variant = e->variants[v].name;
    job->live = job->live->variants[v];
  }
  job->k = std::min(request.k, job->live->ranking.max_k);
  job->now_ms = queries_.NowMs();
  empty.now = EventTime(job->now_ms == INT64_MIN ? 0 : job->now_ms);
  if (!request.category.empty()) {
    job->filter_category = CategoryId(IdOf(interners_.categories, request.category));
    // No event ever named the category: no item is in it.
    if (!job->filter_category.valid()) return done(std::move(empty));
  }
  if (job->now_ms == INT64_MIN || job->k == 0) return done(std::move(empty));
  job->horizon = shards_.HorizonNow();
  job->done = [this, base, experiment, empty = std::move(empty), done = std::move(done)](
                  Job& j, std::vector<RankedItem> items) mutable {
    empty.items = std::move(items);
    empty.status = j.error;
    // Under an experiment the answer is recorded in the user's partition before it is
    // sent, so that what the user does after seeing it comes after it (attribution). A
    // forced variant's answer (debugging) is not the user's bucket: not recorded. Nor is
    // one the server gave up on (its client gets 503, and may ask again).
    if (experiment != nullptr && !empty.items.empty() && j.request.variant.empty() &&
        (j.request.claim == nullptr || j.request.claim->Answer())) {
      std::vector<std::string_view> names;
      names.reserve(empty.items.size());
      for (const RankedItem& item : empty.items) names.push_back(item.item);
      experiments_->Served(*experiment, j.request.user, empty.recomm_id, empty.variant, names,
                           j.now_ms);
    }
    done(std::move(empty));
  };
  Run(std::move(job));
}

void Recommender::SimilarItemsRanked(std::string_view item, uint32_t k, ItemFilter filter,
                                     std::function<void(RankedSimilarAnswer)> done) {
  const uint32_t id = IdOf(interners_.items, item);
  auto job = std::make_unique<Job>();
  job->live = Live();
  job->similar = true;
  job->filter = std::move(filter);
  job->query_item = ItemId(id);
  job->k = std::min(k, job->live->ranking.max_k);
  job->now_ms = queries_.NowMs();
  RankedSimilarAnswer empty;
  empty.recomm_id = NextRecommId();
  if (id == 0 || job->k == 0 || job->now_ms == INT64_MIN) return done(std::move(empty));
  job->horizon = shards_.HorizonNow();
  job->done = [empty = std::move(empty), done = std::move(done)](
                  Job& j, std::vector<RankedItem> items) mutable {
    empty.category = j.request.category;
    empty.items = std::move(items);
    empty.status = j.error;
    done(std::move(empty));
  };
  Run(std::move(job));
}

template <typename P>
AsyncAwaiter<std::vector<P>> Recommender::Step(Job& job, std::function<P(ShardState&)> part,
                                               bool catch_up, ShardSet::Horizon upto,
                                               std::function<std::string()> request,
                                               std::function<bool(const P&)> fits) {
  if (!nodes_) return Gather<P>(shards_, std::move(part), catch_up, std::move(upto));
  return Async<std::vector<P>>([this, &job, request = request(), fits = std::move(fits)](
                                   std::function<void(std::vector<P>)> done) mutable {
    nodes_(std::move(request), [this, &job, fits = std::move(fits), done = std::move(done)](
                                   std::vector<NodeAnswer> answers) mutable {
      OnNextShard([this, &job, answers = std::move(answers), fits = std::move(fits), done = std::move(done)] {
        std::vector<P> parts;
        job.error = ReadParts(answers, fits, &parts);
        done(std::move(parts));
      });
    });
  });
}

void Recommender::OnNextShard(std::function<void()> task) {
  const size_t shard = resumed_.fetch_add(1, std::memory_order_relaxed) % shards_.size();
  shards_.OnShard(shard, [task = std::move(task)](ShardState&) { task(); });
}

// Every node's answer holds a part per partition it owns; each partition is in exactly
// one answer (ClusterNode::Read checks), and the parts are merged in partition order.
template <typename P>
eddy::Status Recommender::ReadParts(const std::vector<NodeAnswer>& answers,
                                    const std::function<bool(const P&)>& fits, std::vector<P>* parts) {
  std::vector<std::pair<uint32_t, P>> by_partition;
  eddy::Status st = ReadAnswers(
      answers, "ranking part could not be read (malformed, or this node cannot intern another id)",
      [&](SerialReader& r, uint32_t partition) {
        P part;
        if (!ReadPart(r, &part) || !fits(part)) return false;
        by_partition.emplace_back(partition, std::move(part));
        return true;
      });
  if (!st.ok()) return st;
  std::sort(by_partition.begin(), by_partition.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  parts->clear();
  for (auto& [partition, part] : by_partition) parts->push_back(std::move(part));
  return eddy::Status::Ok();
}

// Whether a node's signal part has the shape a request for `items` and `likely` asks for.
bool Recommender::SignalFits(const SignalPart& p, size_t items, size_t likely, bool embed) {
  return p.popularity.size() == items && p.facts.size() == items && p.catalog.size() == items &&
         p.stock.size() == items && p.trending.size() == likely &&
         (p.vectors.at.empty() || (embed && p.vectors.at.size() == items));
}

uint32_t Recommender::IdOf(Interner& interner, std::string_view name) const {
  return nodes_ ? interner.Intern(name) : interner.Find(name);
}

// The steps of a ranked read, top to bottom; each co_await is one hop (one message per
// shard), resumed on the shard that answered last. (Each awaiter is a named local: GCC 12
// destroys some temporaries of a co_await expression twice.)
ReadTask Recommender::Run(std::unique_ptr<Job> job) {
  if (job->similar) {
    // The item's own category first (its popular items are the fallback candidates).
    // (Its facts are a signal part of one item with nothing else.)
    const std::vector<ItemId> item{job->query_item};
    const int64_t now_ms = job->now_ms;
    auto step = Step<SignalPart>(
        *job, [item, now_ms](ShardState& st) { return SignalPartOf(st, item, {}, now_ms, false); },
        /*catch_up=*/true, job->horizon,
        [this, item, now_ms] { return SignalRequest(item, {}, now_ms, false, /*catch_up=*/true); },
        [](const SignalPart& p) { return SignalFits(p, 1, 0, false); });
    std::vector<SignalPart> facts = co_await step;
    if (!job->error.ok()) {
      Finish(*job);
      co_return;
    }
    MergedFacts merged;
    for (const SignalPart& f : facts) merged.Add(f.facts[0], interners_.categories);
    job->filter_category = merged.category;
    job->request.category = std::string(merged.category_name);
  } else if (const uint32_t uid = interners_.users.Find(job->request.user); uid != 0) {
    // Unknown users (cold start) have no history: straight to the candidates.
    const PartitionId p = queries_.PartitionOfUser(job->request.user);
    const uint64_t upto = (*job->horizon)[p.value()];
    const int64_t now_ms = job->now_ms;
    const bool exclude_seen = job->live->ranking.exclude_seen;
    auto step = OnShard<UserPart>(shards_, shards_.ShardOf(p),
                                  [this, p, upto, uid, now_ms, exclude_seen](ShardState& st) {
                                    st.CatchUp(p, upto);
                                    return UserPartOf(st, UserId(uid), now_ms, exclude_seen);
                                  });
    UserPart user = co_await step;
    job->recent = std::move(user.recent);
    job->in_session = user.in_session;
    job->bought = std::move(user.bought);
    job->affinity = std::move(user.affinity);
    job->likely_categories = std::move(user.categories);
  }
  const CandidateQuery query = QueryOf(*job);
  auto candidates = Step<CandidatePart>(
      *job, [query](ShardState& st) { return CandidatePartOf(st, query); },
      /*catch_up=*/true, job->horizon, [this, query] { return CandidateRequest(query); },
      [n = query.seeds.size()](const CandidatePart& p) { return p.seed_vectors.at.empty() || p.seed_vectors.at.size() == n; });
  std::vector<CandidatePart> parts = co_await candidates;
  if (!job->error.ok()) {
    Finish(*job);
    co_return;
  }
  MergeCandidates(*job, parts);
  if (query.embed) Profile(*job, parts, query.seeds);
  // Steps 3 and 4 read the state as they find it: step 2 saw every acknowledged event.
  auto items = std::make_shared<std::vector<ItemId>>();
  items->reserve(job->candidates.size());
  for (const auto& c : job->candidates) items->push_back(c.item);
  auto likely = std::make_shared<std::vector<CategoryId>>(job->likely_categories.begin(),
                                                          job->likely_categories.end());
  const int64_t now_ms = job->now_ms;
  const bool embed = !job->profile.empty();
  auto signal_step = Step<SignalPart>(
      *job,
      [items, likely, now_ms, embed](ShardState& st) {
        return SignalPartOf(st, *items, *likely, now_ms, embed);
      },
      /*catch_up=*/false, nullptr,
      [this, items, likely, now_ms, embed] {
        return SignalRequest(*items, *likely, now_ms, embed, /*catch_up=*/false);
      },
      [items, likely, embed](const SignalPart& p) { return SignalFits(p, items->size(), likely->size(), embed); });
  std::vector<SignalPart> signals = co_await signal_step;
  if (!job->error.ok()) {
    Finish(*job);
    co_return;
  }
  if (embed) EmbedSignal(*job, signals);
  std::vector<CategoryId> missing = MergeSignals(*job, signals, *likely);
  if (!missing.empty()) {
    // A candidate whose category no proposing shard knew it by: one more hop for those.
    auto wanted = std::make_shared<std::vector<CategoryId>>(std::move(missing));
    auto step = Step<std::vector<int64_t>>(
        *job, [wanted, now_ms](ShardState& st) { return TrendingOf(st, *wanted, now_ms); },
        /*catch_up=*/false, nullptr, [this, wanted, now_ms] { return TrendingRequest(*wanted, now_ms); },
        [n = wanted->size()](const std::vector<int64_t>& p) { return p.size() == n; });
    std::vector<std::vector<int64_t>> trending = co_await step;
    if (!job->error.ok()) {
      Finish(*job);
      co_return;
    }
    SumTrending(*job, *wanted, trending, [](const std::vector<int64_t>& p) -> const auto& { return p; });
  }
  Finish(*job);
}

// The user's recent items (newest first), bought items and affinities (ties by name:
// Scores breaks them by interned id, which depends on arrival order), and the categories
// the recent items are known by here. On the user's shard.
Recommender::UserPart Recommender::UserPartOf(const ShardState& st, UserId user,
                                              int64_t now_ms, bool exclude_seen) const {
  UserPart out;
  if (const auto* recent = st.Get<RecentState>().Find(user)) {
    // The current session: the newest items back to the first gap of sessions.gap_s (none
    // when the newest is that old). Recent items are in touch order (event times may go back:
    // a later touch with an earlier time never ends the session).
    int64_t after = now_ms;
    for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
      if (after - it->time.millis() >= options_.sessions.gap_ms) break;
      after = it->time.millis();
      ++out.in_session;
    }
    out.recent.reserve(recent->size());
    for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
      out.recent.push_back(it->item);
      if (exclude_seen) continue;  // not candidates
      if (const Engagement::Facts* f = st.Get<EngagementState>().FactsOf(it->item)) {
        if (f->category.valid()) out.categories.insert(f->category);
      }
    }
  }
  if (const auto* bought = st.Get<BoughtState>().Find(user)) {
    for (const auto& e : *bought) out.bought.insert(e.item);
  }
  st.Get<AffinityState>().Scores(user, EventTime(now_ms), &out.affinity);
  std::sort(out.affinity.begin(), out.affinity.end(), [this](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return interners_.categories.Lookup(a.first.value()) <
           interners_.categories.Lookup(b.first.value());
  });
  return out;
}

// Seeds for co-view; popular items: overall (exact top of each shard's candidate set), of
// the user's best categories (or the similar item's category) among those candidate sets
// (cheap), and of the requested category (an exact scan of it).
Recommender::CandidateQuery Recommender::QueryOf(const Job& job) const {
  CandidateQuery q;
  q.overall = !job.similar;
  q.among_source = job.similar ? kFromCategory : kFromAffinity;
  q.fetch = job.live->ranking.popular_candidates;
  q.coview_keep = job.live->ranking.coview_candidates;
  q.now_ms = job.now_ms;
  q.embed = options_.embedding.enabled && job.live->ranking.weights[kEmbed] > 0;
  if (job.similar) {
    q.seeds.push_back(job.query_item);
    if (job.filter_category.valid()) q.among.push_back(job.filter_category);
    return q;
  }
  q.seeds.assign(job.recent.begin(),
                 job.recent.begin() + std::min<size_t>(job.recent.size(), job.live->ranking.seed_items));
  for (size_t i = 0; i < job.affinity.size() && i < job.live->ranking.affinity_categories; ++i) {
    q.among.push_back(job.affinity[i].first);
  }
  q.exact = job.filter_category;
  return q;
}

// One shard's candidates: co-view neighbours of the seeds, its popular items of each
// source, and the categories it knows its best proposals by.
Recommender::CandidatePart Recommender::CandidatePartOf(ShardState& st, const CandidateQuery& q) {
  CandidatePart part;
  CoViewState& cv = st.Get<CoViewState>();
  cv.FlushItems(q.seeds);
  size_t neighbours = 0;  // at most: the seeds' lists overlap
  for (ItemId seed : q.seeds) neighbours += cv.NeighbourCount(seed);
  part.coview.sums.reserve(neighbours);  // one allocation, no rehash while adding
  for (ItemId seed : q.seeds) cv.AddTo(part.coview, seed);
  if (q.embed) st.Get<EmbeddingState>().ShareOf(q.seeds, part.seed_vectors);
  const PopularityState& pop = st.Get<PopularityState>();
  std::vector<Popularity::Scored> top;
  auto take = [&](uint8_t source) {
    for (const auto& [item, score] : top) part.popular.emplace_back(item, source);
    top.clear();
  };
  if (q.overall) {
    pop.Top(CategoryId(), q.fetch, q.now_ms, /*exhaustive=*/false, &top);
    take(kFromPopular);
  }
  if (!q.among.empty()) {
    pop.TopAmongCandidates(q.among, q.fetch, q.now_ms, &top);
    take(q.among_source);
  }
  if (q.exact.valid()) {
    pop.Top(q.exact, q.fetch, q.now_ms, /*exhaustive=*/false, &top);
    take(kFromCategory);
  }
  // The categories this shard knows its likely candidates by: its popular items and its
  // own best co-view neighbours (the global best are nearly always among them).
  absl::flat_hash_set<CategoryId> categories;
  const EngagementState& engagement = st.Get<EngagementState>();
  auto note = [&](ItemId item) {
    const Engagement::Facts* f = engagement.FactsOf(item);
    if (f != nullptr && f->category.valid()) categories.insert(f->category);
  };
  for (const auto& [item, source] : part.popular) note(item);
  if (part.coview.sums.size() <= q.coview_keep) {
    for (const auto& [item, n] : part.coview.sums) note(item);
  } else {
    std::vector<CoView::Neighbour> best;
    best.reserve(part.coview.sums.size());
    for (const auto& [item, d] : part.coview.sums) best.push_back(part.coview.Bounds(d));
    std::nth_element(best.begin(), best.begin() + q.coview_keep, best.end(),
                     [](const auto& a, const auto& b) { return a.count > b.count; });
    best.resize(q.coview_keep);
    for (const CoView::Neighbour& n : best) note(n.item);
  }
  part.categories.assign(categories.begin(), categories.end());
  return part;
}

void Recommender::MergeCandidates(Job& job, const std::vector<CandidatePart>& parts) const {
  absl::flat_hash_set<ItemId> seen;
  if (job.live->ranking.exclude_seen && !job.similar) seen.insert(job.recent.begin(), job.recent.end());
  auto wanted = [&](ItemId item) {
    return !(job.similar && item == job.query_item) && !seen.contains(item);
  };
  if (!job.live->ranking.exclude_seen) {
    for (size_t r = 0; r < job.recent.size(); ++r) {
      job.Add(job.recent[r], kFromRecent).recency = 1.0 / static_cast<double>(r + 1);
    }
  }
  // Co-view counts merged over shards (bounds kept, agg/coview.h); the best
  // coview_candidates of them.
  CoViewState::Partial coview;
  for (const CandidatePart& part : parts) {
    CoViewState::Merge(coview, part.coview);
    job.likely_categories.insert(part.categories.begin(), part.categories.end());
  }
  std::vector<CoView::Neighbour> best;
  best.reserve(coview.sums.size());
  for (const auto& [item, d] : coview.sums) {
    if (wanted(item)) best.push_back(coview.Bounds(d));
  }
  KeepBest(best, job.live->ranking.coview_candidates);
  for (const CoView::Neighbour& n : best) job.Add(n.item, kFromCoView);
  // Unwanted popular items stay until the cut (CutPopular), so that they take the same
  // places in the global top whatever the number of shards.
  for (const CandidatePart& part : parts) {
    for (const auto& [item, source] : part.popular) job.Add(item, source).unwanted |= !wanted(item);
  }
  // Every candidate's co-view count, also of those that came by another source.
  for (Job::Candidate& c : job.candidates) {
    auto d = coview.sums.find(c.item);
    if (d == coview.sums.end()) continue;
    const CoView::Neighbour n = coview.Bounds(d->second);
    c.sources |= kFromCoView;
    c.coview = n.count;
    c.coview_error = n.error;
  }
}

// One shard's popularity and facts of each candidate, and trending of each likely category.
Recommender::SignalPart Recommender::SignalPartOf(const ShardState& st,
                                                  const std::vector<ItemId>& items,
                                                  const std::vector<CategoryId>& likely,
                                                  int64_t now_ms, bool embed) {
  SignalPart part;
  if (embed) st.Get<EmbeddingState>().ShareOf(items, part.vectors);
  st.Get<PopularityState>().ScoresOf(CategoryId(), items, now_ms, &part.popularity);
  part.facts.resize(items.size());
  part.catalog.resize(items.size());
  part.stock.resize(items.size());
  const EngagementState& engagement = st.Get<EngagementState>();
  const CatalogState& catalog = st.Get<CatalogState>();
  const InventoryState& inventory = st.Get<InventoryState>();
  for (size_t i = 0; i < items.size(); ++i) {
    if (const Engagement::Facts* f = engagement.FactsOf(items[i])) part.facts[i] = *f;
    const CatalogItem* c = catalog.Find(items[i]);
    if (c != nullptr) part.catalog[i] = *c;
    part.stock[i] = StockOf(inventory, c, items[i]);
  }
  part.trending = TrendingOf(st, likely, now_ms);
  return part;
}

// Sums the signals, cuts the popular sources; returns the candidates' categories whose
// trending sums are still missing (usually none).
std::vector<CategoryId> Recommender::MergeSignals(Job& job, const std::vector<SignalPart>& parts,
                                                  const std::vector<CategoryId>& likely) const {
  for (size_t i = 0; i < job.candidates.size(); ++i) {
    Job::Candidate& c = job.candidates[i];
    for (const SignalPart& part : parts) {
      c.popularity += part.popularity[i];
      c.facts.Add(part.facts[i], interners_.categories);
      if (part.catalog[i]) c.catalog = part.catalog[i];
      if (part.stock[i]) c.stock = part.stock[i];
    }
    // Catalog values win over what events said.
    if (c.catalog && c.catalog->category.valid()) {
      c.facts.category = c.catalog->category;
      c.facts.category_name = interners_.categories.Lookup(c.catalog->category.value());
    }
    if (c.catalog && c.catalog->price()) c.facts.price_micros = c.catalog->price();
  }
  CutPopular(job);
  SumTrending(job, likely, parts, [](const SignalPart& p) -> const auto& { return p.trending; });
  std::vector<CategoryId> missing;
  for (const Job::Candidate& c : job.candidates) {
    if (c.facts.category.valid() && !job.trending.contains(c.facts.category)) {
      job.trending[c.facts.category] = 0;  // once
      missing.push_back(c.facts.category);
    }
  }
  return missing;
}

// The seeds' merged vectors, each normalised (a popular item's long vector must not drown
// the others), weighted 1/(1 + position) (the newest seed counts most), and
// ranking.session_weight times more for the current session's. A seed that is also a
// candidate (a recent item, without exclude_seen) is compared with the whole profile, its
// own term included, so it scores high: on next-view logs the likeliest next event is a
// return to a recent item. (Measured: scoring it against the other seeds only lowered the
// Taobao replay's HR@20 / MRR@20 from 0.0256 / 0.0165 to 0.0251 / 0.0110 and left
// MovieLens' unchanged; docs/evaluation.md.)
void Recommender::Profile(Job& job, const std::vector<CandidatePart>& parts,
                          const std::vector<ItemId>& seeds) const {
  const uint32_t dims = options_.embedding.dimensions;
  const size_t n = seeds.size();
  const auto share = [](const CandidatePart& p) -> const EmbeddingState::Partial& { return p.seed_vectors; };
  std::vector<double> profile(dims, 0.0);
  std::vector<int64_t> v(dims);
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    SumShares(parts, share, i, dims, v.data());
    double norm = 0;
    for (uint32_t d = 0; d < dims; ++d) norm += static_cast<double>(v[d]) * static_cast<double>(v[d]);
    if (norm <= 0) continue;
    const double session = i < job.in_session ? job.live->ranking.session_weight : 1.0;
    const double w = session / (static_cast<double>(i + 1) * std::sqrt(norm));
    for (uint32_t d = 0; d < dims; ++d) profile[d] += w * static_cast<double>(v[d]);
    any = true;
  }
  if (any) job.profile = std::move(profile);
}

// Each candidate's cosine with the profile (negative: no signal, 0).
void Recommender::EmbedSignal(Job& job, const std::vector<SignalPart>& parts) const {
  const uint32_t dims = options_.embedding.dimensions;
  const auto share = [](const SignalPart& p) -> const EmbeddingState::Partial& { return p.vectors; };
  std::vector<int64_t> v(dims);
  for (size_t i = 0; i < job.candidates.size(); ++i) {
    SumShares(parts, share, i, dims, v.data());
    job.candidates[i].embed = std::max(0.0, Cosine(job.profile.data(), v.data(), dims));
  }
}

// Keeps the `keep` neighbours with the highest counts, ties by item name (so the cut does
// not depend on interned ids, which follow arrival order). Only the neighbours tied at the
// cut's count have their names looked up.
void Recommender::KeepBest(std::vector<CoView::Neighbour>& best, size_t keep) const {
  if (best.size() <= keep) return;
  if (keep == 0) return best.clear();
  auto by_count = [](const CoView::Neighbour& a, const CoView::Neighbour& b) {
    return a.count > b.count;
  };
  std::nth_element(best.begin(), best.begin() + keep - 1, best.end(), by_count);
  const uint64_t cut = best[keep - 1].count;
  // [0, above) counted more than the cut: kept. The ones counted exactly `cut` compete by name.
  auto above = std::partition(best.begin(), best.end(),
                              [cut](const CoView::Neighbour& n) { return n.count > cut; });
  auto tied_end = std::partition(above, best.end(),
                                 [cut](const CoView::Neighbour& n) { return n.count == cut; });
  const size_t room = keep - static_cast<size_t>(above - best.begin());
  std::partial_sort(above, above + room, tied_end,
                    [this](const CoView::Neighbour& a, const CoView::Neighbour& b) {
                      return interners_.items.Lookup(a.item.value()) <
                             interners_.items.Lookup(b.item.value());
                    });
  best.resize(keep);
}

// Each shard proposed its own best `popular_candidates` per popular source, so more shards
// would mean more candidates (and other answers): keep each source's best
// `popular_candidates` by exact popularity over all shards (ties by name), then drop the
// candidates left with no source and the unwanted ones.
void Recommender::CutPopular(Job& job) const {
  const size_t keep = job.live->ranking.popular_candidates;
  std::vector<uint32_t> with;
  for (uint8_t source : {kFromPopular, kFromAffinity, kFromCategory}) {
    with.clear();
    for (uint32_t i = 0; i < job.candidates.size(); ++i) {
      if (job.candidates[i].sources & source) with.push_back(i);
    }
    if (with.size() <= keep) continue;
    std::nth_element(with.begin(), with.begin() + keep, with.end(), [&](uint32_t a, uint32_t b) {
      const Job::Candidate& x = job.candidates[a];
      const Job::Candidate& y = job.candidates[b];
      if (x.popularity != y.popularity) return x.popularity > y.popularity;
      return interners_.items.Lookup(x.item.value()) < interners_.items.Lookup(y.item.value());
    });
    for (size_t j = keep; j < with.size(); ++j) job.candidates[with[j]].sources &= ~source;
  }
  std::erase_if(job.candidates,
                [](const Job::Candidate& c) { return c.sources == 0 || c.unwanted; });
}

std::vector<int64_t> Recommender::TrendingOf(const ShardState& st,
                                             const std::vector<CategoryId>& categories,
                                             int64_t now_ms) {
  const int64_t g = MinuteOf(now_ms);
  std::vector<int64_t> weights(categories.size());  // millionths
  for (size_t i = 0; i < categories.size(); ++i) {
    weights[i] = st.Get<TrendingState>().WindowOf(0, g, categories[i]).weight;
  }
  return weights;
}

template <typename Part, typename Get>
void Recommender::SumTrending(Job& job, const std::vector<CategoryId>& categories,
                              const std::vector<Part>& parts, Get get) const {
  // Summed as integers, so the value does not depend on the number of shards.
  for (size_t i = 0; i < categories.size(); ++i) {
    int64_t sum = 0;
    for (const Part& p : parts) sum += get(p)[i];
    job.trending[categories[i]] = static_cast<double>(sum) / 1e6;
  }
}

void Recommender::Finish(Job& job) {
  if (!job.error.ok()) return job.done(job, {});
  absl::flat_hash_map<CategoryId, double> affinity;
  for (const auto& [c, a] : job.affinity) affinity[c] = a;
  std::vector<ranker::Candidate> candidates;
  candidates.reserve(job.candidates.size());
  const ItemFilter& filter = job.similar ? job.filter : job.request.filter;
  const absl::flat_hash_set<std::string_view> excluded(filter.exclude.begin(),
                                                       filter.exclude.end());
  std::vector<const Job::Candidate*> kept;  // job.candidates behind `candidates`
  kept.reserve(job.candidates.size());
  for (const Job::Candidate& c : job.candidates) {
    // The catalog's rules: withdrawn items never; attribute filters need the record.
    if (c.catalog && c.catalog->withdrawn()) continue;
    if (!filter.attributes.empty() &&
        !(c.catalog && c.catalog->attributes.valid() &&
          AttributesMatch(interners_.strings.Lookup(c.catalog->attributes.value()),
                          filter.attributes))) {
      continue;
    }
    const std::string_view name = interners_.items.Lookup(c.item.value());
    if (!excluded.empty() && excluded.contains(name)) continue;  // (no hashing when empty)
    kept.push_back(&c);
    ranker::Candidate r;
    r.in_stock = !(job.live->ranking.exclude_out_of_stock && c.stock && *c.stock <= 0);
    r.item = name;
    r.category = c.facts.category_name;
    r.price_micros = c.facts.price_micros;
    r.bought = job.bought.contains(c.item);
    r.raw[kCoView] = static_cast<double>(c.coview);
    r.raw[kPopularity] = c.popularity;
    r.raw[kRecency] = c.recency;
    r.raw[kEmbed] = c.embed;
    if (c.facts.category.valid()) {
      r.raw[kTrending] = job.trending[c.facts.category];
      if (auto a = affinity.find(c.facts.category); a != affinity.end()) r.raw[kAffinity] = a->second;
    }
    candidates.push_back(std::move(r));
  }
  ranker::Rules rules;
  if (!job.similar) {
    rules.category = job.request.category;
    rules.min_price_micros = job.request.min_price_micros;
    rules.max_price_micros = job.request.max_price_micros;
    rules.exclude_bought = job.live->ranking.exclude_bought;
    rules.max_per_category = job.live->ranking.max_per_category;
  }
  // Similar items: co-view neighbours first (in score order), then the fallback.
  const uint32_t k = job.similar ? static_cast<uint32_t>(candidates.size()) : job.k;
  std::vector<ranker::Scored> ranked = ranker::Rank(candidates, job.live->ranking.weights, rules, k);
  if (job.similar) {
    std::stable_partition(ranked.begin(), ranked.end(),
                          [](const ranker::Scored& s) { return s.candidate->raw[kCoView] > 0; });
    if (ranked.size() > job.k) ranked.resize(job.k);
  }
  std::vector<RankedItem> out;
  out.reserve(ranked.size());
  for (const ranker::Scored& s : ranked) {
    const ranker::Candidate& c = *s.candidate;
    const Job::Candidate& jc = *kept[static_cast<size_t>(&c - candidates.data())];
    RankedItem item;
    item.item = std::string(c.item);
    item.score = s.score;
    item.category = std::string(c.category);
    item.price_micros = c.price_micros;
    item.source = SourceName(jc.sources);  // (only for the answer's items)
    item.coview_count = jc.coview;
    item.coview_error = jc.coview_error;
    for (size_t i = 0; i < kRankSignalCount; ++i) {
      item.signals[i] = {c.raw[i], s.normalised[i], s.contribution[i]};
    }
    out.push_back(std::move(item));
  }
  job.done(job, std::move(out));
}

Recommender::OfferPart Recommender::OfferPartOf(const ShardState& st, const std::vector<ItemId>& offers,
                                                int64_t minute, size_t windows) {
  OfferPart part;
  part.counts.resize(offers.size());
  part.withdrawn.resize(offers.size(), 0);
  std::vector<Engagement::Counts> per_window(windows);
  for (size_t i = 0; i < offers.size(); ++i) {
    part.counts[i].fill(0);
    if (!offers[i].valid()) continue;
    st.Get<EngagementState>().Add(offers[i], minute, &part.counts[i], &per_window);
    part.withdrawn[i] = st.Get<CatalogState>().Withdrawn(offers[i]);
  }
  return part;
}

void Recommender::RankOffers(std::string_view user, std::vector<Offer> offers, uint32_t k,
                             std::function<void(OffersAnswer)> done) {
  struct OfferJob {
    std::vector<ranker::OfferInput> inputs;
    std::vector<uint8_t> withdrawn;  // by input: hidden or deleted in the catalog
    ranker::OfferContext ctx;
    std::string user;
    uint32_t k = 0;
    int64_t now_ms = 0;
    std::shared_ptr<const LiveRanking> live;
    std::string recomm_id, experiment, variant;
    std::function<void(OffersAnswer)> done;
    std::atomic<int> left{0};  // reads still out; acq_rel: the last sees every part
    eddy::Status error;        // cluster mode: the nodes' parts could not be had
  };
  auto job = std::make_shared<OfferJob>();
  job->live = Live();
  job->recomm_id = NextRecommId();
  if (const Experiment* e = RunningExperiment(job->live->experiments); e != nullptr && !user.empty()) {
    // The user's variant of the running experiment, named for attribution (offers have no
    // ranking settings of their own to vary).
    job->experiment = e->name;
    job->variant = e->variants[experiments_->VariantOf(*e, user)].name;
  }
  job->user = std::string(user);
  job->k = k;
  job->now_ms = queries_.NowMs();
  job->done = std::move(done);
  for (Offer& o : offers) {
    job->inputs.push_back({.offer_id = std::move(o.offer_id),
                           .category = std::move(o.category),
                           .priority = o.priority});
  }
  job->withdrawn.assign(job->inputs.size(), 0);
  // Three independent reads at once (one hop deep instead of three in a row): the
  // trending categories, the user's affinities, and each offer's views and conversions
  // (events whose itemId is the offer) summed over shards. The last to answer ranks. In
  // cluster mode the first and the last are one request to every node.
  job->left.store(nodes_ ? 2 : 3);
  auto rank = [job] {
    if (job->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (!job->error.ok()) {
      OffersAnswer failed;
      failed.recomm_id = job->recomm_id;
      failed.status = job->error;
      return job->done(std::move(failed));
    }
    job->ctx.user = job->user;
    // Offers the catalog withdrew (hidden or deleted) are never ranked.
    size_t kept = 0;
    for (size_t i = 0; i < job->inputs.size(); ++i) {
      if (job->withdrawn[i]) continue;
      if (kept != i) job->inputs[kept] = std::move(job->inputs[i]);
      ++kept;
    }
    job->inputs.resize(kept);
    const std::vector<ranker::OfferScore> ranked =
        ranker::RankOffers(job->inputs, job->ctx, job->live->offers, job->k);
    OffersAnswer answer;
    answer.now = EventTime(job->now_ms == INT64_MIN ? 0 : job->now_ms);
    answer.recomm_id = job->recomm_id;
    answer.experiment = job->experiment;
    answer.variant = job->variant;
    for (const ranker::OfferScore& s : ranked) {
      const ranker::OfferInput& in = job->inputs[s.index];
      answer.top.push_back({.offer_id = in.offer_id,
                            .category = in.category,
                            .score = s.score,
                            .priority = s.priority,
                            .trending = s.trending,
                            .affinity = s.affinity,
                            .bandit = s.bandit,
                            .sample = s.sample,
                            .trending_rank = s.trending_rank,
                            .views = in.views,
                            .conversions = in.conversions});
    }
    job->done(std::move(answer));
  };
  queries_.UserAffinity(job->user, options_.affinity.max_categories,
                       [job, rank](AffinityAnswer a) {
                         for (ScoredName& s : a.top) {
                           job->ctx.affinity.emplace_back(std::move(s.name), s.score);
                         }
                         rank();
                       });
  if (nodes_) {
    std::vector<std::string> names;
    for (const auto& in : job->inputs) names.push_back(in.offer_id);
    nodes_(OfferRequest(names, job->now_ms), [this, job, rank](std::vector<NodeAnswer> answers) {
      OnNextShard([this, job, rank, answers = std::move(answers)] {
        OfferSums sums;
        job->error = ReadOffers(answers, job->inputs.size(), job->live->offers.trending_categories, &sums);
        job->ctx.trending = std::move(sums.trending);
        for (size_t i = 0; i < job->inputs.size() && job->error.ok(); ++i) {
          job->inputs[i].views = sums.views[i];
          job->inputs[i].conversions = sums.conversions[i];
          job->withdrawn[i] = sums.withdrawn[i];
        }
        rank();
      });
    });
    return;
  }
  queries_.TrendingCategories(0, job->live->offers.trending_categories,
                             [job, rank](TrendingAnswer t) {
                               for (TrendingCategory& c : t.top) {
                                 job->ctx.trending.push_back(std::move(c.category));
                               }
                               rank();
                             });
  std::vector<ItemId> ids;
  for (const auto& in : job->inputs) ids.push_back(ItemId(interners_.items.Find(in.offer_id)));
  const int64_t g = MinuteOf(job->now_ms);
  const size_t windows = options_.windows.minutes.size();
  shards_.ScatterGather<OfferPart>(
      [ids = std::move(ids), g, windows](ShardState& st) { return OfferPartOf(st, ids, g, windows); },
      [job, rank](std::vector<OfferPart>& parts) {
        for (size_t i = 0; i < job->inputs.size(); ++i) {
          for (const OfferPart& part : parts) {
            const Engagement::Counts& p = part.counts[i];
            job->inputs[i].views += static_cast<uint64_t>(p[static_cast<int>(EventType::kView)]);
            job->inputs[i].conversions +=
                static_cast<uint64_t>(p[static_cast<int>(EventType::kPurchase)] +
                                      p[static_cast<int>(EventType::kRedemption)]);
            job->withdrawn[i] |= part.withdrawn[i];
          }
        }
        rank();
      },
      /*catch_up=*/true, shards_.HorizonNow());
}

}  // namespace eddy
