#pragma once
// The body of POST /v1/offers/rank (SPEC §6.3): {"userId", "offers": [{"offerId",
// "category", "priority"}], "k"}, the seed's snake_case names (user_id, offer_id, id)
// accepted too.
//
// Thread-safety: a pure function.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/engine.h"

namespace eddy {

inline constexpr size_t kMaxOffers = 1000;

struct OffersRequest {
  std::string user;
  std::vector<Offer> offers;  // 1..kMaxOffers, each with an offerId
  uint32_t k = 3;             // 1..kMaxOffers
};

// Parses `body` into *out: "" when it is well-formed, else the error (naming the field).
std::string ParseOffers(std::string_view body, OffersRequest* out);

}  // namespace eddy
