#include "eddy/engine.h"

// The engine is wiring: it opens the data directory and the event store, recovers, starts
// the components and hands each public call to the one that does it:
//   IngestPath (engine/ingest_path.h)               Ingest
//   StoreWriter (engine/store_writer.h)             the store thread's group commit
//   CheckpointManager (engine/checkpoint_manager.h) checkpoints, recovery, retention
//   QueryService (engine/query_service.h)           the plain reads
//   AnalyticsService (engine/analytics_service.h)   catalog, inventory, sessions, funnel,
//                                                   revenue, alerts
//   CustomerService (engine/customer_service.h)           an order's fraud score, a user's marks
//   AlertFeed (engine/alert_feed.h)                 alerts as they are raised (SSE)
//   Recommender (engine/recommender.h)              the ranked reads
//   IdRecycler (engine/id_recycler.h)               frees ids no state references
// and the shards with their states (engine/shard_set.h, engine/shard_state.h).

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "engine/alert_feed.h"
#include "engine/checkpoint_manager.h"
#include "engine/cluster_node.h"
#include "engine/engine_clock.h"
#include "engine/experiment_service.h"
#include "engine/id_recycler.h"
#include "engine/ingest_path.h"
#include "engine/query_service.h"
#include "engine/analytics_service.h"
#include "engine/customer_service.h"
#include "engine/recommender.h"
#include "engine/shard_set.h"
#include "engine/shard_state.h"
#include "fraud/fraud.h"
#include "insights/insights.h"
#include "engine/store_writer.h"
#include "log/partitioned_log.h"
#include "runtime/shard.h"
#include "store/log_store.h"

namespace eddy {
namespace {

// Holds the data directory's LOCK file for the engine's lifetime: two daemons on one data
// dir would corrupt each other's state.
class DirLock {
 public:
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError("data_dir " + dir + ": " + ec.message());
    std::string path = dir + "/LOCK";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IoError("data_dir " + dir + ": cannot open LOCK");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("data_dir " + dir +
                                 " is locked by another eddy process (LOCK held)");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(const Options& options, Clock* clock)
      : options_(options), clock_(options_.clock, clock) {}

  ~EngineImpl() override { Stop(); }

