#include "cli/eval.h"

#include <array>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <iostream>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <simdjson.h>

#include "eddy/engine.h"
#include "ingest/decoder.h"
#include "ingest/event_types.h"
#include "ingest/replay_reader.h"
#include "eddy/ranking.h"
#include "util/json.h"

namespace eddy {
namespace {

using Steady = std::chrono::steady_clock;

// One event of the file, with what the evaluation needs to know about it.
struct EvalEvent {
  std::string json;
  int64_t time_ms = 0;
  std::string user, item;
  bool touch = false;  // a typed item event whose weight is > 0: a "next item" to predict
  bool rejected = false;  // by the engine (then not evaluated, and not seen by the baselines)
};

// item id -> first category, from a CSV whose first column is the item id and whose last
// column lists categories separated by '|' (MovieLens movies.csv: movieId,title,genres).
std::unordered_map<std::string, std::string> LoadItemCategories(const std::string& path) {
  std::unordered_map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find(','), last = line.rfind(',');
    if (first == std::string::npos) continue;
    std::string cats = line.substr(last + 1);
    cats = cats.substr(0, cats.find('|'));
    if (!cats.empty()) out.emplace(line.substr(0, first), cats);
  }
  return out;
}

// Reads the file and fills in each event's user, item and whether it is a touch; adds the
// default type and the item's category when the row has none.
std::vector<EvalEvent> LoadEvents(const EvalArgs& a, const Options& o, uint64_t* skipped) {
  std::vector<std::string> columns;
  if (!a.csv_columns.empty()) columns = SplitColumns(a.csv_columns);
  std::unordered_map<std::string, std::string> categories;
  if (!a.item_categories.empty()) categories = LoadItemCategories(a.item_categories);
  std::vector<ReplayEvent> raw = LoadReplay(a.data, columns, skipped);
  std::vector<EvalEvent> out;
  out.reserve(raw.size());
  simdjson::ondemand::parser parser;
  for (ReplayEvent& r : raw) {
    EvalEvent e;
    e.time_ms = r.time_ms;
    std::string type, category;
    simdjson::padded_string padded(r.json);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj)) {
      ++*skipped;
      continue;
    }
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) continue;
      // Ids may be strings or integers (the decoder takes both).
      std::string value;
      simdjson::ondemand::value v;
      if (field.value().get(v)) continue;
      std::string_view text;
      int64_t number = 0;
      if (v.get_string().get(text) == simdjson::SUCCESS) {
        value = text;
      } else if (v.get_int64().get(number) == simdjson::SUCCESS) {
        value = std::to_string(number);
      } else {
        continue;
      }
      const std::string_view canonical = CanonicalFieldName(key);
      if (canonical == "userId") e.user = value;
      if (canonical == "itemId") e.item = value;
      if (canonical == "type") type = value;
      if (canonical == "category") category = value;
    }
    std::string extra;
    if (type.empty()) {
      type = a.default_type;
      extra += "\"type\":" + JsonString(type) + ",";
    }
    if (category.empty() && !e.item.empty()) {
      if (auto c = categories.find(e.item); c != categories.end()) {
        extra += "\"category\":" + JsonString(c->second) + ",";
      }
    }
    e.json = std::move(r.json);
    if (!extra.empty()) e.json.insert(e.json.find('{') + 1, extra);
    const std::optional<EventType> t = ParseEventType(type);
    e.touch = t && !e.user.empty() && !e.item.empty() && o.weights[static_cast<size_t>(*t)] > 0;
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const EvalEvent& x, const EvalEvent& y) { return x.time_ms < y.time_ms; });
  return out;
}

// The names of the `k` best-scored ids, best first (ties: lower name).
std::vector<std::string> TopByScore(const std::unordered_map<uint32_t, double>& score, size_t k,
                                    const std::vector<std::string>& names) {
  std::vector<std::pair<double, uint32_t>> ranked;
  ranked.reserve(score.size());
  for (const auto& [id, sc] : score) ranked.emplace_back(sc, id);
  const size_t top = std::min<size_t>(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), [&](auto& x, auto& y) {
    return x.first != y.first ? x.first > y.first : names[x.second] < names[y.second];
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < top; ++i) out.push_back(names[ranked[i].second]);
  return out;
}

