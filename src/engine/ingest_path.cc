#include "engine/ingest_path.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "cluster/jetstream.h"
#include "cluster/run_message.h"
#include "engine/ingest_ticket.h"
#include "engine/store_writer.h"
#include "fraud/ip_orders.h"
#include "ingest/decoder.h"
#include "util/histogram.h"
#include "util/hash.h"
#include "store/event_codec.h"

namespace eddy {

// Per I/O thread: the decoder and the scratch vectors of the grouping by partition.
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
  std::vector<Event> with_moves;       // scratch for AddStockMoves
  std::vector<std::pair<uint64_t, uint64_t>> ip_added;  // (ip, order) StampIpOrders added
};

void IngestPath::StampIpOrders(IngestContextImpl& ctx) {
  ctx.ip_added.clear();
  if (ip_orders_ == nullptr) return;
  for (Event& ev : ctx.events) {
    if (ev.type != EventType::kPurchase || !ev.ip.valid()) continue;
    const auto [ip, order] = IpOrderKeys(ev, interners_);
    bool added = false;
    const uint16_t n = ip_orders_->Add(ip, order, ev.time.millis(), &added);
    if (added) ctx.ip_added.emplace_back(ip, order);
    // A purchase re-posted from `eddy dump` keeps the count it was first accepted with.
    if (!(ev.flags & Event::kHasIpOrders)) {
      ev.ip_orders = n;
      ev.flags |= Event::kHasIpOrders;
    }
  }
}

void IngestPath::TakeBackIpOrders(IngestContextImpl& ctx) {
  for (const auto& [ip, order] : ctx.ip_added) ip_orders_->Remove(ip, order);
  ctx.ip_added.clear();
}

// Inventory (SPEC §3.12) is kept on the item's shard, in the order the item's partition
// accepted its changes; purchases and cancels live in the user's partition. So each
// purchase of an item brings a copy into the item's partition, and each cancel a copy
// into every partition (the lines of its order may be anywhere), right after it in the
// request: the same all-or-nothing reservation, stored and replayed with it.
void IngestPath::AddStockMoves(IngestContextImpl& ctx) const {
  const auto moves = [](const Event& ev) {
    return (ev.type == EventType::kPurchase && ev.item.valid()) ||
           (ev.type == EventType::kCancel && ev.order.valid());
  };
  if (std::none_of(ctx.events.begin(), ctx.events.end(), moves)) return;
  const uint32_t partitions = log_.partitions();
  ctx.with_moves.clear();
  for (const Event& ev : ctx.events) {
    ctx.with_moves.push_back(ev);
    if (!moves(ev)) continue;
    // Only what inventory reads of a move: it is stored too (a cancel's in every
    // partition), and the string fields it leaves out are most of an event's bytes.
    Event move;
    move.type = ev.type;
    move.time = ev.time;
    move.user = ev.user;
    move.item = ev.item;
    move.order = ev.order;
    move.quantity = ev.quantity;
    move.flags = Event::kDerived;
    if (ev.type == EventType::kPurchase) {
      move.event_id = DerivedEventId(ev.event_id);  // a retry's move is a duplicate too
      move.user_hash =
          static_cast<uint32_t>(StableHash64(interners_.items.Lookup(ev.item.value())));
      ctx.with_moves.push_back(move);
    } else {
      move.event_id = {};  // cancelling twice changes nothing: no idempotency needed
      for (uint32_t p = 0; p < partitions; ++p) {
        move.user_hash = p;  // PartitionOf(p) == p
        ctx.with_moves.push_back(move);
      }
    }
  }
  ctx.events.swap(ctx.with_moves);
}

IngestPath::IngestPath(const Options& options, PartitionedLog& log, Interners& interners,
                       const ShardSet& shards, StoreWriter* store, EngineClock& clock,
                       IpOrderWindow* ip_orders, JetStreamLog* cluster)
    : options_(options),
      log_(log),
      interners_(interners),
      shards_(shards),
      store_(store),
      clock_(clock),
      ip_orders_(ip_orders),
      cluster_(cluster),
      gated_(store != nullptr && store->gated()),
      wake_store_always_(gated_ && !store->delays_commits()),
      probes_(options.server.metrics) {}

std::unique_ptr<IngestContext> IngestPath::NewContext() const {
  return std::make_unique<IngestContextImpl>(interners_, options_, clock_.wall());
}

