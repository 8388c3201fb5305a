#!/usr/bin/env bash
# Freshness under load (issue 5, SPEC §5): starts eddy (config/eddy.toml, ack memory) on a
# free port, drives it with eddy-load at a steady RATE events/s (NDJSON batches of 100,
# open loop), and runs bench/freshness.cc beside it: the time from a POST's reply to the
# first read that reflects the event. Prints the load's achieved rate and the percentiles.
# Usage: bench/freshness.sh [RATE] [SECONDS]   (defaults 250000, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-250000}
seconds=${2:-10}
tools/setup-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target eddy eddy-load freshness >/dev/null
work=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
./build/release/eddy --config config/eddy.toml --port 0 --port-file "$work/port" \
  --data-dir "$work/data" --log-level warn 2>"$work/eddy.log" &
pid=$!
for _ in $(seq 1 1000); do [[ -s "$work/port" ]] && break; sleep 0.01; done
port=$(cat "$work/port")
./build/release/eddy-load --port "$port" --rate "$rate" --batch 100 --connections 8 \
  --duration "$((seconds + 2))" --no-progress --line "ingest_at_${rate}/s" >"$work/load.txt" &
load=$!
sleep 1  # let the load reach its rate before probing
./build/release/bench/freshness "$port" "$seconds"
wait "$load"
cat "$work/load.txt"
