#!/usr/bin/env bash
# Read latency over HTTP beside ingest (issue 7's target: recommendations p99 < 2 ms with
# ingest at half of the maximum). Starts the Release `eddy` (config/eddy.toml, so ack=wal)
# on a temp data dir, measures the maximum NDJSON-100 ingest rate (closed loop), then runs
# open-loop ingest at a light load and at half that maximum with open-loop reads beside it,
# one line per read kind. Latencies are measured by eddy-load from each request's due time
# (no coordinated omission). The first kind, "floor", is GET /healthz: answered by the
# connection's thread with no engine work, so its latency is what the HTTP round trip alone costs under
# the same load on the same cores (client included): no read can beat it.
# Each run prints two lines: the ingest beside the reads (its requests' latency), then the
# reads, ending with eddy's context switches per ingested event over that run (all its
# threads, voluntary and involuntary, from /proc): what the hand-offs between threads cost.
# A third line is eddy's own view of the same reads: the share of them its histogram (from
# reading the request's header to writing the reply) put over 10 ms and over 25 ms — what
# issue 22's p99 and p999 bounds ask of the server, without the client's side of the box —
# and how much of the run each shard thread spent runnable but waiting for a core.
# The last line, issue22_bounds, says whether that run kept issue 22's bounds (recommendations
# at half p99 <= 10 ms and p999 <= 25 ms, the ingest beside them p99 <= 20 ms) and which it missed.
# EDDY_BUILD_DIR=DIR runs another build's binaries (bench/lib.sh); eddy's own environment
# settings (EDDY_SERVER_IO_THREADS=2, ...) pass through.
# Usage: bench/reads.sh [duration_s] [reads_per_s]   (defaults 10, 200)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
reads="${2:-200}"
source bench/lib.sh

echo "eddy reads: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), client and server on the same box, ${duration}s per workload, $reads reads/s"
start_eddy --log-level warn
# (Printed from the shell, not through `tee /dev/stderr`: reopening stderr when it is a
# file writes at that file's start, over the lines before.)
max_line=$(run --duration "$duration" --batch 100 --connections 16 --line "ingest_max")
echo "$max_line"
max=$(awk '{print $2}' <<<"$max_line")
wait_applied  # the maximum run's backlog first: its drain is no read's
half=$(awk -v r="$max" 'BEGIN { printf "%d", r / 2 }')
for kind in floor recent recommendations similar; do
  case "$kind" in
    floor) path='/healthz' route='/healthz' ;;
    recent) path='/v1/users/{user}/recent?k=10' route='/v1/users/{id}/recent' ;;
    recommendations) path='/v1/recommendations?userId={user}&k=10' route='/v1/recommendations' ;;
    similar) path='/v1/items/i1/similar?k=10' route='/v1/items/{id}/similar' ;;
  esac
  for rate in 10000 "$half"; do
    before=$(ctxsw)
    read -r n0 over10_0 over25_0 < <(route_latency "$route")
    read -r wait0 shards < <(shard_waits)
    start_ns=$(date +%s%N)
    out=$(run --duration "$duration" --batch 100 --connections 16 --rate "$rate" --reads "$reads" \
      --read-path "$path" --line "${kind}_at_ingest_${rate}/s")
    elapsed_ns=$(($(date +%s%N) - start_ns))
    read -r wait1 _ < <(shard_waits)
    read -r n1 over10_1 over25_1 < <(route_latency "$route")
    after=$(ctxsw)
    events=$(awk -v r="$rate" -v d="$duration" 'BEGIN { print r * d }')
    grep -v '/reads' <<<"$out"
    if [[ "$kind" == recommendations && "$rate" == "$half" ]]; then
      bounds="$(awk '$1 !~ /\/reads$/ { ingest = $9 } $1 ~ /\/reads$/ { p99 = $9; p999 = $11 }
        END { printf "%s %s %s", p99, p999, ingest }' <<<"$out")"
    fi
    echo "$(grep '/reads' <<<"$out")  ctxsw/event $(awk -v a="$after" -v b="$before" -v e="$events" 'BEGIN { printf "%.3f", (a - b) / e }')"
    awk -v line="${kind}_at_ingest_${rate}/s/server" -v n=$((n1 - n0)) -v a=$((over10_1 - over10_0)) \
      -v b=$((over25_1 - over25_0)) -v w=$((wait1 - wait0)) -v s="$shards" -v t="$elapsed_ns" 'BEGIN {
        printf "%-40s %d reads  over 10 ms %.2f%%  over 25 ms %.2f%%  shard threads waited for a core %.0f%% of the run\n",
          line, n, n ? 100 * a / n : 0, n ? 100 * b / n : 0, s ? 100 * w / (s * t) : 0 }'
  done
done
stop_eddy
# Issue 22's bounds on this run: recommendations at half of the maximum p99 <= 10 ms and
# p999 <= 25 ms over HTTP, the ingest beside them p99 <= 20 ms.
read -r p99 p999 ingest <<<"$bounds"
awk -v a="$p99" -v b="$p999" -v c="$ingest" 'BEGIN {
  missed = (a > 10 ? " recommendations-p99" : "") (b > 25 ? " recommendations-p999" : "") (c > 20 ? " ingest-p99" : "")
  printf "%-40s recommendations at half p99 %s ms (<= 10), p999 %s ms (<= 25); ingest beside them p99 %s ms (<= 20): %s\n",
    "issue22_bounds", a, b, c, missed == "" ? "held" : "missed:" missed }'

