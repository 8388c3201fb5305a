#!/usr/bin/env bash
# Ingest beside a read flood: a read flood (hundreds of connections asking for
# recommendations as fast as they can) must not starve ingest. Starts the Release `eddy`
# (config/eddy.toml: ack wal, server.read_deadline_ms, runtime.max_queued_reads) on a temp
# data dir, measures NDJSON-100 ingest alone (closed loop), then the same ingest while a
# second eddy-load floods reads; prints both ingest lines and the flood's read line (its
# errors are the 429s and 503s backpressure answered). Client and server share the box.
# Usage: bench/flood.sh [duration_s] [read_connections]   (defaults 10, 256)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
conns="${2:-256}"
source bench/lib.sh

echo "eddy flood: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), client and server on the same box, ${duration}s per workload, $conns read connections"
start_eddy --log-level warn
run --duration "$duration" --batch 100 --connections 16 --line "ingest_alone"
run --duration "$((duration + 2))" --rate 10 --connections 1 --reads 1000000 \
  --read-connections "$conns" --read-path '/v1/recommendations?userId={user}&k=10' \
  --line "flood" >"$work/flood.txt" &
flood=$!
sleep 1  # let the flood's connections open before the measured ingest starts
run --duration "$duration" --batch 100 --connections 16 --line "ingest_beside_flood"
wait "$flood"
grep '/reads' "$work/flood.txt" || cat "$work/flood.txt"
stop_eddy
