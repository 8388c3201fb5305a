#pragma once
// Alert webhooks (webhooks.urls): each alert raised or cleared becomes a record in an
// outbox — in memory, and appended to <data_dir>/webhooks/outbox.ndjson — numbered in the
// order eddy saw it (exact per subject: an item's or a user's alerts come from one shard in
// its events' order; subjects on different shards interleave as the shards raised them);
// each URL receives every record in that order as a JSON POST, the next
// only once the previous was answered 2xx, retried with doubling backoff (100 ms up to
// webhooks.max_backoff_ms) while it fails. What each URL received (the last record's
// number) is written to <data_dir>/webhooks/cursors.json after each delivery.
//
// No loss: an alert raised from an acknowledged event but not yet in the outbox when eddy
// stopped (or crashed) is rebuilt by recovery into the kept alerts; at start every kept
// alert whose raise or clear is not in the outbox is appended (oldest first). No flood:
// the outbox keeps the last 2 × alerts.max_kept + 16 records' keys, so a kept alert is
// never appended twice, and a URL resumes after its cursor. At least once: a crash between
// a delivery and its cursor write repeats that one record; receivers dedupe by the
// X-Eddy-Delivery header (the record's number) or the alert id + state. A URL new to the
// cursors file starts with the alerts raised from then on.
//
// Thread-safety: Start/Stop from the owning thread; alerts arrive on shard threads (handed
// over under a mutex); deliveries run on the dispatcher's own thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "eddy/engine.h"
#include "eddy/options.h"
#include "eddy/status.h"

namespace eddy {

class WebhookDispatcher {
 public:
  WebhookDispatcher(Engine& engine, const Options& options);
  ~WebhookDispatcher();

  // Loads the outbox and cursors, subscribes to alerts, appends the kept alerts the outbox
  // lacks, and starts delivering. Error: the webhooks directory cannot be read or written.
  Status Start();
  // Unsubscribes and stops the deliveries (undelivered records wait for the next start).
  void Stop();

  // Records delivered to every URL / waiting for at least one URL / failed attempts.
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  struct Record {
    uint64_t seq = 0;
    std::string key;   // "<alert id>/raised" or "<alert id>/cleared"
    std::string json;  // the alert, as GET /v1/alerts writes it
  };
  struct Target {
    std::string url, host, port, path;
    static constexpr uint64_t kNew = UINT64_MAX;  // in no cursors file: from start on
    uint64_t cursor = kNew;                       // last record delivered
    int backoff_ms = 0;   // 0: not failing
    std::chrono::steady_clock::time_point retry_at{};
  };

  Status Load();
  void Enqueue(const Alert& alert);  // dispatcher thread (or Start, before it runs)
  void Flush();                      // the appends of a batch to disk
  void SaveCursors();
  void Compact();
  void Run();
  bool Post(const Target& t, const Record& r, std::string* why) const;

  Engine& engine_;
  const WebhookOptions options_;
  const size_t keep_;     // records kept for dedupe (2 × alerts.max_kept + 16)
  const std::string dir_;  // "" without a data_dir: the outbox lives in memory only
  uint64_t subscription_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> delivered_{0}, failures_{0};
  std::atomic<bool> stopping_{false};  // ends a delivery in progress

  // The hand-over from the shard threads: a listener only queues the alert.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                   // guarded by mu_
  std::vector<std::shared_ptr<const Alert>> pending_;  // guarded by mu_

  // The dispatcher thread's (Start's before the thread runs).
  std::deque<Record> records_;  // seq ascending (gaps possible after a torn file)
  absl::flat_hash_set<std::string> known_;  // keys of records_
  uint64_t next_seq_ = 1;
  std::FILE* outbox_ = nullptr;
  bool unflushed_ = false;
  std::vector<Target> targets_;
};

}  // namespace eddy
