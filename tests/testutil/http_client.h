#pragma once
// A blocking HTTP/1.1 client on Beast for tests: one keep-alive connection to 127.0.0.1.

#include <cstdint>
#include <map>
#include <memory>
#include <vector>
#include <string>
#include <string_view>

namespace eddy::test {

struct HttpResult {
  int status = 0;  // 0 = transport error (see body)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  ~HttpClient();

  HttpResult Get(std::string_view target);
  HttpResult Post(std::string_view target, std::string body,
                  std::string_view content_type = "application/json");
  HttpResult Request(std::string_view method, std::string_view target, std::string body,
                     std::string_view content_type);
  // A header field sent with every request from now on ("" value: no longer sent).
  void SetHeader(const std::string& name, const std::string& value);
  // Writes raw bytes and reads `responses` responses (for pipelining tests).
  std::vector<HttpResult> Raw(std::string_view bytes, int responses);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::map<std::string, std::string> headers_;
};

}  // namespace eddy::test