  eddy::Status Init() {
    const uint32_t dims = options_.embedding.dimensions;
    if (dims < 16 || dims > 256 || dims % 16 != 0) {
      return eddy::Status::InvalidArgument("embedding.dimensions (" + std::to_string(dims) +
                                           ") must be a multiple of 16 in [16, 256]");
    }
    if (options_.cluster.enabled) {
      // Cluster mode: JetStream is the event log and its durability (docs/scale-out.md);
      // this node keeps no event store of its own.
      Result<std::unique_ptr<ClusterNode>> node = ClusterNode::Connect(options_, clock_);
      if (!node.ok()) return node.status();
      cluster_ = std::move(node).value();
    }
    const std::string& dir = options_.durability.data_dir;
    if (dir.empty() && options_.durability.ack != AckLevel::kMemory && !options_.cluster.enabled) {
      return eddy::Status::InvalidArgument(
          "durability.ack wal/fsync needs durability.data_dir (the event store lives there)");
    }
    if (!dir.empty() && !cluster_) {
      if (eddy::Status st = lock_.Acquire(dir); !st.ok()) return st;
      Result<std::unique_ptr<LogStore>> store = LogStore::Open(dir + "/log", options_.log.partitions);
      if (!store.ok()) return store.status();
      store_ = std::move(store).value();
      // Flushes and compactions come in bursts of a core for up to seconds: at a lower
      // priority they take the CPU the shard and store threads leave (docs/operations.md).
      // (Only an environment without priorities says no: RocksDB's POSIX one does not
      // report whether the OS allowed the change.)
      if (eddy::Status st = store_->SetBackgroundPriority(options_.durability.background_priority);
          !st.ok()) {
        spdlog::warn("{}; they keep the normal priority", st.message());
      }
    }
    const uint32_t partitions = options_.log.partitions;
    int shards = options_.runtime.shards;
    if (shards <= 0) shards = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    shards_ = std::min<int>(shards, static_cast<int>(partitions));
    // Cluster mode: a shard state per partition, run by shards_ threads (engine/shard_set.h):
    // a partition that moves to another node is dropped on its own.
    shard_states_ = cluster_ ? static_cast<int>(partitions) : shards_;
    // Consumer 0: the shards; consumer 1: the store thread.
    log_ = std::make_unique<PartitionedLog>(partitions, options_.log.capacity_per_partition,
                                            store_ ? 2 : 1);
    set_.states = NewStates(interners_.get());
    // Status names the registered states from here: a state set may be reset (cluster mode)
    // while a status page reads.
    for (const auto& st : set_.states[0]->states()) state_names_.emplace_back(st->Name());
    if (options_.fraud.enabled) {
      ip_orders_ = std::make_unique<IpOrderWindow>(options_.fraud.ip_window_minutes * 60'000,
                                                   options_.fraud.max_ips);
    }
    if (store_) {
      if (eddy::Status st = StartStore(); !st.ok()) return st;
    }
    StartShards();
    ingest_ = std::make_unique<IngestPath>(options_, *log_, *interners_, set_, writer_.get(), clock_,
                                           ip_orders_.get(), cluster_ ? &cluster_->log() : nullptr);
    queries_ = std::make_unique<QueryService>(options_, set_, *interners_, *log_, clock_);
    analytics_ = std::make_unique<AnalyticsService>(options_, set_, *interners_, *log_, clock_, live_fraud_);
    customers_ = std::make_unique<CustomerService>(options_, set_, *interners_, *log_, clock_);
    experiments_ = std::make_unique<ExperimentService>(set_, *queries_, ingest_.get());
    experiments_->Restore();  // the shares recovery brought back
    recommender_ = std::make_unique<Recommender>(options_, set_, *interners_, *queries_,
                                                 experiments_.get());
    if (checkpoints_) checkpoints_->Start(&set_, interners_.get());
    recycler_ = std::make_unique<IdRecycler>(*interners_, *log_, set_, store_ ? 2 : 1,
                                             options_.runtime);
    recycler_->Start();
    alert_feed_.CountFromNow();
    if (cluster_) {
      // The ranked reads' global steps and the experiments' counts ask every node
      // (engine/recommender.h, engine/experiment_service.h).
      const ClusterGather gather = [this](std::string request, std::function<void(std::vector<NodeAnswer>)> done) {
        cluster_->Read(-1, std::move(request), std::move(done), /*engine_part=*/true);
      };
      recommender_->GatherFromNodes(gather);
      experiments_->GatherFromNodes(gather);
      ClusterNode::PartHandler parts = [this](std::string request, std::vector<uint32_t> partitions,
                                              std::function<void(std::string)> reply) {
        if (!request.empty() && request[0] == ExperimentService::kPartKind) {
          return experiments_->AnswerPart(std::move(partitions), std::move(reply));
        }
        recommender_->AnswerPart(request, std::move(partitions), std::move(reply));
      };
      if (eddy::Status st = cluster_->Start(*ingest_, *interners_, set_, std::move(parts)); !st.ok()) return st;
    }
    ready_.store(true, std::memory_order_release);
    spdlog::info("engine: {} partitions x {} events, {} shards, ack={}, store={}", partitions,
                 log_->partition(PartitionId(0)).capacity(), shards_,
                 AckLevelName(options_.durability.ack),
                 cluster_ ? "JetStream stream " + options_.cluster.stream
                          : store_ ? dir + "/log" : std::string("none"));
    return eddy::Status::Ok();
  }

  // Recovery (which may replace the interners and states), then the store thread.
  eddy::Status StartStore() {
    checkpoints_ = std::make_unique<CheckpointManager>(options_, *store_, *log_, clock_,
                                                       ip_orders_.get());
    std::vector<uint64_t> start;
    eddy::Status st = checkpoints_->Recover(&interners_, &set_, [this](Interners* in) { return NewStates(in); }, &start);
    if (!st.ok()) return st;
    writer_ = std::make_unique<StoreWriter>(
        options_, *store_, *log_, *interners_, set_, duplicates_total_, clock_.wall(), start,
        checkpoints_->last_mark_ms(),
        [cp = checkpoints_.get()](LogStore::Mark m) { cp->AddMark(std::move(m)); });
    return eddy::Status::Ok();
  }

