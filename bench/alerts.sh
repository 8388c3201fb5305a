#!/usr/bin/env bash
# Alert latency under load (issue 15): starts eddy (config/eddy.toml: ack wal) on a free
# port, drives it with eddy-load at a steady RATE events/s (NDJSON batches of 100, open
# loop), and runs bench/alert_latency.cc beside it: the time from a purchase's
# acknowledgement to the low-stock alert it raised arriving on GET /v1/alerts/stream.
# Usage: bench/alerts.sh [RATE] [SECONDS]   (defaults 250000, 10; RATE 0 = no load)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-250000}
seconds=${2:-10}
source bench/lib.sh
cmake --build --preset release --target alert_latency >/dev/null
start_eddy --log-level warn
load=""
if [ "$rate" != 0 ]; then
  start_load "$rate" "$seconds"
fi
./build/release/bench/alert_latency "$port" "$seconds"
if [ -n "$load" ]; then
  wait "$load"
  cat "$work/load.txt"
fi
