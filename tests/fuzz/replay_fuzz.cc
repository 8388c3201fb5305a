// fuzz_replay: the replay reader of `eddy replay --file` (ingest/replay_reader.h) on any
// file. The input's first line is the CSV column spec (empty: the file is NDJSON), the
// rest the file. Beyond "no crash": every CSV row it maps becomes JSON that the event
// decoder can parse (it may reject the event, never the syntax), with the row's time.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/clock.h"
#include "eddy/options.h"
#include "fuzz/check.h"
#include "ingest/decoder.h"
#include "ingest/replay_reader.h"
#include "util/interners.h"

using eddy::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string spec(in.substr(0, nl));
  const std::string_view file = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  // One scratch file per fuzzing process, in the temp directory ($TMPDIR), removed as soon
  // as it is read (so a crash in the checks below leaves nothing behind).
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("eddy-fuzz-replay-" + std::to_string(getpid()))).string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  const std::vector<std::string> columns = spec.empty() ? std::vector<std::string>{}
                                                         : eddy::SplitColumns(spec);
  uint64_t skipped = 0;
  const std::vector<eddy::ReplayEvent> events = eddy::LoadReplay(path, columns, &skipped);
  ::unlink(path.c_str());
  if (columns.empty()) return 0;
  static const eddy::Options options;
  static eddy::ManualClock clock(eddy::EventTime(1'700'000'000'000));
  eddy::Interners interners;
  eddy::Decoder decoder(interners, options.ingest, &clock);
  for (const eddy::ReplayEvent& e : events) {
    std::string body = e.json;
    body.reserve(body.size() + eddy::Decoder::kPadding);
    std::vector<eddy::Event> decoded;
    std::vector<eddy::Rejection> rejected;
    const eddy::DecodeResult r = decoder.Decode(body, body.capacity(), eddy::BodyFormat::kAuto,
                                                eddy::DefaultType::kNone, &decoded, &rejected);
    Check(r.status.ok());
  }
  return 0;
}
