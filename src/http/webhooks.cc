#include "http/webhooks.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "http/json_writer.h"
#include "http/params.h"
#include "util/file.h"

namespace eddy {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
namespace fs = std::filesystem;

namespace {

std::string KeyOf(const Alert& a) { return a.id + (a.active ? "/raised" : "/cleared"); }

std::string AlertJson(const Alert& a) {
  JsonWriter w;
  WriteAlert(w, a);
  return w.Take();
}

std::string RecordLine(uint64_t seq, const std::string& key, const std::string& json) {
  JsonWriter w;
  w.BeginObject().Key("seq").Uint(seq).Key("key").String(key).Key("alert");
  std::string line = w.Take();
  line += json;
  line += "}\n";
  return line;
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(Engine& engine, const Options& options)
    : engine_(engine),
      options_(options.webhooks),
      keep_(2 * options.alerts.max_kept + 16),
      dir_(options.durability.data_dir.empty() ? "" : options.durability.data_dir + "/webhooks") {
  for (const std::string& url : options_.urls) {
    Target t;
    t.url = url;
    std::string_view rest = std::string_view(url).substr(7);  // after "http://"
    const size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
      t.host = std::string(authority.substr(0, colon));
      t.port = std::string(authority.substr(colon + 1));
    } else {
      t.host = std::string(authority);
      t.port = "80";
    }
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
      t.host = t.host.substr(1, t.host.size() - 2);  // an IPv6 literal
    }
    targets_.push_back(std::move(t));
  }
}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

Status WebhookDispatcher::Load() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IoError("webhooks: cannot create " + dir_ + ": " + ec.message());
  simdjson::dom::parser parser;
  const std::string outbox = dir_ + "/outbox.ndjson";
  bool torn = false;
  if (std::ifstream in(outbox, std::ios::binary); in) {
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    torn = !all.empty() && all.back() != '\n';
    std::istringstream lines(all);
    for (std::string line; std::getline(lines, line);) {
      simdjson::dom::element e;
      uint64_t seq = 0;
      std::string_view key;
      simdjson::dom::element alert;
      if (parser.parse(line).get(e) || e["seq"].get(seq) || e["key"].get(key) ||
          e["alert"].get(alert) || seq < next_seq_) {
        torn = true;  // a torn line (a crash or a full disk mid-append): re-synced below
        continue;
      }
      Record r{seq, std::string(key), simdjson::minify(alert)};
      known_.insert(r.key);
      next_seq_ = seq + 1;
      records_.push_back(std::move(r));
    }
  }
  const std::string cursors = dir_ + "/cursors.json";
  if (std::ifstream in(cursors); in) {
    std::stringstream text;
    text << in.rdbuf();
    simdjson::dom::element e;
    simdjson::dom::object obj;
    if (!parser.parse(text.str()).get(e) && !e.get_object().get(obj)) {
      for (Target& t : targets_) {
        uint64_t c = 0;
        if (!obj[t.url].get(c)) t.cursor = c;
      }
    } else {
      spdlog::warn("webhooks: {} is unreadable; each URL gets the kept outbox again", cursors);
      for (Target& t : targets_) t.cursor = 0;
    }
  }
  // A cursor past the outbox's end (its tail was lost with power): number on after it, or
  // new alerts would be taken as delivered.
  for (const Target& t : targets_) {
    if (t.cursor != Target::kNew) next_seq_ = std::max(next_seq_, t.cursor + 1);
  }
  if (torn) {
    std::string text;
    for (const Record& r : records_) text += RecordLine(r.seq, r.key, r.json);
    if (Status st = WriteFileDurably(outbox, {text}); !st.ok()) {
      return Status::IoError("webhooks: cannot rewrite " + outbox + ": " + std::string(st.message()));
    }
    spdlog::warn("webhooks: {} had a torn line; rewritten without it", outbox);
  }
  outbox_ = std::fopen(outbox.c_str(), "a");
  if (outbox_ == nullptr) return Status::IoError("webhooks: cannot append to " + outbox);
  return Status::Ok();
}