// The baselines, fed every event (Observe) and asked before each test event.
class Baselines {
 public:
  Baselines(size_t history, size_t seeds) : history_(history), seeds_(seeds) {}

  void Observe(const EvalEvent& e) {
    if (!e.touch || e.rejected) return;
    const uint32_t b = Id(e.item);
    popular_.erase({-count_[b], e.item});
    popular_.insert({-++count_[b], e.item});
    std::vector<uint32_t>& h = history_of_[e.user];  // oldest first, distinct
    for (size_t i = h.size() > history_ ? h.size() - history_ : 0; i < h.size(); ++i) {
      if (h[i] == b) continue;
      ++co_[h[i]][b];
      ++co_[b][h[i]];
    }
    // Sequential rules (SR, Ludewig & Jannach 2018): an item followed k steps later by b
    // (within 10 steps) gives the rule a -> b weight 1/k.
    for (size_t k = 1; k <= 10 && k <= h.size(); ++k) {
      const uint32_t a = h[h.size() - k];
      if (a != b) sr_[a][b] += 1.0 / static_cast<double>(k);
    }
    h.erase(std::remove(h.begin(), h.end(), b), h.end());
    h.push_back(b);
    if (h.size() > 4 * history_) h.erase(h.begin(), h.end() - history_);
  }

  // SR: the rules of the user's last item (and, weighted 1/j, of the j-th last, j <= 3).
  std::vector<std::string> SequentialRules(const std::string& user, size_t k) const {
    auto h = history_of_.find(user);
    if (h == history_of_.end()) return {};
    std::unordered_map<uint32_t, double> score;
    const std::vector<uint32_t>& items = h->second;
    for (size_t j = 1; j <= 3 && j <= items.size(); ++j) {
      auto n = sr_.find(items[items.size() - j]);
      if (n == sr_.end()) continue;
      for (const auto& [b, w] : n->second) score[b] += w / static_cast<double>(j);
    }
    return Top(score, k);
  }

  std::vector<std::string> Top(const std::unordered_map<uint32_t, double>& score, size_t k) const {
    return TopByScore(score, k, names_);
  }

  // Appends POP's items, best first, that `skip` rejects not, until `out` holds k.
  template <typename Skip>
  void FillPopular(std::vector<std::string>* out, size_t k, Skip skip) const {
    for (const auto& [neg, item] : popular_) {
      if (out->size() >= k) break;
      if (!skip(item)) out->push_back(item);
    }
  }

  std::vector<std::string> Recent(const std::string& user, size_t k) const {
    std::vector<std::string> out;
    auto h = history_of_.find(user);
    if (h == history_of_.end()) return out;
    for (auto it = h->second.rbegin(); it != h->second.rend() && out.size() < k; ++it) {
      out.push_back(names_[*it]);
    }
    return out;
  }

  std::vector<std::string> ItemKnn(const std::string& user, size_t k) const {
    auto h = history_of_.find(user);
    if (h == history_of_.end()) return {};
    std::unordered_map<uint32_t, double> score;
    const std::vector<uint32_t>& items = h->second;
    for (size_t i = items.size() > seeds_ ? items.size() - seeds_ : 0; i < items.size(); ++i) {
      const uint32_t a = items[i];
      auto n = co_.find(a);
      if (n == co_.end()) continue;
      for (const auto& [b, c] : n->second) {
        score[b] += c / std::sqrt(static_cast<double>(count_.at(a)) * count_.at(b));
      }
    }
    return Top(score, k);
  }

 private:
  uint32_t Id(const std::string& item) {
    auto [it, inserted] = ids_.try_emplace(item, static_cast<uint32_t>(names_.size()));
    if (inserted) names_.push_back(item);
    return it->second;
  }

