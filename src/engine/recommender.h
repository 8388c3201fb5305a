#pragma once
// Recommender: the engine's ranked reads — recommendations (SPEC §6.1), similar items
// ranked by the scorer, and the offer decision engine (§6.3). It owns no state: each
// request is a coroutine (Run, engine/read_task.h) whose steps are messages to the shards
// (STYLE §3.2, §3.5), each step's part and merge a named function returning a value:
//
//   1. the user's shard: catch up the user's partition; take the user's recent items,
//      bought items and category affinities;
//   2. every shard: co-view neighbours of the user's seed items, and each shard's most
//      popular items overall and in the user's best categories (candidates), with the
//      categories the shard knows its best proposals by;
//   3. every shard: each candidate's popularity and category/price facts, and the trending
//      score of each of those likely categories;
//   4. only when a candidate's category (newest over all shards) was not among them: every
//      shard, the trending score of the missing categories;
//
// then ranker::Rank on the shard that answered last. In cluster mode (docs/scale-out.md)
// the request runs on the node that owns the user's partition (step 1 is local), and
// steps 2-4 ask every node for the parts of the partitions it owns instead of this node's
// shards: the same parts, with every id as its string (recommender_wire.cc), merged in
// partition order as one eddy with a shard per partition merges them. Nothing is cached: every answer
// reflects every event acknowledged before the request: steps 1 and 2 catch up first;
// 3 and 4 read the state as they find it (it only moved forward since step 2). Each step
// is a hop between threads (a wake-up, and a wait for the shard's current slice of
// applying under load), so the chain is kept short: three hops in the common case.
//
// Thread-safety: all member functions may be called from any thread; callbacks run on a
// shard thread (or the caller's, for answers known without a shard).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "agg/coview.h"
#include "agg/engagement.h"
#include "commerce/catalog.h"
#include "eddy/engine.h"
#include "engine/shard_set.h"
#include "engine/experiment_service.h"
#include "engine/query_service.h"
#include "engine/read_task.h"
#include "learn/embedding.h"
#include "util/interners.h"
#include "util/serial.h"
#include "util/live.h"

namespace eddy {

// The settings a ranked read may change while eddy runs (reload): each read takes the
// ones in force when it starts.
struct LiveRanking {
  RankingOptions ranking;
  OfferOptions offers;
  std::vector<Experiment> experiments;  // at most one enabled (the config loader checks)
  // Per variant of the running experiment (RunningExperiment(experiments)), the settings
  // that rank that variant's users: built once with these settings (MakeLive), so a
  // request under an experiment copies nothing.
  std::vector<std::shared_ptr<const LiveRanking>> variants;
};

class Recommender {
 public:
  // `queries` gives the engine clock, users' partitions and the plain reads offers use.
  // All referenced objects must outlive the Recommender.
  // `experiments` records each answer served under an experiment and holds the shares
  // bucketing uses (Thompson allocation).
  Recommender(const Options& options, const ShardSet& shards, Interners& interners,
              const QueryService& queries, ExperimentService* experiments);

  void Recommend(const RecommendRequest& request, std::function<void(RecommendAnswer)> done);
  void SimilarItemsRanked(std::string_view item, uint32_t k, ItemFilter filter,
                          std::function<void(RankedSimilarAnswer)> done);
  void RankOffers(std::string_view user, std::vector<Offer> offers, uint32_t k,
                  std::function<void(OffersAnswer)> done);
  // New ranking and offer settings for the reads that start from now on (any thread).
  // ranking.bought_items is a state's cap: it stays as it was at start.
  void SetLive(const RankingOptions& ranking, const OfferOptions& offers,
               const std::vector<Experiment>& experiments);
  std::shared_ptr<const LiveRanking> Live() const { return live_.Get(); }

