#!/usr/bin/env bash
# Read latency over HTTP beside ingest (issue 7's target: recommendations p99 < 2 ms with
# ingest at half of the maximum). Starts the Release `eddy` (config/eddy.toml, so ack=wal)
# on a temp data dir, measures the maximum NDJSON-100 ingest rate (closed loop), then runs
# open-loop ingest at a light load and at half that maximum with open-loop reads beside it,
# one line per read kind. Latencies are measured by eddy-load from each request's due time
# (no coordinated omission). The first kind, "floor", is GET /healthz: answered by the
# connection's thread with no engine work, so its latency is what the HTTP round trip alone costs under
# the same load on the same cores (client included): no read can beat it.
# Each run prints two lines: the ingest beside the reads (its requests' latency), then the
# reads, ending with eddy's context switches per ingested event over that run (all its
# threads, voluntary and involuntary, from /proc): what the hand-offs between threads cost.
# EDDY_BUILD_DIR=DIR runs another build's binaries (bench/lib.sh); eddy's own environment
# settings (EDDY_SERVER_IO_THREADS=2, ...) pass through.
# Usage: bench/reads.sh [duration_s] [reads_per_s]   (defaults 10, 200)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
reads="${2:-200}"
source bench/lib.sh

echo "eddy reads: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), client and server on the same box, ${duration}s per workload, $reads reads/s"
start_eddy --log-level warn
max=$(run --duration "$duration" --batch 100 --connections 16 --line "ingest_max" | tee /dev/stderr |
      awk '{print $2}')
half=$(awk -v r="$max" 'BEGIN { printf "%d", r / 2 }')
for kind in floor recent recommendations similar; do
  case "$kind" in
    floor) path='/healthz' ;;
    recent) path='/v1/users/{user}/recent?k=10' ;;
    recommendations) path='/v1/recommendations?userId={user}&k=10' ;;
    similar) path='/v1/items/i1/similar?k=10' ;;
  esac
  for rate in 10000 "$half"; do
    before=$(ctxsw)
    out=$(run --duration "$duration" --batch 100 --connections 16 --rate "$rate" --reads "$reads" \
      --read-path "$path" --line "${kind}_at_ingest_${rate}/s")
    after=$(ctxsw)
    events=$(awk -v r="$rate" -v d="$duration" 'BEGIN { print r * d }')
    grep -v '/reads' <<<"$out"
    echo "$(grep '/reads' <<<"$out")  ctxsw/event $(awk -v a="$after" -v b="$before" -v e="$events" 'BEGIN { printf "%.3f", (a - b) / e }')"
  done
done
stop_eddy