  const size_t history_, seeds_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::unordered_map<uint32_t, int64_t> count_;
  std::set<std::pair<int64_t, std::string>> popular_;  // (-count, item)
  std::unordered_map<std::string, std::vector<uint32_t>> history_of_;
  std::unordered_map<uint32_t, std::unordered_map<uint32_t, uint32_t>> co_;
  std::unordered_map<uint32_t, std::unordered_map<uint32_t, double>> sr_;
};

// What every method's list goes through, the same for all: the excluded items dropped
// (every item the user touched before, with --exclude seen), then cut to k, then
// back-filled with POP's next items.
class ListRules {
 public:
  ListRules(bool exclude_seen, size_t k, const Baselines& baselines)
      : exclude_seen_(exclude_seen), k_(k), baselines_(baselines) {}

  void Observe(const EvalEvent& e) {
    if (exclude_seen_ && e.touch && !e.rejected) seen_[e.user].insert(e.item);
  }
  // How many items to ask a method for, so that k remain after the exclusion.
  size_t Ask(const std::string& user) const {
    const auto* seen = Seen(user);
    return k_ + (seen != nullptr ? seen->size() : 0);
  }
  std::vector<std::string> Apply(const std::string& user, std::vector<std::string> top) const {
    const auto* seen = Seen(user);
    const auto excluded = [seen](const std::string& item) {
      return seen != nullptr && seen->contains(item);
    };
    std::erase_if(top, excluded);
    if (top.size() > k_) top.resize(k_);
    std::unordered_set<std::string> in(top.begin(), top.end());
    baselines_.FillPopular(&top, k_, [&](const std::string& item) {
      return excluded(item) || in.contains(item);
    });
    return top;
  }

 private:
  const std::unordered_set<std::string>* Seen(const std::string& user) const {
    auto it = seen_.find(user);
    return it == seen_.end() ? nullptr : &it->second;
  }

  const bool exclude_seen_;
  const size_t k_;
  const Baselines& baselines_;
  std::unordered_map<std::string, std::unordered_set<std::string>> seen_;
};

struct Score {
  uint64_t hits = 0;
  double reciprocal = 0, gain = 0;  // Σ 1/rank, Σ 1/log2(1 + rank)
  void Add(const std::vector<std::string>& top, const std::string& item) {
    for (size_t i = 0; i < top.size(); ++i) {
      if (top[i] != item) continue;
      ++hits;
      reciprocal += 1.0 / static_cast<double>(i + 1);
      gain += 1.0 / std::log2(static_cast<double>(i + 2));
      return;
    }
  }
  // Ordered by hit rate, then MRR (the search's choice).
  bool operator<(const Score& o) const {
    return hits != o.hits ? hits < o.hits : reciprocal < o.reciprocal;
  }
};

// V-SKNN (Ludewig & Jannach 2018): sessions split at `gap_ms` of a user's silence.
class SessionKnn {
 public:
  static constexpr size_t kSample = 500, kNeighbours = 100;

  explicit SessionKnn(int64_t gap_ms) : gap_ms_(gap_ms) {}

  void Observe(const EvalEvent& e) {
    if (!e.touch || e.rejected) return;
    const uint32_t item = Id(e.item);
    auto [cur, fresh] = current_.try_emplace(e.user, 0);
    if (fresh || e.time_ms - sessions_[cur->second].last_ms >= gap_ms_) {
      cur->second = static_cast<uint32_t>(sessions_.size());
      sessions_.emplace_back();
    }
    Session& s = sessions_[cur->second];
    s.last_ms = e.time_ms;
    auto at = std::find(s.items.begin(), s.items.end(), item);
    if (at != s.items.end()) {
      s.items.erase(at);  // newest last
    } else {
      postings_[item].push_back(cur->second);
    }
    s.items.push_back(item);
  }

