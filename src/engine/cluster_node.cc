#include "engine/cluster_node.h"

#include <algorithm>
#include <charconv>
#include <future>

#include <spdlog/spdlog.h>

#include "cluster/run_message.h"
#include "engine/checkpoint_manager.h"
#include "engine/partition_checkpoint.h"
#include "store/event_codec.h"
#include "util/hash.h"

namespace eddy {
namespace {

using Steady = std::chrono::steady_clock;

// The requests between nodes: "C" asks for the engine clock (answer: its decimal
// milliseconds); "R<clock> <partition>\n<HTTP request>" is a read, raised to <clock> and
// covering <partition> (-1: every partition the node owns), answered "K<covered
// partitions, comma separated>\n<HTTP response>" or "E<why>"; "P..." is the same with an
// engine part request (a ranked read's step) in place of the HTTP request, and its answer.
constexpr char kClockAsk = 'C';
constexpr char kRead = 'R';
constexpr char kPart = 'P';

int64_t ParseInt(std::string_view s, int64_t fallback) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && ptr == s.data() + s.size() ? v : fallback;
}

}  // namespace

Result<std::unique_ptr<ClusterNode>> ClusterNode::Connect(const Options& options, EngineClock& clock) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(options, clock));
  Result<std::unique_ptr<JetStreamLog>> log = JetStreamLog::Open(options.cluster, options.log.partitions);
  if (!log.ok()) return log.status();
  node->log_ = std::move(log).value();
  Result<std::unique_ptr<LeaseTable>> leases = LeaseTable::Open(*node->log_);
  if (!leases.ok()) return leases.status();
  node->leases_ = std::move(leases).value();
  Result<std::unique_ptr<CheckpointStore>> checkpoints = CheckpointStore::Open(*node->log_);
  if (!checkpoints.ok()) return checkpoints.status();
  node->checkpoints_ = std::move(checkpoints).value();
  const uint32_t n = options.log.partitions;
  node->parts_ = std::make_unique<Part[]>(n);
  node->owners_.assign(n, std::string());
  node->live_ = {options.cluster.node_id};
  return node;
}

ClusterNode::~ClusterNode() { Stop(); }

Status ClusterNode::Start(IngestPath& ingest, Interners& interners, const ShardSet& set,
                          PartHandler parts) {
  part_handler_ = std::move(parts);
  ingest_ = &ingest;
  set_ = &set;
  interners_ = &interners;
  Result<std::unique_ptr<NodeRpc>> rpc = NodeRpc::Open(
      *log_, co_.node_id, [this](std::string req, NodeRpc::Reply reply) { Enqueue(std::move(req), std::move(reply)); });
  if (!rpc.ok()) return rpc.status();
  rpc_ = std::move(rpc).value();
  for (int i = 0; i < kRequestThreads; ++i) request_threads_.emplace_back([this] { RequestLoop(); });
  if (Status st = leases_->Beat(co_.node_id, clock_.newest_event_ms()); !st.ok()) return st;
  started_ = Steady::now();
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  spdlog::info("cluster: node {} on stream '{}' ({} partitions, R{}, lease {} ms)", co_.node_id,
               co_.stream, options_.log.partitions, co_.replicas, co_.lease_ms);
  return Status::Ok();
}

void ClusterNode::Stop() {
  if (stop_.exchange(true)) return;
  {
    std::lock_guard lock(tick_mu_);
  }
  tick_cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  {
    std::lock_guard lock(progress_mu_);
  }
  progress_.notify_all();
  const uint32_t n = options_.log.partitions;
  for (uint32_t p = 0; p < n && parts_; ++p) {
    if (parts_[p].feed.joinable()) parts_[p].feed.join();
  }
  {
    std::lock_guard lock(queue_mu_);
  }
  queue_cv_.notify_all();
  for (std::thread& t : request_threads_) t.join();
  request_threads_.clear();
  // No request is being answered from here on; a read still running (a ranked read's next
  // step) gets "shutting down" from here on.
  if (rpc_) rpc_->Close();
  if (leases_) {
    for (uint32_t p = 0; p < n; ++p) {
      if (parts_[p].owned.exchange(false)) (void)leases_->Release(p);  // else it lapses
    }
    leases_->Leave(co_.node_id);
  }
}

void ClusterNode::Serve(ClusterReadHandler handler) {
  std::unique_lock lock(handler_mu_);
  handler_ = std::move(handler);
}

std::vector<std::string> ClusterNode::LiveNodes() const {
  std::lock_guard lock(mu_);
  return live_;
}

