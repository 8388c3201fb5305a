# Shared by the bench scripts: build Release, start eddy on a temp data dir and a free
# loopback port, stop it. Source it after `cd` to the repository root.
#   start_eddy [eddy args...]   sets $pid and $port; returns 1 if eddy exited instead (its
#                               log's last lines on stderr)
#   stop_eddy [signal]          default TERM; waits for the exit
#   run [eddy-load args...]     eddy-load against the started eddy, no progress line
# $work is a temp dir removed on exit (with eddy killed if still running).
# EDDY_BUILD_DIR=DIR: run the eddy and eddy-load in DIR instead, building nothing (to compare two
# builds in alternating runs: copy one build's two binaries aside, rebuild, alternate), and
# EDDY_BENCH_CONFIG=FILE another config than config/eddy.toml (an older build's own).
bin="${EDDY_BUILD_DIR:-build/release}"
config="${EDDY_BENCH_CONFIG:-config/eddy.toml}"
if [[ -z "${EDDY_BUILD_DIR:-}" ]]; then
  tools/setup-deps.sh >/dev/null
  cmake --preset release >/dev/null
  cmake --build --preset release --target eddy eddy-load >/dev/null
fi
work=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_eddy() {
  rm -f "$work/port"
  "$bin/eddy" --config "$config" --port 0 --port-file "$work/port" \
    --data-dir "$work/data" "$@" 2>>"$work/eddy.log" &
  pid=$!
  while [[ ! -s "$work/port" ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=""
      echo "eddy exited at start ($bin/eddy, config $config):" >&2
      tail -n 20 "$work/eddy.log" >&2
      return 1
    fi
    sleep 0.01
  done
  port=$(cat "$work/port")
}

run() { "$bin/eddy-load" --port "$port" --no-progress "$@"; }

# A steady open-loop load beside a probe: RATE events/s (NDJSON batches of 100, 8
# connections) for SECONDS + 2, in the background; its summary goes to $work/load.txt and
# its pid to $load. Lets it reach its rate before returning.
start_load() {
  "$bin/eddy-load" --port "$port" --rate "$1" --batch 100 --connections 8 \
    --duration "$(($2 + 2))" --no-progress --line "ingest_at_${1}/s" >"$work/load.txt" &
  load=$!
  sleep 1
}

stop_eddy() {
  kill "-${1:-TERM}" "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}

# Polls eddy until its shards have applied every event it acknowledged. A closed-loop run
# ends with a backlog of up to a log's capacity (with ack memory, acknowledged before it is
# applied); a read catches up before it answers, so a phase started at once would measure
# that backlog's drain in its first second, not itself. Gives up (and says so) after 60 s.
wait_applied() {
  local deadline=$((SECONDS + 60)) status
  while ((SECONDS < deadline)); do
    status=$(curl -s "http://127.0.0.1:$port/v1/stream/status")
    if [[ "$status" == *'"lag_events":'* && "$status" != *'"lag_events":'[1-9]* ]]; then return 0; fi
    sleep 0.05
  done
  echo "eddy was still applying after 60 s" >&2
}

# Context switches (voluntary + involuntary) of every thread of eddy so far: a thread that
# ended is not counted, so read it before and after a run while eddy is up.
ctxsw() {
  cat /proc/"$pid"/task/*/status 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# eddy's own view of one route's requests so far, from its histogram (header read to reply
# written; buckets at 10 and 25 ms): "count over_10ms over_25ms", summed over status codes.
# ROUTE is the metric's route label, e.g. /v1/recommendations.
route_latency() {
  curl -s "http://127.0.0.1:$port/metrics" | awk -v r="{route=\"$1\"," '
    index($0, "eddy_http_request_duration_seconds_bucket" r) == 1 {
      if ($0 ~ /le="0[.]01"/) le10 += $2
      else if ($0 ~ /le="0[.]025"/) le25 += $2
      else if ($0 ~ /le="[+]Inf"/) n += $2
    }
    END { printf "%d %d %d\n", n, n - le10, n - le25 }'
}

# The shard threads' time so far waiting for a core (runnable, not running; from
# /proc/<tid>/schedstat), in ns summed over them, and how many there are: "waiting threads".
shard_waits() {
  local t
  for t in /proc/"$pid"/task/*; do
    if [[ "$(cat "$t/comm" 2>/dev/null)" == eddy-shard-* ]]; then cat "$t/schedstat"; fi
  done | awk '{ wait += $2; n++ } END { printf "%.0f %d\n", wait, n }'
}