  std::vector<std::string> Recommend(const std::string& user, int64_t now_ms, size_t k) const {
    auto cur = current_.find(user);
    if (cur == current_.end()) return {};
    const Session& s = sessions_[cur->second];
    if (now_ms - s.last_ms >= gap_ms_) return {};  // this event starts a new session
    // Position weights, linear: the newest item 1, the oldest 1/n.
    std::unordered_map<uint32_t, double> weight;
    const size_t n = s.items.size();
    for (size_t i = 0; i < n; ++i) weight[s.items[i]] = static_cast<double>(i + 1) / static_cast<double>(n);
    // The most recent past sessions sharing an item (ids grow with the start time).
    std::vector<uint32_t> sample;
    for (uint32_t item : s.items) {
      const std::vector<uint32_t>& p = postings_.at(item);
      for (size_t j = p.size() > kSample ? p.size() - kSample : 0; j < p.size(); ++j) {
        if (p[j] != cur->second) sample.push_back(p[j]);
      }
    }
    std::sort(sample.begin(), sample.end(), [&](uint32_t a, uint32_t b) {
      return sessions_[a].last_ms != sessions_[b].last_ms ? sessions_[a].last_ms > sessions_[b].last_ms : a > b;
    });
    sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
    if (sample.size() > kSample) sample.resize(kSample);
    std::vector<std::pair<double, uint32_t>> sims;
    for (uint32_t id : sample) {
      double sim = 0;
      for (uint32_t item : sessions_[id].items) {
        if (auto w = weight.find(item); w != weight.end()) sim += w->second;
      }
      sims.emplace_back(sim, id);
    }
    const size_t keep = std::min(kNeighbours, sims.size());
    std::partial_sort(sims.begin(), sims.begin() + keep, sims.end(),
                      [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second > b.second; });
    std::unordered_map<uint32_t, double> score;
    for (size_t j = 0; j < keep; ++j) {
      for (uint32_t item : sessions_[sims[j].second].items) score[item] += sims[j].first;
    }
    return TopByScore(score, k, names_);
  }

 private:
  struct Session {
    std::vector<uint32_t> items;  // distinct, by last touch (newest last)
    int64_t last_ms = 0;
  };
  uint32_t Id(const std::string& item) {
    auto [it, inserted] = ids_.try_emplace(item, static_cast<uint32_t>(names_.size()));
    if (inserted) names_.push_back(item);
    return it->second;
  }

  const int64_t gap_ms_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::vector<Session> sessions_;
  std::unordered_map<std::string, uint32_t> current_;          // user -> their last session
  std::unordered_map<uint32_t, std::vector<uint32_t>> postings_;  // item -> sessions, ascending
};

// Ingests events [from, to) as NDJSON batches (retrying a batch the log is too full to
// take) and marks the ones the engine rejected; false if ingest itself failed.
bool Ingest(Engine& engine, IngestContext& ctx, std::vector<EvalEvent>& events, size_t from,
            size_t to, uint64_t* rejected) {
  constexpr size_t kBatch = 2000;
  for (size_t i = from; i < to; i += kBatch) {
    const size_t end = std::min(to, i + kBatch);
    std::string body;
    for (size_t j = i; j < end; ++j) body += events[j].json + "\n";
    for (;;) {
      IngestReply r = engine.IngestSync(ctx, body, BodyFormat::kNdjson);
      if (r.status.code() == StatusCode::kResourceExhausted) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the shards catch up
        continue;
      }
      if (!r.status.ok()) {
        std::cerr << "eddy eval: ingest failed: " << r.status.message() << "\n";
        return false;
      }
      for (const Rejection& rej : r.rejected) {
        if (i + rej.index < end && !events[i + rej.index].rejected) {
          events[i + rej.index].rejected = true;
          ++*rejected;
        }
      }
      break;
    }
  }
  return true;
}


// The methods compared, in the report's order.
enum Method : size_t { kEddy, kEddyEmbed, kPop, kRecent, kKnn, kSknn, kSr, kMethods };
constexpr const char* kMethodNames[kMethods] = {"eddy", "eddy-embed", "POP", "Recent", "Item-KNN", "V-SKNN", "SR"};

using Weights = std::array<double, kRankSignalCount>;

// What a walk over the events does before each evaluated event: one list per method.
using Predict = std::function<std::vector<std::vector<std::string>>(const EvalEvent&)>;

struct Walk {
  size_t replay_end = 0;  // [0, replay_end) replayed first
  size_t eval_end = 0;    // [replay_end, eval_end) evaluated, each then applied
  uint32_t limit = 0;     // at most this many predictions (0 = all)
  // Results.
  uint64_t rejected = 0, evaluated = 0;
  double replay_s = 0;
  std::vector<Score> scores;
};

