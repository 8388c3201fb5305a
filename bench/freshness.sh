#!/usr/bin/env bash
# Freshness under load (issue 5, SPEC §5): starts eddy (config/eddy.toml: ack wal) on a
# free port, drives it with eddy-load at a steady RATE events/s (NDJSON batches of 100,
# open loop), and runs bench/freshness.cc beside it: the time from a POST's reply to the
# first read that reflects the event. Prints the load's achieved rate and the percentiles.
# Usage: bench/freshness.sh [RATE] [SECONDS]   (defaults 250000, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-250000}
seconds=${2:-10}
source bench/lib.sh
cmake --build --preset release --target freshness >/dev/null
start_eddy --log-level warn
start_load "$rate" "$seconds"
./build/release/bench/freshness "$port" "$seconds"
wait "$load"
cat "$work/load.txt"