  // Cluster mode: `gather` sends a part request to every node and hands back their
  // answers (ClusterNode::Read); the ranked reads' global steps go through it from then on.
  // Set before the first read.
  void GatherFromNodes(ClusterGather gather) { nodes_ = std::move(gather); }
  // Answers another node's part request with the parts of this node's `partitions` (each
  // the state of one partition in cluster mode), exactly once, from any thread.
  void AnswerPart(std::string_view request, std::vector<uint32_t> partitions,
                  std::function<void(std::string)> reply);

  struct Job;  // one request's state through the steps (recommender.cc)

 private:
  // What the user's shard says of the user (step 1).
  struct UserPart {
    std::vector<ItemId> recent;  // newest first
    size_t in_session = 0;       // how many of them are the current session's
    absl::flat_hash_set<ItemId> bought;
    std::vector<std::pair<CategoryId, double>> affinity;  // best first, ties by name
    absl::flat_hash_set<CategoryId> categories;           // of the recent items
  };
  // What every shard is asked for candidates (step 2), and what each answers.
  struct CandidateQuery {
    std::vector<ItemId> seeds;
    std::vector<CategoryId> among;
    CategoryId exact;
    bool overall = true;
    uint8_t among_source = 0;
    uint32_t fetch = 0, coview_keep = 0;
    int64_t now_ms = 0;
    bool embed = false;  // the seeds' embedding vectors are wanted
  };
  struct CandidatePart {
    CoViewState::Partial coview;  // summed over the seeds
    std::vector<std::pair<ItemId, uint8_t>> popular;
    std::vector<CategoryId> categories;  // of this shard's best proposals
    EmbeddingState::Partial seed_vectors;  // of q.seeds, when q.embed
  };
  // Each candidate's signals on one shard (step 3).
  struct SignalPart {
    std::vector<double> popularity;
    std::vector<Engagement::Facts> facts;
    std::vector<std::optional<CatalogItem>> catalog;  // held by the item's shard only
    std::vector<std::optional<int64_t>> stock;        // likewise (StockOf)
    std::vector<int64_t> trending;  // of each likely category, millionths
    EmbeddingState::Partial vectors;  // of each candidate, when the embed signal is wanted
  };

  // Each offer's engagement counts on one shard, and whether its catalog record (on the
  // offer's shard) withdrew it.
  struct OfferPart {
    std::vector<Engagement::Counts> counts;
    std::vector<uint8_t> withdrawn;
  };
  static OfferPart OfferPartOf(const ShardState& st, const std::vector<ItemId>& offers, int64_t minute,
                               size_t windows);
  // Offers in cluster mode: the trending categories and each offer's counts over every node.
  struct OfferSums {
    std::vector<std::string> trending;  // the best `k` categories of window 0, best first
    std::vector<uint64_t> views, conversions;
    std::vector<uint8_t> withdrawn;
  };

  ReadTask Run(std::unique_ptr<Job> job);
  // One global step: `part` on every shard (as Gather), or in cluster mode `request` to
  // every node, their parts by partition, each of the shape `fits` says the request asked
  // for (an empty vector and job.error when one failed). In cluster mode the coroutine
  // resumes on a shard thread (not on NATS's thread, which delivers every answer).
  template <typename P>
  AsyncAwaiter<std::vector<P>> Step(Job& job, std::function<P(ShardState&)> part, bool catch_up,
                                    ShardSet::Horizon upto, std::function<std::string()> request,
                                    std::function<bool(const P&)> fits);
  // Runs `task` on a shard thread, the threads taken in turn: a node's answer arrives on
  // NATS's one delivery thread, which must not merge and rank.
  void OnNextShard(std::function<void()> task);
  // An id of `name` to look for in the states: found, or in cluster mode interned (the
  // item or category may be known on other nodes only); 0 when neither.
  uint32_t IdOf(Interner& interner, std::string_view name) const;

