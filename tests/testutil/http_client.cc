#include "testutil/http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace eddy::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  uint16_t port;
  bool connected = false;

  void Connect() {
    if (connected) return;
    socket = tcp::socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    connected = true;
    buffer.clear();
  }

  HttpResult ReadOne() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 30);
    beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    HttpResult r;
    if (ec) {
      connected = false;
      r.body = ec.message();
      return r;
    }
    auto& res = parser.get();
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    if (!res.keep_alive()) connected = false;
    return r;
  }
};

HttpClient::HttpClient(uint16_t port) : impl_(std::make_unique<Impl>()) { impl_->port = port; }
HttpClient::~HttpClient() = default;

void HttpClient::SetHeader(const std::string& name, const std::string& value) {
  if (value.empty()) {
    headers_.erase(name);
  } else {
    headers_[name] = value;
  }
}

HttpResult HttpClient::Get(std::string_view target) { return Request("GET", target, "", ""); }

HttpResult HttpClient::Post(std::string_view target, std::string body,
                            std::string_view content_type) {
  return Request("POST", target, std::move(body), content_type);
}

HttpResult HttpClient::Request(std::string_view method, std::string_view target,
                               std::string body, std::string_view content_type) {
  try {
    impl_->Connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.method_string(method);
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [name, value] : headers_) req.set(name, value);
    if (method != "GET" || !body.empty()) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    beast::error_code ec;
    http::write(impl_->socket, req, ec);
    if (ec) {
      impl_->connected = false;
      return HttpResult{0, ec.message(), {}};
    }
    return impl_->ReadOne();
  } catch (const std::exception& e) {
    impl_->connected = false;
    return HttpResult{0, e.what(), {}};
  }
}

std::vector<HttpResult> HttpClient::Raw(std::string_view bytes, int responses) {
  std::vector<HttpResult> out;
  try {
    impl_->Connect();
    net::write(impl_->socket, net::buffer(bytes.data(), bytes.size()));
    for (int i = 0; i < responses; ++i) out.push_back(impl_->ReadOne());
  } catch (const std::exception& e) {
    out.push_back(HttpResult{0, e.what(), {}});
  }
  return out;
}

}  // namespace eddy::test
