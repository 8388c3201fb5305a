#pragma once
// A blocking Server-Sent Events client for tests and benches: connects to 127.0.0.1, asks
// for `target`, and reads events one at a time, each with a deadline (so a test that
// expects an event fails instead of hanging when it never comes).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eddy::test {

struct SseEvent {
  std::string event;  // "message" when the stream names none
  std::string id;
  std::string data;   // data lines joined with '\n'
};

class SseClient {
 public:
  // Connects and reads the response head (up to `timeout`); ok() tells whether the
  // answer was 200 with Content-Type text/event-stream.
  SseClient(uint16_t port, std::string_view target,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  bool ok() const { return ok_; }
  const std::string& head() const { return head_; }  // status line and headers
  // The next event (comments and keep-alives skipped); nullopt when `timeout` passes or
  // the server closes the stream first.
  std::optional<SseEvent> Next(std::chrono::milliseconds timeout);
  // Closes the connection (as a client that goes away).
  void Close();

 private:
  // Appends what arrives by `deadline` to buf_; false on timeout, close or error.
  bool Fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool ok_ = false;
  std::string head_;
  std::string buf_;
};

}  // namespace eddy::test