  void StartShards() {
    set_.Start(writer_ && writer_->gated() ? writer_->durable() : nullptr, static_cast<size_t>(shards_));
    if (writer_) writer_->Start();
  }

  std::vector<std::unique_ptr<ShardState>> NewStates(Interners* interners) {
    auto states = NewShardStates(shard_states_, options_, log_.get(), interners, clock_.wall(),
                                 &duplicates_total_, &alert_feed_);
    if (options_.server.metrics) {
      for (auto& st : states) st->SetFreshness(&freshness_);
    }
    return states;
  }

  std::unique_ptr<IngestContext> NewIngestContext() override { return ingest_->NewContext(); }

  size_t LoopThreads() const override { return set_.shards.size(); }
  void HostLoop(size_t thread, EventLoop* loop) override { set_.shards.at(thread)->Host(loop); }


  void SetRanking(const RankingOptions& ranking, const OfferOptions& offers,
                  const std::vector<Experiment>& experiments) override {
    recommender_->SetLive(ranking, offers, experiments);
  }

  std::shared_ptr<const std::vector<Experiment>> ExperimentsInForce() const override {
    auto live = recommender_->Live();
    return std::shared_ptr<const std::vector<Experiment>>(live, &live->experiments);
  }

  void SetThresholds(const FraudOptions& fraud, const InsightOptions& insights) override {
    live_fraud_.Set(WithLiveFraudFields(*live_fraud_.Get(), fraud));
    for (size_t s = 0; s < set_.states.size(); ++s) {
      set_.states[s]->OfferThresholds(fraud, insights);  // the next event applied takes them
      set_.OnShard(s, [](ShardState& st) { st.TakeOfferedThresholds(); });  // an idle one too
    }
  }

  void Ingest(IngestContext& ctx, std::string& body, BodyFormat format, DefaultType default_type,
              IngestCallback done) override {
    ingest_->Ingest(ctx, body, format, default_type, std::move(done));
  }

  void RecentItems(std::string_view user, uint32_t k,
                   std::function<void(std::vector<RecentItem>)> done) override {
    queries_->RecentItems(user, k, Guarded(std::move(done)));
  }
  void TrendingCategories(size_t window, uint32_t k,
                          std::function<void(TrendingAnswer)> done) override {
    queries_->TrendingCategories(window, k, Guarded(std::move(done)));
  }
  void CategoryVelocity(std::string_view category, uint32_t minutes,
                        std::function<void(VelocityAnswer)> done) override {
    queries_->CategoryVelocity(category, minutes, Guarded(std::move(done)));
  }
  void ItemEngagement(std::string_view item, std::function<void(EngagementAnswer)> done) override {
    queries_->ItemEngagement(item, Guarded(std::move(done)));
  }
  void PopularItems(std::string_view category, uint32_t k,
                    std::function<void(PopularAnswer)> done) override {
    queries_->PopularItems(category, k, Guarded(std::move(done)));
  }
  void UserAffinity(std::string_view user, uint32_t k,
                    std::function<void(AffinityAnswer)> done) override {
    queries_->UserAffinity(user, k, Guarded(std::move(done)));
  }
  void SimilarItems(std::string_view item, uint32_t k,
                    std::function<void(SimilarAnswer)> done) override {
    queries_->SimilarItems(item, k, Guarded(std::move(done)));
  }
  void ItemCatalog(std::string_view item, std::function<void(CatalogRecord)> done) override {
    analytics_->ItemCatalog(item, Guarded(std::move(done)));
  }
  void ItemInventory(std::string_view item, std::function<void(InventoryAnswer)> done) override {
    analytics_->ItemInventory(item, Guarded(std::move(done)));
  }
  void LowStock(uint32_t k, std::function<void(LowStockAnswer)> done) override {
    analytics_->LowStock(k, Guarded(std::move(done)));
  }
  void Alerts(const AlertsRequest& request, std::function<void(AlertsAnswer)> done) override {
    analytics_->Alerts(request, Guarded(std::move(done)));
  }
  uint64_t SubscribeAlerts(AlertListener listener) override {
    return alert_feed_.Subscribe(std::move(listener));
  }
  void UnsubscribeAlerts(uint64_t handle) override { alert_feed_.Unsubscribe(handle); }
  void OrderFraud(std::string_view order, std::function<void(OrderFraudAnswer)> done) override {
    customers_->OrderFraud(order, Guarded(std::move(done)));
  }
  void UserFraud(std::string_view user, uint32_t k,
                 std::function<void(UserFraudAnswer)> done) override {
    customers_->UserFraud(user, k, Guarded(std::move(done)));
  }
  void UserInsights(std::string_view user, int64_t hours,
                    std::function<void(InsightsAnswer)> done) override {
    customers_->UserInsights(user, hours, Guarded(std::move(done)));
  }
  void UserSessions(std::string_view user, uint32_t k,
                    std::function<void(SessionsAnswer)> done) override {
    analytics_->UserSessions(user, k, Guarded(std::move(done)));
  }
  void Funnel(int64_t window_minutes, std::string_view category,
              std::function<void(FunnelAnswer)> done) override {
    analytics_->Funnel(window_minutes, category, Guarded(std::move(done)));
  }
  void Revenue(const RevenueRequest& request, std::function<void(RevenueAnswer)> done) override {
    analytics_->Revenue(request, Guarded(std::move(done)));
  }
  void Recommend(const RecommendRequest& request,
                 std::function<void(RecommendAnswer)> done) override {
    recommender_->Recommend(request, Guarded(std::move(done)));
  }
  void SimilarItemsRanked(std::string_view item, uint32_t k, ItemFilter filter,
                          std::function<void(RankedSimilarAnswer)> done) override {
    recommender_->SimilarItemsRanked(item, k, std::move(filter), Guarded(std::move(done)));
  }
  void RankOffers(std::string_view user, std::vector<Offer> offers, uint32_t k,
                  std::function<void(OffersAnswer)> done) override {
    recommender_->RankOffers(user, std::move(offers), k, Guarded(std::move(done)));
  }