Status WebhookDispatcher::Start() {
  if (targets_.empty()) return Status::Ok();
  if (!dir_.empty()) {
    if (Status st = Load(); !st.ok()) return st;
  }
  // Live alerts from now on, only queued (on the shard thread); taken below, after the
  // re-sync, and then by the dispatcher thread.
  subscription_ = engine_.SubscribeAlerts([this](std::shared_ptr<const Alert> a) {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(a));
    cv_.notify_one();
  });
  // The kept alerts the outbox lacks (raised before a stop or crash), oldest first; then
  // what was raised meanwhile (Enqueue skips what the re-sync already took).
  AlertsRequest all;
  all.k = UINT32_MAX;
  AlertsAnswer kept = engine_.AlertsSync(all);
  const uint64_t before = next_seq_;
  for (auto it = kept.alerts.rbegin(); it != kept.alerts.rend(); ++it) {
    Alert raised = *it;
    raised.active = true;
    raised.cleared.reset();
    Enqueue(raised);
    if (!it->active) Enqueue(*it);
  }
  if (next_seq_ != before) {
    spdlog::info("webhooks: {} alert changes not yet in the outbox appended", next_seq_ - before);
  }
  std::vector<std::shared_ptr<const Alert>> meanwhile;
  {
    std::lock_guard lock(mu_);
    meanwhile.swap(pending_);
  }
  for (const auto& a : meanwhile) Enqueue(*a);
  Flush();
  // A URL new to the cursors: the alerts from now on.
  for (Target& t : targets_) {
    if (t.cursor == Target::kNew) t.cursor = next_seq_ - 1;
  }
  SaveCursors();
  thread_ = std::thread([this] { Run(); });
  spdlog::info("webhooks: delivering alerts to {} URL(s)", targets_.size());
  return Status::Ok();
}

void WebhookDispatcher::Stop() {
  if (subscription_ != 0) {
    engine_.UnsubscribeAlerts(subscription_);
    subscription_ = 0;
  }
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stopping_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (outbox_ != nullptr) {
    std::fclose(outbox_);
    outbox_ = nullptr;
  }
}

void WebhookDispatcher::Enqueue(const Alert& alert) {
  std::string key = KeyOf(alert);
  if (known_.contains(key)) return;
  Record r{next_seq_++, std::move(key), AlertJson(alert)};
  if (outbox_ != nullptr) {
    const std::string line = RecordLine(r.seq, r.key, r.json);
    if (std::fwrite(line.data(), 1, line.size(), outbox_) != line.size()) {
      spdlog::warn("webhooks: cannot append to {}/outbox.ndjson (the alert is still delivered; "
                   "a restart re-syncs it)", dir_);
    }
    unflushed_ = true;
  }
  known_.insert(r.key);
  records_.push_back(std::move(r));
}

// Makes a batch of appends durable before any of them is delivered.
void WebhookDispatcher::Flush() {
  if (!unflushed_ || outbox_ == nullptr) return;
  unflushed_ = false;
  if (std::fflush(outbox_) != 0 || ::fdatasync(::fileno(outbox_)) != 0) {
    spdlog::warn("webhooks: cannot sync {}/outbox.ndjson", dir_);
  }
}

void WebhookDispatcher::SaveCursors() {
  if (dir_.empty()) return;
  JsonWriter w;
  w.BeginObject();
  for (const Target& t : targets_) w.Key(t.url).Uint(t.cursor);
  w.EndObject();
  if (Status st = WriteFileDurably(dir_ + "/cursors.json", {w.Take()}); !st.ok()) {
    spdlog::warn("webhooks: {}; a restart may repeat deliveries", st.message());
  }
}

// Drops the records every URL received, down to keep_ (their keys still dedupe the
// re-sync), and rewrites the outbox file.
void WebhookDispatcher::Compact() {
  if (records_.size() < 2 * keep_) return;
  uint64_t low = UINT64_MAX;
  for (const Target& t : targets_) low = std::min(low, t.cursor);
  size_t drop = 0;
  while (records_.size() - drop > keep_ && records_[drop].seq <= low) ++drop;
  if (drop == 0) return;
  for (size_t i = 0; i < drop; ++i) known_.erase(records_[i].key);
  records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(drop));
  if (outbox_ == nullptr) return;
  std::string text;
  for (const Record& r : records_) text += RecordLine(r.seq, r.key, r.json);
  std::fclose(outbox_);
  const std::string path = dir_ + "/outbox.ndjson";
  if (Status st = WriteFileDurably(path, {text}); !st.ok()) spdlog::warn("webhooks: {}", st.message());
  outbox_ = std::fopen(path.c_str(), "a");
}

