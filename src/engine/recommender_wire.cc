// Cluster mode's ranked reads (engine/recommender.h, docs/scale-out.md): the part
// requests a ranked read's global steps send to every node, and the parts each node
// answers for the partitions it owns — the same values a shard's part holds, with every
// id written as its string (ids are numbered per process), read back into this node's ids.
//
// A request: U8 kind, U8 catch_up (the shards catch up before their part), the kind's
// query. An answer: U8 1, a count, then per partition its number (U32) and its part; or
// U8 0 and why not.
#include <algorithm>
#include <map>
#include <memory>

#include "agg/engagement.h"
#include "agg/trending.h"
#include "commerce/catalog.h"
#include "engine/recommender.h"
#include "util/time.h"

namespace eddy {
namespace {

enum PartKind : uint8_t { kCandidatePart = 1, kSignalPart = 2, kTrendingPart = 3, kOfferPart = 4 };

std::string_view Name(const Interner& in, uint32_t id) { return id != 0 ? in.Lookup(id) : std::string_view(); }

// The writing node's ids as strings, and back: found (the answering node: a string it
// does not know names nothing here, 0) or interned (the asking node, whose states may
// not know it either: held by the read's id guard until its answer is printed).
void PutId(SerialWriter& w, const Interner& in, uint32_t id) { w.Bytes(Name(in, id)); }
uint32_t FindId(SerialReader& r, const Interner& in) {
  const std::string_view s = r.Bytes();
  return s.empty() ? 0 : in.Find(s);
}
uint32_t InternId(SerialReader& r, Interner& in) {
  const std::string_view s = r.Bytes();
  if (s.empty() || !r.ok()) return 0;
  const uint32_t id = in.Intern(s);
  if (id == 0) r.Fail();  // the interner is full: no answer rather than one missing this
  return id;
}

// An answer that is no parts: why not.
std::string Refusal(std::string_view why) {
  std::string out;
  SerialWriter w(&out);
  w.U8(0);
  w.Bytes(why);
  return out;
}

void PutInts(SerialWriter& w, const std::vector<int64_t>& v) {
  w.U64(v.size());
  for (int64_t x : v) w.I64(x);
}
void ReadInts(SerialReader& r, std::vector<int64_t>* v) {
  v->resize(r.Count());
  for (int64_t& x : *v) x = r.I64();
}

template <typename Id>
void PutIds(SerialWriter& w, const Interner& in, const std::vector<Id>& ids) {
  w.U64(ids.size());
  for (Id id : ids) PutId(w, in, id.value());
}
template <typename Id>
std::vector<Id> FindIds(SerialReader& r, const Interner& in) {
  std::vector<Id> out(r.Count());
  for (Id& id : out) id = Id(FindId(r, in));
  return out;
}

void PutVectors(SerialWriter& w, const EmbeddingState::Partial& v) {
  w.U64(v.at.size());
  for (uint32_t a : v.at) w.U64(a);
  w.U64(v.data.size());
  for (int32_t x : v.data) w.I64(x);
}
void ReadVectors(SerialReader& r, uint32_t dims, EmbeddingState::Partial* v) {
  v->at.resize(r.Count());
  for (uint32_t& a : v->at) a = r.U32();
  v->data.resize(r.Count());
  for (int32_t& x : v->data) x = static_cast<int32_t>(r.I64());
  for (uint32_t a : v->at) {
    if (a != EmbeddingState::Partial::kAbsent && uint64_t{a} + dims > v->data.size()) r.Fail();
  }
}

// Replaces the embedding shares of `parts` by their sums, carried by as few of the parts
// as int32 components allow (usually the first alone): the asking node adds every share
// as int64 (SumShares), so the sum is the same, and an answer carries one vector per item
// instead of one per partition that holds the item (which for a node's popular items
// could pass NATS's message size).
template <typename P>
void FoldShares(std::vector<P*>& parts, EmbeddingState::Partial P::*field, uint32_t dims) {
  size_t items = 0;
  for (P* p : parts) items = std::max(items, (p->*field).at.size());
  if (items == 0 || dims == 0) return;
  std::vector<EmbeddingState::Partial> folded(parts.size());
  for (auto& f : folded) f.at.assign(items, EmbeddingState::Partial::kAbsent);
  std::vector<int64_t> sum(dims);
  for (size_t i = 0; i < items; ++i) {
    std::fill(sum.begin(), sum.end(), 0);
    bool any = false;
    for (P* p : parts) {
      const EmbeddingState::Partial& share = p->*field;
      if (i >= share.at.size() || share.at[i] == EmbeddingState::Partial::kAbsent) continue;
      EmbeddingState::AddShare(share, i, dims, sum.data());
      any = true;
    }
    // Piece k takes what int32 holds of what is left; |sum| <= parts x INT32_MAX, so the
    // pieces end within the parts.
    for (size_t k = 0; any && k < folded.size(); ++k) {
      EmbeddingState::Partial& f = folded[k];
      f.at[i] = static_cast<uint32_t>(f.data.size());
      any = false;
      for (uint32_t d = 0; d < dims; ++d) {
        const int64_t piece = std::clamp<int64_t>(sum[d], INT32_MIN, INT32_MAX);
        f.data.push_back(static_cast<int32_t>(piece));
        sum[d] -= piece;
        any |= sum[d] != 0;
      }
    }
  }
  for (size_t k = 0; k < parts.size(); ++k) {
    if (folded[k].data.empty()) folded[k].at.clear();
    parts[k]->*field = std::move(folded[k]);
  }
}

}  // namespace

std::string Recommender::CandidateRequest(const CandidateQuery& q) const {
  std::string out;
  SerialWriter w(&out);
  w.U8(kCandidatePart);
  w.U8(1);
  PutIds(w, interners_.items, q.seeds);
  PutIds(w, interners_.categories, q.among);
  PutId(w, interners_.categories, q.exact.value());
  w.U8(q.overall);
  w.U8(q.among_source);
  w.U64(q.fetch);
  w.U64(q.coview_keep);
  w.I64(q.now_ms);
  w.U8(q.embed);
  return out;
}

std::string Recommender::SignalRequest(const std::vector<ItemId>& items,
                                       const std::vector<CategoryId>& likely, int64_t now_ms,
                                       bool embed, bool catch_up) const {
  std::string out;
  SerialWriter w(&out);
  w.U8(kSignalPart);
  w.U8(catch_up);
  PutIds(w, interners_.items, items);
  PutIds(w, interners_.categories, likely);
  w.I64(now_ms);
  w.U8(embed);
  return out;
}

std::string Recommender::TrendingRequest(const std::vector<CategoryId>& categories,
                                         int64_t now_ms) const {
  std::string out;
  SerialWriter w(&out);
  w.U8(kTrendingPart);
  w.U8(0);
  PutIds(w, interners_.categories, categories);
  w.I64(now_ms);
  return out;
}

std::string Recommender::OfferRequest(const std::vector<std::string>& offers, int64_t now_ms) const {
  std::string out;
  SerialWriter w(&out);
  w.U8(kOfferPart);
  w.U8(1);
  w.U64(offers.size());
  for (const std::string& o : offers) w.Bytes(o);
  w.I64(now_ms);
  return out;
}

bool Recommender::ReadPart(SerialReader& r, CandidatePart* p) {
  p->coview.floor = r.U64();
  for (uint64_t n = r.Count(3); n > 0 && r.ok(); --n) {
    const ItemId item(InternId(r, interners_.items));
    CoView::Neighbour d{item, r.U64(), r.U64()};
    if (item.valid()) p->coview.sums[item] = d;
  }
  for (uint64_t n = r.Count(2); n > 0 && r.ok(); --n) {
    const ItemId item(InternId(r, interners_.items));
    const uint8_t source = r.U8();
    if (item.valid()) p->popular.emplace_back(item, source);
  }
  for (uint64_t n = r.Count(); n > 0 && r.ok(); --n) {
    const CategoryId c(InternId(r, interners_.categories));
    if (c.valid()) p->categories.push_back(c);
  }
  ReadVectors(r, options_.embedding.dimensions, &p->seed_vectors);
  return r.ok();
}

bool Recommender::ReadPart(SerialReader& r, SignalPart* p) {
  const uint64_t n = r.Count(6);
  p->popularity.resize(n);
  p->facts.resize(n);
  p->catalog.resize(n);
  p->stock.resize(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    p->popularity[i] = r.F64();
    Engagement::Facts& f = p->facts[i];
    f.category = CategoryId(InternId(r, interners_.categories));
    f.category_ms = r.I64();
    f.price_micros = r.I64();
    f.price_ms = r.I64();
    if (r.U8() != 0) {
      CatalogItem c;
      c.category = CategoryId(InternId(r, interners_.categories));
      c.attributes = StringId(InternId(r, interners_.strings));
      c.price_micros = r.I64();
      c.stock = r.I64();
      c.updated_ms = r.I64();
      c.threshold = r.U32();
      c.has = r.U8();
      c.hidden = r.U8() != 0;
      c.deleted = r.U8() != 0;
      p->catalog[i] = c;
    }
    if (r.U8() != 0) p->stock[i] = r.I64();
  }
  ReadInts(r, &p->trending);
  ReadVectors(r, options_.embedding.dimensions, &p->vectors);
  return r.ok();
}

bool Recommender::ReadPart(SerialReader& r, std::vector<int64_t>* p) {
  ReadInts(r, p);
  return r.ok();
}

Status Recommender::ReadAnswers(const std::vector<NodeAnswer>& answers, std::string_view what,
                                const std::function<bool(SerialReader&, uint32_t)>& read) {
  for (const NodeAnswer& a : answers) {
    if (!a.status.ok()) return a.status;
    SerialReader r(a.response);
    if (r.U8() != 1) return Status::Unavailable("node " + a.node + ": " + std::string(r.Bytes()));
    for (uint64_t n = r.Count(); n > 0 && r.ok(); --n) {
      const uint32_t partition = r.U32();
      if (!read(r, partition)) r.Fail();
    }
    if (!r.done()) return Status::Unavailable("node " + a.node + "'s " + std::string(what));
  }
  return Status::Ok();
}

Status Recommender::ReadOffers(const std::vector<NodeAnswer>& answers, size_t offers, uint32_t k,
                               OfferSums* out) const {
  out->views.assign(offers, 0);
  out->conversions.assign(offers, 0);
  out->withdrawn.assign(offers, 0);
  struct Cell {
    int64_t weight = 0, count = 0;
  };
  std::map<std::string, Cell, std::less<>> trending;  // summed over every partition
  // (Sums: the partitions' order does not matter.)
  Status st = ReadAnswers(answers, "offers part could not be read (malformed)", [&](SerialReader& r, uint32_t) {
    if (r.Count(3) != offers) return false;
    for (size_t i = 0; i < offers && r.ok(); ++i) {
      out->views[i] += r.U64();
      out->conversions[i] += r.U64();
      out->withdrawn[i] |= r.U8();
    }
    for (uint64_t c = r.Count(3); c > 0 && r.ok(); --c) {
      const std::string_view name = r.Bytes();
      auto it = trending.find(name);
      if (it == trending.end()) it = trending.emplace(std::string(name), Cell{}).first;
      it->second.weight += r.I64();
      it->second.count += r.I64();
    }
    return r.ok();
  });
  if (!st.ok()) return st;
  // As QueryService::TrendingCategories orders them: by weight, ties by name.
  std::vector<std::pair<int64_t, std::string_view>> ranked;
  for (const auto& [name, cell] : trending) {
    if (cell.count > 0) ranked.emplace_back(cell.weight, name);
  }
  const size_t top = std::min<size_t>(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t i = 0; i < top; ++i) out->trending.emplace_back(ranked[i].second);
  return Status::Ok();
}

void Recommender::AnswerPart(std::string_view request, std::vector<uint32_t> partitions,
                             std::function<void(std::string)> reply) {
  // The ids found here, and those the parts take from the states, are held until the
  // answer names them (util/id_epochs.h).
  auto guard = std::make_shared<IdEpochs::Guard>(interners_.epochs.Enter());
  SerialReader r(request);
  const uint8_t kind = r.U8();
  const bool catch_up = r.U8() != 0;
  const auto refuse = [&reply](std::string_view why) { reply(Refusal(why)); };
  // Runs `part` on every shard and answers with the parts of `partitions` (a state per
  // partition in cluster mode), each written by `put`.
  // Before they are written, `fold` may move what sums exactly in any order (co-view
  // counts, embedding shares) into the first of the node's partitions' parts.
  const auto answer = [&]<typename P>(std::function<P(ShardState&)> part,
                                      std::function<void(SerialWriter&, const P&)> put,
                                      std::function<void(std::vector<P*>&)> fold = nullptr) {
    shards_.ScatterGather<P>(
        std::move(part),
        [guard, partitions = std::move(partitions), put = std::move(put), fold = std::move(fold),
         reply = std::move(reply)](std::vector<P>& parts) {
          for (uint32_t p : partitions) {
            if (p >= parts.size()) {  // (a state per partition in cluster mode: never)
              return reply(Refusal("partition " + std::to_string(p) + " has no shard state of its own here"));
            }
          }
          std::string out;
          SerialWriter w(&out);
          std::vector<P*> mine;
          for (uint32_t p : partitions) mine.push_back(&parts[p]);
          if (fold && !mine.empty()) fold(mine);
          w.U8(1);
          w.U64(partitions.size());
          for (size_t i = 0; i < partitions.size(); ++i) {
            w.U64(partitions[i]);
            put(w, *mine[i]);
          }
          reply(std::move(out));
        },
        catch_up, shards_.HorizonNow());
  };
  const uint32_t dims = options_.embedding.dimensions;
  const Interners* in = &interners_;
  switch (kind) {
    case kCandidatePart: {
      CandidateQuery q;
      q.seeds = FindIds<ItemId>(r, in->items);
      q.among = FindIds<CategoryId>(r, in->categories);
      std::erase_if(q.among, [](CategoryId c) { return !c.valid(); });  // none of its items here
      q.exact = CategoryId(FindId(r, in->categories));
      q.overall = r.U8() != 0;
      q.among_source = r.U8();
      q.fetch = static_cast<uint32_t>(r.U32());
      q.coview_keep = static_cast<uint32_t>(r.U32());
      q.now_ms = r.I64();
      q.embed = r.U8() != 0;
      if (!r.done()) return refuse("malformed candidates request");
      return answer.operator()<CandidatePart>(
          [q](ShardState& st) { return CandidatePartOf(st, q); },
          [in](SerialWriter& w, const CandidatePart& p) {
            w.U64(p.coview.floor);
            w.U64(p.coview.sums.size());
            for (const auto& [item, d] : p.coview.sums) {
              PutId(w, in->items, item.value());
              w.U64(d.count);
              w.U64(d.error);
            }
            w.U64(p.popular.size());
            for (const auto& [item, source] : p.popular) {
              PutId(w, in->items, item.value());
              w.U8(source);
            }
            PutIds(w, in->categories, p.categories);
            PutVectors(w, p.seed_vectors);
          },
          [dims](std::vector<CandidatePart*>& parts) {
            for (size_t i = 1; i < parts.size(); ++i) {
              CoViewState::Merge(parts[0]->coview, parts[i]->coview);
              parts[i]->coview = {};
            }
            FoldShares(parts, &CandidatePart::seed_vectors, dims);
          });
    }
    case kSignalPart: {
      auto items = std::make_shared<std::vector<ItemId>>(FindIds<ItemId>(r, in->items));
      auto likely = std::make_shared<std::vector<CategoryId>>(FindIds<CategoryId>(r, in->categories));
      const int64_t now_ms = r.I64();
      const bool embed = r.U8() != 0;
      if (!r.done()) return refuse("malformed signals request");
      return answer.operator()<SignalPart>(
          [items, likely, now_ms, embed](ShardState& st) {
            SignalPart p = SignalPartOf(st, *items, *likely, now_ms, embed);
            for (size_t i = 0; i < likely->size(); ++i) {
              if (!(*likely)[i].valid()) p.trending[i] = 0;  // a category unknown here
            }
            return p;
          },
          [in](SerialWriter& w, const SignalPart& p) {
            w.U64(p.popularity.size());
            for (size_t i = 0; i < p.popularity.size(); ++i) {
              w.F64(p.popularity[i]);
              const Engagement::Facts& f = p.facts[i];
              PutId(w, in->categories, f.category.value());
              w.I64(f.category_ms);
              w.I64(f.price_micros);
              w.I64(f.price_ms);
              w.U8(p.catalog[i].has_value());
              if (const std::optional<CatalogItem>& c = p.catalog[i]) {
                PutId(w, in->categories, c->category.value());
                PutId(w, in->strings, c->attributes.value());
                w.I64(c->price_micros);
                w.I64(c->stock);
                w.I64(c->updated_ms);
                w.U64(c->threshold);
                w.U8(c->has);
                w.U8(c->hidden);
                w.U8(c->deleted);
              }
              w.U8(p.stock[i].has_value());
              if (p.stock[i]) w.I64(*p.stock[i]);
            }
            PutInts(w, p.trending);
            PutVectors(w, p.vectors);
          },
          [dims](std::vector<SignalPart*>& parts) { FoldShares(parts, &SignalPart::vectors, dims); });
    }
    case kTrendingPart: {
      auto categories = std::make_shared<std::vector<CategoryId>>(FindIds<CategoryId>(r, in->categories));
      const int64_t now_ms = r.I64();
      if (!r.done()) return refuse("malformed trending request");
      return answer.operator()<std::vector<int64_t>>(
          [categories, now_ms](ShardState& st) {
            std::vector<int64_t> t = TrendingOf(st, *categories, now_ms);
            for (size_t i = 0; i < categories->size(); ++i) {
              if (!(*categories)[i].valid()) t[i] = 0;
            }
            return t;
          },
          [](SerialWriter& w, const std::vector<int64_t>& t) { PutInts(w, t); });
    }
    case kOfferPart: {
      auto offers = std::make_shared<std::vector<ItemId>>(FindIds<ItemId>(r, in->items));
      const int64_t now_ms = r.I64();
      if (!r.done()) return refuse("malformed offers request");
      const int64_t g = MinuteOf(now_ms);
      const size_t windows = options_.windows.minutes.size();
      struct Part {
        OfferPart offers;
        TrendingState::Partial trending;  // window 0
      };
      return answer.operator()<Part>(
          [offers, g, windows](ShardState& st) {
            Part p{OfferPartOf(st, *offers, g, windows), {}};
            if (windows > 0) st.Get<TrendingState>().AddWindow(0, g, &p.trending);
            return p;
          },
          [in, n = offers->size()](SerialWriter& w, const Part& p) {
            w.U64(n);
            for (size_t i = 0; i < n; ++i) {
              const bool have = i < p.offers.counts.size();
              const auto count = [&](EventType t) {
                return have ? static_cast<uint64_t>(p.offers.counts[i][static_cast<int>(t)]) : 0;
              };
              w.U64(count(EventType::kView));
              w.U64(count(EventType::kPurchase) + count(EventType::kRedemption));
              w.U8(have ? p.offers.withdrawn[i] : 0);
            }
            w.U64(p.trending.size());
            for (const auto& [c, cell] : p.trending) {
              PutId(w, in->categories, c.value());
              w.I64(cell.weight);
              w.I64(cell.count);
            }
          });
    }
    default:
      return refuse("unknown ranking part request");
  }
}

}  // namespace eddy
