#include "eddy/engine.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include "engine/ingest_ticket.h"
#include "engine/shard_state.h"
#include "ingest/decoder.h"
#include "log/partitioned_log.h"
#include "runtime/shard.h"
#include "util/hash.h"

namespace eddy {
namespace {

class IngestContextImpl final : public IngestContext {
 public:
  IngestContextImpl(Interners& interners, const Options& options, Clock* clock)
      : decoder(interners, options.ingest, clock),
        run_length(options.log.partitions),
        run_start(options.log.partitions),
        first_offset(options.log.partitions) {}

  Decoder decoder;
  std::vector<Event> events;
  std::vector<Rejection> rejected;
  std::vector<uint32_t> partition_of;  // per event
  std::vector<uint32_t> run_length;    // per partition
  std::vector<uint32_t> run_start;     // per partition, into `order`
  std::vector<uint32_t> run_cursor;    // scratch for the grouping
  std::vector<uint32_t> order;         // event indexes grouped by partition, stable
  std::vector<uint64_t> first_offset;  // per partition, of the reservation
  std::vector<uint32_t> touched;       // partitions with a run, ascending
};

// Holds the data directory's LOCK file for the engine's lifetime: two daemons on one
// data dir would corrupt each other's state.
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
  EngineImpl(const Options& options, Clock* clock) : options_(options), clock_(clock) {}

  ~EngineImpl() override { Stop(); }

  eddy::Status Init() {
    if (!options_.durability.data_dir.empty()) {
      if (eddy::Status st = lock_.Acquire(options_.durability.data_dir); !st.ok()) return st;
    }
    const uint32_t partitions = options_.log.partitions;
    int shards = options_.runtime.shards;
    if (shards <= 0) shards = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    shards = std::min<int>(shards, static_cast<int>(partitions));
    log_ = std::make_unique<PartitionedLog>(partitions, options_.log.capacity_per_partition, 1);
    for (int s = 0; s < shards; ++s) {
      std::vector<PartitionId> owned;
      for (uint32_t p = s; p < partitions; p += shards) owned.push_back(PartitionId(p));
      states_.push_back(std::make_unique<ShardState>(s, options_, log_.get(), std::move(owned),
                                                     clock_, &duplicates_total_));
      ShardState* st = states_.back().get();
      shards_.push_back(std::make_unique<Shard>(s, [st] { return st->Poll(); }));
    }
    for (auto& s : shards_) s->Start();
    ready_.store(true, std::memory_order_release);
    spdlog::info("engine: {} partitions x {} events, {} shards, ack={}", partitions,
                 log_->partition(PartitionId(0)).capacity(), shards, "memory");
    return Status::Ok();
  }

  std::unique_ptr<IngestContext> NewIngestContext() override {
    return std::make_unique<IngestContextImpl>(interners_, options_, clock_);
  }

  void Ingest(IngestContext& base, std::string& body, BodyFormat format,
              DefaultType default_type, IngestCallback done) override {
    // Counted before the stopping check, so Stop() can wait for every ingest that got in.
    inflight_.fetch_add(1, std::memory_order_seq_cst);
    if (stopping_.load(std::memory_order_seq_cst)) {
      inflight_.fetch_sub(1, std::memory_order_release);
      IngestReply r;
      r.status = eddy::Status::Unavailable("eddy is shutting down");
      done(std::move(r));
      return;
    }
    auto& ctx = static_cast<IngestContextImpl&>(base);
    body.reserve(body.size() + Decoder::kPadding);
    IngestReply reply;
    DecodeResult dr = ctx.decoder.Decode(body, body.capacity(), format, default_type,
                                         &ctx.events, &ctx.rejected);
    reply.rejected = std::move(ctx.rejected);
    ctx.rejected = {};
    if (!dr.status.ok()) {
      reply.status = dr.status;
      reply.error_offset = dr.error_offset;
    } else if (!ctx.events.empty()) {
      reply.status = Append(ctx, &reply, &done);
    }
    inflight_.fetch_sub(1, std::memory_order_release);
    if (done) done(std::move(reply));  // else a ticket owns it and replies from a shard
  }