// Rendezvous hashing: every node computes the same preference from the same live set, and
// a node's death moves only its own partitions.
std::string ClusterNode::Preferred(uint32_t p, const std::vector<std::string>& live) const {
  std::string best;
  uint64_t best_score = 0;
  for (const std::string& node : live) {
    const uint64_t score = StableHash64(node + "/" + std::to_string(p));
    if (best.empty() || score > best_score || (score == best_score && node < best)) {
      best = node;
      best_score = score;
    }
  }
  return best;
}

void ClusterNode::LeaseLoop() {
  const auto tick = std::chrono::milliseconds(std::max<int64_t>(co_.lease_ms / 3, 50));
  std::unique_lock lock(tick_mu_);
  while (!stop_.load()) {
    lock.unlock();
    Tick();
    lock.lock();
    tick_cv_.wait_for(lock, tick, [this] { return stop_.load(); });  // the lease clock's tick
  }
}

// Renews every lease held whose last renewal is `due` or older (0: every one).
void ClusterNode::RenewLeases(std::chrono::milliseconds due) {
  const auto lease = std::chrono::milliseconds(co_.lease_ms);
  for (uint32_t p = 0; p < options_.log.partitions && !stop_.load(); ++p) {
    Part& part = parts_[p];
    if (!part.owned.load()) continue;
    const auto sent = Steady::now();  // the lease runs from before the renewal is sent
    if (sent - part.renewed < due) continue;
    Result<uint64_t> rev = leases_->Renew(p, co_.node_id, part.revision);
    if (rev.ok()) {
      part.revision = rev.value();
      part.renewed = sent;
      continue;
    }
    std::string why(rev.status().message());
    if (rev.status().code() == StatusCode::kAlreadyExists) {
      // Refused: a renewal that timed out here may have been stored (the entry is still
      // ours, at a newer revision), another node took the partition, or the entry lapsed
      // at the servers (renewals failed while JetStream re-elected) and nobody holds it:
      // then this node holds nothing, stops serving the partition, and the scan takes it
      // again at once (nobody took it meanwhile: its state is the freshest).
      // Still ours at the revision renewed last: refused for another reason, a failed
      // renewal like any other.
      Result<std::optional<LeaseTable::Owner>> owner = leases_->OwnerOf(p);
      if (owner.ok() && owner.value() && owner.value()->node == co_.node_id) {
        if (owner.value()->revision != part.revision) {
          part.revision = owner.value()->revision;
          continue;
        }
      } else if (owner.ok() && owner.value()) {
        Drop(p, "it was taken by node " + owner.value()->node);
        HeldBy(p, owner.value()->node);  // reads of it go there from now on
        continue;
      } else if (owner.ok()) {
        Suspend(p, "its lease entry lapsed at the NATS servers");
        continue;
      } else {
        why = owner.status().message();
      }
    }
    kv_failed_ = sent;
    if (Steady::now() - part.renewed >= lease) Suspend(p, why);
  }
}

