// fuzz_codec: a stored event's bytes as RocksDB hands them back (store/event_codec.h) —
// truncated, corrupted, from another version. Decoding either fails with a reason or
// gives an event that encodes to a value decoding to the same event again (a fixed point
// after one round), with or without interning.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "store/event_codec.h"
#include "util/interners.h"

using eddy::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  eddy::StoredEventView view;
  const eddy::Status viewed = eddy::DecodeStoredEventView(in, &view);
  eddy::Interners interners;
  eddy::Event ev;
  const eddy::Status st = eddy::DecodeStoredEvent(in, interners, &ev);
  Check(viewed.ok() == st.ok());
  if (!st.ok()) {
    Check(!st.message().empty());
    return 0;
  }
  std::string once;
  eddy::EncodeEvent(ev, interners, &once);
  eddy::Event again;
  Check(eddy::DecodeStoredEvent(once, interners, &again).ok());
  std::string twice;
  eddy::EncodeEvent(again, interners, &twice);
  Check(once == twice);
  return 0;
}
