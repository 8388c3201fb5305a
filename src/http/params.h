#pragma once
// Helpers shared by the route handlers: JSON replies and request parameters. Each parser
// replies 400 with a message naming the parameter when the value is bad.
//
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <string_view>

#include "http/json_writer.h"
#include "http/router.h"

namespace eddy {

Response JsonResponse(http::status status, unsigned version, std::string body);

// Percent-decodes a path segment or query value; nullopt if malformed.
std::optional<std::string> PercentDecode(std::string_view s);

// Calls f(key, raw value) for each "key=value" pair of a query string ("a=1&k=5"; a pair
// without '=' has an empty value), in order, while f returns true.
template <typename F>
void ForEachQueryPair(std::string_view query, F f) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t eq = pair.find('=');
    if (!f(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view()
                                                             : pair.substr(eq + 1))) {
      return;
    }
  }
}

// The raw value of `name` in a query string ("a=1&k=5"), or nullopt.
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view name);

// Parses an optional integer query parameter in [lo, hi]; false (and an error reply) if
// it is present and bad.
bool IntParam(std::string_view query, std::string_view name, uint32_t lo, uint32_t hi,
              uint32_t* out, unsigned version, const Respond& respond);

// Parses an optional true/false (also 1/0) query parameter; false (and a reply) if bad.
bool BoolParam(std::string_view query, std::string_view name, bool* out, unsigned version,
               const Respond& respond);

// Parses an optional decimal amount >= 0 (a price) into millionths; false (and a reply)
// if bad.
bool MicrosParam(std::string_view query, std::string_view name, std::optional<int64_t>* out,
                 unsigned version, const Respond& respond);

// Decodes a path segment (or query value) naming a user, item or category; replies 400 and
// returns nullopt when it is malformed, empty or longer than 128 bytes.
std::optional<std::string> PathId(std::string_view raw, std::string_view name, unsigned version,
                                  const Respond& respond);

// An optional query parameter naming a user, item or category (absent or empty: *out is
// left alone); false (and PathId's reply) if it is malformed.
bool IdParam(std::string_view query, std::string_view name, std::string* out, unsigned version,
             const Respond& respond);

// The catalog filters of a ranked read: every `attr.<name>=<value>` pair and
// `exclude=a,b,c` (ids percent-decoded, at most 1000); false (and a reply) if malformed.
bool FilterParams(std::string_view query, ItemFilter* out, unsigned version,
                  const Respond& respond);

// An item's engagement answer (now, category, price, all_time, windows) as fields of the
// object being written.
// `part`: a cluster node's part (X-Eddy-Part): also the facts' times and the exact price.
void WriteEngagementFields(JsonWriter& w, const EngagementAnswer& a, bool part,
                           const std::vector<int64_t>& windows);

// An optional `window` query parameter naming one of `windows` (minutes, as in config):
// *index gets its position (left alone when absent); false (and a reply naming `what` and
// the allowed labels) if it is not one of them.
bool WindowParam(std::string_view query, const std::vector<int64_t>& windows,
                 std::string_view what, size_t* index, unsigned version, const Respond& respond);

// "1h" for 60, "24h" for 1440, "90m", "7d" (days only from two days up).
std::string WindowLabel(int64_t minutes);

// Parses an optional time query parameter — ISO-8601, or epoch seconds or milliseconds —
// into epoch milliseconds; false (and a reply) if bad.
bool TimeParam(std::string_view query, std::string_view name, std::optional<int64_t>* out,
               unsigned version, const Respond& respond);

// An alert as a JSON object (GET /v1/alerts and the SSE stream).
void WriteAlert(JsonWriter& w, const Alert& a);
// The time as ISO-8601, or null when absent.
void TimeOrNull(JsonWriter& w, const std::optional<EventTime>& t);

}  // namespace eddy
