// fuzz_offers: the body of POST /v1/offers/rank (http/offers_body.h) on any bytes. It is
// taken whole or refused with a message; what it takes respects the limits the ranker
// relies on (1..1000 offers, each with an id of 1-128 bytes, a finite priority, k in
// 1..1000).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/check.h"
#include "http/offers_body.h"

using eddy::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eddy::OffersRequest r;
  const std::string error =
      eddy::ParseOffers(std::string_view(reinterpret_cast<const char*>(data), size), &r);
  if (!error.empty()) return 0;
  Check(!r.offers.empty() && r.offers.size() <= eddy::kMaxOffers);
  Check(r.k >= 1 && r.k <= eddy::kMaxOffers);
  Check(r.user.size() <= 128);
  for (const eddy::Offer& o : r.offers) {
    Check(!o.offer_id.empty() && o.offer_id.size() <= 128 && o.category.size() <= 128);
    Check(std::isfinite(o.priority));
  }
  return 0;
}
