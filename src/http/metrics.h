#pragma once
// GET /metrics: the Prometheus text exposition (format 0.0.4) of eddy's figures, built from
// Engine::Status() and the HTTP front end's HttpMetrics at scrape time with prometheus-cpp's
// serializer (no registry: the data path records into fixed atomic histograms), plus the process's CPU time, resident memory and open file
// descriptors from /proc/self. Names: `eddy_` prefix, base units, `_total` counters; the
// process_* ones as Prometheus clients conventionally name them.
//
// Thread-safety: a pure function of its arguments (and /proc/self).

#include <string>
#include <vector>

#include "eddy/engine.h"
#include "http/http_metrics.h"

namespace eddy {

std::string RenderMetrics(const StreamStatus& status, const HttpMetrics& http,
                          const std::vector<std::string>& route_labels);

}  // namespace eddy
