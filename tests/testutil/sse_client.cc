#include "testutil/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace eddy::test {

SseClient::SseClient(uint16_t port, std::string_view target, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Close();
    return;
  }
  const std::string request = "GET " + std::string(target) +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    Close();
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) return;
  }
  head_ = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  ok_ = head_.starts_with("HTTP/1.1 200") && head_.find("text/event-stream") != std::string::npos;
}

SseClient::~SseClient() { Close(); }

void SseClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SseClient::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[4096];
  const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buf_.append(chunk, static_cast<size_t>(n));
  return true;
}

std::optional<SseEvent> SseClient::Next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const size_t end = buf_.find("\n\n");
    if (end == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
      continue;
    }
    const std::string block = buf_.substr(0, end + 1);
    buf_.erase(0, end + 2);
    SseEvent ev;
    bool any = false;
    for (size_t at = 0; at < block.size();) {
      const size_t nl = block.find('\n', at);
      const std::string_view line(block.data() + at, nl - at);
      at = nl + 1;
      if (line.empty() || line[0] == ':') continue;  // a comment (keep-alive)
      const size_t colon = line.find(':');
      const std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (value.starts_with(' ')) value.remove_prefix(1);
      if (field == "event") {
        ev.event = value;
      } else if (field == "id") {
        ev.id = value;
      } else if (field == "data") {
        if (any && !ev.data.empty()) ev.data += '\n';
        ev.data += value;
      } else {
        continue;  // retry, or a field eddy does not send
      }
      any = true;
    }
    if (!any) continue;
    if (ev.event.empty()) ev.event = "message";
    return ev;
  }
}

}  // namespace eddy::test