void ClusterNode::Tick() {
  const auto now = Steady::now();
  const auto lease = std::chrono::milliseconds(co_.lease_ms);
  // The leases held come first, and again between the slow NATS calls further down (a
  // node list or an owner look-up may wait for its timeout): they must not lapse meanwhile.
  RenewLeases(std::chrono::milliseconds(0));
  if (Status st = leases_->Beat(co_.node_id, clock_.newest_event_ms()); !st.ok()) {
    spdlog::warn("cluster: {}", st.message());
    kv_failed_ = Steady::now();
  }
  // Taking partitions waits a lease time after start: the nodes started together see each
  // other's heartbeats first, so the first one up does not take everything.
  const bool settled = now - started_ >= lease;
  // The node list costs a consumer on the servers: every tick until settled, then every
  // third (a lease time).
  if (!settled || tick_count_++ % 3 == 0) {
    if (auto nodes = leases_->Nodes(); !nodes.ok()) {
      // The last list stands. Not a lease call: the leases may be fine (listing costs the
      // servers a consumer, which times out first when they are busy or re-electing).
      spdlog::warn("{}; the last list is kept", nodes.status().message());
    } else {
      std::vector<std::string> live;
      for (const auto& [node, clock] : nodes.value()) {
        live.push_back(node);
        clock_.Observe(clock);
      }
      if (std::find(live.begin(), live.end(), co_.node_id) == live.end()) live.push_back(co_.node_id);
      std::sort(live.begin(), live.end());
      listed_ = now;
      std::lock_guard g(mu_);
      live_ = std::move(live);
    }
    RenewLeases(lease / 2);
  }
  const std::vector<std::string> live = LiveNodes();
  // The others' owners, within a third of a lease time from here, one look-up at least
  // (slow NATS calls leave the rest to the next tick, which starts where this one stopped).
  const uint32_t partitions = options_.log.partitions;
  const uint32_t first = next_scan_;
  const auto scan_start = Steady::now();
  int looked = 0;
  for (uint32_t i = 0; i < partitions && !stop_.load(); ++i) {
    const uint32_t p = (first + i) % partitions;
    next_scan_ = p;
    Part& part = parts_[p];
    if (part.owned.load()) continue;
    if (looked > 0 && Steady::now() - scan_start >= lease / 3) break;
    if (looked++ > 0) RenewLeases(lease / 2);
    Result<std::optional<LeaseTable::Owner>> owner = leases_->OwnerOf(p);
    if (!owner.ok()) {
      kv_failed_ = Steady::now();
      continue;
    }
    if (owner.value() && owner.value()->node == co_.node_id) {
      // Ours, though this node did not know it: a take or renewal that timed out here was
      // stored — or a replica's stale answer (any replica may answer a look-up). A renewal
      // at that revision tells: stored, its feed goes on from where it stopped.
      const auto sent = Steady::now();
      Result<uint64_t> rev = leases_->Renew(p, co_.node_id, owner.value()->revision);
      if (rev.ok()) Take(p, rev.value(), sent);  // else the next tick looks again
      continue;
    }
    if (owner.value()) {
      part.free_since = {};
      if (part.suspended && owner.value()->node != co_.node_id) {
        Drop(p, "it was taken by node " + owner.value()->node +
                    " while this node could not renew its lease");
      }
      HeldBy(p, owner.value()->node);
      continue;
    }
    {
      std::lock_guard g(mu_);
      owners_[p].clear();
    }
    if (part.free_since == Steady::time_point{}) part.free_since = now;
    if (!settled) continue;
    // Its last owner takes a free partition at once (its state is the freshest), the node
    // rendezvous hashing prefers after half a lease time, any node after a whole one. But
    // for three lease times after NATS failed this node, none takes a partition another
    // node owned: every lease may have lapsed together, and their owners take them back
    // (one that lost a partition would rebuild it from the stream) — unless it has been
    // free that long already (its owner is not coming back).
    const auto free_for = now - part.free_since;
    const bool others = !part.last_owner.empty() && part.last_owner != co_.node_id;
    if (others && now - kv_failed_ < 3 * lease && free_for < 3 * lease) continue;
    if (part.suspended || (Preferred(p, live) == co_.node_id && free_for >= lease / 2) ||
        free_for >= lease) {
      const auto sent = Steady::now();  // the lease runs from before the take is sent
      Result<uint64_t> rev = leases_->Take(p, co_.node_id);
      if (rev.ok()) Take(p, rev.value(), sent);  // else another node was quicker
    }
  }
  if (settled && !stop_.load()) Rebalance(live, now);
}

void ClusterNode::HeldBy(uint32_t p, const std::string& node) {
  parts_[p].last_owner = node;
  std::lock_guard g(mu_);
  owners_[p] = node;
}

void ClusterNode::Take(uint32_t p, uint64_t revision, Steady::time_point sent) {
  Part& part = parts_[p];
  part.revision = revision;
  part.renewed = sent;
  part.free_since = {};
  if (part.feed.joinable()) part.feed.join();
  part.owned.store(true);
  {
    std::lock_guard g(mu_);
    owners_[p] = co_.node_id;
  }
  if (part.suspended) {
    spdlog::info("cluster: node {} owns partition {} again; applying it from stream sequence {}",
                 co_.node_id, p, part.applied.load() + 1);
  } else {
    spdlog::info("cluster: node {} owns partition {}; applying it from the stream's start", co_.node_id, p);
  }
  part.suspended = false;
  part.last_owner.clear();  // this node is: after a lapse, nobody needs to wait for it
  part.feed = std::thread([this, p] { FeedLoop(p); });
}

void ClusterNode::Suspend(uint32_t p, const std::string& why) {
  parts_[p].owned.store(false);
  parts_[p].suspended = true;
  {
    std::lock_guard g(mu_);
    owners_[p].clear();
  }
  progress_.notify_all();
  spdlog::warn("cluster: node {} could not renew its lease of partition {} in time ({}); "
               "suspended until it can take it again", co_.node_id, p, why);
}

void ClusterNode::OnPartitionShard(uint32_t p, const std::function<void(ShardState&)>& task) {
  std::promise<void> done;
  set_->OnShard(set_->ShardOf(PartitionId(p)), [&](ShardState& st) {
    task(st);
    done.set_value();
  });
  done.get_future().wait();
}

