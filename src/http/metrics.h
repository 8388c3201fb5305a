#pragma once
// GET /metrics: the Prometheus text exposition (format 0.0.4) of eddy's figures, built from
// Engine::Status() at scrape time with prometheus-cpp's serializer (no registry, nothing
// recorded on the data path), plus the process's CPU time, resident memory and open file
// descriptors from /proc/self. Names: `eddy_` prefix, base units, `_total` counters; the
// process_* ones as Prometheus clients conventionally name them.
//
// Thread-safety: a pure function of its arguments (and /proc/self).

#include <string>

#include "eddy/engine.h"

namespace eddy {

std::string RenderMetrics(const StreamStatus& status);

}  // namespace eddy