// The engine, the baselines and the list rules of one walk.
struct World {
  World(const Options& o, bool exclude_seen, uint32_t k)
      : baselines(/*history=*/50, o.ranking.seed_items),
        sknn(static_cast<int64_t>(o.sessions.gap_ms)),
        rules(exclude_seen, k, baselines) {}
  std::unique_ptr<Engine> engine;
  Baselines baselines;
  SessionKnn sknn;
  ListRules rules;
  void Observe(const EvalEvent& e) {
    baselines.Observe(e);
    sknn.Observe(e);
    rules.Observe(e);
  }
};

// eddy's list for the user under `weights` (the ranking settings are swapped for the one
// request: the evaluation is the only client).
std::vector<std::string> EddyList(World& w, const RankingOptions& base, const OfferOptions& offers,
                                  const Weights& weights, const std::string& user, double* eddy_s) {
  RankingOptions ranking = base;
  ranking.weights = weights;
  w.engine->SetRanking(ranking, offers, {});
  RecommendRequest r;
  r.user = user;
  r.k = static_cast<uint32_t>(std::min<size_t>(w.rules.Ask(user), base.max_k));
  const auto r0 = Steady::now();
  RecommendAnswer answer = w.engine->RecommendSync(r);
  if (eddy_s != nullptr) *eddy_s += std::chrono::duration<double>(Steady::now() - r0).count();
  std::vector<std::string> out;
  out.reserve(answer.items.size());
  for (RankedItem& item : answer.items) out.push_back(std::move(item.item));
  return out;
}

// Replays the first part, then asks `predict` before each later touch is applied; its
// lists, through the list rules, score if the engine then accepts the event.
bool RunWalk(World& w, std::vector<EvalEvent>& events, Walk& walk, const Predict& predict) {
  auto ctx = w.engine->NewIngestContext();
  const auto t0 = Steady::now();
  if (!Ingest(*w.engine, *ctx, events, 0, walk.replay_end, &walk.rejected)) return false;
  w.engine->PopularItemsSync("", 1);  // a read of every shard: all it was sent is applied
  walk.replay_s = std::chrono::duration<double>(Steady::now() - t0).count();
  for (size_t i = 0; i < walk.replay_end; ++i) w.Observe(events[i]);
  for (size_t i = walk.replay_end; i < walk.eval_end; ++i) {
    EvalEvent& e = events[i];
    // Asked before the event is applied; counted only if the engine then accepts it.
    const bool evaluate = e.touch && (walk.limit == 0 || walk.evaluated < walk.limit);
    std::vector<std::vector<std::string>> lists;
    if (evaluate) {
      lists = predict(e);
      for (auto& list : lists) list = w.rules.Apply(e.user, std::move(list));
    }
    if (!Ingest(*w.engine, *ctx, events, i, i + 1, &walk.rejected)) return false;
    if (evaluate && !e.rejected) {
      ++walk.evaluated;
      walk.scores.resize(lists.size());
      for (size_t m = 0; m < lists.size(); ++m) walk.scores[m].Add(lists[m], e.item);
    }
    w.Observe(e);
  }
  return true;
}

// The weight search (--tune): rounds of one-signal moves over a grid, scored on the
// validation slice; returns the weights chosen.
constexpr double kGrid[] = {0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0};

