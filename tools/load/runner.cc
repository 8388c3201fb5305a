#include "load/runner.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace eddy::load {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

void OpStats::Add(const OpStats& o) {
  latency_ns.Add(o.latency_ns);
  requests += o.requests;
  events += o.events;
  accepted += o.accepted;
  errors += o.errors;
  for (auto [k, v] : o.status) status[k] += v;
}

namespace {

struct Job {
  std::string target;
  std::string body;
  int events = 0;
  Clock::time_point due;  // time_point::min(): closed loop
};

uint64_t AcceptedOf(const std::string& body) {
  size_t k = body.find("\"accepted\":");
  if (k == std::string::npos) return 0;
  uint64_t v = 0;
  std::from_chars(body.data() + k + 11, body.data() + body.size(), v);
  return v;
}

class Runner {
 public:
  Runner(const RunOptions& o, RequestSource& src, std::function<std::string()> read_target)
      : o_(o), src_(src), read_target_(std::move(read_target)), ioc_(o.threads) {}

  RunResult Run();

  // Takes the next job of a kind; false when the run is over for that kind.
  bool Take(bool read, Job* job) {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Clock::now();
    if (now >= end_) return false;
    if (read) {
      job->due = start_ + std::chrono::nanoseconds(
                              static_cast<int64_t>(1e9 * static_cast<double>(reads_taken_++) /
                                                   o_.reads_per_s));
      if (job->due >= end_) return false;
      job->target = read_target_();
      job->body.clear();
      job->events = 0;
      return true;
    }
    double due_s = -1;
    if (!src_.Next(&job->body, &job->events, &due_s)) return false;
    job->target = "/v1/events";
    if (due_s < 0) {
      job->due = Clock::time_point::min();
    } else {
      job->due = start_ + std::chrono::nanoseconds(static_cast<int64_t>(due_s * 1e9));
      if (job->due >= end_) return false;
    }
    return true;
  }

  void Record(bool read, const Job& job, Clock::time_point sent, int status,
              const std::string& body) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point from = job.due == Clock::time_point::min() ? sent : job.due;
    std::lock_guard<std::mutex> lock(mu_);
    OpStats& s = read ? result_.read : result_.ingest;
    s.latency_ns.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - from).count()));
    ++s.requests;
    ++s.status[status];
    if (status == 200) {
      s.events += static_cast<uint64_t>(job.events);
      if (!read) s.accepted += AcceptedOf(body);
    } else {
      ++s.errors;
    }
  }

  void ConnectionDone() {
    if (--active_ == 0) net::post(strand_, [this] { progress_.cancel(); });
  }

  // Reads run on their own io_context and thread, so a client thread busy building ingest
  // batches does not delay them (their latency is the server's, not the client's queue).
  net::io_context& ioc(bool read = false) { return read ? read_ioc_ : ioc_; }
  const RunOptions& options() const { return o_; }
  const std::string& content_type() const { return content_type_; }

 private:
  void Tick();

  const RunOptions& o_;
  RequestSource& src_;
  std::function<std::string()> read_target_;
  net::io_context ioc_;
  net::io_context read_ioc_{1};
  net::strand<net::io_context::executor_type> strand_{ioc_.get_executor()};
  net::steady_timer progress_{strand_};
  std::mutex mu_;
  RunResult result_;
  Clock::time_point start_, end_;
  uint64_t reads_taken_ = 0;
  std::atomic<int> active_{0};
  std::string content_type_;
  uint64_t last_events_ = 0, last_errors_ = 0;
  int ticks_ = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Runner& r, bool read)
      : r_(r), read_(read), socket_(r.ioc(read)), timer_(r.ioc(read)) {}
  bool read() const { return read_; }

  void Start() { Next(); }

 private:
  void Next() {
    if (!r_.Take(read_, &job_)) return r_.ConnectionDone();
    const Clock::time_point now = Clock::now();
    if (job_.due != Clock::time_point::min() && job_.due > now) {
      timer_.expires_at(job_.due);
      return timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Send(); });
    }
    Send();
  }

  void Send() {
    if (!socket_.is_open()) {
      beast::error_code ec;
      socket_.connect(tcp::endpoint(net::ip::make_address(r_.options().host, ec),
                                    r_.options().port),
                      ec);
      if (ec) {
        socket_.close();
        return Done(0, ec.message());
      }
      socket_.set_option(tcp::no_delay(true), ec);
      buffer_.clear();
    }
    req_ = {};
    req_.version(11);
    req_.target(job_.target);
    req_.set(http::field::host, r_.options().host);
    for (const auto& [name, value] : r_.options().headers) req_.set(name, value);
    if (read_) {
      req_.method(http::verb::get);
    } else {
      req_.method(http::verb::post);
      req_.set(http::field::content_type, r_.content_type());
      req_.body() = std::move(job_.body);
    }
    req_.prepare_payload();
    sent_ = Clock::now();
    http::async_write(socket_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec);
      self->parser_.emplace();
      self->parser_->body_limit(64 << 20);
      http::async_read(self->socket_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, size_t) {
                         if (ec) return self->Fail(ec);
                         auto& res = self->parser_->get();
                         if (!res.keep_alive()) self->socket_.close();
                         self->Done(static_cast<int>(res.result_int()), res.body());
                       });
    });
  }

  void Fail(beast::error_code ec) {
    beast::error_code ignored;
    socket_.close(ignored);
    Done(0, ec.message());
  }

  void Done(int status, const std::string& body) {
    r_.Record(read_, job_, sent_, status, body);
    Next();
  }

  Runner& r_;
  const bool read_;
  tcp::socket socket_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Job job_;
  Clock::time_point sent_;
};

