#include "config/loader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>  // environ

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "config/schema.h"

namespace eddy {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const KeySpec* FindSpec(std::string_view section, std::string_view key) {
  for (const KeySpec& s : ConfigSchema()) {
    if (s.section == section && s.key == key) return &s;
  }
  return nullptr;
}

bool KnownSection(std::string_view section) {
  for (const KeySpec& s : ConfigSchema()) {
    if (s.section == section) return true;
  }
  return false;
}

std::string KnownSections() {
  std::string out;
  for (const KeySpec& s : ConfigSchema()) {
    std::string name(s.section);
    if (out.find(name) == std::string::npos) out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

std::string KnownKeys(std::string_view section) {
  std::string out;
  for (const KeySpec& s : ConfigSchema()) {
    if (s.section != section) continue;
    if (!out.empty()) out += ", ";
    out += s.key;
  }
  return out;
}

std::string Describe(const KeySpec& s) {
  switch (s.kind) {
    case KeySpec::kInt:
      return "an integer in [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]";
    case KeySpec::kDouble:
      return "a number in [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]";
    case KeySpec::kString:
      return "a string";
    case KeySpec::kBool:
      return "true or false";
    case KeySpec::kDuration:
      return "a duration such as \"7d\" or \"36h\" (units m, h, d; 1m to 366d)";
    case KeySpec::kDurationList:
      return "a list of durations such as [\"1h\", \"24h\"] (units m, h, d; whole minutes, 1m to 7d)";
    case KeySpec::kStringList:
      return "a list of strings, each " + std::string(s.describe);
    case KeySpec::kEnum: {
      std::string out = "one of";
      for (size_t i = 0; i < s.allowed.size(); ++i) {
        out += (i ? ", \"" : " \"") + std::string(s.allowed[i]) + "\"";
      }
      return out;
    }
  }
  return "";
}

std::string Shown(const toml::node& n) {
  std::ostringstream os;
  if (n.is_string()) {
    os << '"' << *n.value<std::string>() << '"';
  } else if (n.is_table()) {
    os << "a table";
  } else if (n.is_array()) {
    os << "an array";
  } else {
    n.visit([&](auto&& v) { os << v; });
  }
  return os.str();
}

Status Bad(std::string_view origin, const KeySpec& s, const std::string& what) {
  return Status::InvalidArgument("config " + std::string(origin) + ": " + std::string(s.section) +
                                 "." + std::string(s.key) + ": " + what);
}

Status ApplyValue(Options& o, const KeySpec& s, const toml::node& n, std::string_view origin) {
  const std::string expected = "expected " + Describe(s) + ", got " + Shown(n);
  switch (s.kind) {
    case KeySpec::kInt: {
      std::optional<int64_t> v = n.is_integer() ? n.value<int64_t>() : std::nullopt;
      if (!v || *v < s.min || *v > s.max) return Bad(origin, s, expected);
      s.set_int(o, *v);
      return Status::Ok();
    }
    case KeySpec::kDouble: {
      std::optional<double> v =
          n.is_floating_point() || n.is_integer() ? n.value<double>() : std::nullopt;
      if (!v || !std::isfinite(*v) || *v < static_cast<double>(s.min) ||
          *v > static_cast<double>(s.max)) {
        return Bad(origin, s, expected);
      }
      s.set_double(o, *v);
      return Status::Ok();
    }
    case KeySpec::kString: {
      if (!n.is_string()) return Bad(origin, s, expected);
      s.set_string(o, *n.value<std::string>());
      return Status::Ok();
    }
    case KeySpec::kBool: {
      if (!n.is_boolean()) return Bad(origin, s, expected);
      s.set_bool(o, *n.value<bool>());
      return Status::Ok();
    }
    case KeySpec::kDuration: {
      std::optional<int64_t> m =
          n.is_string() ? ParseDurationMinutes(*n.value<std::string>()) : std::nullopt;
      if (!m || *m < s.min || *m > s.max) return Bad(origin, s, expected);
      s.set_int(o, *m);
      return Status::Ok();
    }
    case KeySpec::kDurationList: {
      const toml::array* arr = n.as_array();
      if (arr == nullptr || arr->empty()) return Bad(origin, s, expected);
      std::vector<int64_t> minutes;
      for (const toml::node& e : *arr) {
        std::optional<int64_t> m =
            e.is_string() ? ParseDurationMinutes(*e.value<std::string>()) : std::nullopt;
        if (!m || *m < s.min || *m > s.max) return Bad(origin, s, expected);
        minutes.push_back(*m);
      }
      std::sort(minutes.begin(), minutes.end());
      minutes.erase(std::unique(minutes.begin(), minutes.end()), minutes.end());
      s.set_minutes(o, std::move(minutes));
      return Status::Ok();
    }
    case KeySpec::kStringList: {
      const toml::array* arr = n.as_array();
      if (arr == nullptr) return Bad(origin, s, expected);
      std::vector<std::string> items;
      for (const toml::node& e : *arr) {
        if (!e.is_string()) return Bad(origin, s, expected);
        items.push_back(*e.value<std::string>());
      }
      if (std::string why = s.set_strings(o, items); !why.empty()) return Bad(origin, s, why);
      return Status::Ok();
    }
    case KeySpec::kEnum: {
      if (!n.is_string()) return Bad(origin, s, expected);
      std::string v = *n.value<std::string>();
      for (auto [name, why] : s.refused) {
        if (v == name) return Bad(origin, s, "\"" + v + "\" is " + std::string(why));
      }
      for (std::string_view a : s.allowed) {
        if (v == a) {
          s.set_string(o, v);
          return Status::Ok();
        }
      }
      return Bad(origin, s, expected);
    }
  }
  return Status::Internal("unreachable");
}

Status ApplyText(Options& o, const KeySpec& s, const std::string& text, std::string_view origin);

// A name of an experiment or variant: what a URL path segment and a metric label hold.
bool GoodName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// [[experiments]] and their [[experiments.variants]] (issue 19). A variant's ranking
// overrides are kept as text and applied over the final [ranking] by ResolveExperiments.
Status ParseExperiments(Options& o, const toml::node& node, std::string_view origin) {
  const std::string where = "config " + std::string(origin) + ": experiments";
  const auto bad = [&](const std::string& what) { return Status::InvalidArgument(where + what); };
  const toml::array* arr = node.as_array();
  if (arr == nullptr) return bad(": must be an array of tables ([[experiments]])");
  o.experiments.clear();
  for (const toml::node& item : *arr) {
    const toml::table* t = item.as_table();
    if (t == nullptr) return bad(": each entry must be a table ([[experiments]])");
    Experiment e;
    const toml::array* variants = nullptr;
    const std::string at = "[" + std::to_string(o.experiments.size()) + "]";
    for (auto&& [key, value] : *t) {
      const std::string_view k = key.str();
      if (k == "name" || k == "salt") {
        if (!value.is_string()) return bad(at + "." + std::string(k) + ": expected a string, got " + Shown(value));
        (k == "name" ? e.name : e.salt) = *value.value<std::string>();
      } else if (k == "enabled") {
        if (!value.is_boolean()) return bad(at + ".enabled: expected true or false, got " + Shown(value));
        e.enabled = *value.value<bool>();
      } else if (k == "variants") {
        variants = value.as_array();
        if (variants == nullptr) return bad(at + ".variants: must be an array of tables ([[experiments.variants]])");
      } else if (k == "impressions" || k == "allocation" || k == "goal") {
        const std::optional<std::string> v = value.value<std::string>();
        const std::string got = Shown(value);  // (clang 14 lambdas cannot capture a binding)
        const auto one_of = [&](std::string_view a, std::string_view b) {
          return bad(at + "." + std::string(k) + ": expected \"" + std::string(a) + "\" or \"" +
                     std::string(b) + "\", got " + got);
        };
        if (k == "impressions") {
          if (!value.is_string() || (*v != "client" && *v != "serve")) return one_of("client", "serve");
          e.impressions = *v == "serve" ? ImpressionMode::kServe : ImpressionMode::kClient;
        } else if (k == "allocation") {
          if (!value.is_string() || (*v != "fixed" && *v != "thompson")) return one_of("fixed", "thompson");
          e.allocation = *v == "thompson" ? AllocationMode::kThompson : AllocationMode::kFixed;
        } else {
          if (!value.is_string() || (*v != "ctr" && *v != "conversion")) return one_of("ctr", "conversion");
          e.goal = *v == "conversion" ? ExperimentGoal::kConversion : ExperimentGoal::kCtr;
        }
      } else if (k == "min_share") {
        std::optional<double> share = value.is_floating_point() || value.is_integer() ? value.value<double>() : std::nullopt;
        if (!share || *share < 0 || *share >= 1) return bad(at + ".min_share: expected a number in [0, 1), got " + Shown(value));
        e.min_share = *share;
      } else if (k == "reallocate_seconds") {
        std::optional<int64_t> sec = value.is_integer() ? value.value<int64_t>() : std::nullopt;
        if (!sec || *sec < 1 || *sec > 86400) return bad(at + ".reallocate_seconds: expected an integer in [1, 86400], got " + Shown(value));
        e.reallocate_seconds = static_cast<uint32_t>(*sec);
      } else {
        return bad(at + ": unknown key '" + std::string(k) + "' (known: name, salt, enabled, impressions, allocation, goal, min_share, reallocate_seconds, variants)");
      }
    }
    if (!GoodName(e.name)) {
      return bad(at + ".name: required, 1-64 characters of letters, digits, '-', '_' or '.', got \"" + e.name + "\"");
    }
    const std::string named = " \"" + e.name + "\"";
    for (const Experiment& other : o.experiments) {
      if (other.name == e.name) return bad(named + ": named twice");
    }
    if (e.salt.empty()) e.salt = e.name;
    if (variants == nullptr || variants->size() < 2) return bad(named + ": needs at least 2 [[experiments.variants]]");
    double total = 0;
    for (const toml::node& vn : *variants) {
      const toml::table* vt = vn.as_table();
      if (vt == nullptr) return bad(named + ": each variant must be a table ([[experiments.variants]])");
      ExperimentVariant v;
      bool has_share = false;
      for (auto&& [key, value] : *vt) {
        const std::string_view k = key.str();
        if (k == "name") {
          if (!value.is_string()) return bad(named + " variant name: expected a string, got " + Shown(value));
          v.name = *value.value<std::string>();
        } else if (k == "share") {
          std::optional<double> share = value.is_floating_point() || value.is_integer() ? value.value<double>() : std::nullopt;
          if (!share || !(*share > 0) || *share > 1) {
            return bad(named + " variant share: expected a number in (0, 1], got " + Shown(value));
          }
          v.share = *share;
          has_share = true;
        } else if (k == "ranking") {
          const toml::table* r = value.as_table();
          if (r == nullptr) return bad(named + " variant ranking: must be a table ([experiments.variants.ranking])");
          for (auto&& [rk, rv] : *r) {
            std::ostringstream text;  // the value as TOML (strings quoted), for ApplyText
            rv.visit([&text](auto&& n) { text << n; });
            v.overrides.emplace_back(std::string(rk.str()), text.str());
          }
        } else {
          return bad(named + " variant: unknown key '" + std::string(k) + "' (known: name, share, ranking)");
        }
      }
      if (!GoodName(v.name)) {
        return bad(named + " variant name: required, 1-64 characters of letters, digits, '-', '_' or '.', got \"" + v.name + "\"");
      }
      if (!has_share) return bad(named + " variant \"" + v.name + "\": share is required");
      for (const ExperimentVariant& other : e.variants) {
        if (other.name == v.name) return bad(named + " variant \"" + v.name + "\": named twice");
      }
      total += v.share;
      e.variants.push_back(std::move(v));
    }
    if (std::abs(total - 1) > 1e-9) {
      std::ostringstream sum;
      sum << total;
      return bad(named + ": the variants' shares sum to " + sum.str() + ", not 1");
    }
    if (e.min_share * static_cast<double>(e.variants.size()) > 1 + 1e-9) {
      return bad(named + ": min_share × the number of variants exceeds 1");
    }
    o.experiments.push_back(std::move(e));
  }
  // One running experiment at a time, for now: two would both set the ranking of every
  // user they bucket, and which of their overrides wins is not decided yet.
  size_t enabled = 0;
  for (const Experiment& e : o.experiments) enabled += e.enabled ? 1 : 0;
  if (enabled > 1) return bad(": at most one may be enabled at a time (set enabled = false on the others)");
  return Status::Ok();
}

// Each variant's ranking: the final [ranking] with the variant's overrides (the "ranking"
// keys and checks of the schema). bought_items and max_k size state and requests for
// every user alike: not per variant.
Status ResolveExperiments(Options& o) {
  for (Experiment& e : o.experiments) {
    for (ExperimentVariant& v : e.variants) {
      Options scratch;
      scratch.ranking = o.ranking;
      const std::string origin = "experiments \"" + e.name + "\" variant \"" + v.name + "\"";
      for (const auto& [key, text] : v.overrides) {
        const KeySpec* spec = FindSpec("ranking", key);
        if (spec == nullptr) {
          return Status::InvalidArgument("config " + origin + ": unknown ranking key '" + key +
                                         "' (known keys in [ranking]: " + KnownKeys("ranking") + ")");
        }
        if (key == "bought_items" || key == "max_k") {
          return Status::InvalidArgument("config " + origin + ": ranking." + key +
                                         " cannot differ per variant (it is the same for every user)");
        }
        if (Status st = ApplyText(scratch, *spec, text, origin); !st.ok()) return st;
      }
      v.ranking = scratch.ranking;
    }
  }
  return Status::Ok();
}

Status ApplyTable(Options& o, const toml::table& tbl, std::string_view origin) {
  for (auto&& [sec_key, sec_node] : tbl) {
    std::string_view section = sec_key.str();
    if (section == "experiments") {
      if (Status st = ParseExperiments(o, sec_node, origin); !st.ok()) return st;
      continue;
    }
    if (!KnownSection(section)) {
      return Status::InvalidArgument("config " + std::string(origin) + ": unknown section [" +
                                     std::string(section) + "] (known sections: " +
                                     KnownSections() + ")");
    }
    const toml::table* sec = sec_node.as_table();
    if (sec == nullptr) {
      return Status::InvalidArgument("config " + std::string(origin) + ": " +
                                     std::string(section) + ": must be a table ([" +
                                     std::string(section) + "])");
    }
    for (auto&& [key, node] : *sec) {
      const KeySpec* spec = FindSpec(section, key.str());
      if (spec == nullptr) {
        return Status::InvalidArgument("config " + std::string(origin) + ": unknown key '" +
                                       std::string(section) + "." + std::string(key.str()) +
                                       "' (known keys in [" + std::string(section) +
                                       "]: " + KnownKeys(section) + ")");
      }
      if (Status st = ApplyValue(o, *spec, node, origin); !st.ok()) return st;
    }
  }
  return Status::Ok();
}

// A value given as text (environment, command line): TOML syntax when it parses as a
// scalar, otherwise the text itself as a string (so host=0.0.0.0 needs no quotes).
Status ApplyText(Options& o, const KeySpec& s, const std::string& text, std::string_view origin) {
  if (s.kind == KeySpec::kDurationList && !text.empty() && text[0] != '[') {
    toml::array arr;  // "1h,24h" as well as ["1h","24h"]
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = std::min(text.find(',', pos), text.size());
      arr.push_back(text.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return ApplyValue(o, s, arr, origin);
  }
  const bool stringy = s.kind == KeySpec::kString || s.kind == KeySpec::kEnum ||
                       s.kind == KeySpec::kDuration;
  if (stringy && (text.empty() || (text[0] != '"' && text[0] != '\''))) {
    return ApplyValue(o, s, toml::value<std::string>(text), origin);
  }
  try {
    toml::table t = toml::parse("v = " + text);
    const toml::node* n = t.get("v");
    if (n != nullptr && (n->is_integer() || n->is_floating_point() || n->is_boolean() ||
                         n->is_string() || n->is_array())) {
      return ApplyValue(o, s, *n, origin);
    }
  } catch (const toml::parse_error&) {
  }
  toml::value<std::string> as_string(text);
  return ApplyValue(o, s, as_string, origin);
}

Status CheckCrossKeys(Options& o) {
  // Both name NATS subjects and JetStream streams: tokens without '.', '*', '>' or spaces.
  for (const auto& [key, value] : {std::pair<std::string_view, const std::string*>{"cluster.node_id", &o.cluster.node_id},
                                   {"cluster.stream", &o.cluster.stream}}) {
    const bool token = std::all_of(value->begin(), value->end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!token) {
      return Status::InvalidArgument("config: " + std::string(key) + " (\"" + *value +
                                     "\") may hold only letters, digits, '-' and '_' (it names NATS "
                                     "subjects and JetStream streams)");
    }
  }
  if (o.runtime.shards > static_cast<int>(o.log.partitions)) {
    return Status::InvalidArgument(
        "config: runtime.shards (" + std::to_string(o.runtime.shards) +
        ") must not exceed log.partitions (" + std::to_string(o.log.partitions) +
        "): a shard owns whole partitions");
  }
  if (o.coview.recent_items > o.recent.max_items) {
    return Status::InvalidArgument(
        "config: coview.recent_items (" + std::to_string(o.coview.recent_items) +
        ") must not exceed recent.max_items (" + std::to_string(o.recent.max_items) +
        "): co-view pairs a touch with the user's remembered recent items");
  }
  if (o.embedding.dimensions % 16 != 0) {
    return Status::InvalidArgument("config: embedding.dimensions (" +
                                   std::to_string(o.embedding.dimensions) +
                                   ") must be a multiple of 16");
  }
  if (o.revenue.window_minutes.size() > 8) {
    return Status::InvalidArgument("config: revenue.windows holds " +
                                   std::to_string(o.revenue.window_minutes.size()) +
                                   " sizes; at most 8");
  }
  if (o.revenue.retention_minutes < o.revenue.window_minutes.back()) {
    return Status::InvalidArgument(
        "config: revenue.retention must be at least the longest revenue window");
  }
  double weight_sum = 0;
  for (double w : o.ranking.weights) weight_sum += w;
  if (weight_sum <= 0) {
    return Status::InvalidArgument(
        "config: ranking.weight_* are all 0: at least one signal must have a weight > 0");
  }
  if (o.durability.ack != AckLevel::kMemory && o.durability.data_dir.empty()) {
    return Status::InvalidArgument(
        "config: durability.ack = \"" + std::string(AckLevelName(o.durability.ack)) +
        "\" needs durability.data_dir (the event store lives there); set a directory, or "
        "ack = \"memory\" to run without a store");
  }
  if (o.auth.enabled && o.auth.keys.empty() && o.auth.jwt_secret.empty()) {
    return Status::InvalidArgument(
        "config: auth.enabled needs auth.keys or auth.jwt_secret: nothing could be accepted");
  }
  if (!o.auth.jwt_secret.empty() && o.auth.jwt_secret.size() < 32) {
    return Status::InvalidArgument(
        "config: auth.jwt_secret is " + std::to_string(o.auth.jwt_secret.size()) +
        " bytes; HS256 needs at least 32 (a random secret of 256 bits)");
  }
  if (!o.auth.enabled && !IsLoopbackHost(o.server.host) && !o.auth.allow_unauthenticated) {
    return Status::InvalidArgument(
        "config: server.host = \"" + o.server.host +
        "\" is reachable beyond this machine and auth is off: set auth.enabled = true (with "
        "auth.keys or auth.jwt_secret), or auth.allow_unauthenticated = true to serve "
        "everyone anyway");
  }
  return Status::Ok();
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::optional<int64_t> ParseDurationMinutes(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || p != s.data() + s.size() - 1 || n < 0) return std::nullopt;  // "0m" parses; each key's minimum decides
  // Past this many the minutes of "Nd" overflow (found by fuzz_config): not a duration.
  if (n > INT64_MAX / 1440) return std::nullopt;
  switch (s.back()) {
    case 'm': return n;
    case 'h': return n * 60;
    case 'd': return n * 1440;
    default: return std::nullopt;
  }
}

Result<Options> ParseOptions(std::string_view toml_text, std::string_view origin) {
  Options o;
  try {
    toml::table tbl = toml::parse(toml_text, origin);
    if (Status st = ApplyTable(o, tbl, origin); !st.ok()) return st;
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config " << origin << ":" << e.source().begin.line << ":" << e.source().begin.column
       << ": " << e.description();
    return Status::InvalidArgument(os.str());
  }
  if (Status st = CheckCrossKeys(o); !st.ok()) return st;
  if (Status st = ResolveExperiments(o); !st.ok()) return st;
  return o;
}

Result<Options> LoadOptions(const ConfigSources& sources) {
  Options o;
  if (!sources.file.empty()) {
    std::ifstream in(sources.file, std::ios::binary);
    if (!in) return Status::IoError("config " + sources.file + ": cannot open file");
    std::stringstream ss;
    ss << in.rdbuf();
    Result<Options> parsed = ParseOptions(ss.str(), sources.file);
    if (!parsed.ok()) return parsed.status();
    o = std::move(parsed).value();
  }
  if (sources.use_env) {
    for (const KeySpec& s : ConfigSchema()) {
      std::string name = "EDDY_" + Upper(s.section) + "_" + Upper(s.key);
      if (const char* v = std::getenv(name.c_str())) {
        if (Status st = ApplyText(o, s, v, "environment " + name); !st.ok()) return st;
      }
    }
    // A misspelt EDDY_<SECTION>_<KEY> would otherwise be ignored without a word.
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view kv(*e);
      std::string_view name = kv.substr(0, kv.find('='));
      if (name.substr(0, 5) != "EDDY_") continue;
      bool known = false, known_section = false;
      for (const KeySpec& s : ConfigSchema()) {
        std::string prefix = "EDDY_" + Upper(s.section) + "_";
        if (name.substr(0, prefix.size()) == prefix) {
          known_section = true;
          known |= name == prefix + Upper(s.key);
        }
      }
      if (known_section && !known) {
        return Status::InvalidArgument("config environment " + std::string(name) +
                                       ": no such key (EDDY_<SECTION>_<KEY>, e.g. "
                                       "EDDY_SERVER_PORT)");
      }
    }
  }
  for (const auto& [path, value] : sources.overrides) {
    size_t dot = path.find('.');
    const KeySpec* s =
        dot == std::string::npos ? nullptr : FindSpec(path.substr(0, dot), path.substr(dot + 1));
    if (s == nullptr) {
      return Status::InvalidArgument("config --set " + path +
                                     ": unknown key (expected section.key, e.g. server.port)");
    }
    if (Status st = ApplyText(o, *s, value, "--set"); !st.ok()) return st;
  }
  if (Status st = CheckCrossKeys(o); !st.ok()) return st;
  if (Status st = ResolveExperiments(o); !st.ok()) return st;  // over the final [ranking]
  return o;
}

std::vector<std::string> DescribeConfigKeys() {
  std::vector<std::string> out;
  for (const KeySpec& s : ConfigSchema()) {
    out.push_back(std::string(s.section) + "." + std::string(s.key) + ": " + Describe(s));
  }
  return out;
}

}  // namespace eddy
