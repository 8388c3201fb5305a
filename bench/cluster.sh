#!/usr/bin/env bash
# Cluster-mode ingest benchmark (issue 20, docs/scale-out.md): events/s acknowledged and CPU
# µs per event (user + system time of every eddy and nats-server process, divided by the
# events) for
#   standalone     one eddy, its embedded RocksDB store (ack = wal)
#   cluster_1      one eddy node on one nats-server (JetStream R1)
#   cluster_3      three eddy nodes on three nats-servers (JetStream R3), one load
#                  generator per node
# each with eddy-load closed loop, NDJSON batches of BATCH events (default 100), for
# DURATION seconds (default 10); events/s counts acknowledged events, the CPU is read once
# every node has applied them. Then, on the history that run left, the latency of ranked
# reads over HTTP (recommendations and similar items, 50 reads/s open loop for 5 s beside
# 1 000 events/s of ingest, sent to the first node: in cluster mode forwarded to the
# user's owner, each global step asking every node). Usage: bench/cluster.sh [duration_s] [batch]
# EDDY_BUILD_DIR=DIR runs the eddy and eddy-load of another build (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
batch="${2:-100}"
source bench/lib.sh
command -v nats-server >/dev/null || { echo "nats-server missing: tools/setup-deps.sh"; exit 1; }
pids=()
cleanup_all() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "${KEEP:-}" ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup_all EXIT
free_port() { "$bin/eddy-load" --print-free-port; }
# Clock ticks of user + system time of a process so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

start_nats() {  # n → sets nats_urls, appends to pids
  local n=$1 cports=() rports=() i routes=""
  for ((i = 0; i < n; i++)); do cports+=("$(free_port)"); rports+=("$(free_port)"); done
  for ((i = 0; i < n; i++)); do routes+="${routes:+,}nats://127.0.0.1:${rports[i]}"; done
  nats_urls=""
  for ((i = 0; i < n; i++)); do
    local args=(-js -sd "$work/js$i-$n" -n "s$i" -a 127.0.0.1 -p "${cports[i]}")
    ((n > 1)) && args+=(--cluster_name eddy --cluster "nats://127.0.0.1:${rports[i]}" --routes "$routes")
    nats-server "${args[@]}" >"$work/nats$i.log" 2>&1 &
    pids+=($!)
    nats_urls+="${nats_urls:+, }\"nats://127.0.0.1:${cports[i]}\""
  done
}

start_node() {  # index replicas → appends to pids and node_ports
  local i=$1 r=$2
  cat >"$work/node$i.toml" <<TOML
[cluster]
enabled = true
servers = [$nats_urls]
node_id = "node-$i"
replicas = $r
connect_timeout_ms = 60000
TOML
  rm -f "$work/port$i"
  "$bin/eddy" --config "$work/node$i.toml" --port 0 --port-file "$work/port$i" \
    --log-level warn 2>>"$work/node$i.log" &
  pids+=($!)
  node_pids+=($!)
  while [[ ! -s "$work/port$i" ]]; do sleep 0.05; done
  node_ports+=("$(cat "$work/port$i")")
}

# Waits until every node owns partitions and the owners have not changed for 3 s (the
# nodes start one after another: the first ones hand the later ones their share), then
# until a global read answers (every partition owned) on the first node.
wait_owned() {
  local p owners="" last="" stable=0
  for p in "${node_ports[@]}"; do
    until curl -sf "http://127.0.0.1:$p/v1/stream/status" | grep -q '"owned":\[[0-9]'; do sleep 0.1; done
  done
  while ((stable < 30)); do
    owners=$(curl -sf "http://127.0.0.1:${node_ports[0]}/v1/stream/status" | grep -o '"owners":\[[^]]*\]' || true)
    if [[ "$owners" == "$last" && "$owners" != *'""'* ]]; then stable=$((stable + 1)); else stable=0; fi
    last=$owners
    sleep 0.1
  done
  until curl -sf "http://127.0.0.1:${node_ports[0]}/v1/trending/categories?window=1h" >/dev/null; do sleep 0.1; done
}

# Runs one eddy-load per port in parallel; prints "events/s cpu_us_per_event".
measure() {
  local before=0 after=0 p i events=0
  for p in "${pids[@]}"; do before=$((before + $(ticks "$p"))); done
  local loads=()
  for ((i = 0; i < ${#ports[@]}; i++)); do
    "$bin/eddy-load" --port "${ports[i]}" --batch "$batch" --connections 8 \
      --duration "$duration" --no-progress --json --seed $((42 + i)) >"$work/load$i.json" &
    loads+=($!)
  done
  wait "${loads[@]}"
  for ((i = 0; i < ${#ports[@]}; i++)); do
    events=$((events + $(grep -o '"accepted":[0-9]*' "$work/load$i.json" | head -1 | cut -d: -f2)))
  done
  # Everything acknowledged applied (a global read catches every partition up) before
  # the CPU is read: the apply's cost counts too.
  until curl -sf "http://127.0.0.1:${ports[0]}/v1/trending/categories?window=1h" >/dev/null; do sleep 0.1; done
  for p in "${pids[@]}"; do after=$((after + $(ticks "$p"))); done
  awk -v e="$events" -v d="$duration" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "%.0f events/s, %.2f CPU µs/event (%d events)\n", e / d, t / hz * 1e6 / e, e }'
}

# Ranked reads' latency on `ports[0]`: one line per read kind (eddy-load's reads summary).
read_latency() {
  local kind path
  for kind in recommendations similar; do
    case "$kind" in
      recommendations) path='/v1/recommendations?userId={user}&k=10' ;;
      similar) path='/v1/items/i1/similar?k=10' ;;
    esac
    "$bin/eddy-load" --port "${ports[0]}" --rate 1000 --batch 100 --connections 2 --duration 5 \
      --reads 50 --read-path "$path" --no-progress --line "$1_$kind" | grep '/reads' || true
  done
}

echo "eddy cluster bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); nats-server $(nats-server --version | awk '{print $NF}'); batch $batch, ${duration}s, 8 connections per generator"

if [[ "${ONLY:-}" != 3 ]]; then
start_eddy --log-level warn
pids+=("$pid")
ports=("$port")
printf '%-12s %s\n' standalone "$(measure)"
read_latency standalone
stop_eddy; pids=()

start_nats 1
node_pids=(); node_ports=()
start_node 0 1
wait_owned
ports=("${node_ports[@]}")
printf '%-12s %s\n' cluster_1 "$(measure)"
read_latency cluster_1
kill "${node_pids[@]}"; wait "${node_pids[@]}" 2>/dev/null || true  # eddy first, then NATS
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=()
fi

start_nats 3
node_pids=(); node_ports=()
for i in 0 1 2; do start_node "$i" 3; done
wait_owned
ports=("${node_ports[@]}")
printf '%-12s %s\n' cluster_3 "$(measure)"
read_latency cluster_3
