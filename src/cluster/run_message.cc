#include "cluster/run_message.h"

#include <cstdio>

#include "util/hash.h"
#include "util/serial.h"

namespace eddy {

std::string EncodeRun(const std::vector<std::string_view>& events) {
  std::string out;
  SerialWriter w(&out);
  w.U8('R');
  w.U8(kRunMessageVersion);
  w.U64(events.size());
  for (std::string_view e : events) w.Bytes(e);
  return out;
}

Status DecodeRun(std::string_view message, std::vector<std::string_view>* events) {
  events->clear();
  SerialReader r(message);
  const uint8_t magic = r.U8(), version = r.U8();
  if (!r.ok() || magic != 'R') return Status::Corruption("run message: not a run (no 'R' header)");
  if (version != kRunMessageVersion) {
    return Status::Corruption("run message: format version " + std::to_string(version) +
                              " (this eddy reads version " + std::to_string(kRunMessageVersion) + ")");
  }
  const uint64_t n = r.Count(1);
  if (!r.ok() || n == 0) return Status::Corruption("run message: no events");
  for (uint64_t i = 0; i < n; ++i) {
    const std::string_view e = r.Bytes();
    if (!r.ok()) return Status::Corruption("run message: event " + std::to_string(i) + " truncated");
    events->push_back(e);
  }
  if (!r.done()) return Status::Corruption("run message: trailing bytes");
  return Status::Ok();
}

std::string RunMessageId(const std::vector<EventIdHash>& ids) {
  if (ids.empty()) return {};
  std::string key;
  SerialWriter w(&key);
  for (const EventIdHash& id : ids) {
    if (!id.present()) return {};
    w.Fixed64(id.lo);
    w.Fixed64(id.hi);
  }
  const EventIdHash h = StableHash128(key);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.hi),
                static_cast<unsigned long long>(h.lo));
  return hex;
}

}  // namespace eddy
