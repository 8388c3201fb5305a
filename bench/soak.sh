#!/usr/bin/env bash
# Memory soak (issue 5): starts eddy with caps below the stream's key counts, sends
# EVENTS synthetic events (default 10 M; 1 M users, 400 k items, NDJSON batches of 100 at
# max speed), and prints RSS over time (after each 5 s of load) and at the end, per
# state, the keys tracked against its cap, the estimated bytes and the evictions
# (/v1/stream/status). SHAPE "seed" sends seed-002-shaped events instead: mostly new
# customers, a new session per burst, an order per purchase, 20 M items with a flat
# skew — the stream that would grow the interned strings if ids were not recycled (the
# end shows, per kind, the ids live and recycled, and the sweeps). Each step's line also
# gives each shard's backlog (events accepted, not yet applied) right after the load.
# Usage: bench/soak.sh [EVENTS] [synthetic|seed]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
shape=${2:-synthetic}
stream=(--users 1000000 --items 400000 --categories 2000)
[[ "$shape" == seed ]] && stream=(--shape seed --users 1000000 --items 20000000 --item-skew 0.2 --categories 2000)
source bench/lib.sh
caps=(--set recent.max_users=200000 --set affinity.max_users=200000
      --set popularity.max_items=100000 --set engagement.max_items=100000
      --set coview.max_items=50000 --set ingest.dedup_max_ids=1000000
      --set sessions.max_users=200000 --set revenue.max_orders=200000
      --set catalog.max_items=100000)
start_eddy --log-level warn "${caps[@]}"
rss() { awk '/VmRSS|VmHWM/ { printf "%s %d MiB  ", $1, $2 / 1024 }' "/proc/$pid/status"; echo; }
status() { curl -s "localhost:$port/v1/stream/status"; }
accepted() { status | grep -o '"accepted_total":[0-9]*' | cut -d: -f2; }
# Events accepted but not yet applied, per shard: a backlog that grows step after step
# means the shards (with every state they apply, embeddings included) fall behind.
lag() { status | grep -o '"lag_events":[0-9]*' | cut -d: -f2 | paste -sd/; }
echo "caps: ${caps[*]}"
echo "before: $(rss)"
start=$(date +%s.%N)
while (( $(accepted) < events )); do
  ./build/release/eddy-load --port "$port" --batch 100 --connections 16 --duration 5 \
    "${stream[@]}" --pool-events 2000000 --no-progress --seed "$RANDOM" --line soak >/dev/null
  echo "  $(accepted) events: $(rss) shard lag $(lag)"
done
end=$(date +%s.%N)
sleep 2  # shards publish their memory figures about once a second
echo "after $(accepted) events in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s: $(rss)"
status | python3 -c '
import json, sys
s = json.load(sys.stdin)
for name, m in s["memory"].items():
    if isinstance(m, dict):
        print("  %-11s keys %9d  bytes %8.1f MiB  evicted %9d" % (name, m["keys"], m["bytes"] / 2**20, m["evicted"]))
print("  total_bytes %.1f MiB" % (s["memory"]["total_bytes"] / 2**20))
ids = s["ids"]
print("  ids: " + ", ".join("%s %d live / %d recycled" % (k, v["live"], v["freed"])
                             for k, v in ids.items() if isinstance(v, dict)))
print("  id sweeps %d, the last %.0f ms" % (ids["sweeps"], ids["last_sweep_ms"]))
'
