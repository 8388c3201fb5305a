// fuzz_run: a JetStream log message (cluster/run_message.h) as the stream hands it back —
// truncated, corrupted, from another version. Decoding either fails with a reason, or
// gives events whose re-encoding decodes to the same events and is a fixed point (a
// varint may be spelled longer than needed, so the first re-encoding may differ).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/run_message.h"
#include "fuzz/check.h"

using eddy::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> events;
  const eddy::Status st = eddy::DecodeRun(in, &events);
  if (!st.ok()) {
    Check(!st.message().empty());
    return 0;
  }
  Check(!events.empty());
  const std::string once = eddy::EncodeRun(events);
  std::vector<std::string_view> again;
  Check(eddy::DecodeRun(once, &again).ok());
  Check(again == events);
  Check(eddy::EncodeRun(again) == once);
  return 0;
}
