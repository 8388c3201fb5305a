// fuzz_chunk: a stored chunk value as RocksDB hands it back (store/log_store.h: version,
// entry count, length-prefixed encoded events) — truncated, with a count its entries do
// not bear out, with trailing bytes, with entries that are not events. Walking it either
// fails with a reason or gives entries that a ChunkBuilder turns back into a chunk walking
// to the same entries; each entry decodes as an event or fails with a reason, the view
// and the interning decoder agreeing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "store/event_codec.h"
#include "store/log_store.h"
#include "util/interners.h"

using eddy::fuzz::Check;

namespace {

eddy::Status Walk(std::string_view chunk, std::vector<std::string_view>* entries) {
  entries->clear();
  return eddy::ForEachChunkEntry(chunk, [&](std::string_view e) {
    entries->push_back(e);
    return eddy::Status::Ok();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> entries;
  const eddy::Status st = Walk(in, &entries);
  if (!st.ok()) {
    Check(!st.message().empty());
    return 0;
  }
  eddy::ChunkBuilder b;
  b.Begin();
  eddy::Interners interners;
  for (std::string_view e : entries) {
    if (e.empty()) {
      b.AddSkip();
      continue;
    }
    b.Add(e);
    eddy::StoredEventView view;
    eddy::Event ev;
    const bool viewed = eddy::DecodeStoredEventView(e, &view).ok();
    const eddy::Status decoded = eddy::DecodeStoredEvent(e, interners, &ev);
    Check(viewed == decoded.ok());
    Check(decoded.ok() || !decoded.message().empty());
  }
  Check(b.count() == entries.size());
  const std::string rebuilt(b.Finish());
  std::vector<std::string_view> again;
  Check(Walk(rebuilt, &again).ok());
  Check(again == entries);
  return 0;
}
