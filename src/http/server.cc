#include "http/server.h"

#include <pthread.h>

#include <boost/asio.hpp>
#include "absl/container/flat_hash_set.h"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "http/access.h"
#include "http/dashboard.h"
#include "http/json_writer.h"
#include "http/params.h"
#include "http/cluster_routes.h"
#include "http/router.h"
#include "util/mutex.h"

namespace eddy {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
// A socket bound to one io_context: cheaper to copy and call than any_io_executor.
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

class Session;

// An io_context as the event loop a shard thread hosts (server.io_threads = 0). The shard
// gives Poll a budget as long as its slices of applying, so the two take turns of about
// the same length when both have work: a burst of requests cannot starve the apply (which
// would fill the log and shed the requests that follow).
class AsioLoop final : public EventLoop {
 public:
  explicit AsioLoop(net::io_context& ioc) : ioc_(ioc) {}
  size_t Poll(int64_t budget_us) override {
    const auto until = Clock::now() + std::chrono::microseconds(budget_us);
    size_t ran = 0;
    while (ioc_.poll_one() != 0) {
      if (++ran >= kMaxPerPoll || Clock::now() >= until) break;
    }
    return ran;
  }
  void Wait(int64_t timeout_us) override { ioc_.run_one_for(std::chrono::microseconds(timeout_us)); }
  // A handler, not only a wake-up of the reactor: run_one_for returns once one has run.
  void Interrupt() override { net::post(ioc_, [] {}); }

 private:
  static constexpr size_t kMaxPerPoll = 64;
  net::io_context& ioc_;
};

// One I/O thread: its io_context, its decoding state, and its connections' deadlines.
// Timeouts are enforced by a sweep every kSweep instead of a timer per read and write
// (beast::tcp_stream's), which profiling showed on the per-request path; deadlines are
// therefore precise to kSweep.
struct Worker {
  static constexpr auto kSweep = std::chrono::milliseconds(100);
  // Declared before ioc so they outlive it: destroying an io_context destroys the
  // handlers it still holds, and with them the last references to some sessions.
  absl::flat_hash_set<Session*> sessions;  // this thread only (or after it is joined)
  Clock::time_point now = Clock::now();    // refreshed by each sweep; this thread only
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
  std::unique_ptr<IngestContext> ingest;
  std::thread thread;                // its own thread, when it is not hosted
  std::unique_ptr<AsioLoop> hosted;  // set while a shard thread runs ioc (Engine::HostLoop)
  bool running = false;              // ioc is run (on either); read and set by the main thread
  net::steady_timer sweep{ioc};
  int index = 0;  // this thread's slot in the HTTP metrics
  std::shared_ptr<Policy> policy;  // replaced on this thread by a reload

  void StartSweep();
};

struct Shared {
  Router router;
  Engine& engine;
  const ServerOptions& options;
  DashboardFeed dashboard{engine};  // GET /v1/dashboard/stream's snapshots
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> active{0};  // requests read and not yet answered
  std::atomic<int> connections{0};  // sessions open (not counting refused ones)
  Shared(Engine& e, const ServerOptions& o, int io_threads) : router(e, o, io_threads), engine(e), options(o) {}

  // The alert streams' subscriptions. Join ends them all before the I/O threads stop, so
  // no shard thread posts to an io_context being destroyed; a session ending first ends
  // its own.
  Mutex streams_mu;
  absl::flat_hash_set<uint64_t> streams ABSL_GUARDED_BY(streams_mu);
  bool streams_closed ABSL_GUARDED_BY(streams_mu) = false;