void WebhookDispatcher::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<std::shared_ptr<const Alert>> fresh;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      fresh.swap(pending_);
    }
    for (const auto& a : fresh) Enqueue(*a);
    fresh.clear();
    Flush();
    // The next record some URL is due to receive now.
    const auto now = Clock::now();
    Target* due = nullptr;
    auto wake = Clock::time_point::max();
    for (Target& t : targets_) {
      if (records_.empty() || t.cursor >= records_.back().seq) continue;
      if (t.backoff_ms != 0 && t.retry_at > now) {
        wake = std::min(wake, t.retry_at);
        continue;
      }
      due = &t;
      break;
    }
    if (due == nullptr) {
      Compact();
      std::unique_lock lock(mu_);
      const auto ready = [this] { return stop_ || !pending_.empty(); };
      if (wake == Clock::time_point::max()) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_until(lock, wake, ready);
      }
      continue;
    }
    // The first record after its cursor (numbers may have gaps after a torn outbox).
    const auto next = std::upper_bound(records_.begin(), records_.end(), due->cursor,
                                       [](uint64_t c, const Record& r) { return c < r.seq; });
    const Record& r = *next;
    std::string why;
    if (Post(*due, r, &why)) {
      due->cursor = r.seq;
      if (due->backoff_ms != 0) spdlog::info("webhooks: {} accepts deliveries again", due->url);
      due->backoff_ms = 0;
      delivered_.fetch_add(1, std::memory_order_relaxed);
      SaveCursors();
    } else if (!stopping_.load(std::memory_order_relaxed)) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      if (due->backoff_ms == 0) {
        spdlog::warn("webhooks: delivery {} to {} failed ({}); retrying with backoff", r.seq,
                     due->url, why);
      }
      due->backoff_ms = due->backoff_ms == 0 ? 100 : std::min(options_.max_backoff_ms, 2 * due->backoff_ms);
      due->retry_at = Clock::now() + std::chrono::milliseconds(due->backoff_ms);
    }
  }
}

// One POST, with a deadline on the whole exchange; true on a 2xx answer.
bool WebhookDispatcher::Post(const Target& t, const Record& r, std::string* why) const {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, t.path, 11};
  req.set(bhttp::field::host, t.host + ":" + t.port);
  req.set(bhttp::field::user_agent, "eddy-webhooks");
  req.set(bhttp::field::content_type, "application/json");
  req.set("X-Eddy-Delivery", std::to_string(r.seq));
  req.set("X-Eddy-Alert-Key", r.key);
  req.keep_alive(false);
  req.body() = r.json;
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code result;
  stream.expires_after(std::chrono::milliseconds(options_.timeout_ms));
  resolver.async_resolve(t.host, t.port, [&](beast::error_code ec, tcp::resolver::results_type eps) {
    if (ec) return void(result = ec);
    stream.async_connect(eps, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return void(result = ec);
      bhttp::async_write(stream, req, [&](beast::error_code ec, size_t) {
        if (ec) return void(result = ec);
        bhttp::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) { result = ec; });
      });
    });
  });
  // In slices, so that Stop does not wait out a slow receiver's timeout; the deadline
  // covers the name lookup too.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  while (!ioc.stopped()) {
    ioc.run_for(std::chrono::milliseconds(50));
    if (stopping_.load(std::memory_order_relaxed)) {
      *why = "eddy is stopping";
      return false;
    }
    if (!ioc.stopped() && std::chrono::steady_clock::now() > deadline) {
      *why = "no answer within webhooks.timeout_ms";
      return false;
    }
  }
  if (result) {
    *why = result.message();
    return false;
  }
  if (res.result_int() / 100 != 2) {
    *why = "HTTP " + std::to_string(res.result_int());
    return false;
  }
  return true;
}

}  // namespace eddy