  void Experiments(std::string_view name, std::function<void(ExperimentsAnswer)> done) override {
    experiments_->Report(recommender_->Live()->experiments, std::string(name),
                         Guarded(std::move(done)));
  }

  void Reallocate(std::string_view name, std::function<void(ReallocateAnswer)> done) override {
    auto live = recommender_->Live();
    const Experiment* e = RunningExperiment(live->experiments);
    if (e == nullptr || e->name != name || e->allocation != AllocationMode::kThompson) {
      ReallocateAnswer a;
      a.status = eddy::Status::InvalidArgument(
          "experiment \"" + std::string(name) +
          "\": not the running experiment with allocation = \"thompson\"");
      return done(std::move(a));
    }
    experiments_->Reallocate(*e, [live, e, done = std::move(done)](eddy::Status st,
                                                                    std::vector<double> shares) {
      ReallocateAnswer a;
      a.status = std::move(st);
      for (size_t i = 0; i < shares.size(); ++i) a.shares.emplace_back(e->variants[i].name, shares[i]);
      done(std::move(a));
    });
  }

  Result<uint64_t> RecycleIdsNow() override { return recycler_->RunOnce(); }

  eddy::Status TakeCheckpoint() override {
    if (!checkpoints_) return eddy::Status::Unavailable("no data_dir: nothing to checkpoint into");
    return checkpoints_->Take();
  }
  void RequestCheckpoint(std::function<void(eddy::Status, uint64_t)> done) override {
    if (!checkpoints_) return done(eddy::Status::Unavailable("no data_dir: nothing to checkpoint into"), 0);
    checkpoints_->Request(std::move(done));
  }
  void FailStoreWritesForTest(bool fail) override {
    if (store_) store_->FailWritesForTest(fail);
  }

  eddy::Status AdmitRead() const override {
    // Per thread; a global read queues a task per shard state, and a thread runs several
    // of them in cluster mode.
    const int64_t cap = options_.runtime.max_queued_reads *
                        static_cast<int64_t>(std::max<size_t>(1, set_.states.size() / std::max<size_t>(1, set_.shards.size())));
    for (size_t s = 0; s < set_.shards.size(); ++s) {
      const int64_t q = set_.queued[s].load(std::memory_order_relaxed);
      if (q >= cap) {
        return eddy::Status::ResourceExhausted(
            "shard " + std::to_string(s) + " has " + std::to_string(q) +
            " reads waiting (runtime.max_queued_reads = " + std::to_string(cap) + "); retry later");
      }
    }
    return eddy::Status::Ok();
  }

