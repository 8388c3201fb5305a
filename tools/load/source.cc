#include "load/source.h"

#include <charconv>
#include <cmath>
#include <fstream>

namespace eddy::load {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64: a deterministic per-item draw
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double Unit(uint64_t x) { return static_cast<double>(Mix(x) >> 11) * 0x1.0p-53; }

bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  double d;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendJsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;  // CSV fields have no controls
    out->push_back(c);
  }
  out->push_back('"');
}

void Resp(std::string* out, std::initializer_list<std::string_view> args) {
  *out += '*';
  *out += std::to_string(args.size());
  *out += "\r\n";
  for (std::string_view a : args) {
    *out += '$';
    *out += std::to_string(a.size());
    *out += "\r\n";
    out->append(a);
    *out += "\r\n";
  }
}

}  // namespace

Synthetic::Synthetic(const SyntheticOptions& o)
    : o_(o),
      rng_(o.seed),
      users_(o.users, o.user_skew),
      items_(o.items, o.item_skew),
      categories_(o.categories, o.category_skew) {}

std::string Synthetic::SampleUser(std::mt19937_64& rng) const {
  return "u" + std::to_string(users_.Sample(rng));
}

void Synthetic::Next(std::string* out, EventFields* fields) {
  if (burst_left_ <= 0) {
    user_ = users_.Sample(rng_);
    burst_left_ = 1 + static_cast<int>(rng_() % static_cast<uint64_t>(std::max(1, o_.max_burst)));
  }
  --burst_left_;
  const uint64_t item = items_.Sample(rng_);
  const uint64_t category = categories_.RankFor(Unit(item));  // fixed per item
  const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const char* type = "click";
  int weight = 3;
  if (r < o_.view) {
    type = "view", weight = 1;
  } else if (r < o_.view + o_.cart) {
    type = "add_to_cart", weight = 5;
  } else if (r < o_.view + o_.cart + o_.wishlist) {
    type = "wishlist", weight = 4;
  } else if (r < o_.view + o_.cart + o_.wishlist + o_.purchase) {
    type = "purchase", weight = 10;
  }
  const std::string u = "u" + std::to_string(user_), i = "i" + std::to_string(item),
                    c = "c" + std::to_string(category);
  *out += "{\"userId\":\"" + u + "\",\"itemId\":\"" + i + "\",\"category\":\"" + c +
          "\",\"type\":\"" + type + "\"";
  if (weight == 10) {
    const double price = 1.0 + std::floor(Unit(item ^ 0x5eed) * 19900.0) / 100.0;
    char buf[32];
    auto end = std::to_chars(buf, buf + sizeof buf, price).ptr;
    *out += ",\"price\":" + std::string(buf, end) + ",\"orderId\":\"o" +
            std::to_string(o_.seed) + "-" + std::to_string(++orders_) + "\"";
  }
  *out += '}';
  if (fields != nullptr) *fields = EventFields{u, i, c, type, weight};
}

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

namespace {

// The epoch-ms time of a JSON event text with a numeric "timestamp" (seconds or ms).
int64_t TimeOf(const std::string& json) {
  size_t k = json.find("\"timestamp\":");
  if (k == std::string::npos) return 0;
  size_t p = k + 12;
  while (p < json.size() && json[p] == ' ') ++p;
  double v = 0;
  auto [end, ec] = std::from_chars(json.data() + p, json.data() + json.size(), v);
  if (ec != std::errc()) return 0;
  return std::fabs(v) < 1e11 ? static_cast<int64_t>(v * 1000) : static_cast<int64_t>(v);
}

}  // namespace

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

void AppendRedisCommands(const EventFields& e, int64_t minute, std::string* out) {
  const std::string w = std::to_string(e.weight);
  const std::string vel = "velocity:" + e.category + ":" + std::to_string(minute);
  Resp(out, {"ZINCRBY", "trending:1h", w, e.category});
  Resp(out, {"ZINCRBY", "trending:24h", w, e.category});
  Resp(out, {"INCR", vel});
  Resp(out, {"EXPIRE", vel, "3600"});
  Resp(out, {"HINCRBY", "engagement:" + e.item, e.type, "1"});
  Resp(out, {"ZINCRBY", "affinity:" + e.user, w, e.category});
  Resp(out, {"LPUSH", "recent:" + e.user, e.item});
  Resp(out, {"LTRIM", "recent:" + e.user, "0", "49"});
}

}  // namespace eddy::load