std::optional<Weights> Tune(const Options& o, std::vector<EvalEvent>& events, size_t train,
                            const EvalArgs& a, bool exclude_seen) {
  Weights best = o.ranking.weights;
  Weights champion = best;  // the best variant round 1 scored (a contender in round 2)
  const size_t validation_begin = train - train / 10;
  for (int round = 1; round <= 2; ++round) {
    std::vector<Weights> variants{best};
    if (champion != best) variants.push_back(champion);
    for (size_t s = 0; s < kRankSignalCount; ++s) {
      for (double v : kGrid) {
        Weights w = best;
        w[s] = v;
        if (w != best && w != champion) variants.push_back(w);
      }
    }
    World world(o, exclude_seen, a.k);
    Result<std::unique_ptr<Engine>> opened = Engine::Open(o);
    if (!opened.ok()) {
      std::cerr << "eddy eval: " << opened.status().message() << "\n";
      return std::nullopt;
    }
    world.engine = std::move(*opened);
    Walk walk;
    walk.replay_end = validation_begin;
    walk.eval_end = train;
    walk.limit = a.tune_events;
    const auto t0 = Steady::now();
    const bool ok = RunWalk(world, events, walk, [&](const EvalEvent& e) {
      std::vector<std::vector<std::string>> lists;
      for (const Weights& w : variants) lists.push_back(EddyList(world, o.ranking, o.offers, w, e.user, nullptr));
      return lists;
    });
    world.engine->Stop();
    if (!ok) return std::nullopt;
    // Each signal takes its best value given the others; the combination is the next
    // round's start. Round 2 scores it beside round 1's best variant and the moves around
    // it, and keeps the best of them.
    walk.scores.resize(variants.size());
    Weights next = best;
    for (size_t s = 0; s < kRankSignalCount; ++s) {
      size_t pick = 0;  // the start
      for (size_t j = 1; j < variants.size(); ++j) {
        if (variants[j][s] != best[s] && walk.scores[pick] < walk.scores[j]) pick = j;
      }
      next[s] = variants[pick][s];
    }
    const size_t top = static_cast<size_t>(std::max_element(walk.scores.begin(), walk.scores.end()) - walk.scores.begin());
    const double n = std::max<double>(1, static_cast<double>(walk.evaluated));
    std::printf("  tune round %d: %zu weight variants x %llu validation predictions (events %zu..%zu) "
                "in %.0f s; best HR@%u %.4f (start %.4f)\n",
                round, variants.size(), static_cast<unsigned long long>(walk.evaluated),
                validation_begin, train, std::chrono::duration<double>(Steady::now() - t0).count(),
                a.k, static_cast<double>(walk.scores[top].hits) / n,
                static_cast<double>(walk.scores[0].hits) / n);
    champion = variants[top];
    best = round == 2 ? champion : next;
  }
  return best;
}

struct Report {
  size_t events = 0, train = 0;
  uint64_t skipped = 0;
  double recommend_s = 0;
  Walk walk;
  std::optional<Weights> tuned;
};

// Every method's lists for one event.
std::vector<std::vector<std::string>> Lists(World& w, const Options& o, const Weights& weights,
                                            const EvalEvent& e, double* eddy_s) {
  const size_t ask = w.rules.Ask(e.user);
  std::vector<std::vector<std::string>> lists(kMethods);
  lists[kEddy] = EddyList(w, o.ranking, o.offers, weights, e.user, eddy_s);
  lists[kEddyEmbed] = EddyList(w, o.ranking, o.offers, Weights{0, 1, 0, 0, 0, 0}, e.user, nullptr);
  w.baselines.FillPopular(&lists[kPop], ask, [](const std::string&) { return false; });
  lists[kRecent] = w.baselines.Recent(e.user, ask);
  lists[kKnn] = w.baselines.ItemKnn(e.user, ask);
  lists[kSknn] = w.sknn.Recommend(e.user, e.time_ms, ask);
  lists[kSr] = w.baselines.SequentialRules(e.user, ask);
  return lists;
}

std::string SetFlags(const Weights& w) {
  std::string out;
  for (size_t s = 0; s < kRankSignalCount; ++s) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", w[s]);
    out += " --set ranking.weight_" + std::string(kRankSignalNames[s]) + "=" + value;
  }
  return out;
}