void IngestPath::Close() {
  stopping_.store(true, std::memory_order_seq_cst);
  // Ingests that passed the stopping check finish appending first; none can start now.
  // seq_cst, pairing with Ingest's increment-then-check: with a weaker load, both sides
  // could miss each other (a store-load reordering).
  while (inflight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

Status IngestPath::Refusal() const {
  if (stopping_.load(std::memory_order_seq_cst)) {
    return Status::Unavailable("eddy is shutting down");
  }
  if (store_ != nullptr && store_->failing()) {
    return Status::Unavailable("the event store cannot write (" + store_->LastError() +
                               "); no events accepted until it can");
  }
  // Shedding: while a partition is (nearly) full, a request would most likely be refused
  // after its decoding; refuse it before, so that a saturated eddy spends its cores on
  // the events it takes rather than on decoding ones it cannot.
  for (uint32_t p = 0; p < log_.partitions(); ++p) {
    if (log_.partition(PartitionId(p)).Full()) {
      return Status::ResourceExhausted("event log partition " + std::to_string(p) +
                                       " is full; retry later");
    }
  }
  return Status::Ok();
}

void IngestPath::Ingest(IngestContext& base, std::string& body, BodyFormat format,
                        DefaultType default_type, IngestCallback done) {
  // Counted before the stopping check, so Close() can wait for every ingest that got in.
  inflight_.fetch_add(1, std::memory_order_seq_cst);
  IngestReply reply;
  reply.status = Refusal();
  if (reply.status.ok()) {
    auto& ctx = static_cast<IngestContextImpl&>(base);
    // From interning to appending, the events' ids are held here (util/id_epochs.h).
    IdEpochs::Guard ids = interners_.epochs.Enter();
    body.reserve(body.size() + Decoder::kPadding);
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
  }
  inflight_.fetch_sub(1, std::memory_order_release);
  if (done) done(std::move(reply));  // else a ticket owns it and replies later
}

// Appends ctx.events to the log, all or nothing. On success fills reply->accepted and,
// when someone must reply later (eventIds, a durable ack, or ack memory with a partition
// filling: Filling), moves `*done` into a ticket.
// Groups ctx.events by partition (stable): ctx.touched, run_length, run_start, order.
Status IngestPath::Group(IngestContextImpl& ctx, bool* has_ids, int64_t* newest) const {
  const uint32_t n = static_cast<uint32_t>(ctx.events.size());
  std::fill(ctx.run_length.begin(), ctx.run_length.end(), 0);
  ctx.partition_of.resize(n);
  ctx.touched.clear();
  // The engine clock as each event is accepted: what it was before the request, raised by
  // the events before it in the request (so batch boundaries do not change it). A purchase
  // re-posted from `eddy dump` brings the lag it was first accepted with.
  int64_t clock = clock_.NowMs();
  for (uint32_t i = 0; i < n; ++i) {
    Event& ev = ctx.events[i];
    clock = std::max(clock, ev.time.millis());
    if (ev.type == EventType::kPurchase && !(ev.flags & (Event::kHasAcceptLag | Event::kDerived))) {
      ev.accept_lag_ms = static_cast<uint32_t>(
          std::min<int64_t>(clock - ev.time.millis(), UINT32_MAX));
      ev.flags |= Event::kHasAcceptLag;
    }
    uint32_t p = log_.PartitionOf(ctx.events[i].user_hash).value();
    ctx.partition_of[i] = p;
    if (ctx.run_length[p]++ == 0) ctx.touched.push_back(p);
    *has_ids |= ctx.events[i].event_id.present();
    *newest = std::max(*newest, ctx.events[i].time.millis());
  }
  std::sort(ctx.touched.begin(), ctx.touched.end());
  uint32_t start = 0;
  for (uint32_t p : ctx.touched) {
    if (ctx.run_length[p] > log_.partition(PartitionId(p)).capacity()) {
      return Status::TooLarge("request holds " + std::to_string(ctx.run_length[p]) +
                              " log entries for one partition (its events and the stock moves "
                              "of purchases and cancels); log.capacity_per_partition is " +
                              std::to_string(log_.partition(PartitionId(p)).capacity()));
    }
    ctx.run_start[p] = start;
    start += ctx.run_length[p];
  }
  ctx.order.resize(n);
  ctx.run_cursor = ctx.run_start;  // same size: no allocation once warm
  for (uint32_t i = 0; i < n; ++i) ctx.order[ctx.run_cursor[ctx.partition_of[i]]++] = i;
  return Status::Ok();
}

bool IngestPath::Filling(const IngestContextImpl& ctx) const {
  for (uint32_t p : ctx.touched) {
    if (log_.partition(PartitionId(p)).Filling(0)) return true;
  }
  return false;
}

Status IngestPath::Append(IngestContextImpl& ctx, IngestReply* reply, IngestCallback* done) {
  // Acknowledged and counted: the request's events, not their stock moves.
  const uint32_t n = static_cast<uint32_t>(ctx.events.size());
  StampIpOrders(ctx);  // before the stock moves: they copy only what inventory reads
  if (options_.inventory.enabled) AddStockMoves(ctx);
  bool has_ids = false;
  int64_t newest = INT64_MIN;
  if (Status st = Group(ctx, &has_ids, &newest); !st.ok()) {
    TakeBackIpOrders(ctx);
    return st;
  }
  if (cluster_ != nullptr) {
    PublishRuns(ctx, n, newest, reply, done);
    return Status::Ok();
  }
  // Allocate before reserving: once offsets are reserved nothing may fail before they are
  // published, or the partition would stall at the gap.
  std::unique_ptr<IngestTicket> ticket;
  // Gated (ack wal/fsync): the reply waits for the store's write. A request with eventIds,
  // or one to a partition a quarter full (Filling), whatever the ack, is answered once
  // applied (gated, the apply waits for the write) — so clients that send as fast as they
  // are answered are paced by the shards instead of filling the log and being refused
  // (429) after their requests were read and decoded for nothing.
  const bool paced = Filling(ctx);
  if (has_ids || gated_ || paced) {
    ticket = std::make_unique<IngestTicket>(static_cast<uint32_t>(ctx.touched.size()),
                                            IngestReply{}, IngestCallback{});
  }
  // Reserve every partition first (ascending), so a full one aborts the whole request.
  for (size_t t = 0; t < ctx.touched.size(); ++t) {
    uint32_t p = ctx.touched[t];
    std::optional<uint64_t> first = log_.partition(PartitionId(p)).TryReserve(ctx.run_length[p]);
    if (!first) {
      for (size_t u = 0; u < t; ++u) PublishSkips(ctx.touched[u], ctx);
      TakeBackIpOrders(ctx);
      return Status::ResourceExhausted("event log partition " + std::to_string(p) +
                                       " is full; retry later");
    }
    ctx.first_offset[p] = *first;
  }
  reply->accepted = n;
  IngestTicket* const owned_by_log = ticket.release();  // deleted by its last RunDone
  const bool waits = owned_by_log != nullptr;  // (the pointer only: it may go once published)
  // Gated without eventIds or pacing the reply needs durability only: the store round sends
  // it right after its write (reads catch up to the durable offset, so they see it).
  const uint8_t store_replies = gated_ && !has_ids && !paced ? kStoreReplies : 0;
  if (owned_by_log != nullptr) {
    owned_by_log->Arm(std::move(*reply), std::move(*done));
    *done = nullptr;
  }
  Count(CountTypes(ctx.events), n);
  // Before publishing (and so before the reply): a read's clock covers every acknowledged
  // event.
  clock_.Observe(newest);
  ShardWaker waker(shards_.shards);
  bool wake_store = false;
  int64_t published_ns = 0;  // read once, when a partition takes a freshness probe
  for (uint32_t p : ctx.touched) {
    PartitionLog& pl = log_.partition(PartitionId(p));
    const uint64_t first = ctx.first_offset[p];
    const uint32_t len = ctx.run_length[p];
    for (uint32_t j = 0; j < len; ++j) {
      LogEntry& e = pl.At(first + j);
      e.event = ctx.events[ctx.order[ctx.run_start[p] + j]];
      e.kind = LogEntry::kEvent;
      e.tag = owned_by_log;
      e.flags = static_cast<uint8_t>((j + 1 == len ? kLastOfRun : 0) | store_replies);
    }
    // Offered before publishing: the shard cannot apply past it first.
    if (probes_ && pl.ProbeFree()) {
      if (published_ns == 0) published_ns = SteadyNanos();
      pl.OfferProbe(first + len - 1, published_ns);
    }
    // After this loop's last Publish the ticket may already be gone: do not touch it.
    for (uint32_t j = 0; j < len; ++j) pl.Publish(first + j);
    // A shard that was busy a moment ago polls every Shard::kIdlePollUs anyway, and reads
    // catch up before they answer; so wake it (a syscall) only when someone waits for the
    // apply or the partition is filling up, and else only nudge it (woken only if it has
    // been idle a while). Gated, the store thread wakes the shards after its write.
    if (!gated_) {
      if (waits || pl.Filling(0, first + len)) {
        waker.Add(shards_.ThreadOf(PartitionId(p)));
      } else {
        waker.Nudge(shards_.ThreadOf(PartitionId(p)));
      }
    }
    wake_store |= StoreShouldWake(pl, first + len);
  }
  waker.Flush();
  // Ack wal: this thread stores the events itself while the store thread dozes, and answers
  // the request (store_replies) or wakes the shards that will — no store-thread hop.
  if (gated_ && store_->TryRoundInline()) return Status::Ok();
  // With a commit delay the store thread is woken early once enough requests wait for it.
  if (gated_ && !wake_store_always_ && store_->CountWaitingRequest()) wake_store = true;
  TellStore(wake_store);
  return Status::Ok();
}

IngestPath::TypeCounts IngestPath::CountTypes(const std::vector<Event>& events) {
  TypeCounts by_type{};
  for (const Event& ev : events) {
    const auto t = static_cast<size_t>(ev.type);
    // Catalog changes are not interactions; stock moves are not the request's events.
    if (t < kEventTypeCount && !(ev.flags & Event::kDerived)) ++by_type[t];
  }
  return by_type;
}

void IngestPath::Count(const TypeCounts& by_type, uint32_t n) {
  accepted_total_.fetch_add(n, std::memory_order_relaxed);
  for (size_t t = 0; t < kEventTypeCount; ++t) {
    if (by_type[t] != 0) accepted_by_type_[t].fetch_add(by_type[t], std::memory_order_relaxed);
  }
}

// Cluster mode: the request's run of each partition becomes one JetStream message (its id
// from the run's eventIds, so a retried request is stored once), and the reply waits for
// JetStream's acknowledgements of them all. A request spread over several partitions is
// several messages: if one fails after another was stored, the reply is 503 and a retry
// with eventIds stores the rest once (without eventIds, the stored runs twice).
void IngestPath::PublishRuns(IngestContextImpl& ctx, uint32_t n, int64_t newest, IngestReply* reply,
                             IngestCallback* done) {
  std::vector<JetStreamLog::Record> records;
  std::vector<uint32_t> acknowledged;  // per record: the request's own events in it
  records.reserve(ctx.touched.size());
  std::vector<std::string> encoded;
  std::vector<std::string_view> views;
  std::vector<EventIdHash> ids;
  for (uint32_t p : ctx.touched) {
    const uint32_t len = ctx.run_length[p];
    encoded.resize(len);
    views.clear();
    ids.clear();
    uint32_t own = 0;
    for (uint32_t j = 0; j < len; ++j) {
      const Event& ev = ctx.events[ctx.order[ctx.run_start[p] + j]];
      encoded[j].clear();
      EncodeEvent(ev, interners_, &encoded[j]);
      views.push_back(encoded[j]);
      ids.push_back(ev.event_id);
      own += (ev.flags & Event::kDerived) == 0;
    }
    records.push_back({p, EncodeRun(views), RunMessageId(ids)});
    acknowledged.push_back(own);
  }
  clock_.Observe(newest);
  reply->accepted = n;
  cluster_->PublishAsync(
      records, [this, n, r = std::move(*reply), cb = std::move(*done), acknowledged,
                by_type = CountTypes(ctx.events)](Status st, std::vector<JetStreamLog::Ack> acks) mutable {
        if (!st.ok()) {
          r.status = std::move(st);
          r.accepted = 0;
        } else {
          for (size_t i = 0; i < acks.size() && i < acknowledged.size(); ++i) {
            if (acks[i].duplicate) r.duplicates += acknowledged[i];
          }
          Count(by_type, n);
        }
        cb(std::move(r));
      });
  *done = nullptr;
}

bool IngestPath::AppendFeed(uint32_t p, const std::vector<Event>& events) {
  if (events.empty()) return true;
  PartitionLog& pl = log_.partition(PartitionId(p));
  std::optional<uint64_t> first;
  while (!(first = pl.TryReserve(static_cast<uint32_t>(events.size())))) {
    if (stopping_.load(std::memory_order_acquire)) return false;
    shards_.Wake(PartitionId(p));
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // the shard frees slots: no event to wait on
  }
  int64_t newest = INT64_MIN;
  for (const Event& ev : events) newest = std::max(newest, ev.time.millis());
  clock_.Observe(newest);
  const uint32_t len = static_cast<uint32_t>(events.size());
  for (uint32_t j = 0; j < len; ++j) {
    LogEntry& e = pl.At(*first + j);
    e.event = events[j];
    e.kind = LogEntry::kEvent;
    e.tag = nullptr;
    e.flags = j + 1 == len ? kLastOfRun : 0;
  }
  for (uint32_t j = 0; j < len; ++j) pl.Publish(*first + j);
  if (pl.Filling(0, *first + len)) {
    shards_.Wake(PartitionId(p));
  } else {
    shards_.Nudge(PartitionId(p));
  }
  return true;
}

bool IngestPath::AppendOwn(EventType type, std::string_view key, int64_t time_ms,
                           std::string_view record, uint64_t recomm, uint32_t quantity) {
  inflight_.fetch_add(1, std::memory_order_seq_cst);
  bool ok = false;
  if (!stopping_.load(std::memory_order_seq_cst) && !(store_ != nullptr && store_->failing())) {
    IdEpochs::Guard ids = interners_.epochs.Enter();
    const uint64_t hash = StableHash64(key);
    const bool by_user = type != EventType::kAllocation;
    Event ev;
    ev.type = type;
    ev.time = EventTime(time_ms);
    if (by_user) ev.user = UserId(interners_.users.Intern(key, hash));
    ev.user_hash = static_cast<uint32_t>(hash);
    ev.query = StringId(interners_.strings.Intern(record));
    ev.recomm = recomm;
    ev.quantity = quantity;
    const PartitionId p = log_.PartitionOf(ev.user_hash);
    if (cluster_ != nullptr && (ev.user.valid() || !by_user) && ev.query.valid()) {
      // Cluster mode: through the stream to the partition's owner, like every event.
      std::string data;
      EncodeEvent(ev, interners_, &data);
      cluster_->PublishAsync({{p.value(), EncodeRun({data}), {}}}, [this](Status st, std::vector<JetStreamLog::Ack>) {
        if (!st.ok()) records_dropped_.fetch_add(1, std::memory_order_relaxed);
      });
      inflight_.fetch_sub(1, std::memory_order_release);
      return true;
    }
    PartitionLog& pl = log_.partition(p);
    std::optional<uint64_t> at;
    if ((ev.user.valid() || !by_user) && ev.query.valid()) at = pl.TryReserve(1);
    if (at) {
      LogEntry& e = pl.At(*at);
      e.event = ev;
      e.kind = LogEntry::kEvent;
      e.tag = nullptr;
      e.flags = kLastOfRun;
      pl.Publish(*at);
      TellConsumers(pl, p, *at + 1);
      ok = true;
    }
  }
  inflight_.fetch_sub(1, std::memory_order_release);
  if (!ok) records_dropped_.fetch_add(1, std::memory_order_relaxed);
  return ok;
}

void IngestPath::PublishSkips(uint32_t p, IngestContextImpl& ctx) {
  PartitionLog& pl = log_.partition(PartitionId(p));
  for (uint32_t j = 0; j < ctx.run_length[p]; ++j) {
    LogEntry& e = pl.At(ctx.first_offset[p] + j);
    e.kind = LogEntry::kSkip;
    e.tag = nullptr;
    e.flags = 0;
    pl.Publish(ctx.first_offset[p] + j);
  }
  TellConsumers(pl, PartitionId(p), ctx.first_offset[p] + ctx.run_length[p]);  // to free the slots
}

void IngestPath::TellConsumers(const PartitionLog& pl, PartitionId p, uint64_t end) const {
  if (!gated_) shards_.Nudge(p);  // (gated: the store wakes the shard after its write)
  TellStore(StoreShouldWake(pl, end));
}

void IngestPath::TellStore(bool wake) const {
  if (wake) {
    store_->Wake();  // (StoreShouldWake is false without a store)
  } else if (store_ != nullptr) {
    store_->Nudge();
  }
}

}  // namespace eddy
