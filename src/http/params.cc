#include "http/params.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/loader.h"
#include "util/json.h"
#include "util/time.h"

namespace eddy {

Response JsonResponse(http::status status, unsigned version, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "eddy");
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// Percent-decodes a path segment; nullopt if malformed.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// The value of `name` in a query string ("a=1&k=5"), or nullopt.
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view name) {
  std::optional<std::string_view> found;
  ForEachQueryPair(query, [&](std::string_view key, std::string_view value) {
    if (key == name) found = value;
    return !found;
  });
  return found;
}

// Parses an optional integer query parameter in [lo, hi]; false (and an error reply) if
// it is present and bad.
bool IntParam(std::string_view query, std::string_view name, uint32_t lo, uint32_t hi,
              uint32_t* out, unsigned version, const Respond& respond) {
  std::optional<std::string_view> v = QueryParam(query, name);
  if (!v) return true;
  uint32_t x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || p != v->data() + v->size() || x < lo || x > hi) {
    respond(ErrorResponse(http::status::bad_request, version,
                          std::string(name) + ": must be an integer in [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "]"));
    return false;
  }
  *out = x;
  return true;
}

// Decodes a path segment naming a user, item or category; replies 400 and returns nullopt
// when it is malformed, empty, longer than 128 bytes or not valid UTF-8 (ids are echoed in
// JSON replies; ingest accepts no other).
std::optional<std::string> PathId(std::string_view raw, std::string_view name, unsigned version,
                                  const Respond& respond) {
  std::optional<std::string> id = PercentDecode(raw);
  if (!id || id->empty() || id->size() > 128) {
    respond(ErrorResponse(http::status::bad_request, version,
                          std::string(name) + ": must be a percent-encoded string of 1-128 bytes"));
    return std::nullopt;
  }
  if (!IsValidUtf8(*id)) {
    respond(ErrorResponse(http::status::bad_request, version,
                          std::string(name) + ": not valid UTF-8 once percent-decoded"));
    return std::nullopt;
  }
  return id;
}

bool IdParam(std::string_view query, std::string_view name, std::string* out, unsigned version,
             const Respond& respond) {
  std::optional<std::string_view> raw = QueryParam(query, name);
  if (!raw || raw->empty()) return true;
  std::optional<std::string> id = PathId(*raw, name, version, respond);
  if (!id) return false;
  *out = std::move(*id);
  return true;
}

bool BoolParam(std::string_view query, std::string_view name, bool* out, unsigned version,
               const Respond& respond) {
  std::optional<std::string_view> v = QueryParam(query, name);
  if (!v) return true;
  if (*v == "true" || *v == "1" || v->empty()) {
    *out = true;
  } else if (*v == "false" || *v == "0") {
    *out = false;
  } else {
    respond(ErrorResponse(http::status::bad_request, version,
                          std::string(name) + ": must be true or false"));
    return false;
  }
  return true;
}

bool MicrosParam(std::string_view query, std::string_view name, std::optional<int64_t>* out,
                 unsigned version, const Respond& respond) {
  std::optional<std::string_view> v = QueryParam(query, name);
  if (!v) return true;
  double x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size() || !std::isfinite(x) ||
      x < 0 || x > 1e12) {
    respond(ErrorResponse(http::status::bad_request, version,
                          std::string(name) + ": must be a number in [0, 1e12]"));
    return false;
  }
  *out = std::llround(x * 1e6);
  return true;
}

bool FilterParams(std::string_view query, ItemFilter* out, unsigned version,
                  const Respond& respond) {
  constexpr size_t kMaxExcluded = 1000;
  const auto bad = [&](std::string message) {
    respond(ErrorResponse(http::status::bad_request, version, message));
    return false;
  };
  bool ok = true;
  ForEachQueryPair(query, [&](std::string_view key, std::string_view raw) {
    if (key.starts_with("attr.")) {
      std::optional<std::string> name = PercentDecode(key.substr(5));
      std::optional<std::string> value = PercentDecode(raw);
      if (!name || name->empty() || !IsValidUtf8(*name) || name->size() > 128) {
        return ok = bad(std::string("attr.<name>: the name must be 1 to 128 bytes of UTF-8"));
      }
      if (!value || !IsValidUtf8(*value) || value->size() > 256) {
        return ok = bad("attr." + *name + ": the value must be at most 256 bytes of UTF-8");
      }
      out->attributes.emplace_back(std::move(*name), std::move(*value));
    } else if (key == "exclude") {
      for (std::string_view rest = raw; !rest.empty();) {
        const size_t comma = rest.find(',');
        std::optional<std::string> id = PercentDecode(rest.substr(0, comma));
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
        if (!id || !IsValidUtf8(*id) || id->size() > 128) {
          return ok = bad("exclude: each id must be at most 128 bytes of UTF-8");
        }
        if (!id->empty()) out->exclude.push_back(std::move(*id));
        if (out->exclude.size() > kMaxExcluded) return ok = bad("exclude: more than 1000 ids");
      }
    }
    return true;
  });
  return ok;
}

