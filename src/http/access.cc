#include "http/access.h"

#include <cstdio>

#include "eddy/clock.h"
#include "http/json_writer.h"
#include "util/time.h"

namespace eddy {

Result<std::shared_ptr<AccessLog>> AccessLog::Open(const std::string& where) {
  std::FILE* f = where == "-" ? stdout : std::fopen(where.c_str(), "a");
  if (f == nullptr) {
    return Status::IoError("server.access_log: cannot open '" + where + "' for appending");
  }
  return std::shared_ptr<AccessLog>(new AccessLog(where, f));
}

AccessLog::~AccessLog() {
  MutexLock lock(&mu_);
  std::fflush(file_);
  if (file_ != stdout) std::fclose(file_);
}

void AccessLog::Write(const Entry& e) {
  JsonWriter w;
  w.BeginObject().Key("time").String(FormatIso8601(Clock::System()->Now()));
  w.Key("method").String(e.method).Key("route").String(e.route).Key("status").Uint(e.status);
  w.Key("duration_ms").Double(e.duration_ms).Key("bytes").Uint(e.bytes);
  w.Key("key").String(e.key).Key("client").String(e.client).EndObject();
  std::string line = w.Take();
  line += '\n';
  MutexLock lock(&mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);  // a line is whole in the file once the response is sent
}

}  // namespace eddy
