#pragma once
// ClusterNode: this eddy as one node of a cluster sharing its event log in NATS JetStream
// (issue 20; docs/scale-out.md). It
//   - holds the leases of the partitions this node owns (cluster/leases.h): renewed every
//     third of cluster.lease_ms; a partition whose lease expired is taken by the live node
//     that rendezvous hashing prefers for it, or by any node once it has been free for a
//     lease time;
//   - applies each owned partition: a feed thread reads its JetStream subject from the
//     start and appends every message's events to the local log (IngestPath::AppendFeed),
//     where the shards apply them as they apply a standalone node's events;
//   - answers the other nodes' requests (cluster/rpc.h): its engine clock, and reads of
//     its partitions — first raised to the asking node's clock and caught up with every
//     message JetStream holds for them, so an acknowledged event is in the answer;
//   - sends reads to the owner of a partition, or to every node, for the HTTP front end.
// A partition's state is a function of the prefix of its subject applied, so a node whose
// lease lapsed (NATS unreachable for a lease time) suspends the partition and takes it
// back first when the lease is free again, continuing its feed where it stopped. Each
// partition has a shard state of its own in cluster mode (engine/shard_set.h): once
// another node has taken a suspended partition, this node drops that state, and its global
// answers leave the partition out.
//
// Thread-safety: Read from any thread; Start/Stop from the engine's owner.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/checkpoint_store.h"
#include "cluster/jetstream.h"
#include "cluster/leases.h"
#include "cluster/rpc.h"
#include "eddy/engine.h"
#include "engine/engine_clock.h"
#include "engine/ingest_path.h"
#include "engine/shard_set.h"
#include "util/interners.h"

namespace eddy {

class ClusterNode {
 public:
  // Answers an engine part request another node sent (a ranked read's step, engine/
  // recommender.h) over `partitions` (those this node owns and answers for), exactly once,
  // from any thread.
  using PartHandler = std::function<void(std::string request, std::vector<uint32_t> partitions,
                                         std::function<void(std::string answer)> reply)>;

  // Connects to NATS and opens the stream and the lease bucket.
  static Result<std::unique_ptr<ClusterNode>> Connect(const Options& options, EngineClock& clock);
  ~ClusterNode();

  JetStreamLog& log() { return *log_; }
  // Starts answering the other nodes and taking partitions; `ingest`, `interners` and what
  // `parts` calls must outlive the node (Stop first).
  eddy::Status Start(IngestPath& ingest, Interners& interners, const ShardSet& set,
                     PartHandler parts);
  // Gives the partitions up (another node takes them at once) and stops every thread.
  void Stop();

  // What the HTTP front end answers a forwarded read with (Engine::ServeClusterReads);
  // returns once no call of the previous handler is running.
  void Serve(ClusterReadHandler handler);
  // Engine::ClusterRead; with `engine_part`, `request` is a part request answered by the
  // nodes' PartHandler instead of their HTTP front end (NodeAnswer::response: its answer).
  void Read(int64_t partition, std::string request, std::function<void(std::vector<NodeAnswer>)> done,
            bool engine_part = false);
  ClusterStatus Describe() const;

 private:
  ClusterNode(const Options& options, EngineClock& clock) : options_(options), clock_(clock) {}
  void LeaseLoop();
  void Tick();
  void RenewLeases(std::chrono::milliseconds due);
  // The lease of p is this node's at `revision`, sent at `sent`: its feed starts (lease thread).
  void Take(uint32_t p, uint64_t revision, std::chrono::steady_clock::time_point sent);
  // Another node holds p: reads of it go there, and this node waits for it (lease thread).
  void HeldBy(uint32_t p, const std::string& node);
  void Suspend(uint32_t p, const std::string& why);
  // Another node owns p now: its feed stops and its shard state is reset (lease thread).
  void Drop(uint32_t p, const std::string& why);
  // Stops p's feed and resets its shard state (Drop, Rebalance).
  void Forget(uint32_t p);
  // Runs `task` on the shard thread of p's state and waits for it.
  void OnPartitionShard(uint32_t p, const std::function<void(ShardState&)>& task);
  // Lease thread, once settled: the partitions that rendezvous hashing gives to another
  // node, live for a lease time and a half, are checkpointed (each by its feed) and
  // released together, so that a node started after the others took everything gets its
  // share; the next hand-back waits until they are taken (or three lease times).
  void Rebalance(const std::vector<std::string>& live, std::chrono::steady_clock::time_point now);
  void FeedLoop(uint32_t p);
  // Feed thread: loads the partition's newest checkpoint into its (empty) shard state and
  // sets `applied` to the sequence it covers; without one (or one that cannot be used) the
  // feed reads the stream from its start.
  void Restore(uint32_t p);
  // Feed thread: checkpoints the partition at what the feed has appended (the shard
  // applies up to there first) and stores it in JetStream.
  void Checkpoint(uint32_t p);
  void Enqueue(std::string request, NodeRpc::Reply reply);
  void RequestLoop();
  void OnRequest(std::string request, NodeRpc::Reply reply);
  // Waits until every message JetStream holds for `parts` is in the local log.
  eddy::Status CatchUp(const std::vector<uint32_t>& parts);
  std::vector<std::string> LiveNodes() const;
  std::string Preferred(uint32_t p, const std::vector<std::string>& live) const;

