// fuzz_config: the config loader (config/loader.h) on any TOML text and any `--set`
// overrides. The input is the TOML text, then after a NUL byte (if any) one override per
// line as key=value. Loading either fails with a message or gives options that satisfy
// the invariants the engine relies on (checked below); never a crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "fuzz/check.h"

using eddy::fuzz::Check;

namespace {

void CheckOptions(const eddy::Result<eddy::Options>& r) {
  if (!r.ok()) {
    Check(!r.status().message().empty());
    return;
  }
  const eddy::Options& o = r.value();
  Check(o.log.partitions >= 1 && o.log.capacity_per_partition >= 1);
  Check(o.runtime.shards >= 0);  // 0: one per core
  Check(o.sessions.gap_ms > 0 && o.sessions.max_items >= 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view toml = in.substr(0, nul);
  CheckOptions(eddy::ParseOptions(toml, "fuzz.toml"));
  if (nul == std::string_view::npos) return 0;
  eddy::ConfigSources sources;
  sources.use_env = false;
  std::string_view rest = in.substr(nul + 1);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    sources.overrides.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  CheckOptions(eddy::LoadOptions(sources));
  return 0;
}
