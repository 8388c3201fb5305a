#include "ingest/replay_reader.h"

#include <charconv>
#include <cmath>
#include <fstream>

#include "util/json.h"
#include "util/time.h"

namespace eddy {
namespace {

// A JSON number (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? — so that a
// CSV field written unquoted never makes the line invalid JSON (from_chars alone takes
// "inf", "nan", ".5" and "007").
bool IsNumber(const std::string& s) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// The epoch-ms time of a JSON event text's "timestamp": a number (seconds or ms) or an
// ISO-8601 string; 0 when there is none.
int64_t TimeOf(const std::string& json) {
  size_t k = json.find("\"timestamp\"");
  if (k == std::string::npos) return 0;
  size_t p = k + 11;
  while (p < json.size() && (json[p] == ' ' || json[p] == ':')) ++p;
  if (p < json.size() && json[p] == '"') {
    const size_t end = json.find('"', p + 1);
    if (end == std::string::npos) return 0;
    std::optional<EventTime> t = ParseIso8601(std::string_view(json).substr(p + 1, end - p - 1));
    return t ? t->millis() : 0;
  }
  double v = 0;
  auto [end, ec] = std::from_chars(json.data() + p, json.data() + json.size(), v);
  // NaN, infinities and numbers past int64 (found by fuzz_replay) are no time.
  if (ec != std::errc() || !std::isfinite(v) || std::fabs(v) >= 9e18) return 0;
  return std::fabs(v) < 1e11 ? static_cast<int64_t>(v * 1000) : static_cast<int64_t>(v);
}

}  // namespace

std::vector<std::string> SplitColumns(const std::string& spec) {
  std::vector<std::string> cols;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    cols.push_back(spec.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return cols;
}

std::optional<std::string> CsvRowToJson(const std::vector<std::string>& columns,
                                        const std::string& row) {
  std::vector<std::string> fields = SplitColumns(row);
  if (!fields.empty() && !fields.back().empty() && fields.back().back() == '\r') {
    fields.back().pop_back();
  }
  if (fields.size() < columns.size()) return std::nullopt;
  std::string out = "{";
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& name = columns[i];
    if (name.empty() || name == "-") continue;
    if (out.size() > 1) out += ',';
    AppendJsonString(&out, name);
    out += ':';
    const bool numeric_column = name == "timestamp" || name == "price" || name == "quantity" ||
                                name == "stock" || name == "totalAmount";
    if (numeric_column && IsNumber(fields[i])) {
      out += fields[i];
    } else {
      AppendJsonString(&out, fields[i]);
    }
  }
  return out + "}";
}

std::vector<ReplayEvent> LoadReplay(const std::string& path,
                                    const std::vector<std::string>& csv_columns,
                                    uint64_t* skipped) {
  std::vector<ReplayEvent> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (csv_columns.empty()) {
      out.push_back({line, TimeOf(line)});
      continue;
    }
    std::optional<std::string> json = CsvRowToJson(csv_columns, line);
    if (!json) {
      ++*skipped;
      continue;
    }
    int64_t t = TimeOf(*json);
    out.push_back({std::move(*json), t});
  }
  return out;
}

}  // namespace eddy
