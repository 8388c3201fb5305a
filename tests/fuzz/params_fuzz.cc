// fuzz_params: the HTTP query and path parameter parsers (http/params.h) on any query
// string and path segment. Each parser either takes the value or replies exactly once
// with a 400 naming the parameter — never both, never a crash. The input is a query
// string; its first '#' (if any) ends it and starts a path segment.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "http/params.h"
#include "http/router.h"

using eddy::fuzz::Check;

namespace {

// Runs one parser: it must reply (a 400 with a body) exactly when it returns false.
template <typename F>
void Parse(F parse) {
  int replies = 0;
  eddy::Respond respond = [&](eddy::Response r) {
    ++replies;
    Check(r.result() == eddy::http::status::bad_request && !r.body().empty());
  };
  const bool ok = parse(respond);
  Check(replies == (ok ? 0 : 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t hash = in.find('#');
  const std::string_view query = in.substr(0, hash);
  const std::string_view segment = hash == std::string_view::npos ? "" : in.substr(hash + 1);
  constexpr unsigned v = 11;

  (void)eddy::PercentDecode(segment);
  (void)eddy::QueryParam(query, "k");
  Parse([&](const eddy::Respond& r) {
    uint32_t k = 10;
    const bool ok = eddy::IntParam(query, "k", 1, 1000, &k, v, r);
    if (ok) Check(k >= 1 && k <= 1000);
    return ok;
  });
  Parse([&](const eddy::Respond& r) {
    bool b = false;
    return eddy::BoolParam(query, "explain", &b, v, r);
  });
  Parse([&](const eddy::Respond& r) {
    std::optional<int64_t> micros;
    const bool ok = eddy::MicrosParam(query, "minPrice", &micros, v, r);
    if (ok && micros) Check(*micros >= 0);
    return ok;
  });
  Parse([&](const eddy::Respond& r) {
    std::string id;
    return eddy::IdParam(query, "category", &id, v, r);
  });
  Parse([&](const eddy::Respond& r) {
    const std::optional<std::string> id = eddy::PathId(segment, "userId", v, r);
    if (id) Check(!id->empty() && id->size() <= 128);
    return id.has_value();
  });
  Parse([&](const eddy::Respond& r) {
    eddy::ItemFilter filter;
    return eddy::FilterParams(query, &filter, v, r);
  });
  Parse([&](const eddy::Respond& r) {
    size_t index = 0;
    const std::vector<int64_t> windows = {60, 1440};
    const bool ok = eddy::WindowParam(query, windows, "trending", &index, v, r);
    if (ok) Check(index < windows.size());
    return ok;
  });
  Parse([&](const eddy::Respond& r) {
    std::optional<int64_t> t;
    return eddy::TimeParam(query, "since", &t, v, r);
  });
  return 0;
}
