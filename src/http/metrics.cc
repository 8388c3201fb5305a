#include "http/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace eddy {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class Families {
 public:
  // A family of one metric without labels.
  void One(const std::string& name, MetricType type, const std::string& help, double v) {
    Family(name, type, help).metric.push_back(Metric({}, type, v));
  }
  MetricFamily& Family(const std::string& name, MetricType type, const std::string& help) {
    MetricFamily& f = families_.emplace_back();
    f.name = name;
    f.type = type;
    f.help = help;
    return f;
  }
  static ClientMetric Metric(std::vector<ClientMetric::Label> labels, MetricType type, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    return m;
  }
  // A counter family with one series per (label value, count) pair.
  void Counters(const std::string& name, const std::string& help, const std::string& label,
                const std::vector<std::pair<std::string, uint64_t>>& counts) {
    MetricFamily& f = Family(name, MetricType::Counter, help);
    for (const auto& [value, n] : counts) {
      f.metric.push_back(Metric({{label, value}}, MetricType::Counter, static_cast<double>(n)));
    }
  }
  static ClientMetric Histogram(std::vector<ClientMetric::Label> labels,
                                const HistogramSnapshot& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum_seconds;
    for (size_t b = 0; b < h.upper_bounds_seconds.size(); ++b) {
      m.histogram.bucket.push_back({h.cumulative[b], h.upper_bounds_seconds[b]});
    }
    m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    return m;
  }
  // A histogram family of one series without labels (omitted while it has no buckets).
  void OneHistogram(const std::string& name, const std::string& help, const HistogramSnapshot& h) {
    if (h.upper_bounds_seconds.empty()) return;
    Family(name, MetricType::Histogram, help).metric.push_back(Histogram({}, h));
  }
  std::vector<MetricFamily> Take() {
    return {std::make_move_iterator(families_.begin()), std::make_move_iterator(families_.end())};
  }

 private:
  std::deque<MetricFamily> families_;  // a deque: Family's references stay valid
};

// /proc/self/stat fields 14 and 15 (utime, stime, in clock ticks) and 24 (rss, in pages).
void AddProcess(Families& f) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    std::istringstream in(line.substr(line.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string w; in >> w;) fields.push_back(w);
    if (fields.size() > 21) {  // fields[k] is field k + 3
      const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      f.One("process_cpu_seconds_total", MetricType::Counter,
            "User and system CPU time the eddy process has used, in seconds.",
            (std::stod(fields[11]) + std::stod(fields[12])) / hz);
      f.One("process_resident_memory_bytes", MetricType::Gauge,
            "Resident memory of the eddy process, in bytes.", std::stod(fields[21]) * page);
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    double n = 0;
    while (readdir(d) != nullptr) ++n;
    closedir(d);
    f.One("process_open_fds", MetricType::Gauge, "Open file descriptors of the eddy process.",
          n - 3);  // ".", ".." and the directory's own descriptor
  }
}

void AddHttp(Families& f, const HttpMetrics& http, const std::vector<std::string>& routes) {
  using T = MetricType;
  MetricFamily& requests = f.Family(
      "eddy_http_request_duration_seconds", T::Histogram,
      "HTTP requests by route and status code: from the request's header read to its response "
      "handed to the socket (a 429 or 503 is counted under its code).");
  for (HttpMetrics::Series& s : http.Requests()) {
    requests.metric.push_back(
        Families::Histogram({{"route", routes[s.route]}, {"code", s.code}}, s.duration));
  }
  f.Counters("eddy_events_rejected_total",
             "Events rejected (the rest of their request was taken), by the field their error "
             "names (json: a syntax error).",
             "reason", http.Rejections());
  f.One("eddy_http_connections_refused_total", T::Counter,
        "Connections answered 503 and closed at server.max_connections.",
        static_cast<double>(http.refused()));
}

}  // namespace