  // Cluster mode: the part requests and their answers, ids as strings
  // (recommender_wire.cc).
  std::string CandidateRequest(const CandidateQuery& q) const;
  std::string SignalRequest(const std::vector<ItemId>& items, const std::vector<CategoryId>& likely,
                            int64_t now_ms, bool embed, bool catch_up) const;
  std::string TrendingRequest(const std::vector<CategoryId>& categories, int64_t now_ms) const;
  static bool SignalFits(const SignalPart& p, size_t items, size_t likely, bool embed);
  bool ReadPart(SerialReader& r, CandidatePart* p);
  bool ReadPart(SerialReader& r, SignalPart* p);
  bool ReadPart(SerialReader& r, std::vector<int64_t>* p);
  // Walks every node's answer to a part request: `read` reads each part, after its
  // partition's number; the first node's error otherwise, or "node N's <what>" when an
  // answer cannot be read.
  static eddy::Status ReadAnswers(const std::vector<NodeAnswer>& answers, std::string_view what,
                                  const std::function<bool(SerialReader&, uint32_t)>& read);
  template <typename P>
  eddy::Status ReadParts(const std::vector<NodeAnswer>& answers, const std::function<bool(const P&)>& fits,
                         std::vector<P>* parts);
  std::string OfferRequest(const std::vector<std::string>& offers, int64_t now_ms) const;
  eddy::Status ReadOffers(const std::vector<NodeAnswer>& answers, size_t offers, uint32_t k,
                          OfferSums* out) const;
  UserPart UserPartOf(const ShardState& st, UserId user, int64_t now_ms, bool exclude_seen) const;
  CandidateQuery QueryOf(const Job& job) const;
  static CandidatePart CandidatePartOf(ShardState& st, const CandidateQuery& query);
  void MergeCandidates(Job& job, const std::vector<CandidatePart>& parts) const;
  static SignalPart SignalPartOf(const ShardState& st, const std::vector<ItemId>& items,
                                 const std::vector<CategoryId>& likely, int64_t now_ms,
                                 bool embed);
  // The user's profile in embedding space from the merged vectors of the `seeds` (step
  // 2), and each candidate's `embed` signal from theirs (step 3).
  void Profile(Job& job, const std::vector<CandidatePart>& parts,
               const std::vector<ItemId>& seeds) const;
  void EmbedSignal(Job& job, const std::vector<SignalPart>& parts) const;
  std::vector<CategoryId> MergeSignals(Job& job, const std::vector<SignalPart>& parts,
                                       const std::vector<CategoryId>& likely) const;
  void KeepBest(std::vector<CoView::Neighbour>& best, size_t keep) const;
  void CutPopular(Job& job) const;
  // This shard's trending weight (window 0, millionths) of each category.
  static std::vector<int64_t> TrendingOf(const ShardState& st,
                                         const std::vector<CategoryId>& categories,
                                         int64_t now_ms);
  // job.trending[categories[i]] = the sum over the parts of get(part)[i], in units.
  template <typename Part, typename Get>
  void SumTrending(Job& job, const std::vector<CategoryId>& categories,
                   const std::vector<Part>& parts, Get get) const;
  void Finish(Job& job);

  // A new answer id: this process's random prefix and a count.
  std::string NextRecommId();
  // Live settings from these: ranking.bought_items (a state's cap) and ranking.max_k (the
  // HTTP layer's bound of k) stay as at start, for the base and for every variant.
  LiveRanking MakeLive(RankingOptions ranking, OfferOptions offers,
                       std::vector<Experiment> experiments) const;

  const Options& options_;  // the ranking and offer settings: Live() instead
  const uint64_t id_prefix_;
  std::atomic<uint64_t> answers_{0};
  eddy::Live<LiveRanking> live_;  // the settings in force (Live() above names the snapshot)
  const ShardSet& shards_;
  Interners& interners_;  // interned into only in cluster mode (IdOf, ReadPart)
  ClusterGather nodes_;   // cluster mode
  std::atomic<uint64_t> resumed_{0};  // cluster mode: spreads the steps' merges over the shards
  const QueryService& queries_;
  ExperimentService* const experiments_;
};

}  // namespace eddy
