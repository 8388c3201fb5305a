#pragma once
// Reloading the config while eddy runs (SIGHUP, POST /v1/admin/reload): the file, the
// environment and the command line's overrides are read again and validated; when valid,
// the settings that can change live are applied — auth, limits, server.cors_origins,
// server.access_log, logging.level, ranking (but ranking.bought_items) and offers — and the
// others that changed are named as needing a restart. An invalid config changes nothing.
//
// Thread-safety: Reload may be called from any thread; calls are serialised.

#include <string>
#include <vector>

#include "config/loader.h"
#include "eddy/engine.h"
#include "http/server.h"
#include "util/mutex.h"

namespace eddy {

struct ReloadOutcome {
  Status status;                          // not OK: the config is invalid; nothing changed
  std::vector<std::string> applied;       // changed live: "auth", "limits", ...
  std::vector<std::string> restart;       // changed, applied at the next start: "fraud", ...
  std::string Json() const;               // the reply of POST /v1/admin/reload
};

class Reloader {
 public:
  // `running`: the options eddy started with (copied: the reloader tracks what is in force).
  Reloader(ConfigSources sources, const Options& running, Engine& engine, HttpServer& server)
      : sources_(std::move(sources)), in_force_(running), engine_(engine), server_(server) {}

  ReloadOutcome Reload();

 private:
  const ConfigSources sources_;
  Mutex mu_;
  Options in_force_ ABSL_GUARDED_BY(mu_);
  Engine& engine_;
  HttpServer& server_;
};

}  // namespace eddy
