#include "cli/eval.h"

#include <array>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
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
    h.erase(std::remove(h.begin(), h.end(), b), h.end());
    h.push_back(b);
    if (h.size() > 4 * history_) h.erase(h.begin(), h.end() - history_);
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
    std::vector<std::pair<double, uint32_t>> ranked;
    ranked.reserve(score.size());
    for (const auto& [b, s] : score) ranked.emplace_back(s, b);
    const size_t top = std::min<size_t>(k, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), [&](auto& x, auto& y) {
      return x.first != y.first ? x.first > y.first : names_[x.second] < names_[y.second];
    });
    std::vector<std::string> out;
    for (size_t i = 0; i < top; ++i) out.push_back(names_[ranked[i].second]);
    return out;
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
  double reciprocal = 0;
  void Add(const Score& o) {
    hits += o.hits;
    reciprocal += o.reciprocal;
  }
  void Add(const std::vector<std::string>& top, const std::string& item) {
    for (size_t i = 0; i < top.size(); ++i) {
      if (top[i] != item) continue;
      ++hits;
      reciprocal += 1.0 / static_cast<double>(i + 1);
      return;
    }
  }
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
enum Method : size_t { kEddy, kPop, kRecent, kKnn, kMethods };
constexpr const char* kMethodNames[kMethods] = {"eddy", "POP", "Recent", "Item-KNN"};

struct Report {
  size_t events = 0, train = 0;
  uint64_t skipped = 0, rejected = 0, evaluated = 0;
  double train_s = 0, recommend_s = 0;
  Score score[kMethods];
};

// Every method's list for one user, through the same list rules.
std::array<std::vector<std::string>, kMethods> Lists(Engine& engine, const Baselines& baselines,
                                                     const ListRules& rules,
                                                     const std::string& user, double* eddy_s) {
  const size_t ask = rules.Ask(user);
  RecommendRequest r;
  r.user = user;
  r.k = static_cast<uint32_t>(std::min<size_t>(ask, engine.options().ranking.max_k));
  const auto r0 = Steady::now();
  RecommendAnswer answer = engine.RecommendSync(r);
  *eddy_s += std::chrono::duration<double>(Steady::now() - r0).count();
  std::array<std::vector<std::string>, kMethods> lists;
  for (RankedItem& item : answer.items) lists[kEddy].push_back(std::move(item.item));
  baselines.FillPopular(&lists[kPop], ask, [](const std::string&) { return false; });
  lists[kRecent] = baselines.Recent(user, ask);
  lists[kKnn] = baselines.ItemKnn(user, ask);
  for (auto& list : lists) list = rules.Apply(user, std::move(list));
  return lists;
}

// Replays the training share, then asks every method before each later touch is applied.
bool Evaluate(Engine& engine, std::vector<EvalEvent>& events, const EvalArgs& a,
              bool exclude_seen, Report* rep) {
  auto ctx = engine.NewIngestContext();
  Baselines baselines(/*history=*/50, engine.options().ranking.seed_items);
  ListRules rules(exclude_seen, a.k, baselines);
  const auto t0 = Steady::now();
  if (!Ingest(engine, *ctx, events, 0, rep->train, &rep->rejected)) return false;
  engine.PopularItemsSync("", 1);  // a read of every shard: all it was sent is applied
  rep->train_s = std::chrono::duration<double>(Steady::now() - t0).count();
  for (size_t i = 0; i < rep->train; ++i) {
    baselines.Observe(events[i]);
    rules.Observe(events[i]);
  }
  for (size_t i = rep->train; i < events.size(); ++i) {
    EvalEvent& e = events[i];
    // Asked before the event is applied; counted only if the engine then accepts it.
    const bool evaluate = e.touch && (a.limit == 0 || rep->evaluated < a.limit);
    std::array<std::vector<std::string>, kMethods> lists;
    if (evaluate) lists = Lists(engine, baselines, rules, e.user, &rep->recommend_s);
    if (!Ingest(engine, *ctx, events, i, i + 1, &rep->rejected)) return false;
    if (evaluate && !e.rejected) {
      ++rep->evaluated;
      for (size_t m = 0; m < kMethods; ++m) rep->score[m].Add(lists[m], e.item);
    }
    baselines.Observe(e);
    rules.Observe(e);
  }
  return true;
}

void Print(const EvalArgs& a, const Report& r) {
  std::printf("eddy eval: %s\n", a.data.c_str());
  std::printf("  %zu events (%llu rows skipped, %llu rejected by eddy), time-ordered; split "
              "%.2f: %zu replayed, %zu after; %llu next-item predictions evaluated; exclude %s\n",
              r.events, static_cast<unsigned long long>(r.skipped),
              static_cast<unsigned long long>(r.rejected), a.split, r.train, r.events - r.train,
              static_cast<unsigned long long>(r.evaluated), a.exclude.c_str());
  std::printf("  replay: %zu events in %.2f s = %.0f events/s; recommendations: %.0f µs each "
              "on average\n",
              r.train, r.train_s, r.train_s > 0 ? static_cast<double>(r.train) / r.train_s : 0.0,
              r.evaluated ? r.recommend_s * 1e6 / static_cast<double>(r.evaluated) : 0.0);
  std::printf("  %-10s %10s %10s\n", "method", ("HR@" + std::to_string(a.k)).c_str(),
              ("MRR@" + std::to_string(a.k)).c_str());
  const double n = std::max<double>(1, static_cast<double>(r.evaluated));
  for (size_t m = 0; m < kMethods; ++m) {
    std::printf("  %-10s %10.4f %10.4f\n", kMethodNames[m],
                static_cast<double>(r.score[m].hits) / n, r.score[m].reciprocal / n);
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
  Result<std::unique_ptr<Engine>> opened = Engine::Open(o);
  if (!opened.ok()) {
    std::cerr << "eddy eval: " << opened.status().message() << "\n";
    return 1;
  }
  if (!Evaluate(**opened, events, a, a.exclude == "seen", &report)) return 1;
  (*opened)->Stop();
  Print(a, report);
  return 0;
}

}  // namespace eddy
