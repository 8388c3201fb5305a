#!/usr/bin/env bash
# What the commerce analytics (sessions + funnel, revenue windows, inventory with its stock
# moves) cost at ingest: eddy with them on (the default) and off (sessions.enabled =
# revenue.enabled = inventory.enabled = false) — or, with --feature customers, fraud
# scoring with bot marking and customer insights (fraud.enabled, insights.enabled; the IP
# order window with fraud), alternating
# on/off runs on fresh data dirs so that drift hits both alike, NDJSON batches of 100 of
# seed-shaped events (sessions, purchases with orders and prices) and the synthetic
# stream. Prints one line per run (with eddy's CPU time per event) and the mean ratios
# on/off per stream: of events/s, and of CPU per event (off/on: what fraction of the CPU
# an event costs with analytics on is left with them off).
# --feature metrics: the recording for GET /metrics (request durations, freshness probes,
# commit timing) on and off (server.metrics); --feature auth: every request carrying an
# API key that is checked (auth.enabled, X-API-Key) against no auth; --feature embedding:
# the item embeddings (embedding.enabled) on and off.
# Usage: bench/analytics.sh [--pairs N] [--duration S] [--ack memory|wal|fsync]
#                           [--feature analytics|customers|metrics|auth|embedding]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=3
duration=10
ack=wal
feature=analytics
while (($#)); do
  case "$1" in
    --feature) feature="$2"; shift ;;
    --pairs) pairs="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --ack) ack="$2"; shift ;;
    *) echo "usage: bench/analytics.sh [--pairs N] [--duration S] [--ack A] [--feature F]" >&2; exit 2 ;;
  esac
  shift
done
source bench/lib.sh
on=()
on_load=()
off=()
case "$feature" in
  analytics) off=(--set sessions.enabled=false --set revenue.enabled=false
                  --set inventory.enabled=false) ;;
  customers) off=(--set fraud.enabled=false --set insights.enabled=false) ;;
  metrics) off=(--set server.metrics=false) ;;
  embedding) off=(--set embedding.enabled=false) ;;
  auth)
    key=bench-key-0123456789
    hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
    on=(--set auth.enabled=true --set "auth.keys=[\"bench:ingest,read:$hash\"]")
    on_load=(--header "X-API-Key: $key") ;;
  *) echo "bench/analytics.sh: --feature analytics, customers, metrics, auth or embedding" >&2; exit 2 ;;
esac
echo "eddy $feature on/off: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), ack=$ack, ${duration}s per run, $pairs pairs"
declare -A sum cpu
for ((i = 1; i <= pairs; ++i)); do
  for mode in on off; do
    flags=(--log-level warn --set "durability.ack=$ack")
    load_flags=()
    if [[ $mode == off ]]; then
      flags+=("${off[@]}")
    else
      flags+=("${on[@]}")
      load_flags=("${on_load[@]}")
    fi
    for shape in seed synthetic; do
      rm -rf "$work/data"
      start_eddy "${flags[@]}"
      out=$(run "${load_flags[@]}" --duration "$duration" --batch 100 --connections 16 --shape "$shape" \
        --pool-events 2000000 --line "${feature}_${mode}/${shape}/pair$i")
      # eddy's CPU time (user + system, all threads) per accepted event: steadier than
      # events/s on a VM whose share of the cores drifts.
      ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      rate=$(awk '{print $2}' <<<"$out")
      us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v r="$rate" -v d="$duration" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / (r * d) }')
      echo "$out  cpu ${us} us/event"
      stop_eddy
      sum[$mode/$shape]=$(awk -v s="${sum[$mode/$shape]:-0}" -v r="$rate" 'BEGIN { print s + r }')
      cpu[$mode/$shape]=$(awk -v s="${cpu[$mode/$shape]:-0}" -v r="$us" 'BEGIN { print s + r }')
    done
  done
done
for shape in seed synthetic; do
  awk -v on="${sum[on/$shape]}" -v off="${sum[off/$shape]}" -v con="${cpu[on/$shape]}" \
    -v coff="${cpu[off/$shape]}" -v s="$shape" -v n="$pairs" \
    'BEGIN { printf "%s: mean on %.0f events/s, off %.0f events/s, on/off = %.1f%%; cpu on %.2f, off %.2f us/event, off/on = %.1f%%\n", s, on / n, off / n, 100 * on / off, con / n, coff / n, 100 * coff / con }'
done
