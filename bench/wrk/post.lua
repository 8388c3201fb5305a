-- wrk body script for eddy: POSTs request bodies read from a file, in turn.
-- The file holds one event per line; BATCH (env, default 1) lines make one request:
-- BATCH=1 sends a single JSON object (application/json), BATCH>1 sends NDJSON.
-- At the end it prints one summary line with events/s and latency percentiles.
local batch = tonumber(os.getenv("BATCH") or "1")
local path = os.getenv("EVENTS_FILE")
local bodies = {}
local counter = 0

local function load()
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  local i = 1
  while i + batch - 1 <= #lines do
    bodies[#bodies + 1] = table.concat(lines, "\n", i, i + batch - 1) .. (batch > 1 and "\n" or "")
    i = i + batch
  end
end

function init(args)
  load()
  wrk.method = "POST"
  wrk.path = "/v1/events"
  wrk.headers["Content-Type"] = batch > 1 and "application/x-ndjson" or "application/json"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT batch=%d requests/s=%.0f events/s=%.0f p50_us=%d p99_us=%d p999_us=%d max_us=%d errors=%d\n",
    batch, summary.requests / secs, summary.requests * batch / secs,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, errors))
end
