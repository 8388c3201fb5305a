#!/usr/bin/env bash
# End-to-end HTTP ingest benchmark: starts the Release `eddy` on a free loopback port with
# a temp data dir and measures it with wrk (closed loop, keep-alive) for single-event POSTs
# and NDJSON batches, on the Taobao sample when ../shared/evaldata has it (else synthetic).
# Prints one line per workload. Usage: bench/http_bench.sh [duration_s] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
conns="${2:-32}"
source bench/lib.sh
csv=../shared/evaldata/taobao-userbehavior-sample/UserBehavior.csv
if [[ -r "$csv" ]]; then
  src=taobao
  awk -F, '{ t = ($4 == "pv") ? "view" : ($4 == "cart") ? "add_to_cart" : ($4 == "buy") ? "purchase" : "click";
             printf "{\"userId\":\"%s\",\"itemId\":\"%s\",\"category\":\"%s\",\"type\":\"%s\",\"timestamp\":%s}\n", $1, $2, $3, t, $5 }' \
    "$csv" > "$work/events.ndjson"
else
  src=synthetic
  awk 'BEGIN { srand(7); for (i = 0; i < 100000; i++)
         printf "{\"userId\":\"%d\",\"itemId\":\"%d\",\"category\":\"%d\",\"type\":\"view\",\"timestamp\":%d}\n",
                int(rand() * 58000), int(rand() * 75000), int(rand() * 3700), 1511658000 + int(i / 14) }' \
    > "$work/events.ndjson"
fi

start_eddy --log-level warn

echo "eddy http_bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "events: $src; ack=$(grep -m1 -o '^ack = "[a-z]*"' config/eddy.toml | cut -d'"' -f2) (config/eddy.toml); ${duration}s per workload; latency is per request"
# workload: events per request, wrk threads, connections
for w in "1 1 $conns" "1 2 $((conns * 2))" "100 1 $conns" "1000 1 $conns"; do
  set -- $w
  line=$(BATCH=$1 EVENTS_FILE="$work/events.ndjson" \
    wrk -t"$2" -c"$3" -d"${duration}s" -s bench/wrk/post.lua "http://127.0.0.1:$port" | grep '^RESULT')
  printf '%-34s %s\n' "http_post_batch_$1 (wrk -t$2 -c$3)" "${line#RESULT }"
done