bool WindowParam(std::string_view query, const std::vector<int64_t>& windows,
                 std::string_view what, size_t* index, unsigned version, const Respond& respond) {
  std::optional<std::string_view> w = QueryParam(query, "window");
  if (!w) return true;
  std::optional<int64_t> minutes = ParseDurationMinutes(*w);
  auto it = minutes ? std::find(windows.begin(), windows.end(), *minutes) : windows.end();
  if (it == windows.end()) {
    std::string known;
    for (int64_t m : windows) known += (known.empty() ? "" : ", ") + WindowLabel(m);
    respond(ErrorResponse(http::status::bad_request, version,
                          "window: must be one of " + std::string(what) + ": " + known));
    return false;
  }
  *index = static_cast<size_t>(it - windows.begin());
  return true;
}

std::string WindowLabel(int64_t minutes) {
  if (minutes % 1440 == 0 && minutes >= 2 * 1440) return std::to_string(minutes / 1440) + "d";
  if (minutes % 60 == 0) return std::to_string(minutes / 60) + "h";
  return std::to_string(minutes) + "m";
}

bool TimeParam(std::string_view query, std::string_view name, std::optional<int64_t>* out,
               unsigned version, const Respond& respond) {
  std::optional<std::string> v;
  if (std::optional<std::string_view> raw = QueryParam(query, name)) v = PercentDecode(*raw);
  else return true;
  if (v) {
    if (std::optional<EventTime> t = ParseIso8601(*v)) {
      *out = t->millis();
      return true;
    }
    double x = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    if (!v->empty() && ec == std::errc() && p == v->data() + v->size() && std::isfinite(x) &&
        std::fabs(x) < 1e15) {
      *out = FromEpochNumber(x).millis();
      return true;
    }
  }
  respond(ErrorResponse(http::status::bad_request, version,
                        std::string(name) +
                            ": must be an ISO-8601 time or epoch seconds or milliseconds"));
  return false;
}

void TimeOrNull(JsonWriter& w, const std::optional<EventTime>& t) {
  if (t) {
    w.String(FormatIso8601(*t));
  } else {
    w.Null();
  }
}

void WriteAlert(JsonWriter& w, const Alert& a) {
  w.BeginObject().Key("id").String(a.id).Key("kind").String(a.kind);
  if (!a.item_id.empty()) w.Key("itemId").String(a.item_id);
  if (a.kind == "fraud") {
    w.Key("userId").String(a.user_id).Key("orderId").StringOrNull(a.order_id);
    w.Key("time").String(FormatIso8601(a.time)).Key("active").Bool(a.active);
    w.Key("score").Double(a.score).Key("threshold").Double(a.score_threshold);
    w.Key("reasons").BeginArray();
    std::string codes;
    for (const FraudReasonScore& r : a.reasons) {
      w.BeginObject().Key("code").String(r.code).Key("contribution").Double(r.contribution);
      w.EndObject();
      codes += (codes.empty() ? "" : ", ") + r.code;
    }
    w.EndArray();
    char score[32];
    std::snprintf(score, sizeof(score), "%.2f", a.score);
    w.Key("message").String("order " + (a.order_id.empty() ? std::string("(no orderId)") : a.order_id) +
                            " of user " + a.user_id + " scored " + score + " (" + codes + ")");
    w.EndObject();
    return;
  }
  if (a.kind == "anomaly" || a.kind == "insight") {
    w.Key("userId").String(a.user_id);
    w.Key("time").String(FormatIso8601(a.time)).Key("active").Bool(a.active);
    w.Key("priority").String(a.priority);
    std::string message;
    if (a.kind == "anomaly") {
      w.Key("orderId").StringOrNull(a.order_id);
      w.Key("value").Double(a.order_value).Key("mean").Double(a.mean_value);
      char buf[96];
      std::snprintf(buf, sizeof(buf), "%.2f against a mean of %.2f", a.order_value, a.mean_value);
      message = "spending anomaly: user " + a.user_id + " ordered " + buf;
    } else {
      w.Key("insight").String("segment_migration");
      w.Key("from").String(a.segment_from).Key("to").String(a.segment_to);
      message = "user " + a.user_id + " moved from " + a.segment_from + " to " + a.segment_to;
    }
    w.Key("message").String(message);
    w.EndObject();
    return;
  }
  w.Key("time").String(FormatIso8601(a.time)).Key("active").Bool(a.active);
  w.Key("cleared");
  TimeOrNull(w, a.cleared);
  w.Key("stock").Int(a.stock).Key("threshold").Int(a.threshold);
  std::string message = "stock of " + a.item_id + " fell to " + std::to_string(a.stock) +
                        ", below its threshold " + std::to_string(a.threshold);
  if (!a.active) message += "; back at or above it since " + FormatIso8601(*a.cleared);
  w.Key("message").String(message);
  w.EndObject();
}

}  // namespace eddy