std::string RenderMetrics(const StreamStatus& s, const HttpMetrics& http,
                          const std::vector<std::string>& route_labels) {
  Families f;
  using T = MetricType;
  AddHttp(f, http, route_labels);
  f.OneHistogram("eddy_ingest_visible_seconds",
                 "Ingest to visible: from an ingest publishing events to their shard having "
                 "applied them (readable); sampled, one event per partition at a time.",
                 s.freshness);
  f.Counters("eddy_alerts_raised_total", "Alerts raised since start, by kind.", "kind",
             s.alerts_raised);
  f.Counters("eddy_alerts_cleared_total", "Alerts cleared since start, by kind.", "kind",
             s.alerts_cleared);
  f.One("eddy_events_accepted_total", T::Counter,
        "Events accepted (acknowledged, duplicates included) since start.",
        static_cast<double>(s.accepted_total));
  f.Counters("eddy_events_accepted_by_type_total", "Events accepted since start, by event type.",
             "type", s.accepted_by_type);
  f.One("eddy_events_duplicate_total", T::Counter,
        "Accepted events whose eventId was seen before (not counted again).",
        static_cast<double>(s.duplicates_total));
  f.One("eddy_events_filtered_total", T::Counter,
        "Events of bots and fraud-flagged users kept out of trending, velocity, popularity "
        "and co-view (fraud.filter_bots).",
        static_cast<double>(s.filtered_total));
  f.One("eddy_experiment_records_dropped_total", T::Counter,
        "Answers served under an experiment (and reallocations) that could not be recorded "
        "(event log partition full, store failing): those answers are not attributed.",
        static_cast<double>(s.experiment_records_dropped));
  f.One("eddy_events_applied_rate", T::Gauge,
        "Events applied per second over the last 10 whole seconds.", s.events_per_second_10s);
  MetricFamily& lag = f.Family("eddy_partition_lag_events", T::Gauge,
                               "Events published to a partition but not yet applied.");
  MetricFamily& head = f.Family("eddy_partition_head_offset", T::Gauge,
                                "The next offset of a partition's log.");
  for (const PartitionStatus& p : s.partition) {
    const std::vector<ClientMetric::Label> l = {{"partition", std::to_string(p.partition)}};
    lag.metric.push_back(Families::Metric(l, T::Gauge, static_cast<double>(p.head - p.applied)));
    head.metric.push_back(Families::Metric(l, T::Gauge, static_cast<double>(p.head)));
  }
  MetricFamily& applied = f.Family("eddy_shard_applied_events_total", T::Counter,
                                   "Events a shard applied since start.");
  for (const ShardStatus& sh : s.shard) {
    applied.metric.push_back(Families::Metric({{"shard", std::to_string(sh.shard)}}, T::Counter,
                                              static_cast<double>(sh.applied_events)));
  }
  MetricFamily& keys = f.Family("eddy_state_keys", T::Gauge,
                                "Keys a state tracks (users, items, categories, ids...).");
  MetricFamily& bytes = f.Family("eddy_state_memory_bytes", T::Gauge,
                                 "Estimated heap bytes a state holds.");
  MetricFamily& evicted = f.Family("eddy_state_evicted_total", T::Counter,
                                   "Keys a state's cap forgot since start.");
  for (const AggregateMemory& m : s.memory) {
    const std::vector<ClientMetric::Label> l = {{"state", m.aggregate}};
    keys.metric.push_back(Families::Metric(l, T::Gauge, static_cast<double>(m.keys)));
    bytes.metric.push_back(Families::Metric(l, T::Gauge, static_cast<double>(m.bytes)));
    evicted.metric.push_back(Families::Metric(l, T::Counter, static_cast<double>(m.evicted)));
  }
  MetricFamily& ids = f.Family("eddy_interned_ids", T::Gauge, "Interned strings held, by kind.");
  for (const IdKindStatus& k : s.ids.kinds) {
    ids.metric.push_back(Families::Metric({{"kind", k.kind}}, T::Gauge, static_cast<double>(k.live)));
  }
  const StoreStatus& st = s.store;
  if (st.enabled) {
    f.One("eddy_store_failing", T::Gauge, "1 while the event store cannot write (ingest answers 503).",
          st.failing ? 1 : 0);
    f.One("eddy_store_persisted_events_total", T::Counter, "Events written to the event store.",
          static_cast<double>(st.persisted_events));
    f.One("eddy_store_commits_total", T::Counter, "Group commits written.",
          static_cast<double>(st.batches));
    f.One("eddy_store_written_bytes_total", T::Counter, "Bytes of events written to the store.",
          static_cast<double>(st.bytes));
    f.One("eddy_store_syncs_total", T::Counter, "Synced group commits (ack fsync).",
          static_cast<double>(st.syncs));
    f.One("eddy_store_wal_bytes_total", T::Counter, "Bytes RocksDB wrote to its WAL.",
          static_cast<double>(st.wal_bytes));
    f.One("eddy_store_live_sst_bytes", T::Gauge, "Bytes of live SST files.",
          static_cast<double>(st.live_sst_bytes));
    f.One("eddy_store_memtable_bytes", T::Gauge, "Bytes in RocksDB memtables.",
          static_cast<double>(st.memtable_bytes));
    f.One("eddy_store_pending_compaction_bytes", T::Gauge,
          "Bytes RocksDB estimates compaction still has to rewrite.",
          static_cast<double>(st.pending_compaction_bytes));
    f.OneHistogram("eddy_store_commit_duration_seconds",
                   "Group commits: the RocksDB write (and sync, with ack fsync) of one batch.",
                   st.commit_latency);
    f.One("eddy_store_stall_seconds_total", T::Counter, "Time RocksDB stalled writes, in seconds.",
          static_cast<double>(st.stall_micros) / 1e6);
    f.One("eddy_checkpoints_total", T::Counter, "Checkpoints written since start.",
          static_cast<double>(st.checkpoints_taken));
    f.One("eddy_checkpoint_failures_total", T::Counter, "Checkpoints that failed since start.",
          static_cast<double>(st.checkpoint_failures));
    f.One("eddy_checkpoint_last_duration_seconds", T::Gauge,
          "Time the last checkpoint took to take and write.", st.last_checkpoint_ms / 1e3);
    f.One("eddy_checkpoint_last_size_bytes", T::Gauge, "Size of the last checkpoint file.",
          static_cast<double>(st.last_checkpoint_bytes));
  }
  AddProcess(f);
  return prometheus::TextSerializer().Serialize(f.Take());
}

}  // namespace eddy