  const Options& options_;
  const ClusterOptions& co_ = options_.cluster;
  EngineClock& clock_;
  std::unique_ptr<JetStreamLog> log_;
  std::unique_ptr<LeaseTable> leases_;
  std::unique_ptr<NodeRpc> rpc_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  IngestPath* ingest_ = nullptr;
  const ShardSet* set_ = nullptr;
  Interners* interners_ = nullptr;
  std::chrono::steady_clock::time_point started_;  // set by Start, before the lease thread

  struct Part {
    std::atomic<bool> owned{false};
    bool suspended = false;              // its lease lapsed here; nobody else took it yet
    std::atomic<uint64_t> applied{0};    // the stream sequence of its last message in the log
    std::atomic<uint64_t> wanted{0};     // the newest sequence a read waits for
    uint64_t revision = 0;               // of its lease (lease thread only)
    std::chrono::steady_clock::time_point renewed, free_since{};  // lease thread only
    std::string last_owner;              // the other node last seen holding it (lease thread)
    uint64_t checkpointed = 0;           // the sequence its last checkpoint covers (feed thread)
    std::atomic<bool> checkpoint_asked{false};  // by the lease thread, before a hand-back
    std::atomic<uint64_t> checkpointed_at_handoff{0};  // for the hand-back's log line
    std::atomic<uint64_t> generation{0};  // +1 each time its state here is reset (Forget)
    std::chrono::steady_clock::time_point checkpoint_at{};  // when it was taken (feed thread)
    std::thread feed;
  };
  std::unique_ptr<Part[]> parts_;
  mutable std::mutex mu_;               // guards owners_, live_
  std::vector<std::string> owners_;     // per partition: the owner's node id ("" none)
  std::vector<std::string> live_;       // live nodes, this one included
  std::shared_mutex handler_mu_;        // held (shared) while handler_ runs: Serve waits
  ClusterReadHandler handler_;
  PartHandler part_handler_;            // set by Start
  std::mutex progress_mu_;
  std::condition_variable progress_;    // a feed appended, or stopping
  std::atomic<bool> stop_{false};
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  std::thread lease_thread_;
  uint64_t tick_count_ = 0;              // lease thread only
  uint32_t next_scan_ = 0;               // the partition the next tick looks at first (lease thread)
  // Rebalance's (lease thread): when each live node was first seen, the partitions being
  // handed to others, since when, and whether their leases are released yet.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> seen_since_;
  std::vector<uint32_t> handing_;
  std::chrono::steady_clock::time_point handing_since_{};
  bool released_ = false;
  std::chrono::steady_clock::time_point kv_failed_{};  // NATS last failed a lease call (lease thread)
  std::chrono::steady_clock::time_point listed_{};     // the node list last read (lease thread)
  std::atomic<uint64_t> feed_errors_{0};
  std::atomic<uint64_t> checkpoints_saved_{0}, checkpoints_loaded_{0}, checkpoint_errors_{0};

  static constexpr int kRequestThreads = 4;
  static constexpr size_t kMaxQueued = 1024;
  struct Queued {
    std::string request;
    NodeRpc::Reply reply;
    std::chrono::steady_clock::time_point arrived;
  };
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Queued> queue_;             // guarded by queue_mu_
  std::vector<std::thread> request_threads_;
};

}  // namespace eddy
