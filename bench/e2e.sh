#!/usr/bin/env bash
# eddy's end-to-end benchmark: builds Release, starts `eddy` (config/eddy.toml) on a temp
# data dir and a free loopback port, drives it with eddy-load, and prints one line per
# workload (db_bench style): events/s, requests/s and latency percentiles in ms, measured
# by the client from each request's due time. `--compare` also runs
# bench/baseline-redis.sh on the same synthetic events and prints eddy / Redis.
# Usage: bench/e2e.sh [--compare] [--duration S]
set -euo pipefail
cd "$(dirname "$0")/.."
compare=0
duration=10
while (($#)); do
  case "$1" in
    --compare) compare=1 ;;
    --duration) duration="$2"; shift ;;
    *) echo "usage: bench/e2e.sh [--compare] [--duration S]" >&2; exit 2 ;;
  esac
  shift
done
source bench/lib.sh
start_ack() {  # a fresh data dir per ack level
  rm -rf "$work/data"
  : >"$work/eddy.log"
  start_eddy --log-level warn --set "durability.ack=$1"
}

echo "eddy e2e: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), client and server on the same box, ${duration}s per workload"
declare -A eddy_rate
for ack in memory wal fsync; do
  if ! start_ack "$ack"; then
    printf '%-34s not run: %s\n' "ack=$ack" "$(tail -1 "$work/eddy.log")"
    continue
  fi
  run --duration "$duration" --batch 1 --connections 32 --threads 2 --line "post_single/ack=$ack"
  out=$(run --duration "$duration" --batch 100 --connections 16 --line "ndjson_batch100/ack=$ack")
  echo "$out"
  eddy_rate[$ack]=$(awk '{print $2}' <<<"$out")
  # The same with events shaped like seed 002's (ISO timestamps, sessions, devices,
  # locations, mostly new customers: a pool large enough that they stay new), beside the
  # synthetic stream from an equally large pool (the default 200 k pool repeats every
  # fraction of a second, a warmer stream): the like-for-like pair.
  run --duration "$duration" --batch 100 --connections 16 --pool-events 2000000 \
    --line "ndjson_batch100_pool2m/ack=$ack"
  run --duration "$duration" --batch 100 --connections 16 --shape seed --pool-events 2000000 \
    --line "ndjson_batch100_seed_shape/ack=$ack"
  run --duration "$duration" --batch 1000 --connections 8 --line "ndjson_batch1000/ack=$ack"
  stop_eddy
done

start_ack memory
taobao=../shared/evaldata/taobao-userbehavior-sample/UserBehavior.csv
if [[ -r "$taobao" ]]; then
  run --replay "$taobao" --csv-columns user_id,item_id,category_id,behavior,timestamp \
    --batch 100 --connections 16 --speed max --duration 600 --line "replay_taobao_max_speed"
else
  printf '%-34s not run: %s not found\n' "replay_taobao_max_speed" "$taobao"
fi
half=$(awk -v r="${eddy_rate[memory]}" 'BEGIN { printf "%d", r / 2 }')
wait_applied  # the replay's backlog first: its drain is not these lines'
# Twice: "cold" right after the replay, whose ids the synthetic stream does not share — its
# first second grows the tables, the shards apply slower than the ingest comes, and each
# read waits for its partition to catch up (with eddy-load's 4 read connections, 2,000
# reads/s leave 2 ms a read, so the client queues them too); then the same again, warm.
run --duration "$duration" --batch 100 --connections 16 --rate "$half" --reads 2000 \
  --line "reads_at_half_ingest_cold($half/s)"
run --duration "$duration" --batch 100 --connections 16 --rate "$half" --reads 2000 \
  --line "reads_at_half_ingest($half/s)"
stop_eddy

if ((compare)); then
  redis=$(bench/baseline-redis.sh 1000000 | tail -n 2)
  echo "$redis"
  r0=$(awk '/no_persistence/ { print $3 }' <<<"$redis")
  r1=$(awk '/aof_everysec/ { print $3 }' <<<"$redis")
  awk -v e="${eddy_rate[memory]}" -v a="$r0" -v b="$r1" 'BEGIN {
    printf "%-34s %.1fx (eddy ndjson_batch100/ack=memory vs Redis layer, no persistence)\n", "ratio_eddy_over_redis", e / a
    printf "%-34s %.1fx (vs Redis layer with AOF everysec)\n", "ratio_eddy_over_redis_aof", e / b }'
fi