void Print(const EvalArgs& a, const Report& r) {
  const Walk& w = r.walk;
  std::printf("eddy eval: %s\n", a.data.c_str());
  std::printf("  %zu events (%llu rows skipped, %llu rejected by eddy), time-ordered; split "
              "%.2f: %zu replayed, %zu after; %llu next-item predictions evaluated; exclude %s\n",
              r.events, static_cast<unsigned long long>(r.skipped),
              static_cast<unsigned long long>(w.rejected), a.split, r.train, r.events - r.train,
              static_cast<unsigned long long>(w.evaluated), a.exclude.c_str());
  if (r.tuned) std::printf("  tuned weights:%s\n", SetFlags(*r.tuned).c_str());
  std::printf("  replay: %zu events in %.2f s = %.0f events/s; recommendations: %.0f µs each "
              "on average\n",
              r.train, w.replay_s, w.replay_s > 0 ? static_cast<double>(r.train) / w.replay_s : 0.0,
              w.evaluated ? r.recommend_s * 1e6 / static_cast<double>(w.evaluated) : 0.0);
  std::printf("  %-10s %10s %10s %10s\n", "method", ("HR@" + std::to_string(a.k)).c_str(),
              ("MRR@" + std::to_string(a.k)).c_str(), ("NDCG@" + std::to_string(a.k)).c_str());
  const double n = std::max<double>(1, static_cast<double>(w.evaluated));
  for (size_t m = 0; m < kMethods; ++m) {
    const Score s = m < w.scores.size() ? w.scores[m] : Score{};
    std::printf("  %-10s %10.4f %10.4f %10.4f\n", kMethodNames[m], static_cast<double>(s.hits) / n,
                s.reciprocal / n, s.gain / n);
  }
}

// The options as the evaluation runs them; an error message when the arguments are bad.
std::string EvalOptions(const ConfigSources& config, const EvalArgs& a, Options* o) {
  Result<Options> loaded = LoadOptions(config);
  if (!loaded.ok()) return std::string(loaded.status().message());
  *o = *loaded;
  o->ranking.exclude_seen = false;  // the harness excludes, alike for every method
  o->durability.data_dir.clear();   // in memory: the evaluation writes nothing
  o->durability.ack = AckLevel::kMemory;
  o->clock = ClockMode::kEvent;     // history's answers, not today's
  if (a.k < 1 || a.k > o->ranking.max_k) {
    return "--k must be in [1, ranking.max_k = " + std::to_string(o->ranking.max_k) + "]";
  }
  if (a.split <= 0 || a.split >= 1) return "--split must be in (0, 1)";
  if (a.tune && a.tune_events < 1) return "--tune-events must be at least 1";
  if (a.exclude != "none" && a.exclude != "seen") return "--exclude must be none or seen";
  if (!std::ifstream(a.data)) return "cannot read " + a.data;
  return "";
}

}  // namespace

int RunEval(const ConfigSources& config, const EvalArgs& a) {
  Options o;
  if (std::string error = EvalOptions(config, a, &o); !error.empty()) {
    std::cerr << "eddy eval: " << error << "\n";
    return 2;
  }
  Report report;
  std::vector<EvalEvent> events = LoadEvents(a, o, &report.skipped);
  if (events.empty()) {
    std::cerr << "eddy eval: no events in " << a.data << "\n";
    return 2;
  }
  report.events = events.size();
  report.train = static_cast<size_t>(static_cast<double>(events.size()) * a.split);
  const bool exclude_seen = a.exclude == "seen";
  Weights weights = o.ranking.weights;
  if (a.tune) {
    // The search marks the events its engines reject; the evaluation marks them again.
    std::vector<EvalEvent> copy = events;
    report.tuned = Tune(o, copy, report.train, a, exclude_seen);
    if (!report.tuned) return 1;
    weights = *report.tuned;
  }
  World world(o, exclude_seen, a.k);
  Result<std::unique_ptr<Engine>> opened = Engine::Open(o);
  if (!opened.ok()) {
    std::cerr << "eddy eval: " << opened.status().message() << "\n";
    return 1;
  }
  world.engine = std::move(*opened);
  report.walk.replay_end = report.train;
  report.walk.eval_end = events.size();
  report.walk.limit = a.limit;
  const bool ok = RunWalk(world, events, report.walk, [&](const EvalEvent& e) {
    return Lists(world, o, weights, e, &report.recommend_s);
  });
  world.engine->Stop();
  if (!ok) return 1;
  Print(a, report);
  return 0;
}

}  // namespace eddy
