// The body of POST /v1/offers/rank (http/offers_body.h).
#include "http/offers_body.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <simdjson.h>

namespace eddy {
namespace {

// A string member of an offers request, or an error message.
std::optional<std::string> StringField(simdjson::dom::element e, std::string_view name,
                                       std::string* error) {
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS || s.empty() || s.size() > 128) {
    *error = std::string(name) + ": must be a string of 1-128 bytes";
    return std::nullopt;
  }
  return std::string(s);
}

}  // namespace

std::string ParseOffers(std::string_view body, OffersRequest* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return "body: not valid JSON";
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) return "body: must be a JSON object";
  std::string error;
  bool have_offers = false;
  std::vector<std::string_view> seen;  // canonical names of the fields given so far
  auto duplicate = [&](std::string_view canonical) {
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) return true;
    seen.push_back(canonical);
    return false;
  };
  for (auto [key, value] : obj) {
    const std::string_view canonical = key == "user_id" ? "userId" : key;
    if (duplicate(canonical)) return std::string(canonical) + ": given twice";
    if (key == "userId" || key == "user_id") {
      std::optional<std::string> u = StringField(value, "userId", &error);
      if (!u) return error;
      out->user = std::move(*u);
    } else if (key == "k") {
      int64_t k = 0;
      if (value.get(k) != simdjson::SUCCESS || k < 1 || k > static_cast<int64_t>(kMaxOffers)) {
        return "k: must be an integer in [1, " + std::to_string(kMaxOffers) + "]";
      }
      out->k = static_cast<uint32_t>(k);
    } else if (key == "offers") {
      simdjson::dom::array arr;
      if (value.get(arr) != simdjson::SUCCESS || arr.size() == 0 || arr.size() > kMaxOffers) {
        return "offers: must be an array of 1-" + std::to_string(kMaxOffers) + " offers";
      }
      have_offers = true;
      size_t i = 0;
      for (simdjson::dom::element o : arr) {
        const std::string where = "offers[" + std::to_string(i++) + "]";
        simdjson::dom::object offer;
        if (o.get(offer) != simdjson::SUCCESS) return where + ": must be an object";
        Offer parsed;
        std::vector<std::string_view> fields;
        for (auto [k, v] : offer) {
          const std::string_view name = (k == "offer_id" || k == "id") ? "offerId" : k;
          if (std::find(fields.begin(), fields.end(), name) != fields.end()) {
            return where + "." + std::string(name) + ": given twice";
          }
          fields.push_back(name);
          if (k == "offerId" || k == "offer_id" || k == "id") {
            std::optional<std::string> id = StringField(v, where + ".offerId", &error);
            if (!id) return error;
            parsed.offer_id = std::move(*id);
          } else if (k == "category") {
            std::optional<std::string> c = StringField(v, where + ".category", &error);
            if (!c) return error;
            parsed.category = std::move(*c);
          } else if (k == "priority") {
            double p = 0;
            if (v.get(p) != simdjson::SUCCESS || !std::isfinite(p) || std::fabs(p) > 1e9) {
              return where + ".priority: must be a number in [-1e9, 1e9]";
            }
            parsed.priority = p;
          } else {
            return where + ": unknown field '" + std::string(k) +
                   "' (known: offerId, category, priority)";
          }
        }
        if (parsed.offer_id.empty()) return where + ".offerId: required";
        out->offers.push_back(std::move(parsed));
      }
    } else {
      return "unknown field '" + std::string(key) + "' (known: userId, offers, k)";
    }
  }
  if (!have_offers) return "offers: required";
  return "";
}

}  // namespace eddy