void ClusterNode::Drop(uint32_t p, const std::string& why) {
  Forget(p);
  spdlog::warn("cluster: node {} no longer owns partition {} ({}); its state here is dropped",
               co_.node_id, p, why);
}

void ClusterNode::Forget(uint32_t p) {
  Part& part = parts_[p];
  part.owned.store(false);
  // Before the reset: a read that checked the partition owned and is still running sees
  // the generation change when it finishes, and is refused (OnRequest).
  part.generation.fetch_add(1);
  part.checkpoint_asked.store(false);
  {
    std::lock_guard lock(progress_mu_);
  }
  progress_.notify_all();
  if (part.feed.joinable()) part.feed.join();
  // Its shard state holds this partition only: what the feed appended is applied, then
  // forgotten, so this node's global answers leave the partition out from here on.
  OnPartitionShard(p, [](ShardState& st) {
    st.CatchUpAll();
    st.Reset();
  });
  part.applied.store(0);
  part.wanted.store(0);
  part.suspended = false;
  part.checkpointed = 0;  // the feed thread has ended (joined above)
}

void ClusterNode::Rebalance(const std::vector<std::string>& live, Steady::time_point now) {
  const auto lease = std::chrono::milliseconds(co_.lease_ms);
  for (const std::string& node : live) seen_since_.try_emplace(node, now);
  std::erase_if(seen_since_, [&](const auto& kv) {
    return std::find(live.begin(), live.end(), kv.first) == live.end();
  });
  if (!handing_.empty() && !released_) {
    // Their checkpoints first (each feed takes its own), then the leases go.
    for (uint32_t p : handing_) {
      if (parts_[p].checkpoint_asked.load() && now - handing_since_ < lease) return;
    }
    // Only those still owned: one suspended or dropped meanwhile may be another node's by
    // now, and its lease is not this node's to release.
    std::erase_if(handing_, [this](uint32_t p) { return !parts_[p].owned.load(); });
    for (uint32_t p : handing_) parts_[p].owned.store(false);  // every feed stops at once
    for (uint32_t p : handing_) {
      Forget(p);  // (waits for its feed and its shard: the others' leases are renewed after)
      RenewLeases(lease / 2);
      // Released only while still this node's (a renewal at its revision first): one that
      // lapsed during the Forgets may be another node's by now, and a delete would end it.
      Result<uint64_t> held = leases_->Renew(p, co_.node_id, parts_[p].revision);
      Status st = held.ok() ? leases_->Release(p) : held.status();
      if (!st.ok()) {
        spdlog::warn("cluster: partition {}: lease not released ({}); it lapses in lease_ms", p, st.message());
      }
      {
        std::lock_guard g(mu_);
        owners_[p].clear();
      }
      parts_[p].last_owner = Preferred(p, live);  // waited for as any other owner is
      spdlog::info("cluster: node {} hands partition {} to node {} ({})", co_.node_id, p, Preferred(p, live),
                   parts_[p].checkpointed_at_handoff.load() == 0
                       ? std::string("no checkpoint: it starts from the stream")
                       : "its checkpoint covers stream sequence " + std::to_string(parts_[p].checkpointed_at_handoff.load()));
    }
    released_ = true;
    handing_since_ = now;
    return;
  }
  if (!handing_.empty()) {
    bool taken = true;
    {
      std::lock_guard g(mu_);
      for (uint32_t p : handing_) taken &= !owners_[p].empty();
    }
    if (!taken && now - handing_since_ < 3 * lease) return;
    handing_.clear();
  }
  // To nodes seen live for a lease time and a half (settled, not passing by), by a node
  // list read in the last two lease times (one kept after failed listings may name a node
  // that died since).
  if (now - listed_ > 2 * lease) return;
  for (uint32_t p = 0; p < options_.log.partitions; ++p) {
    Part& part = parts_[p];
    if (!part.owned.load()) continue;
    const std::string preferred = Preferred(p, live);
    if (preferred == co_.node_id) continue;
    const auto seen = seen_since_.find(preferred);
    if (seen == seen_since_.end() || now - seen->second < lease * 3 / 2) continue;
    handing_.push_back(p);
    part.checkpointed_at_handoff.store(0);
    part.checkpoint_asked.store(co_.checkpoint_interval_ms > 0);
  }
  handing_since_ = now;
  released_ = false;
}

