#!/usr/bin/env bash
# The peer eddy replaces: the seed design's Redis state layer, on a local redis-server
# (loopback, 127.0.0.1). The same synthetic events as eddy-load's default stream (same
# generator and seed) become the layer's commands, 8 per event (trending ZINCRBY 1h and
# 24h, velocity INCR + EXPIRE, engagement HINCRBY, affinity ZINCRBY, recent LPUSH +
# LTRIM), sent fully pipelined by `redis-cli --pipe`, as a well-written consumer would.
# Prints one line per persistence mode: no persistence, then AOF with appendfsync everysec.
# Usage: bench/baseline-redis.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-1000000}"
tools/setup-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target eddy-load >/dev/null

work=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
./build/release/eddy-load --emit-redis "$events" > "$work/cmds.resp"

run_mode() {  # name, extra redis-server flags...
  local name=$1; shift
  local port; port=$(./build/release/eddy-load --print-free-port)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --save "" "$@" \
    --daemonize no --logfile "$work/redis-$name.log" &
  pid=$!
  for _ in $(seq 1 500); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.01; done
  redis-cli -p "$port" flushall >/dev/null
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(redis-cli -p "$port" --pipe < "$work/cmds.resp")
  t1=$(date +%s.%N)
  if ! grep -q "errors: 0" <<<"$out"; then echo "redis: $out" >&2; fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  awk -v n="$events" -v a="$t0" -v b="$t1" -v name="$name" \
    'BEGIN { s = b - a; printf "%-34s events/s %11.0f  commands/s %11.0f  (%d events in %.2f s)\n", "redis_layer_" name, n / s, 8 * n / s, n, s }'
}

echo "redis baseline: $(redis-server --version | cut -d' ' -f3), $(nproc) cores, $events events x 8 commands, redis-cli --pipe"
run_mode no_persistence --appendonly no
run_mode aof_everysec --appendonly yes --appendfsync everysec