void Runner::Tick() {
  progress_.expires_after(std::chrono::seconds(1));
  progress_.async_wait([this](beast::error_code ec) {
    // A cancel can miss a wait that already expired: the run is also over when no
    // connection is left.
    if (ec || active_.load() == 0) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++ticks_;
      const OpStats& s = result_.ingest;
      std::fprintf(stderr, "[%3ds] events/s %10llu  requests %10llu  errors %6llu  p99 %8.3f ms",
                   ticks_, static_cast<unsigned long long>(s.events - last_events_),
                   static_cast<unsigned long long>(s.requests),
                   static_cast<unsigned long long>(s.errors - last_errors_),
                   static_cast<double>(s.latency_ns.Percentile(99)) / 1e6);
      if (result_.read.requests != 0) {
        std::fprintf(stderr, "  reads %8llu  read p99 %8.3f ms",
                     static_cast<unsigned long long>(result_.read.requests),
                     static_cast<double>(result_.read.latency_ns.Percentile(99)) / 1e6);
      }
      std::fprintf(stderr, "\n");
      last_events_ = s.events;
      last_errors_ = s.errors;
    }
    Tick();
  });
}

RunResult Runner::Run() {
  content_type_ = src_.content_type();
  start_ = Clock::now();
  end_ = start_ + std::chrono::nanoseconds(static_cast<int64_t>(o_.duration_s * 1e9));
  std::vector<std::shared_ptr<Connection>> conns;
  for (int i = 0; i < o_.connections; ++i) conns.push_back(std::make_shared<Connection>(*this, false));
  if (o_.reads_per_s > 0 && read_target_) {
    for (int i = 0; i < o_.read_connections; ++i) {
      conns.push_back(std::make_shared<Connection>(*this, true));
    }
  }
  active_ = static_cast<int>(conns.size());
  for (auto& c : conns) net::post(c->read() ? read_ioc_ : ioc_, [c] { c->Start(); });
  conns.clear();
  if (o_.progress) Tick();
  std::vector<std::thread> extra;
  for (int t = 1; t < o_.threads; ++t) extra.emplace_back([this] { ioc_.run(); });
  extra.emplace_back([this] { read_ioc_.run(); });  // returns at once without reads
  ioc_.run();
  for (auto& t : extra) t.join();
  result_.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
  return result_;
}

}  // namespace

RunResult Run(const RunOptions& options, RequestSource& source,
              std::function<std::string()> read_target) {
  Runner r(options, source, std::move(read_target));
  return r.Run();
}

}  // namespace eddy::load