void ClusterNode::FeedLoop(uint32_t p) {
  Part& part = parts_[p];
  std::unique_ptr<JetStreamLog::PartitionReader> reader;
  std::vector<std::string_view> views;
  std::vector<Event> events;
  bool closed = false;  // the log takes no more (eddy is stopping)
  int empty = 0;  // fetches in a row that brought nothing
  if (part.applied.load() == 0) Restore(p);
  part.checkpoint_at = Steady::now();
  while (!stop_.load() && part.owned.load()) {
    if (!reader) {
      Result<std::unique_ptr<JetStreamLog::PartitionReader>> r = log_->NewReader(p, part.applied.load() + 1);
      if (!r.ok()) {
        spdlog::warn("cluster: partition {}: {}; retrying", p, r.status().message());
        std::unique_lock lock(progress_mu_);
        progress_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_.load() || !part.owned.load(); });  // a retry's pause
        continue;
      }
      reader = std::move(r).value();
    }
    Result<size_t> got = reader->Fetch(256, 100, [&](uint64_t seq, std::string_view data) {
      if (closed) return;  // nothing after a message not appended may count as applied
      if (Status st = DecodeRun(data, &views); !st.ok()) {
        feed_errors_.fetch_add(1);
        spdlog::error("cluster: partition {} message {} skipped: {}", p, seq, st.message());
      } else {
        // From interning to the append, the events' ids are held (util/id_epochs.h).
        IdEpochs::Guard ids = interners_->epochs.Enter();
        events.clear();
        for (std::string_view v : views) {
          Event ev;
          if (Status st = DecodeStoredEvent(v, *interners_, &ev); !st.ok()) {
            feed_errors_.fetch_add(1);
            spdlog::error("cluster: partition {} message {}: an event skipped: {}", p, seq, st.message());
            continue;
          }
          events.push_back(ev);
        }
        if (!ingest_->AppendFeed(p, events)) {
          closed = true;
          return;
        }
      }
      part.applied.store(seq);
    });
    if (closed) return;
    if (!got.ok()) {
      spdlog::warn("cluster: partition {}: {}; reading again", p, got.status().message());
      reader.reset();
      continue;
    }
    // A reader whose consumer was on a server that died gets nothing, not an error: when
    // the stream holds more than it gave (a read waits for it, or every 5 s of silence),
    // read again from a new consumer.
    empty = got.value() == 0 ? empty + 1 : 0;
    if ((empty >= 5 && part.wanted.load() > part.applied.load()) || empty >= 50) {
      empty = 0;
      Result<uint64_t> last = log_->LastSequence(p);
      if (last.ok() && last.value() > part.applied.load()) {
        spdlog::warn("cluster: partition {}: its reader stopped short of sequence {} (at {}); "
                     "reading again", p, last.value(), part.applied.load());
        reader.reset();
        continue;
      }
    }
    if (got.value() > 0) {
      std::lock_guard lock(progress_mu_);
      progress_.notify_all();
    }
    // A checkpoint every checkpoint_interval_ms when more was applied, or when the lease
    // thread asks for one (a hand-back).
    // Never once the partition is not this node's: another owner's checkpoint may be newer.
    const bool asked = part.checkpoint_asked.load();
    if ((asked || (co_.checkpoint_interval_ms > 0 &&
                   Steady::now() - part.checkpoint_at >= std::chrono::milliseconds(co_.checkpoint_interval_ms))) &&
        part.applied.load() > part.checkpointed && part.owned.load()) {
      Checkpoint(p);
    }
    if (asked) {
      part.checkpointed_at_handoff.store(part.checkpointed);
      part.checkpoint_asked.store(false);
    }
  }
}

