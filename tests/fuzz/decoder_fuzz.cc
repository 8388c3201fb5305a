// fuzz_decoder: the event decoder (SPEC §1, ingest/decoder.h) on any body — a JSON object,
// an array, NDJSON, with every route's default type and every field alias the decoder
// knows. The first input byte picks the route's default type (low 3 bits) and the body
// format (bit 3); the rest is the body. Beyond "no crash, no sanitizer report": every
// event the decoder accepts survives the store's codec unchanged (encode, decode, compare),
// and each rejection names an event inside the body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "eddy/clock.h"
#include "eddy/options.h"
#include "fuzz/check.h"
#include "ingest/decoder.h"
#include "store/event_codec.h"
#include "util/interners.h"

using eddy::fuzz::Check;

namespace {

using eddy::Event;

// The fields the codec carries (store/event_codec.h) are equal.
void ExpectSameStored(const Event& a, const Event& b) {
  Check(a.type == b.type && a.flags == b.flags && a.time == b.time && a.event_id == b.event_id);
  Check(a.user == b.user && a.item == b.item && a.category == b.category &&
        a.session == b.session && a.order == b.order && a.query == b.query &&
        a.device == b.device && a.ip == b.ip && a.location == b.location &&
        a.country == b.country && a.quantity == b.quantity);
  if (a.flags & Event::kHasPrice) Check(a.price_micros == b.price_micros);
  if (a.flags & Event::kHasStock) Check(a.stock == b.stock);
  if (a.flags & Event::kHasAcceptLag) Check(a.accept_lag_ms == b.accept_lag_ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const eddy::Options options;
  static eddy::ManualClock clock(eddy::EventTime(1'700'000'000'000));
  const auto type = static_cast<eddy::DefaultType>(data[0] & 7);
  const auto format = (data[0] & 8) ? eddy::BodyFormat::kNdjson : eddy::BodyFormat::kAuto;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  body.reserve(body.size() + eddy::Decoder::kPadding);
  eddy::Interners interners;
  eddy::Decoder decoder(interners, options.ingest, &clock);
  std::vector<Event> events;
  std::vector<eddy::Rejection> rejected;
  const eddy::DecodeResult r =
      decoder.Decode(body, body.capacity(), format, type, &events, &rejected);
  if (!r.status.ok()) {
    Check(events.empty());
    return 0;
  }
  for (const eddy::Rejection& x : rejected) Check(!x.error.empty());
  for (const Event& ev : events) {
    std::string stored;
    eddy::EncodeEvent(ev, interners, &stored);
    Event back;
    Check(eddy::DecodeStoredEvent(stored, interners, &back).ok());
    ExpectSameStored(ev, back);
  }
  return 0;
}