  uint64_t Subscribe(AlertListener listener) {
    MutexLock lock(&streams_mu);
    if (streams_closed) return 0;
    const uint64_t handle = engine.SubscribeAlerts(std::move(listener));
    streams.insert(handle);
    return handle;
  }
  void Unsubscribe(uint64_t handle) {
    MutexLock lock(&streams_mu);
    if (streams.erase(handle) != 0) engine.UnsubscribeAlerts(handle);
  }
  void CloseStreams() {
    MutexLock lock(&streams_mu);
    streams_closed = true;
    for (uint64_t h : streams) engine.UnsubscribeAlerts(h);
    streams.clear();
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, Worker& worker, Shared& shared)
      : stream_(std::move(socket)), worker_(worker), shared_(shared) {
    worker_.sessions.insert(this);
  }
  ~Session() {
    if (alert_stream_ != 0) shared_.Unsubscribe(alert_stream_);
    if (dashboard_stream_ != 0) shared_.dashboard.Unsubscribe(dashboard_stream_);
    worker_.sessions.erase(this);
    if (admitted_) shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // Past server.max_connections the connection is answered 503 and closed: a flood of
  // clients costs a short write each, not a session's buffers and a file descriptor for
  // as long as they like.
  void Start() {
    const int open = shared_.connections.fetch_add(1, std::memory_order_relaxed);
    if (open >= shared_.options.max_connections) {
      shared_.connections.fetch_sub(1, std::memory_order_relaxed);
      refused_ = true;  // closed as soon as the 503 is written, without lingering
      shared_.router.metrics().CountRefused();
      return Reply(ErrorResponse(http::status::service_unavailable, 11,
                                 "too many connections (server.max_connections = " +
                                     std::to_string(shared_.options.max_connections) + ")"),
                   false);
    }
    admitted_ = true;
    ReadHeader();
  }

  // Called by the sweep: closes the connection when its current read or write is late,
  // and answers 503 to a read whose answer is later than server.read_deadline_ms.
  void CheckDeadline(Clock::time_point now) {
    // An idle alert stream gets a comment line now and then: proxies and clients see it
    // alive, and a vanished client is noticed by the failing write.
    if (streaming_ && !writing_ && now - last_write_ >= kStreamKeepAlive) StreamSend(": keep-alive\n\n");
    // A stream is authorised when it opens: it ends when its JWT expires or a reload
    // swaps the policy (the client reconnects and is judged again).
    if (streaming_ && policy_ && policy_->auth &&
        (policy_ != worker_.policy || std::time(nullptr) > credential_expires_s_)) {
      streaming_ = false;
      return Close({});
    }
    // (Unless the engine claimed the answer first: it is on its way, and recorded.)
    if (awaiting_ && now >= answer_deadline_ && (!claim_ || claim_->GiveUp())) return AnswerLate();
    if (now < deadline_) return;
    deadline_ = Clock::time_point::max();
    beast::error_code ignored;
    stream_.close(ignored);  // pending operations complete with operation_aborted
  }

 private:
  void expires_after(std::chrono::milliseconds d) { deadline_ = worker_.now + d; }

  // The read awaited was given up on: 503 (the late answer, when it comes, is dropped).
  void AnswerLate() {
    awaiting_ = false;
    claim_.reset();
    Reply(ErrorResponse(http::status::service_unavailable, answer_version_,
                        "no answer within server.read_deadline_ms = " +
                            std::to_string(shared_.options.read_deadline_ms) +
                            " ms (the shards are busy); retry later"),
          answer_keep_alive_);
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(shared_.options.body_limit_bytes);
    parser_->header_limit(64 * 1024);
    // Reuse the previous request's body buffer: no allocation per request once warm.
    body_.clear();
    parser_->get().body() = std::move(body_);
    expires_after(std::chrono::milliseconds(shared_.options.read_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    // Beast judges Content-Length against the body limit while parsing the header.
    if (ec == http::error::body_limit) return Reply(TooLarge(parser_->get().version()), false);
    if (ec) return Close(ec);
    Request& req = parser_->get();
    const unsigned v = req.version();
    timed_ = shared_.options.metrics;
    if (timed_) started_ = Clock::now();
    match_ = Router::Match(req.method(), std::string_view(req.target().data(), req.target().size()));
    // Counted from here until its response is written (or the connection fails), and
    // before the draining check (both seq_cst), so BeginShutdown either waits for this
    // request or this request sees that it must answer 503.
    shared_.active.fetch_add(1, std::memory_order_seq_cst);
    counted_ = true;
    if (shared_.draining.load(std::memory_order_seq_cst)) {
      return Reply(ErrorResponse(http::status::service_unavailable, v, "eddy is shutting down"),
                   false);
    }
    if (!Admit(req)) return;
    if (auto len = parser_->content_length(); len && *len > shared_.options.body_limit_bytes) {
      return Reply(TooLarge(v), false);
    } else if (len && buffer_.capacity() < std::min<uint64_t>(*len, kReadBufferBytes)) {
      // Beast reads at most the buffer's free capacity per recv (at least 512 bytes), and
      // the buffer does not grow by itself once it holds nothing: without this a 35 KB
      // NDJSON body took ~70 recv calls. Grown to the body, up to 64 KiB, and kept for the
      // connection's next requests.
      buffer_.reserve(static_cast<size_t>(std::min<uint64_t>(*len, kReadBufferBytes)));
    }
    std::string_view target(req.target().data(), req.target().size());
    if (req.method() == http::verb::post && IsIngestRoute(target)) {
      auto ct = req[http::field::content_type];
      if (!BodyFormatFor(std::string_view(ct.data(), ct.size()))) {
        // Judged before reading the body; the connection closes so the unread body
        // cannot be mistaken for the next request.
        return shared_.router.Handle(req, *worker_.ingest, [this, self = shared_from_this()](
                                                                Response res) {
          Reply(std::move(res), false);
        });
      }
    }
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, v);
      expires_after(std::chrono::milliseconds(shared_.options.write_timeout_ms));
      return http::async_write(stream_, *cont,
                               [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                                 if (ec) return self->Close(ec);
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  // Auth, CORS and rate limits, judged from the header alone: false when the request was
  // answered here (its body, if any, is not read and the connection closes).
  bool Admit(Request& req) {
    const unsigned v = req.version();
    policy_ = worker_.policy;
    who_.clear();
    credential_expires_s_ = INT64_MAX;
    cors_origin_ = {};
    const bool has_body = parser_->content_length().value_or(0) > 0 || req.chunked();
    if (!policy_->cors_origins.empty()) {
      auto origin = req[http::field::origin];
      cors_origin_ = policy_->AllowedOrigin(std::string_view(origin.data(), origin.size()));
      if (req.method() == http::verb::options) return Preflight(req, has_body), false;
    }
    if (policy_->auth && match_.scope != Scope::kOpen) {
      Principal p;
      std::string why;
      if (!policy_->authenticator.Authenticate(Credential(req), std::time(nullptr), &p, &why)) {
        Response res = ErrorResponse(http::status::unauthorized, v, why);
        res.set(http::field::www_authenticate, "Bearer realm=\"eddy\"");
        Reply(std::move(res), !has_body);
        return false;
      }
      who_ = std::move(p.id);
      credential_expires_s_ = p.expires_s;
      if ((p.scopes & static_cast<uint8_t>(match_.scope)) == 0) {
        Reply(ErrorResponse(http::status::forbidden, v,
                            "credential '" + who_ + "' lacks the " +
                                std::string(ScopeName(match_.scope)) + " scope this route needs"),
              !has_body);
        return false;
      }
    }
    RateLimiter& limiter = shared_.router.limiter();
    const RateLimiter::Kind kind = match_.scope == Scope::kIngest ? RateLimiter::kIngest
                                                                  : RateLimiter::kRead;
    if ((match_.scope == Scope::kIngest || match_.read) && limiter.enabled(kind)) {
      if (who_.empty()) who_ = ClientIp();
      if (int wait = limiter.Admit(who_, kind, SteadyNanos()); wait > 0) {
        Response res = ErrorResponse(
            http::status::too_many_requests, v,
            std::string("rate limit: ") +
                (kind == RateLimiter::kIngest ? "limits.ingest_events_per_second"
                                              : "limits.reads_per_second") +
                " spent for '" + who_ + "'; retry in " + std::to_string(wait) + " s");
        res.set(http::field::retry_after, std::to_string(wait));
        Reply(std::move(res), !has_body);
        return false;
      }
    }
    return true;
  }

  // The request's credential: Authorization: Bearer, X-API-Key, or ?access_token= on a GET.
  static std::string_view Credential(const Request& req) {
    auto auth = req[http::field::authorization];
    std::string_view a(auth.data(), auth.size());
    if (a.size() > 7 && beast::iequals(a.substr(0, 7), "Bearer ")) {
      a.remove_prefix(7);
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      return a;
    }
    auto key = req["X-API-Key"];
    if (!key.empty()) return std::string_view(key.data(), key.size());
    if (req.method() == http::verb::get) {
      std::string_view target(req.target().data(), req.target().size());
      const size_t q = target.find('?');
      if (q != std::string_view::npos) {
        std::string_view query = target.substr(q + 1);
        if (std::optional<std::string_view> t = QueryParam(query, "access_token")) return *t;
      }
    }
    return {};
  }

  // A CORS preflight (OPTIONS with an Origin): 204 with what the origin may do, or 403.
  void Preflight(const Request& req, bool has_body) {
    const unsigned v = req.version();
    if (cors_origin_.empty()) {
      return Reply(ErrorResponse(http::status::forbidden, v,
                                 "origin not allowed (server.cors_origins)"),
                   !has_body);
    }
    Response res{http::status::no_content, v};
    res.set(http::field::server, "eddy");
    res.set(http::field::access_control_allow_methods, "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, X-API-Key");
    res.set(http::field::access_control_max_age, "600");
    Reply(std::move(res), !has_body);
  }

  const std::string& ClientIp() {
    if (client_ip_.empty()) {
      beast::error_code ec;
      auto ep = stream_.remote_endpoint(ec);
      client_ip_ = ec ? "unknown" : ep.address().to_string();
    }
    return client_ip_;
  }

  void ReadBody() {
    expires_after(std::chrono::milliseconds(shared_.options.read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  Response TooLarge(unsigned v) {
    return ErrorResponse(http::status::payload_too_large, v, "request body too large",
                         "{\"limit_bytes\":" +
                             std::to_string(shared_.options.body_limit_bytes) + "}");
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) return Reply(TooLarge(parser_->get().version()), false);
    if (ec) return Close(ec);
    Request& req = parser_->get();
    const bool keep_alive = req.keep_alive();
    // One request at a time per connection: the answer is awaited until it comes or, for
    // a read, until the deadline (the sweep answers 503 then).
    awaiting_ = true;
    answer_keep_alive_ = keep_alive;
    answer_version_ = req.version();
    // A read's answer is claimed before it is sent (and before a side effect of it, such as
    // a recommendation recorded under an experiment): past the deadline the claim gives up,
    // and the client gets 503 and nothing is recorded (AnswerClaim). The sweep gives up at
    // the same deadline (from the clock now: the sweep's cached time may be 100 ms old).
    if (match_.read) {
      answer_deadline_ = Clock::now() + std::chrono::milliseconds(shared_.options.read_deadline_ms);
      claim_ = std::make_shared<AnswerClaim>(answer_deadline_);
    } else {
      answer_deadline_ = Clock::time_point::max();
      claim_.reset();
    }
    // Nothing is read or written while the engine works on the answer: the socket's
    // timeout does not apply (a read has its own deadline; ingest waits for durability).
    deadline_ = Clock::time_point::max();
    if (const Router::Stream stream = Router::StreamOf(req); stream != Router::Stream::kNone) {
      return StartStream(req.version(), stream == Router::Stream::kDashboard);
    }
    const uint64_t seq = ++request_seq_;
    // The router may answer from a shard thread: hop back to this connection's thread
    // (dispatch runs inline when the answer is already on it). The callback hands its
    // reference over to the hop instead of copying it: the callback object is destroyed
    // on the answering thread, and the last reference must not drop there (~Session
    // updates the I/O thread's session set).
    // An ingest's accepted events are charged to the client's rate limit bucket.
    std::string_view charge_to = match_.scope == Scope::kIngest ? std::string_view(who_) : std::string_view();
    shared_.router.Handle(req, *worker_.ingest,
                          Respond(
                              [self = shared_from_this(), keep_alive, seq](Response res) mutable {
                                auto executor = self->stream_.get_executor();
                                net::dispatch(executor, [self = std::move(self), keep_alive, seq,
                                                         res = std::move(res)]() mutable {
                                  // Late (the deadline answered already): dropped.
                                  if (!self->awaiting_ || self->request_seq_ != seq) return;
                                  // Past the deadline, not yet swept: 503 now.
                                  if (self->claim_ && !self->claim_->Answer()) return self->AnswerLate();
                                  self->awaiting_ = false;
                                  self->claim_.reset();
                                  self->Reply(std::move(res), keep_alive);
                                });
                              },
                              claim_),
                          charge_to);
  }

  // GET /v1/alerts/stream: Server-Sent Events, one `event: alert` per alert raised or
  // cleared, until the client goes away or the server stops. Not a request in flight (the
  // drain does not wait for it). A client too slow to take its alerts (more than
  // kStreamBacklog bytes waiting) is disconnected; it reconnects and reads what it missed
  // from GET /v1/alerts?since=.
  void StartStream(unsigned version, bool dashboard) {
    awaiting_ = false;
    timed_ = false;  // a stream is not a request with a duration
    Uncount();
    streaming_ = true;
    if (parser_ && parser_->is_done()) body_ = std::move(parser_->get().body());
    std::weak_ptr<Session> weak = shared_from_this();
    auto executor = stream_.get_executor();
    if (dashboard) {
      // On the feed's thread: only hand the snapshot over.
      dashboard_stream_ = shared_.dashboard.Subscribe([weak, executor](std::shared_ptr<const std::string> text) {
        net::post(executor, [weak, text = std::move(text)] {
          if (auto self = weak.lock()) self->StreamSend(*text);
        });
      });
    } else {
      // On a shard thread: only hand the alert over; it is written on this connection's.
      alert_stream_ = shared_.Subscribe([weak, executor](std::shared_ptr<const Alert> a) {
        net::post(executor, [weak, a = std::move(a)] {
          auto self = weak.lock();
          if (!self) return;
          JsonWriter w;
          WriteAlert(w, *a);
          self->StreamSend("event: alert\nid: " + a->id + "\ndata: " + w.Take() + "\n\n");
        });
      });
    }
    std::string head = version == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
    head += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Connection: close\r\nX-Accel-Buffering: no\r\n";
    if (!cors_origin_.empty()) {
      head += "Access-Control-Allow-Origin: " + std::string(cors_origin_) + "\r\n";
    }
    head += dashboard ? "\r\n: eddy dashboard\nretry: 1000\n\n" : "\r\n: eddy alerts\nretry: 1000\n\n";
    if (alert_stream_ == 0 && dashboard_stream_ == 0) {
      streaming_ = false;  // the server is stopping
      return Reply(ErrorResponse(http::status::service_unavailable, version, "eddy is shutting down"),
                   false);
    }
    StreamSend(std::move(head));
    WatchStreamClose();
  }

  void StreamSend(std::string_view data) {
    if (!streaming_) return;
    if (stream_backlog_.size() + data.size() > kStreamBacklog) {
      spdlog::warn("http: an alert stream's client fell {} bytes behind; disconnecting it",
                   stream_backlog_.size());
      streaming_ = false;
      return Close({});
    }
    stream_backlog_.append(data);
    if (!writing_) FlushStream();
  }

  void FlushStream() {
    if (stream_backlog_.empty() || !streaming_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    out_.swap(stream_backlog_);
    stream_backlog_.clear();
    last_write_ = worker_.now;
    expires_after(std::chrono::milliseconds(shared_.options.write_timeout_ms));
    net::async_write(stream_, net::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->deadline_ = Clock::time_point::max();
      if (ec) {
        self->streaming_ = false;
        return self->Close(ec);
      }
      self->FlushStream();
    });
  }

  // Reads (and drops) what the client sends on a stream; its end or an error ends the stream.
  void WatchStreamClose() {
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardBytes);
    stream_.async_read_some(net::buffer(discard_.get(), kDiscardBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) return self->WatchStreamClose();
                              self->streaming_ = false;
                              self->Close(ec);
                            });
  }

  void Reply(Response res, bool keep_alive) {
    if (!cors_origin_.empty()) {
      res.set(http::field::access_control_allow_origin, cors_origin_);
      if (cors_origin_ != "*") res.set(http::field::vary, "Origin");
      cors_origin_ = {};
    }
    if (timed_) {
      timed_ = false;
      const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
      shared_.router.metrics().Observe(worker_.index, match_.label, res.result_int(), ns);
      if (policy_ && policy_->access_log) {
        policy_->access_log->Write({parser_ ? std::string_view(parser_->get().method_string())
                                            : std::string_view("-"),
                                    Router::RouteLabels()[match_.label], who_, ClientIp(),
                                    res.result_int(), static_cast<double>(ns) / 1e6,
                                    res.body().size()});
      }
    }
    if (!res.keep_alive()) keep_alive = false;
    res.keep_alive(keep_alive);
    Serialize(res);
    expires_after(std::chrono::milliseconds(shared_.options.write_timeout_ms));
    net::async_write(stream_, net::buffer(out_),
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(),
                                               keep_alive));
  }

  // Writes the response into one reused buffer: our responses are small and complete, and
  // one contiguous write costs a fraction of Beast's general serializer (profiled).
  void Serialize(const Response& res) {
    out_.clear();
    out_ += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    char code[4] = {static_cast<char>('0' + res.result_int() / 100),
                    static_cast<char>('0' + res.result_int() / 10 % 10),
                    static_cast<char>('0' + res.result_int() % 10), ' '};
    out_.append(code, 4);
    out_ += http::obsolete_reason(res.result());
    out_ += "\r\n";
    for (const auto& field : res) {
      out_ += field.name_string();
      out_ += ": ";
      out_ += field.value();
      out_ += "\r\n";
    }
    out_ += "\r\n";
    out_ += res.body();
  }

  void Uncount() {
    if (counted_) {
      counted_ = false;
      shared_.active.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
    Uncount();
    if (parser_ && parser_->is_done()) body_ = std::move(parser_->get().body());
    if (ec) return Close(ec);
    if (!keep_alive || shared_.draining.load(std::memory_order_acquire)) {
      beast::error_code ignored;
      stream_.shutdown(Socket::shutdown_send, ignored);
      // A refused connection lingers briefly: a flood of refusals holds few fds.
      return Linger(std::chrono::milliseconds(refused_ ? 200 : 2000));
    }
    ReadHeader();
  }

  // After the last response, read and drop what the client still sends (say, the body
  // of a request refused with 413) until it closes: closing a socket with unread input
  // makes the kernel send RST, which can destroy the response before the client reads it.
  void Linger(std::chrono::milliseconds how_long) {
    static constexpr size_t kMaxDrain = 64ull << 20;
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardBytes);
    expires_after(how_long);
    stream_.async_read_some(net::buffer(discard_.get(), kDiscardBytes),
                            [self = shared_from_this(), how_long](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrain) return self->Close({});
                              self->Linger(how_long);
                            });
  }

  void Close(beast::error_code ec) {
    Uncount();
    deadline_ = Clock::time_point::max();
    if (ec && ec != http::error::end_of_stream && ec != beast::error::timeout &&
        ec != net::error::operation_aborted && ec != net::error::connection_reset &&
        ec != net::error::eof) {
      spdlog::debug("http: connection closed: {}", ec.message());
    }
    beast::error_code ignored;
    stream_.shutdown(Socket::shutdown_both, ignored);
  }

  Socket stream_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Worker& worker_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string body_;
  std::string out_;  // the serialized response being written; reused
  bool counted_ = false;
  // The request being answered: its route and when its header was read (for the metrics),
  // the policy it is judged by, its credential's id, and the CORS origin it may be read by.
  RouteMatch match_;
  Clock::time_point started_{};
  bool timed_ = false;
  std::shared_ptr<Policy> policy_;
  std::string who_;
  std::string_view cors_origin_;  // into policy_'s cors_origins ("" = none)
  std::string client_ip_;         // the peer's address, once asked for
  int64_t credential_expires_s_ = INT64_MAX;  // its credential's end (a JWT's exp)
  bool admitted_ = false;  // counted in shared_.connections
  bool refused_ = false;   // past server.max_connections: answered 503 and closed
  // The request whose answer is awaited (one at a time per connection).
  bool awaiting_ = false;
  bool answer_keep_alive_ = false;
  unsigned answer_version_ = 11;
  uint64_t request_seq_ = 0;
  Clock::time_point answer_deadline_ = Clock::time_point::max();
  std::shared_ptr<AnswerClaim> claim_;  // the awaited read's (null for other requests)
  static constexpr size_t kDiscardBytes = 16 * 1024;
  static constexpr uint64_t kReadBufferBytes = 64 * 1024;
  std::unique_ptr<char[]> discard_;  // allocated only for a lingering close or a stream
  size_t drained_ = 0;
  // An alert stream (StartStream).
  static constexpr size_t kStreamBacklog = 4 << 20;
  static constexpr auto kStreamKeepAlive = std::chrono::seconds(15);
  bool streaming_ = false;
  bool writing_ = false;
  uint64_t alert_stream_ = 0;   // its subscription (0: none)
  uint64_t dashboard_stream_ = 0;
  std::string stream_backlog_;  // events not yet handed to the socket
  Clock::time_point last_write_{};
};

void Worker::StartSweep() {
  sweep.expires_after(kSweep);
  sweep.async_wait([this](beast::error_code ec) {
    if (ec) return;
    now = Clock::now();
    // Closing a socket only queues its handlers, so no session leaves the set meanwhile.
    for (Session* s : sessions) s->CheckDeadline(now);
    StartSweep();
  });
}

// Who runs the I/O: server.io_threads threads of its own, or with 0 the engine's shard
// threads (hosted: one io_context each), or 1 thread of its own if the engine has none to lend.
struct IoLayout {
  bool hosted = false;
  int threads = 1;
};
IoLayout IoLayoutOf(const Engine& engine, const ServerOptions& o) {
  if (o.io_threads > 0) return {false, o.io_threads};
  if (engine.LoopThreads() > 0) return {true, static_cast<int>(engine.LoopThreads())};
  return {false, 1};
}

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  const bool hosted;  // the engine's shard threads run the workers' io_contexts
  const int io_threads;
  Shared shared;
  std::shared_ptr<AccessLog> access_log;  // the open one (reused while its path is unchanged)
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  size_t next = 0;
  std::atomic<size_t> next_node{0};  // the I/O thread for the next read from another node

  std::unique_ptr<net::steady_timer> backoff;  // re-arms accept after an error
  std::unique_ptr<Socket> peer;                // the socket being accepted into

  Impl(Engine& e, const ServerOptions& o) : Impl(e, o, IoLayoutOf(e, o)) {}
  Impl(Engine& e, const ServerOptions& o, IoLayout io)
      : engine(e), hosted(io.hosted), io_threads(io.threads), shared(e, o, io_threads) {}

  // Takes the io_contexts back from the shard threads; `own_threads`: and runs each on a
  // thread of its own from now on (a shutdown drains while the engine stops).
  void Unhost(bool own_threads) {
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker* w = workers[i].get();
      if (!w->hosted) continue;
      engine.HostLoop(i, nullptr);
      w->hosted.reset();
      if (own_threads) StartThread(i);
    }
  }
  void StartThread(size_t i) {
    Worker* w = workers[i].get();
    w->thread = std::thread([w, i] {
      std::string name = "eddy-io-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      w->ioc.run();
    });
  }

  void Accept() {
    Worker& target = *workers[next++ % workers.size()];
    peer = std::make_unique<Socket>(target.ioc);
    acceptor->async_accept(*peer, [this, &target](beast::error_code ec) {
      Socket s = std::move(*peer);
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
        // E.g. out of file descriptors: back off instead of spinning on the error.
        spdlog::warn("http: accept failed: {}; retrying in 50 ms", ec.message());
        backoff->expires_after(std::chrono::milliseconds(50));
        backoff->async_wait([this](beast::error_code) {
          if (acceptor->is_open()) Accept();
        });
        return;
      } else {
        beast::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        // The session is made on its own thread: it registers with that worker.
        net::dispatch(target.ioc, [this, &target, s = std::move(s)]() mutable {
          std::make_shared<Session>(std::move(s), target, shared)->Start();
        });
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(Engine& engine, const Options& options)
    : impl_(std::make_unique<Impl>(engine, options.server)), options_(options) {}

void HttpServer::SetReloader(std::function<std::pair<bool, std::string>()> reload) {
  impl_->shared.router.SetReloader(std::move(reload));
}

Status HttpServer::Reconfigure(const Options& o) {
  std::shared_ptr<AccessLog> log;
  if (!o.server.access_log.empty()) {
    if (impl_->access_log && impl_->access_log->where() == o.server.access_log) {
      log = impl_->access_log;
    } else {
      Result<std::shared_ptr<AccessLog>> opened = AccessLog::Open(o.server.access_log);
      if (!opened.ok()) return opened.status();
      log = *opened;
    }
  }
  impl_->access_log = log;
  impl_->shared.router.limiter().Configure(o.limits);
  for (auto& w : impl_->workers) {
    auto policy = std::make_shared<Policy>(o, log);
    if (!w->running) {
      w->policy = std::move(policy);  // not started yet
    } else {
      net::post(w->ioc, [w = w.get(), policy = std::move(policy)]() mutable {
        w->policy = std::move(policy);
      });
    }
  }
  return Status::Ok();
}

HttpServer::~HttpServer() { Join(); }

Status HttpServer::Start() {
  const ServerOptions& o = impl_->shared.options;
  for (int i = 0; i < impl_->io_threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->ingest = impl_->engine.NewIngestContext();
    impl_->workers.push_back(std::move(w));
  }
  if (Status st = Reconfigure(options_); !st.ok()) return st;
  if (!options_.auth.enabled && !IsLoopbackHost(o.host)) {
    spdlog::warn("http: serving {} without authentication (auth.allow_unauthenticated): "
                 "anyone who reaches this address can ingest and read",
                 o.host);
  }
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(o.host, ec);
  if (ec) return Status::InvalidArgument("server.host '" + o.host + "': " + ec.message());
  tcp::endpoint ep(addr, o.port);
  auto acc = std::make_unique<tcp::acceptor>(impl_->workers[0]->ioc);
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                           ec.message());
  }
  port_ = acc->local_endpoint().port();
  impl_->acceptor = std::move(acc);
  impl_->backoff = std::make_unique<net::steady_timer>(impl_->workers[0]->ioc);
  impl_->Accept();
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    Worker* w = impl_->workers[i].get();
    w->StartSweep();
    w->running = true;
    if (impl_->hosted) {
      w->hosted = std::make_unique<AsioLoop>(w->ioc);
      impl_->engine.HostLoop(i, w->hosted.get());
    } else {
      impl_->StartThread(i);
    }
  }
  if (impl_->engine.Clustered()) {
    // Reads other nodes send: each on an I/O thread in turn, answered from this node's
    // partitions (no authentication: the front node checked the client's).
    impl_->engine.ServeClusterReads([impl = impl_.get()](std::string bytes, std::function<void(std::string)> reply) {
      Worker& w = *impl->workers[impl->next_node.fetch_add(1, std::memory_order_relaxed) % impl->workers.size()];
      net::post(w.ioc, [impl, &w, bytes = std::move(bytes), reply = std::move(reply)]() mutable {
        std::optional<Request> req = ParseRequest(bytes);
        if (!req) {
          return reply(SerializeResponse(ErrorResponse(http::status::bad_request, 11, "malformed node request")));
        }
        // Not answered (nor recorded) after the asking node gave up on it.
        std::shared_ptr<AnswerClaim> claim = ClaimOfForwarded(*req);
        Respond respond(
            [reply, claim](Response res) {
              if (claim && !claim->Answer()) {
                res = ErrorResponse(http::status::service_unavailable, res.version(),
                                    "answered after the asking node gave up (cluster.forward_timeout_ms "
                                    "or its server.read_deadline_ms)");
              }
              reply(SerializeResponse(res));
            },
            claim);
        impl->shared.router.Handle(*req, *w.ingest, std::move(respond), {}, /*from_node=*/true);
      });
    });
  }
  spdlog::info("http: listening on {}:{} with {} I/O threads{}", o.host, port_, impl_->io_threads,
               impl_->hosted ? " (the shard threads)" : "");
  return Status::Ok();
}

void HttpServer::BeginShutdown() {
  if (impl_->shared.draining.exchange(true)) return;
  if (impl_->acceptor) {
    net::post(impl_->workers[0]->ioc, [this] {
      beast::error_code ignored;
      impl_->acceptor->close(ignored);
    });
  }
  // Polled, not timed: in-flight requests finish in microseconds to milliseconds.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(impl_->shared.options.drain_timeout_ms);
  while (impl_->shared.active.load(std::memory_order_acquire) != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (uint64_t left = impl_->shared.active.load(); left != 0) {
    spdlog::warn("http: drain timeout with {} requests still in flight", left);
  }
  // The engine stops next (its shard threads end): the I/O keeps running on threads of its
  // own until Join, so replies still being written, and the 503s of a draining server, go out.
  impl_->Unhost(/*own_threads=*/true);
}

void HttpServer::Join() {
  // No read from another node is handed to the I/O threads once they stop.
  if (impl_->engine.Clustered()) impl_->engine.ServeClusterReads(nullptr);
  impl_->shared.CloseStreams();  // before the I/O threads stop: no alert is posted to them
  impl_->shared.dashboard.Stop();  // nor a snapshot
  impl_->Unhost(/*own_threads=*/false);  // a stopped io_context would keep its host spinning
  for (auto& w : impl_->workers) {
    w->guard.reset();
    w->ioc.stop();
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

uint64_t HttpServer::active_requests() const {
  return impl_->shared.active.load(std::memory_order_acquire);
}

}  // namespace eddy