void ClusterNode::Restore(uint32_t p) {
  Part& part = parts_[p];
  const auto t0 = Steady::now();
  Result<std::optional<std::string>> got = checkpoints_->Get(p, [&] { return stop_.load() || !part.owned.load(); });
  if (!got.ok()) {
    checkpoint_errors_.fetch_add(1);
    spdlog::warn("cluster: partition {}: no checkpoint could be read ({}); applying the stream from its start",
                 p, got.status().message());
    return;
  }
  if (!got.value()) return;
  const std::string& bytes = *got.value();
  Result<uint64_t> last = log_->LastSequence(p);
  // From interning the checkpoint's strings until the state references them.
  IdEpochs::Guard ids = interners_->epochs.Enter();
  PartitionCheckpoint head;
  IdRemap remap;
  std::string_view state;
  Status st = DecodePartitionCheckpoint(bytes, *interners_, &head, &remap, &state);
  if (st.ok() && head.partition != p) st = Status::Corruption("it is partition " + std::to_string(head.partition) + "'s");
  if (st.ok() && !last.ok()) st = last.status();
  if (st.ok() && head.sequence > last.value()) {
    st = Status::Corruption("it covers stream sequence " + std::to_string(head.sequence) +
                            ", beyond the stream's last (" + std::to_string(last.value()) +
                            "): the stream was made anew");
  }
  if (st.ok()) {
    OnPartitionShard(p, [&](ShardState& s) {
      s.CatchUpAll();  // nothing of this partition is in the log yet; settle it anyway
      if (head.fingerprint != SettingsFingerprint(options_, s)) {
        st = Status::InvalidArgument("it was taken under other settings (weights, windows, caps...)");
        return;
      }
      SerialReader r(state);
      r.set_remap(&remap);
      if (!s.Load(r)) {
        s.Reset();
        st = Status::Corruption("a state could not read its section");
      }
    });
  }
  if (!st.ok()) {
    checkpoint_errors_.fetch_add(1);
    spdlog::warn("cluster: partition {}: its checkpoint is not used ({}); applying the stream from its start",
                 p, st.message());
    return;
  }
  clock_.Observe(head.newest_event_ms);
  part.applied.store(head.sequence);
  part.checkpointed = head.sequence;
  checkpoints_loaded_.fetch_add(1);
  {
    std::lock_guard lock(progress_mu_);  // a read waiting for this partition may be served now
  }
  progress_.notify_all();
  spdlog::info("cluster: partition {} loaded from its checkpoint at stream sequence {} ({} bytes, {} ms)", p,
               head.sequence, bytes.size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0).count());
}

void ClusterNode::Checkpoint(uint32_t p) {
  Part& part = parts_[p];
  PartitionCheckpoint head;
  head.partition = p;
  // The feed thread is this partition's only appender: the log holds exactly the messages
  // up to `applied`, and the shard applies up to its end before saving.
  head.sequence = part.applied.load();
  std::string bytes;
  {
    // The ids the state references and the strings written for them must agree.
    MutexLock ids(&interners_->recycle_mu);
    OnPartitionShard(p, [&](ShardState& s) {
      s.CatchUpAll();
      head.fingerprint = SettingsFingerprint(options_, s);
      head.newest_event_ms = clock_.newest_event_ms();
      bytes = EncodePartitionCheckpoint(head, s, *interners_);
    });
  }
  part.checkpoint_at = Steady::now();
  const std::string tag = std::to_string(head.sequence) + "-" + co_.node_id;
  if (Status st = checkpoints_->Put(p, tag, bytes, [&] { return stop_.load() || !part.owned.load(); }); !st.ok()) {
    checkpoint_errors_.fetch_add(1);
    spdlog::warn("cluster: partition {}: checkpoint at sequence {} not stored: {}", p, head.sequence, st.message());
    return;
  }
  part.checkpointed = head.sequence;
  checkpoints_saved_.fetch_add(1);
}

Status ClusterNode::CatchUp(const std::vector<uint32_t>& parts) {
  const auto deadline = Steady::now() + std::chrono::milliseconds(co_.forward_timeout_ms);
  // Every partition's last sequence in one round trip, then each waited for.
  Result<std::vector<uint64_t>> lasts = log_->LastSequences(parts);
  if (!lasts.ok()) return lasts.status();
  for (size_t i = 0; i < parts.size(); ++i) {
    const uint32_t p = parts[i];
    const uint64_t last = lasts.value()[i];
    for (uint64_t w = parts_[p].wanted.load(); w < last && !parts_[p].wanted.compare_exchange_weak(w, last);) {
    }
    std::unique_lock lock(progress_mu_);
    const bool done = progress_.wait_until(lock, deadline, [&] {
      return stop_.load() || !parts_[p].owned.load() || parts_[p].applied.load() >= last;
    });
    if (!parts_[p].owned.load()) {
      return Status::Unavailable("partition " + std::to_string(p) + " moved to another node");
    }
    if (stop_.load()) return Status::Unavailable("eddy is shutting down");
    if (!done) {
      return Status::Unavailable("partition " + std::to_string(p) + " is still being rebuilt on node " +
                                 co_.node_id + " (applied " + std::to_string(parts_[p].applied.load()) +
                                 " of " + std::to_string(last) + "); retry");
    }
  }
  return Status::Ok();
}

// Requests wait here for a request thread: a read may wait for its partitions to catch
// up, and must not hold up NATS's delivery of the others. One that waited longer than its
// caller does (cluster.forward_timeout_ms) is dropped; so is one beyond kMaxQueued.
void ClusterNode::Enqueue(std::string request, NodeRpc::Reply reply) {
  {
    std::lock_guard lock(queue_mu_);
    if (queue_.size() < kMaxQueued && !stop_.load()) {
      queue_.push_back({std::move(request), std::move(reply), Steady::now()});
      queue_cv_.notify_one();
      return;
    }
  }
  reply("Enode " + co_.node_id + " has too many reads waiting; retry");
}

