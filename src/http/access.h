#pragma once
// The HTTP front end's per-request policy, swapped whole on reload: authentication, CORS
// and the access log. Each I/O thread holds its own (shared_ptr, replaced on that thread),
// so checking a request takes no lock.
//
// Thread-safety: a Policy is used by one I/O thread at a time (its Authenticator caches);
// the AccessLog it points to is shared and thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/options.h"
#include "eddy/result.h"
#include "eddy/status.h"
#include "http/auth.h"
#include "util/mutex.h"

namespace eddy {

// One JSON line per request, to a file (appended) or standard output.
class AccessLog {
 public:
  // `where`: "-" = standard output, else a path. Error: the file cannot be opened.
  static Result<std::shared_ptr<AccessLog>> Open(const std::string& where);
  ~AccessLog();

  struct Entry {
    std::string_view method, route, key, client;
    unsigned status = 0;
    double duration_ms = 0;
    uint64_t bytes = 0;  // the response body
  };
  void Write(const Entry& e);
  const std::string& where() const { return where_; }

 private:
  AccessLog(std::string where, std::FILE* f) : where_(std::move(where)), file_(f) {}
  const std::string where_;
  Mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_);
};

struct Policy {
  bool auth = false;
  Authenticator authenticator;
  std::vector<std::string> cors_origins;
  std::shared_ptr<AccessLog> access_log;  // null: off

  Policy(const Options& o, std::shared_ptr<AccessLog> log)
      : auth(o.auth.enabled), authenticator(o.auth), cors_origins(o.server.cors_origins),
        access_log(std::move(log)) {}

  // The value of Access-Control-Allow-Origin for `origin` ("" = not allowed): a view into
  // cors_origins, valid as long as this Policy.
  std::string_view AllowedOrigin(std::string_view origin) const {
    for (const std::string& o : cors_origins) {
      if (o == "*" || o == origin) return o;
    }
    return {};
  }
};

}  // namespace eddy