  void RecentItems(std::string_view user, uint32_t k,
                   std::function<void(std::vector<RecentItem>)> done) override {
    uint32_t uid = interners_.users.Find(user);
    if (uid == 0) {  // never seen (every acknowledged event's user is interned)
      done({});
      return;
    }
    const PartitionId p = PartitionOfUser(user);
    const size_t s = p.value() % shards_.size();
    ShardState* st = states_[s].get();
    shards_[s]->Submit([this, st, p, uid, k, done = std::move(done)] {
      st->CatchUp(p);
      std::vector<eddy::RecentItems::Entry> entries;
      st->recent().Get(UserId(uid), k, &entries);
      std::vector<RecentItem> out;
      out.reserve(entries.size());
      for (const auto& e : entries) {
        out.push_back({std::string(interners_.items.Lookup(e.item.value())), e.time});
      }
      done(std::move(out));
    });
  }

  // The engine clock for a read (SPEC §3): newest event time accepted, and in live mode at
  // least the wall clock. INT64_MIN when there is no time yet (event clock, no events).
  int64_t NowMs() const {
    int64_t now = newest_event_ms_.load(std::memory_order_relaxed);
    if (options_.clock == ClockMode::kLive) now = std::max(now, clock_->Now().millis());
    return now;
  }
  // The time an answer reports: the clock, or 0 when there is none yet.
  static EventTime AnswerTime(int64_t now_ms) {
    return EventTime(now_ms == INT64_MIN ? 0 : now_ms);
  }
  // The partition holding a user's events (and so their per-user aggregates).
  PartitionId PartitionOfUser(std::string_view user) const {
    return log_->PartitionOf(static_cast<uint32_t>(StableHash64(user)));
  }
  static int64_t Minute(int64_t ms) {
    return ms >= 0 ? ms / 60'000 : -((-ms + 59'999) / 60'000);
  }

  // Runs `part` on every shard (after it caught up with everything published), then
  // `merge` with all the partials on the shard that finished last.
  template <typename Partial>
  void ScatterGather(std::function<Partial(ShardState&)> part,
                     std::function<void(std::vector<Partial>&)> merge) {
    struct Gather {
      std::vector<Partial> parts;
      std::atomic<size_t> left;
      std::function<void(std::vector<Partial>&)> merge;
    };
    auto g = std::make_shared<Gather>();
    g->parts.resize(shards_.size());
    g->left.store(shards_.size());
    g->merge = std::move(merge);
    for (size_t s = 0; s < shards_.size(); ++s) {
      ShardState* st = states_[s].get();
      shards_[s]->Submit([g, st, s, part] {
        st->CatchUpAll();
        g->parts[s] = part(*st);
        // acq_rel: the last one sees every shard's partial.
        if (g->left.fetch_sub(1, std::memory_order_acq_rel) == 1) g->merge(g->parts);
      });
    }
  }

  void TrendingCategories(size_t window, uint32_t k,
                          std::function<void(TrendingAnswer)> done) override {
    TrendingAnswer empty;
    empty.window_minutes = window < options_.windows.minutes.size() ? options_.windows.minutes[window] : 0;
    const int64_t now_ms = NowMs();
    if (window >= options_.windows.minutes.size() || now_ms == INT64_MIN) {
      empty.now = AnswerTime(now_ms);
      return done(std::move(empty));
    }
    const int64_t g = Minute(now_ms);
    struct Partial {
      CategoryWindows::Sums window;
      CategoryWindows::Sums this_minute, previous_minute;
    };
    ScatterGather<Partial>(
        [window, g](ShardState& st) {
          Partial p;
          st.trending().AddWindow(window, g, &p.window);
          st.trending().AddBucket(g, &p.this_minute);
          st.trending().AddBucket(g - 1, &p.previous_minute);
          return p;
        },
        [this, k, now_ms, empty = std::move(empty),
         done = std::move(done)](std::vector<Partial>& parts) mutable {
          CategoryWindows::Sums sum, cur, prev;
          for (Partial& p : parts) {
            for (const auto& [c, cell] : p.window) {
              auto& x = sum[c];
              x.weight += cell.weight;
              x.count += cell.count;
            }
            for (const auto& [c, cell] : p.this_minute) cur[c].count += cell.count;
            for (const auto& [c, cell] : p.previous_minute) prev[c].count += cell.count;
          }
          std::vector<TrendingCategory> all;
          all.reserve(sum.size());
          for (const auto& [c, cell] : sum) {
            if (cell.count <= 0) continue;
            TrendingCategory t;
            t.category = std::string(interners_.categories.Lookup(c.value()));
            t.score = static_cast<double>(cell.weight) / 1e6;
            t.events = cell.count;
            auto a = cur.find(c);
            t.this_minute = a == cur.end() ? 0 : a->second.count;
            auto b = prev.find(c);
            t.previous_minute = b == prev.end() ? 0 : b->second.count;
            all.push_back(std::move(t));
          }
          const size_t top = std::min<size_t>(k, all.size());
          std::partial_sort(all.begin(), all.begin() + top, all.end(),
                            [](const TrendingCategory& a, const TrendingCategory& b) {
                              return a.score != b.score ? a.score > b.score
                                                        : a.category < b.category;
                            });
          all.resize(top);
          empty.now = EventTime(now_ms);
          empty.top = std::move(all);
          done(std::move(empty));
        });
  }