void ClusterNode::RequestLoop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return stop_.load() || !queue_.empty(); });
    if (stop_.load()) break;
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (Steady::now() - q.arrived < std::chrono::milliseconds(co_.forward_timeout_ms)) {
      OnRequest(std::move(q.request), std::move(q.reply));
    }
    lock.lock();
  }
  for (Queued& q : queue_) q.reply("Eeddy is shutting down");
  queue_.clear();
}

void ClusterNode::OnRequest(std::string request, NodeRpc::Reply reply) {
  if (request.empty()) return reply("Eempty request");
  if (request[0] == kClockAsk) return reply(std::to_string(clock_.newest_event_ms()));
  const size_t nl = request.find('\n');
  const size_t sp = request.find(' ');
  const bool engine_part = request[0] == kPart;
  if ((request[0] != kRead && !engine_part) || nl == std::string::npos || sp == std::string::npos || sp > nl) {
    return reply("Emalformed node request");
  }
  clock_.Observe(ParseInt(std::string_view(request).substr(1, sp - 1), INT64_MIN));
  const int64_t asked = ParseInt(std::string_view(request).substr(sp + 1, nl - sp - 1), -2);
  std::vector<uint32_t> parts;
  if (asked >= 0 && asked < static_cast<int64_t>(options_.log.partitions)) {
    parts.push_back(static_cast<uint32_t>(asked));
    if (!parts_[asked].owned.load()) {
      return reply("Enode " + co_.node_id + " does not own partition " + std::to_string(asked));
    }
  } else if (asked == -1) {
    // A global read gets every shard's partial, which holds every partition this node has
    // applied and not dropped: it must own each of them now, or its part would count one
    // that another node owns.
    for (uint32_t p = 0; p < options_.log.partitions; ++p) {
      if (parts_[p].owned.load()) {
        parts.push_back(p);
      } else if (parts_[p].applied.load() > 0) {
        return reply("Epartition " + std::to_string(p) + " is suspended on node " + co_.node_id +
                     " (its lease lapsed); retry");
      }
    }
  } else {
    return reply("Ebad partition in node request");
  }
  if (Status st = CatchUp(parts); !st.ok()) return reply("E" + std::string(st.message()));
  // The partitions' generations now: a partition dropped or handed on while the read runs
  // (its state reset under it) makes the answer unusable.
  std::vector<uint64_t> generations;
  for (uint32_t p : parts) generations.push_back(parts_[p].generation.load());
  std::string head = "K";
  for (size_t i = 0; i < parts.size(); ++i) head += (i ? "," : "") + std::to_string(parts[i]);
  head += '\n';
  std::shared_lock lock(handler_mu_);
  if (!engine_part && !handler_) {
    return reply("Enode " + co_.node_id + " does not serve reads (starting or stopping)");
  }
  auto answered = [this, parts, generations = std::move(generations), head = std::move(head),
                   reply = std::move(reply)](std::string response) {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts_[parts[i]].owned.load() || parts_[parts[i]].generation.load() != generations[i]) {
        return reply("Epartition " + std::to_string(parts[i]) + " moved while node " + co_.node_id +
                     " answered; retry");
      }
    }
    // NATS refuses a message over the servers' max_payload: say so rather than leave the
    // asking node waiting for its timeout.
    const int64_t max = rpc_->MaxPayload();
    if (max > 0 && static_cast<int64_t>(head.size() + response.size()) > max) {
      return reply("Enode " + co_.node_id + "'s answer of " + std::to_string(head.size() + response.size()) +
                   " bytes exceeds the NATS servers' max_payload (" + std::to_string(max) + " bytes)");
    }
    reply(head + response);
  };
  if (engine_part) return part_handler_(request.substr(nl + 1), std::move(parts), std::move(answered));
  handler_(request.substr(nl + 1), std::move(answered));
}

