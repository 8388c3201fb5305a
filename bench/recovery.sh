#!/usr/bin/env bash
# Recovery benchmark (issue 6): ingests EVENTS synthetic events (default 10 M, eddy-load's
# default stream, NDJSON batches of 100, ack=wal), then measures
#   1. a clean restart: SIGTERM writes a checkpoint; the restart loads it and replays
#      nothing (time to ready as the script sees it, and eddy's own recovery line);
#   2. a crash restart: 1 M more events, kill -9, restart = checkpoint + replay of the
#      events after it;
#   3. a full replay: `eddy replay` rebuilds everything from the event store (events/s).
# Usage: bench/recovery.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
source bench/lib.sh
status() { curl -s "localhost:$port/v1/stream/status"; }
accepted() { status | grep -o '"accepted_total":[0-9]*' | cut -d: -f2; }
load_until() {  # total accepted in this run
  while (( $(accepted) < $1 )); do
    ./build/release/eddy-load --port "$port" --batch 100 --connections 16 --duration 5 \
      --no-progress --seed "$RANDOM" --line load >/dev/null
  done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
recovery_line() { grep -o 'recovery: .*' "$work/eddy.log" | tail -1; }

echo "eddy recovery: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
start_eddy --log-level info
t=$(now); load_until "$events"; n=$(accepted)
echo "ingested $n events in $(since "$t") s"
t=$(now); stop_eddy TERM
echo "clean stop (with the shutdown checkpoint): $(since "$t") s; $(grep -o 'checkpoint [0-9]*: .*' "$work/eddy.log" | tail -1)"
du -sh "$work/data/log" "$work/data/checkpoints" | sed 's/^/  on disk: /'

t=$(now); start_eddy --log-level info
echo "restart from the checkpoint: ready in $(since "$t") s; $(recovery_line)"
load_until 1000000
stop_eddy KILL
t=$(now); start_eddy --log-level info
echo "restart after kill -9 (the checkpoint + the events after it): ready in $(since "$t") s; $(recovery_line)"
stop_eddy TERM

./build/release/eddy replay --config config/eddy.toml --data-dir "$work/data" 2>&1 | tail -1