  void CategoryVelocity(std::string_view category, uint32_t minutes,
                        std::function<void(VelocityAnswer)> done) override {
    VelocityAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    answer.per_minute.assign(minutes, 0);
    const uint32_t cat = interners_.categories.Find(category);
    if (cat == 0 || now_ms == INT64_MIN || minutes == 0) return done(std::move(answer));
    const int64_t g = Minute(now_ms);
    ScatterGather<std::vector<int64_t>>(
        [g, minutes, cat](ShardState& st) {
          std::vector<int64_t> counts(minutes, 0);
          st.trending().AddMinutes(CategoryId(cat), g, minutes, &counts);
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

  void ItemEngagement(std::string_view item,
                      std::function<void(EngagementAnswer)> done) override {
    EngagementAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    answer.per_window.resize(options_.windows.minutes.size());
    const uint32_t id = interners_.items.Find(item);
    if (id == 0 || now_ms == INT64_MIN) return done(std::move(answer));
    const int64_t g = Minute(now_ms);
    const size_t windows = options_.windows.minutes.size();
    // An item's events come from many users, so from every shard.
    ScatterGather<EngagementAnswer>(
        [g, id, windows](ShardState& st) {
          EngagementAnswer p;
          p.per_window.resize(windows);
          st.engagement().Add(ItemId(id), g, &p.all_time, &p.per_window);
          return p;
        },
        [answer = std::move(answer),
         done = std::move(done)](std::vector<EngagementAnswer>& parts) mutable {
          for (const EngagementAnswer& p : parts) {
            for (int t = 0; t < kEventTypeCount; ++t) {
              answer.all_time[t] += p.all_time[t];
              for (size_t w = 0; w < answer.per_window.size(); ++w) {
                answer.per_window[w][t] += p.per_window[w][t];
              }
            }
          }
          done(std::move(answer));
        });
  }

  void PopularItems(std::string_view category, uint32_t k,
                    std::function<void(PopularAnswer)> done) override {
    PopularAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    CategoryId cat;
    if (!category.empty()) {
      cat = CategoryId(interners_.categories.Find(category));
      if (!cat.valid()) return done(std::move(answer));
    }
    if (now_ms == INT64_MIN || k == 0) return done(std::move(answer));
    PopularRound(cat, k, now_ms, /*exhaustive=*/false, std::move(answer), std::move(done));
  }

  // Exact top-k of a sum over shards (a threshold test, as in TPUT): round one takes each
  // shard's best k and the bound on the rest; round two sums every shard's score of the
  // candidates. If the k-th exact total beats the sum of the bounds, nothing unseen can
  // enter the top; otherwise it is redone with every item of every shard as a candidate.
  void PopularRound(CategoryId cat, uint32_t k, int64_t now_ms, bool exhaustive,
                    PopularAnswer answer, std::function<void(PopularAnswer)> done) {
    struct Part {
      std::vector<Popularity::Scored> top;
      double bound = 0;
    };
    ScatterGather<Part>(
        [cat, k, now_ms, exhaustive](ShardState& st) {
          Part p;
          // Exhaustive: every item of every shard is a candidate.
          // Otherwise a few times k from each, so the bounds fall well below the k-th total.
          const uint32_t fetch = exhaustive ? UINT32_MAX : static_cast<uint32_t>(
                                                     std::clamp<uint64_t>(4ull * k, 64, UINT32_MAX));
          p.bound = st.popularity().Top(cat, fetch, now_ms, exhaustive, &p.top);
          return p;
        },
        [this, cat, k, now_ms, exhaustive, answer = std::move(answer),
         done = std::move(done)](std::vector<Part>& parts) mutable {
          auto cands = std::make_shared<std::vector<ItemId>>();
          absl::flat_hash_set<ItemId> seen;
          double bound = 0;
          for (const Part& p : parts) {
            bound += p.bound;
            for (const auto& [item, score] : p.top) {
              if (seen.insert(item).second) cands->push_back(item);
            }
          }
          ScatterGather<std::vector<double>>(
              [cands, cat, now_ms](ShardState& st) {
                std::vector<double> scores;
                st.popularity().ScoresOf(cat, *cands, now_ms, &scores);
                return scores;
              },
              [this, cands, cat, k, now_ms, exhaustive, bound, answer = std::move(answer),
               done = std::move(done)](std::vector<std::vector<double>>& parts) mutable {
                std::vector<ScoredName> all(cands->size());
                for (size_t i = 0; i < cands->size(); ++i) {
                  all[i].name = std::string(interners_.items.Lookup((*cands)[i].value()));
                  for (const auto& p : parts) all[i].score += p[i];
                }
                std::sort(all.begin(), all.end(), [](const ScoredName& a, const ScoredName& b) {
                  return a.score != b.score ? a.score > b.score : a.name < b.name;
                });
                // Strictly greater: an unseen item tying the k-th could precede it by name.
                const bool exact = exhaustive || bound == 0 ||
                                   (all.size() >= k && all[k - 1].score > bound);
                if (!exact) {
                  popular_fallbacks_.fetch_add(1, std::memory_order_relaxed);
                  return PopularRound(cat, k, now_ms, true, std::move(answer), std::move(done));
                }
                if (all.size() > k) all.resize(k);
                answer.top = std::move(all);
                done(std::move(answer));
              });
        });
  }

  void UserAffinity(std::string_view user, uint32_t k,
                    std::function<void(AffinityAnswer)> done) override {
    AffinityAnswer answer;
    const int64_t now_ms = NowMs();
    answer.now = AnswerTime(now_ms);
    const uint32_t uid = interners_.users.Find(user);
    if (uid == 0 || now_ms == INT64_MIN) return done(std::move(answer));
    const PartitionId p = PartitionOfUser(user);
    const size_t s = p.value() % shards_.size();
    ShardState* st = states_[s].get();
    shards_[s]->Submit([this, st, p, uid, k, now_ms, answer = std::move(answer),
                        done = std::move(done)]() mutable {
      st->CatchUp(p);
      std::vector<std::pair<CategoryId, double>> scores;
      st->affinity().Scores(UserId(uid), EventTime(now_ms), &scores);
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

  void SimilarItems(std::string_view item, uint32_t k,
                    std::function<void(SimilarAnswer)> done) override {
    const uint32_t id = interners_.items.Find(item);
    if (id == 0 || k == 0) return done({});
    // Pairs are counted on the shard of the user who made them: sum every shard's sketch.
    ScatterGather<std::vector<CoView::Neighbour>>(
        [id](ShardState& st) {
          std::vector<CoView::Neighbour> n;
          st.coview().Flush();
          st.coview().Neighbours(ItemId(id), &n);
          return n;
        },
        [this, k, done = std::move(done)](std::vector<std::vector<CoView::Neighbour>>& parts) {
          absl::flat_hash_map<ItemId, CoView::Neighbour> sum;
          for (const auto& p : parts) {
            for (const CoView::Neighbour& n : p) {
              CoView::Neighbour& x = sum[n.item];
              x.item = n.item;
              x.count += n.count;
              x.error += n.error;
            }
          }
          SimilarAnswer answer;
          answer.top.reserve(sum.size());
          for (const auto& [i, n] : sum) {
            answer.top.push_back({std::string(interners_.items.Lookup(i.value())), n.count, n.error});
          }
          const size_t top = std::min<size_t>(k, answer.top.size());
          std::partial_sort(answer.top.begin(), answer.top.begin() + top, answer.top.end(),
                            [](const SimilarItem& a, const SimilarItem& b) {
                              return a.count != b.count ? a.count > b.count : a.item < b.item;
                            });
          answer.top.resize(top);
          done(std::move(answer));
        });
  }

  StreamStatus Status() const override {
    StreamStatus s;
    s.partitions = log_->partitions();
    s.shards = static_cast<int>(shards_.size());
    s.capacity_per_partition = log_->partition(PartitionId(0)).capacity();
    s.accepted_total = accepted_total_.load(std::memory_order_relaxed);
    s.duplicates_total = duplicates_total_.load(std::memory_order_relaxed);
    s.popular_full_scans = popular_fallbacks_.load(std::memory_order_relaxed);
    const int64_t now_sec = clock_->Now().millis() / 1000;
    uint64_t last10 = 0;
    s.shard.resize(shards_.size());
    for (size_t i = 0; i < shards_.size(); ++i) {
      s.shard[i].shard = static_cast<int>(i);
      s.shard[i].applied_events = states_[i]->applied_events();
      last10 += states_[i]->rate().SumBefore(now_sec, 10);
    }
    s.events_per_second_10s = static_cast<double>(last10) / 10.0;
    s.memory.resize(kAggregateCount);
    for (size_t a = 0; a < kAggregateCount; ++a) {
      s.memory[a].aggregate = kAggregateNames[a];
      for (const auto& st : states_) {
        const ShardState::MemoryFigures f = st->memory(a);
        s.memory[a].keys += f.keys;
        s.memory[a].bytes += f.bytes;
        s.memory[a].evicted += f.evicted;
      }
    }
    for (uint32_t p = 0; p < s.partitions; ++p) {
      const PartitionLog& pl = log_->partition(PartitionId(p));
      PartitionStatus ps;
      ps.partition = p;
      ps.shard = static_cast<int>(p % shards_.size());
      ps.applied = pl.cursor(0);
      ps.head = std::max(ps.applied, pl.head());
      s.shard[ps.shard].lag_events += ps.head - ps.applied;
      s.partition.push_back(ps);
    }
    return s;
  }

  bool Ready() const override {
    return ready_.load(std::memory_order_acquire) && !stopping_.load(std::memory_order_acquire);
  }

  void Stop() override {
    if (stopping_.exchange(true, std::memory_order_seq_cst)) {
      stopped_.wait(false);
      return;
    }
    // Ingests that passed the stopping check finish appending first; none can start now.
    // seq_cst, pairing with Ingest's increment-then-check: with a weaker load, both sides
    // could miss each other (a store-load reordering).
    while (inflight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    for (auto& s : shards_) s->Stop();
    spdlog::info("engine: stopped; {} events accepted, {} duplicates",
                 accepted_total_.load(), duplicates_total_.load());
    stopped_.store(true);
    stopped_.notify_all();
  }

  const Options& options() const override { return options_; }

 private:
  // Appends ctx.events to the log, all or nothing. On success fills reply->accepted and,
  // when the events carry eventIds, moves `*done` into a ticket that replies later.
  eddy::Status Append(IngestContextImpl& ctx, IngestReply* reply, IngestCallback* done) {
    const uint32_t n = static_cast<uint32_t>(ctx.events.size());
    std::fill(ctx.run_length.begin(), ctx.run_length.end(), 0);
    ctx.partition_of.resize(n);
    ctx.touched.clear();
    bool has_ids = false;
    int64_t newest = INT64_MIN;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t p = log_->PartitionOf(ctx.events[i].user_hash).value();
      ctx.partition_of[i] = p;
      if (ctx.run_length[p]++ == 0) ctx.touched.push_back(p);
      has_ids |= ctx.events[i].event_id.present();
      newest = std::max(newest, ctx.events[i].time.millis());
    }
    std::sort(ctx.touched.begin(), ctx.touched.end());
    uint32_t start = 0;
    for (uint32_t p : ctx.touched) {
      if (ctx.run_length[p] > log_->partition(PartitionId(p)).capacity()) {
        return Status::TooLarge("request holds " + std::to_string(ctx.run_length[p]) +
                                " events for one partition; log.capacity_per_partition is " +
                                std::to_string(log_->partition(PartitionId(p)).capacity()));
      }
      ctx.run_start[p] = start;
      start += ctx.run_length[p];
    }
    ctx.order.resize(n);
    ctx.run_cursor = ctx.run_start;  // same size: no allocation once warm
    for (uint32_t i = 0; i < n; ++i) ctx.order[ctx.run_cursor[ctx.partition_of[i]]++] = i;
    // Allocate before reserving: once offsets are reserved nothing may fail before they
    // are published, or the partition would stall at the gap.
    std::unique_ptr<IngestTicket> ticket;
    if (has_ids) {
      ticket = std::make_unique<IngestTicket>(static_cast<uint32_t>(ctx.touched.size()),
                                              IngestReply{}, IngestCallback{});
    }
    // Reserve every partition first (ascending), so a full one aborts the whole request.
    for (size_t t = 0; t < ctx.touched.size(); ++t) {
      uint32_t p = ctx.touched[t];
      std::optional<uint64_t> first = log_->partition(PartitionId(p)).TryReserve(ctx.run_length[p]);
      if (!first) {
        for (size_t u = 0; u < t; ++u) PublishSkips(ctx.touched[u], ctx);
        return Status::ResourceExhausted("event log partition " + std::to_string(p) +
                                         " is full; retry later");
      }
      ctx.first_offset[p] = *first;
    }
    reply->accepted = n;
    IngestTicket* const owned_by_log = ticket.release();  // deleted by its last RunDone
    if (owned_by_log != nullptr) {
      owned_by_log->Arm(std::move(*reply), std::move(*done));
      *done = nullptr;
    }
    accepted_total_.fetch_add(n, std::memory_order_relaxed);
    // Before publishing (and so before the reply): a read's clock covers every
    // acknowledged event.
    int64_t seen = newest_event_ms_.load(std::memory_order_relaxed);
    while (newest > seen &&
           !newest_event_ms_.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
    }
    uint64_t wake = 0;  // bitmask of shards to wake (first 64; the rest always woken)
    for (uint32_t p : ctx.touched) {
      PartitionLog& pl = log_->partition(PartitionId(p));
      const uint64_t first = ctx.first_offset[p];
      const uint32_t len = ctx.run_length[p];
      for (uint32_t j = 0; j < len; ++j) {
        LogEntry& e = pl.At(first + j);
        e.event = ctx.events[ctx.order[ctx.run_start[p] + j]];
        e.kind = LogEntry::kEvent;
        e.ticket = owned_by_log;
        e.flags = j + 1 == len ? LogEntry::kLastOfRun : 0;
      }
      // After this loop's last Publish the ticket may already be gone: do not touch it.
      for (uint32_t j = 0; j < len; ++j) pl.Publish(first + j);
      // A sleeping shard polls every Shard::kIdlePollUs anyway, and reads catch up before
      // they answer; so wake it (a syscall) only when someone waits for the apply or the
      // partition is filling up.
      if (has_ids || first + len - pl.cursor(0) > pl.capacity() / 4) {
        size_t s = p % shards_.size();
        if (s < 64) wake |= uint64_t{1} << s; else shards_[s]->Wake();
      }
    }
    for (size_t s = 0; s < std::min<size_t>(64, shards_.size()); ++s) {
      if (wake & (uint64_t{1} << s)) shards_[s]->Wake();
    }
    return Status::Ok();
  }

  void PublishSkips(uint32_t p, IngestContextImpl& ctx) {
    PartitionLog& pl = log_->partition(PartitionId(p));
    for (uint32_t j = 0; j < ctx.run_length[p]; ++j) {
      LogEntry& e = pl.At(ctx.first_offset[p] + j);
      e.kind = LogEntry::kSkip;
      e.ticket = nullptr;
      e.flags = 0;
      pl.Publish(ctx.first_offset[p] + j);
    }
  }

  const Options options_;
  Clock* const clock_;
  DirLock lock_;
  Interners interners_;
  std::unique_ptr<PartitionedLog> log_;
  std::vector<std::unique_ptr<ShardState>> states_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> accepted_total_{0};
  std::atomic<int64_t> newest_event_ms_{INT64_MIN};  // newest event time accepted
  std::atomic<uint64_t> duplicates_total_{0};
  std::atomic<uint64_t> popular_fallbacks_{0};  // popular reads that needed a full scan
  std::atomic<int> inflight_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};
};

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

}  // namespace eddy