void ClusterNode::Read(int64_t partition, std::string request,
                       std::function<void(std::vector<NodeAnswer>)> done, bool engine_part) {
  // One snapshot of the live nodes: asked for their clocks, and (partition -1) for the read.
  const std::vector<std::string> everyone = LiveNodes();
  std::vector<std::string> targets;
  if (partition >= 0) {
    std::string owner;
    {
      std::lock_guard g(mu_);
      owner = owners_[static_cast<size_t>(partition)];
    }
    if (owner.empty()) {
      return done({NodeAnswer{Status::Unavailable("partition " + std::to_string(partition) +
                                                  " has no owner right now (a node is taking it "
                                                  "over); retry"), {}, {}, {}}});
    }
    targets.push_back(owner);
  } else {
    targets = everyone;
  }
  const int64_t timeout = co_.forward_timeout_ms;
  // Round 1: the newest clock of any node, so that every answer is computed at the clock
  // a single eddy fed the same events would read at.
  struct Gather {
    std::mutex mu;
    size_t left = 0;
    int64_t clock = INT64_MIN;
    std::vector<NodeAnswer> answers;
  };
  auto round1 = std::make_shared<Gather>();
  round1->left = everyone.size();
  round1->clock = clock_.newest_event_ms();
  auto second = [this, partition, targets, request = std::move(request), done = std::move(done),
                 timeout, engine_part](int64_t clock) mutable {
    auto round2 = std::make_shared<Gather>();
    round2->left = targets.size();
    round2->answers.resize(targets.size());
    const std::string msg = std::string(1, engine_part ? kPart : kRead) + std::to_string(clock) + " " +
                            std::to_string(partition) + "\n" + request;
    auto finish = std::make_shared<std::function<void(std::vector<NodeAnswer>)>>(std::move(done));
    const uint32_t partitions = options_.log.partitions;
    for (size_t i = 0; i < targets.size(); ++i) {
      rpc_->Call(targets[i], msg, timeout, [round2, i, node = targets[i], finish, partition,
                                            partitions](Status st, std::string answer) {
        NodeAnswer a;
        a.node = node;
        if (!st.ok()) {
          a.status = st;
        } else if (answer.empty() || answer[0] != 'K') {
          a.status = Status::Unavailable(answer.empty() ? "node " + node + " gave no answer"
                                                        : "node " + node + ": " + answer.substr(1));
        } else {
          const size_t nl = answer.find('\n');
          std::string_view list = std::string_view(answer).substr(1, nl == std::string::npos ? 0 : nl - 1);
          while (!list.empty()) {
            const size_t comma = list.find(',');
            a.covered.push_back(static_cast<uint32_t>(ParseInt(list.substr(0, comma), 0)));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
          }
          a.response = nl == std::string::npos ? std::string() : answer.substr(nl + 1);
        }
        // A node answering for no partition adds nothing to a global read.
        const bool nothing = a.status.ok() && a.covered.empty() && partition < 0;
        std::vector<NodeAnswer> all;
        {
          std::lock_guard lock(round2->mu);
          if (!nothing) round2->answers[i] = std::move(a);
          if (--round2->left != 0) return;
          for (NodeAnswer& x : round2->answers) {
            if (!x.node.empty()) all.push_back(std::move(x));
          }
        }
        if (partition < 0) {
          // Every partition must be in exactly one answer, or the merge would be wrong.
          std::vector<uint8_t> seen(partitions, 0);
          std::string why;
          for (const NodeAnswer& n : all) {
            if (!n.status.ok()) why = std::string(n.status.message());
            for (uint32_t p : n.covered) {
              if (p < partitions && seen[p]++ != 0) why = "partition " + std::to_string(p) + " answered twice (it changed hands); retry";
            }
          }
          for (uint32_t p = 0; p < partitions && why.empty(); ++p) {
            if (!seen[p]) why = "partition " + std::to_string(p) + " has no owner right now (a node is taking it over); retry";
          }
          if (!why.empty()) all = {NodeAnswer{Status::Unavailable(why), {}, {}, {}}};
        }
        (*finish)(std::move(all));
      });
    }
  };
  auto proceed = std::make_shared<decltype(second)>(std::move(second));
  for (const std::string& node : everyone) {
    rpc_->Call(node, std::string(1, kClockAsk), timeout, [round1, proceed](Status st, std::string answer) {
      int64_t clock = INT64_MIN;
      {
        std::lock_guard lock(round1->mu);
        if (st.ok()) round1->clock = std::max(round1->clock, ParseInt(answer, INT64_MIN));
        if (--round1->left != 0) return;
        clock = round1->clock;
      }
      (*proceed)(clock);
    });
  }
}

ClusterStatus ClusterNode::Describe() const {
  ClusterStatus s;
  s.enabled = true;
  s.node = co_.node_id;
  std::lock_guard g(mu_);
  s.live_nodes = live_;
  s.owners = owners_;
  for (uint32_t p = 0; p < options_.log.partitions; ++p) {
    if (parts_[p].owned.load()) s.owned.push_back(p);
  }
  s.feed_errors = feed_errors_.load();
  s.checkpoints_saved = checkpoints_saved_.load();
  s.checkpoints_loaded = checkpoints_loaded_.load();
  s.checkpoint_errors = checkpoint_errors_.load();
  return s;
}

}  // namespace eddy
