#include "engine/experiment_service.h"

#include <algorithm>
#include <future>

#include "engine/shard_state.h"
#include "experiments/report.h"
#include "util/hash.h"
#include "util/histogram.h"
#include "util/time.h"

namespace eddy {
namespace {

// The variants' names of `e`, in order.
std::vector<std::string> NamesOf(const Experiment& e) {
  std::vector<std::string> names;
  for (const ExperimentVariant& v : e.variants) names.push_back(v.name);
  return names;
}

// Whether reallocation `a` was made for e's variants as they are (a reload may have
// changed them since); without copying, as bucketing asks on every request.
bool MadeFor(const AllocationRecord& a, const Experiment& e) {
  if (a.variants.size() != e.variants.size()) return false;
  for (size_t i = 0; i < e.variants.size(); ++i) {
    if (a.variants[i] != e.variants[i].name) return false;
  }
  return true;
}

}  // namespace

ExperimentService::ExperimentService(const ShardSet& shards, const QueryService& queries,
                                     IngestPath* ingest)
    : shards_(shards), queries_(queries), ingest_(ingest), last_realloc_ns_(SteadyNanos()) {}

size_t ExperimentService::VariantOf(const Experiment& e, std::string_view user) const {
  if (e.allocation == AllocationMode::kThompson) {
    const auto shares = shares_.Get();
    auto it = shares->find(e.name);
    if (it != shares->end() && MadeFor(it->second, e)) return ranker::VariantOf(e, user, it->second.shares);
  }
  return ranker::VariantOf(e, user);
}

void ExperimentService::Publish(const std::string& name, AllocationRecord record) {
  auto next = *shares_.Get();
  next[name] = std::move(record);
  shares_.Set(std::move(next));
}

void ExperimentService::Served(const Experiment& e, std::string_view user,
                               std::string_view recomm_id, std::string_view variant,
                               const std::vector<std::string_view>& items, int64_t time_ms) {
  if (ingest_ == nullptr) return;
  ingest_->AppendOwn(EventType::kServed, user, time_ms, EncodeServed(e.name, variant, items),
                     RecommHash(recomm_id), e.impressions == ImpressionMode::kServe ? 1 : 0);
  if (e.allocation != AllocationMode::kThompson) return;
  const int64_t now = SteadyNanos();
  int64_t last = last_realloc_ns_.load(std::memory_order_relaxed);
  if (now - last < int64_t{e.reallocate_seconds} * 1'000'000'000) return;
  // One redraw at a time: the serve that wins the exchange starts it.
  if (!last_realloc_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  Reallocate(e, [](Status, std::vector<double>) {});
}

ExperimentState::Partial ExperimentService::PartialOf(ShardState& st) {
  ExperimentState::Partial p;
  st.Get<ExperimentState>().AddTo(p);
  return p;
}

void ExperimentService::Gather(std::function<void(Status, ExperimentState::Partial&)> done) const {
  if (nodes_) {
    nodes_(std::string(1, kPartKind), [done = std::move(done)](std::vector<NodeAnswer> answers) {
      ExperimentState::Partial all;
      for (const NodeAnswer& a : answers) {
        SerialReader r(a.response);
        ExperimentState::Partial part;
        Status st = a.status;
        if (st.ok() && (r.U8() != 1 || !ExperimentState::LoadPartial(r, &part) || !r.done())) {
          st = Status::Unavailable("node " + a.node + " gave malformed experiment counts");
        }
        if (!st.ok()) {
          ExperimentState::Partial none;
          return done(st, none);
        }
        ExperimentState::Merge(all, part);
      }
      done(Status::Ok(), all);
    });
    return;
  }
  shards_.ScatterGather<ExperimentState::Partial>(
      PartialOf,
      [done = std::move(done)](std::vector<ExperimentState::Partial>& parts) {
        ExperimentState::Partial all;
        for (const auto& p : parts) ExperimentState::Merge(all, p);
        done(Status::Ok(), all);
      },
      /*catch_up=*/true, shards_.HorizonNow());
}

void ExperimentService::AnswerPart(std::vector<uint32_t> partitions,
                                   std::function<void(std::string)> reply) const {
  shards_.ScatterGather<ExperimentState::Partial>(
      PartialOf,
      [partitions = std::move(partitions), reply = std::move(reply)](std::vector<ExperimentState::Partial>& parts) {
        // Only the partitions this node answers for (a state per partition in cluster mode).
        ExperimentState::Partial mine;
        for (uint32_t p : partitions) {
          if (p < parts.size()) ExperimentState::Merge(mine, parts[p]);
        }
        std::string out;
        SerialWriter w(&out);
        w.U8(1);
        ExperimentState::SavePartial(w, mine);
        reply(std::move(out));
      },
      /*catch_up=*/true, shards_.HorizonNow());
}

void ExperimentService::Reallocate(const Experiment& e,
                                   std::function<void(Status, std::vector<double>)> done) {
  const uint64_t generation = generation_.fetch_add(1, std::memory_order_relaxed);
  Gather([this, e, generation, done = std::move(done)](Status st, ExperimentState::Partial& all) {
    if (!st.ok()) return done(st, {});
    std::vector<std::pair<uint64_t, uint64_t>> xn;
    for (const ExperimentVariant& v : e.variants) {
      const ExperimentCounts& c = all.counts[ExperimentState::KeyOf(e.name, v.name)];
      xn.emplace_back(e.goal == ExperimentGoal::kConversion ? c.bought : c.clicked, c.shown);
    }
    AllocationRecord record;
    record.variants = NamesOf(e);
    record.shares = ThompsonShares(ProbabilityBest(xn, StableHash64(e.name) + generation), e.min_share);
    std::vector<double> shares = record.shares;
    bool recorded = false;
    {
      MutexLock lock(&realloc_mu_);
      record.time_ms = std::max<int64_t>(0, queries_.NowMs());
      // Recorded before it takes effect, so that the history always holds the shares used.
      recorded = ingest_ != nullptr && ingest_->AppendOwn(EventType::kAllocation, e.name,
                                                          record.time_ms,
                                                          EncodeAllocation(e.name, record));
      if (recorded) Publish(e.name, std::move(record));
    }
    if (!recorded) {
      return done(Status::Unavailable("the reallocation could not be recorded (event log "
                                      "full, store failing or stopping); shares unchanged"),
                  {});
    }
    done(Status::Ok(), std::move(shares));
  });
}

void ExperimentService::Report(std::vector<Experiment> experiments, std::string name,
                               std::function<void(ExperimentsAnswer)> done) const {
  const int64_t now_ms = queries_.NowMs();
  Gather([experiments = std::move(experiments), name = std::move(name), now_ms,
          done = std::move(done)](Status st, ExperimentState::Partial& all) {
    ExperimentsAnswer answer;
    if (!st.ok()) {
      answer.status = st;
      return done(std::move(answer));
    }
    answer.now = EventTime(now_ms == INT64_MIN ? 0 : now_ms);
    answer.unmatched = all.unmatched;
    const Experiment* running = RunningExperiment(experiments);
    std::vector<std::string> names;
    for (const Experiment& e : experiments) names.push_back(e.name);
    const auto add = [&names](std::string n) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
    };
    for (const auto& [key, counts] : all.counts) add(key.substr(0, key.find(kServedSep)));
    for (const auto& [n, history] : all.allocations) add(n);
    for (const std::string& n : names) {
      if (!name.empty() && n != name) continue;
      const Experiment* config = nullptr;
      for (const Experiment& e : experiments) {
        if (e.name == n) config = &e;
      }
      // The shares in force, and the history by the report's variants (the configured
      // ones first).
      const std::vector<AllocationRecord>& records = all.allocations[n];
      std::vector<double> current;
      if (config != nullptr && config->allocation == AllocationMode::kThompson && !records.empty() &&
          MadeFor(records.back(), *config)) {
        current = records.back().shares;
      }
      ExperimentReport r = BuildReport(n, config, config != nullptr && config == running,
                                       all.counts, current);
      std::vector<AllocationPoint> history;
      for (const AllocationRecord& a : records) {
        AllocationPoint p{a.time_ms, std::vector<double>(r.variants.size(), 0)};
        for (size_t i = 0; i < a.variants.size(); ++i) {
          for (size_t j = 0; j < r.variants.size(); ++j) {
            if (r.variants[j].name == a.variants[i]) p.shares[j] = a.shares[i];
          }
        }
        history.push_back(std::move(p));
      }
      r.allocations = std::move(history);
      answer.experiments.push_back(std::move(r));
    }
    done(std::move(answer));
  });
}

void ExperimentService::Restore() {
  std::promise<ExperimentState::Partial> got;
  Gather([&got](Status, ExperimentState::Partial& all) { got.set_value(std::move(all)); });
  const ExperimentState::Partial all = got.get_future().get();
  MutexLock lock(&realloc_mu_);
  for (const auto& [name, records] : all.allocations) {
    if (!records.empty()) Publish(name, records.back());
  }
}

}  // namespace eddy