  StreamStatus Status() const override;

  bool Ready() const override {
    return ready_.load(std::memory_order_acquire) && !ingest_->closed() &&
           !(writer_ && writer_->failing());
  }

  // Refuses new ingests, stores and applies everything accepted, and leaves a checkpoint
  // of it, so the next start replays nothing.
  void Stop() override {
    if (stopping_.exchange(true, std::memory_order_seq_cst)) {
      stopped_.wait(false);
      return;
    }
    if (ingest_) ingest_->Close();
    if (cluster_) cluster_->Stop();
    if (recycler_) recycler_->Stop();
    if (checkpoints_) checkpoints_->StopPeriodic();
    // The store first: it persists everything published (the shards, when gated, can only
    // apply what it made durable); then the shards apply the rest.
    if (writer_) writer_->Stop();
    set_.Stop();
    // (Tasks run inline once the shard threads are gone.)
    if (checkpoints_ && ready_.load(std::memory_order_acquire) && !writer_->failing()) {
      (void)checkpoints_->Take();
    }
    spdlog::info("engine: stopped; {} events accepted, {} duplicates",
                 ingest_ ? ingest_->accepted_total() : 0,
                 duplicates_total_.load(std::memory_order_relaxed));
    stopped_.store(true);
    stopped_.notify_all();
  }

  const Options& options() const override { return options_; }

  bool Clustered() const override { return cluster_ != nullptr; }
  uint32_t PartitionOfKey(std::string_view key) const override {
    return log_->PartitionOfKey(key).value();
  }
  void ClusterRead(int64_t partition, std::string request,
                   std::function<void(std::vector<NodeAnswer>)> done) override {
    if (!cluster_) return Engine::ClusterRead(partition, std::move(request), std::move(done));
    cluster_->Read(partition, std::move(request), std::move(done));
  }
  void ServeClusterReads(ClusterReadHandler handler) override {
    if (cluster_) cluster_->Serve(std::move(handler));
  }

 private:
  // A read's callback that holds an id guard until it has run: the read may hold ids it
  // found or took from a state until its answer is printed (util/id_epochs.h).
  template <typename T>
  std::function<void(T)> Guarded(std::function<void(T)> done) {
    auto guard = std::make_shared<IdEpochs::Guard>(interners_->epochs.Enter());
    return [guard = std::move(guard), done = std::move(done)](T v) {
      done(std::move(v));
      guard->Release();
    };
  }

