#pragma once
// Loading eddy::Options: the TOML file, then EDDY_<SECTION>_<KEY> environment variables,
// then CLI overrides ("section.key=value"), each overriding the one before. Every key is
// checked against the schema: an unknown key, a wrong type or an out-of-range value is an
// error that names the key and what is allowed.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/options.h"
#include "eddy/result.h"

namespace eddy {

struct ConfigSources {
  std::string file;  // empty: defaults only
  bool use_env = true;
  std::vector<std::pair<std::string, std::string>> overrides;  // {"server.port", "9090"}
};

Result<Options> LoadOptions(const ConfigSources& sources);
// Parses TOML text (for tests); `origin` names it in errors.
Result<Options> ParseOptions(std::string_view toml_text, std::string_view origin);

// Whether server.host `host` is reachable only from this machine (127.x, ::1, localhost).
bool IsLoopbackHost(std::string_view host);

// "90m", "1h", "7d" -> minutes; nullopt if malformed.
std::optional<int64_t> ParseDurationMinutes(std::string_view s);

// Every key as "section.key", with its type and range, for --help and errors.
std::vector<std::string> DescribeConfigKeys();

}  // namespace eddy