  const Options options_;
  EngineClock clock_;
  DirLock lock_;
  int shards_ = 1;
  int shard_states_ = 1;  // shards_, or (cluster mode) one per partition
  std::vector<std::string> state_names_;  // every shard state's, in registration order
  std::unique_ptr<Interners> interners_ = std::make_unique<Interners>();  // recovery may replace
  std::unique_ptr<LogStore> store_;  // null without a data_dir
  std::unique_ptr<IpOrderWindow> ip_orders_;  // null without fraud scoring
  std::unique_ptr<PartitionedLog> log_;
  Live<FraudOptions> live_fraud_{options_.fraud};  // the fraud settings in force (reload)
  AlertFeed alert_feed_{interners_, options_, live_fraud_};  // before the states that raise alerts into it
  ShardSet set_;
  std::atomic<uint64_t> duplicates_total_{0};  // counted by the shards and the store writer
  LatencyHistogram freshness_;  // ingest → visible, observed by the shards
  std::unique_ptr<CheckpointManager> checkpoints_;  // with a store
  std::unique_ptr<StoreWriter> writer_;             // with a store
  std::unique_ptr<IngestPath> ingest_;
  std::unique_ptr<QueryService> queries_;
  std::unique_ptr<AnalyticsService> analytics_;
  std::unique_ptr<CustomerService> customers_;
  std::unique_ptr<ExperimentService> experiments_;
  std::unique_ptr<Recommender> recommender_;
  std::unique_ptr<IdRecycler> recycler_;
  // Cluster mode; after ingest_: destroyed first (its acknowledgements reply through it).
  std::unique_ptr<ClusterNode> cluster_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};
};

StreamStatus EngineImpl::Status() const {
  StreamStatus s;
  if (cluster_) s.cluster = cluster_->Describe();
  s.partitions = log_->partitions();
  s.shards = static_cast<int>(set_.states.size());
  s.capacity_per_partition = log_->partition(PartitionId(0)).capacity();
  s.accepted_total = ingest_->accepted_total();
  for (int t = 0; t < kEventTypeCount; ++t) {
    const auto type = static_cast<EventType>(t);
    s.accepted_by_type.emplace_back(std::string(EventTypeName(type)), ingest_->accepted_of(type));
  }
  s.duplicates_total = duplicates_total_.load(std::memory_order_relaxed);
  s.popular_full_scans = queries_->popular_full_scans();
  s.experiment_records_dropped = ingest_->records_dropped();
  s.freshness = freshness_.Snapshot();
  alert_feed_.Counts(&s.alerts_raised, &s.alerts_cleared);
  const int64_t now_sec = clock_.wall()->Now().millis() / 1000;
  uint64_t last10 = 0;
  s.shard.resize(set_.states.size());
  for (size_t i = 0; i < set_.states.size(); ++i) {
    s.shard[i].shard = static_cast<int>(i);
    s.shard[i].applied_events = set_.states[i]->applied_events();
    s.filtered_total += set_.states[i]->filtered_events();
    last10 += set_.states[i]->rate().SumBefore(now_sec, 10);
  }
  s.events_per_second_10s = static_cast<double>(last10) / 10.0;
  // Every registered state, summed over shards (every shard registers the same ones).
  s.memory.resize(state_names_.size());
  for (size_t a = 0; a < state_names_.size(); ++a) {
    s.memory[a].aggregate = state_names_[a];
    for (const auto& st : set_.states) {
      const StateMemory f = st->memory(a);
      s.memory[a].keys += f.keys;
      s.memory[a].bytes += f.bytes;
      s.memory[a].evicted += f.evicted;
    }
  }
  for (uint32_t p = 0; p < s.partitions; ++p) {
    const PartitionLog& pl = log_->partition(PartitionId(p));
    PartitionStatus ps;
    ps.partition = p;
    ps.shard = static_cast<int>(set_.ShardOf(PartitionId(p)));
    ps.applied = pl.cursor(0);
    ps.head = std::max(ps.applied, pl.head());
    ps.durable = writer_ ? writer_->durable()[p].load(std::memory_order_relaxed) : 0;
    s.shard[ps.shard].lag_events += ps.head - ps.applied;
    s.partition.push_back(ps);
  }
  if (recycler_) recycler_->Fill(&s.ids);
  if (writer_) writer_->FillStatus(&s.store);
  if (checkpoints_) checkpoints_->FillStatus(&s.store);
  return s;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const Options& options, Clock* clock) {
  auto engine = std::make_unique<EngineImpl>(options, clock ? clock : Clock::System());
  if (eddy::Status st = engine->Init(); !st.ok()) return st;
  return std::unique_ptr<Engine>(std::move(engine));
}

namespace {
// Runs an asynchronous read and waits for its answer (tests, benches, tools).
template <typename T, typename Start>
T Await(Start start) {
  std::promise<T> promise;
  std::future<T> future = promise.get_future();
  start([&promise](T v) { promise.set_value(std::move(v)); });
  return future.get();
}
}  // namespace

IngestReply Engine::IngestSync(IngestContext& ctx, std::string body, BodyFormat format,
                               DefaultType default_type) {
  return Await<IngestReply>(
      [&](auto cb) { Ingest(ctx, body, format, default_type, std::move(cb)); });
}

TrendingAnswer Engine::TrendingCategoriesSync(size_t window, uint32_t k) {
  return Await<TrendingAnswer>([&](auto cb) { TrendingCategories(window, k, std::move(cb)); });
}

VelocityAnswer Engine::CategoryVelocitySync(std::string_view category, uint32_t minutes) {
  return Await<VelocityAnswer>(
      [&](auto cb) { CategoryVelocity(category, minutes, std::move(cb)); });
}

EngagementAnswer Engine::ItemEngagementSync(std::string_view item) {
  return Await<EngagementAnswer>([&](auto cb) { ItemEngagement(item, std::move(cb)); });
}

std::vector<RecentItem> Engine::RecentItemsSync(std::string_view user, uint32_t k) {
  return Await<std::vector<RecentItem>>([&](auto cb) { RecentItems(user, k, std::move(cb)); });
}

PopularAnswer Engine::PopularItemsSync(std::string_view category, uint32_t k) {
  return Await<PopularAnswer>([&](auto cb) { PopularItems(category, k, std::move(cb)); });
}

AffinityAnswer Engine::UserAffinitySync(std::string_view user, uint32_t k) {
  return Await<AffinityAnswer>([&](auto cb) { UserAffinity(user, k, std::move(cb)); });
}

SimilarAnswer Engine::SimilarItemsSync(std::string_view item, uint32_t k) {
  return Await<SimilarAnswer>([&](auto cb) { SimilarItems(item, k, std::move(cb)); });
}

InventoryAnswer Engine::ItemInventorySync(std::string_view item) {
  return Await<InventoryAnswer>([&](auto cb) { ItemInventory(item, std::move(cb)); });
}

LowStockAnswer Engine::LowStockSync(uint32_t k) {
  return Await<LowStockAnswer>([&](auto cb) { LowStock(k, std::move(cb)); });
}

AlertsAnswer Engine::AlertsSync(const AlertsRequest& request) {
  return Await<AlertsAnswer>([&](auto cb) { Alerts(request, std::move(cb)); });
}

CatalogRecord Engine::ItemCatalogSync(std::string_view item) {
  return Await<CatalogRecord>([&](auto cb) { ItemCatalog(item, std::move(cb)); });
}

OrderFraudAnswer Engine::OrderFraudSync(std::string_view order) {
  return Await<OrderFraudAnswer>([&](auto cb) { OrderFraud(order, std::move(cb)); });
}

InsightsAnswer Engine::UserInsightsSync(std::string_view user, int64_t hours) {
  return Await<InsightsAnswer>([&](auto cb) { UserInsights(user, hours, std::move(cb)); });
}

UserFraudAnswer Engine::UserFraudSync(std::string_view user, uint32_t k) {
  return Await<UserFraudAnswer>([&](auto cb) { UserFraud(user, k, std::move(cb)); });
}

SessionsAnswer Engine::UserSessionsSync(std::string_view user, uint32_t k) {
  return Await<SessionsAnswer>([&](auto cb) { UserSessions(user, k, std::move(cb)); });
}

FunnelAnswer Engine::FunnelSync(int64_t window_minutes, std::string_view category) {
  return Await<FunnelAnswer>([&](auto cb) { Funnel(window_minutes, category, std::move(cb)); });
}

RevenueAnswer Engine::RevenueSync(const RevenueRequest& request) {
  return Await<RevenueAnswer>([&](auto cb) { Revenue(request, std::move(cb)); });
}

RecommendAnswer Engine::RecommendSync(const RecommendRequest& request) {
  return Await<RecommendAnswer>([&](auto cb) { Recommend(request, std::move(cb)); });
}

RankedSimilarAnswer Engine::SimilarItemsRankedSync(std::string_view item, uint32_t k,
                                                   ItemFilter filter) {
  return Await<RankedSimilarAnswer>(
      [&](auto cb) { SimilarItemsRanked(item, k, std::move(filter), std::move(cb)); });
}

ExperimentsAnswer Engine::ExperimentsSync(std::string_view name) {
  return Await<ExperimentsAnswer>([&](auto cb) { Experiments(name, std::move(cb)); });
}

ReallocateAnswer Engine::ReallocateSync(std::string_view name) {
  return Await<ReallocateAnswer>([&](auto cb) { Reallocate(name, std::move(cb)); });
}

OffersAnswer Engine::RankOffersSync(std::string_view user, std::vector<Offer> offers, uint32_t k) {
  return Await<OffersAnswer>(
      [&](auto cb) { RankOffers(user, std::move(offers), k, std::move(cb)); });
}

}  // namespace eddy
