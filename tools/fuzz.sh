#!/usr/bin/env bash
# Builds the fuzz targets (the `fuzz` preset: clang, libFuzzer, ASan + UBSan) and runs each
# for SECONDS (default 60) on its corpus: build/fuzz/corpus/<target>, started from
# tests/fuzz/seeds/<target>, tests/fuzz/regressions/<target> and inputs generated from
# ../shared (the seeds' example bodies, the first lines of the evaluation logs) when it is
# there; it keeps growing between runs. A crash leaves its input in
# build/fuzz/artifacts/<target>/ and makes the script exit 1 after all targets ran: fix
# it and keep the input in tests/fuzz/regressions/<target>/.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]   (targets: decoder codec chunk config params
#        offers replay checkpoint run; default all). JOBS=N runs N targets at once (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(decoder codec chunk config params offers replay checkpoint run)
tools/setup-deps.sh >/dev/null
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]/#/fuzz_}" >/dev/null
root=build/fuzz
shared=../shared

# Generated seeds: JSON bodies from the seed documents, lines of the evaluation logs.
gen="$root/generated"
rm -rf "$gen" && mkdir -p "$gen"/{decoder,offers,replay}
if [[ -d "$shared/seeds" ]]; then
  n=0
  while IFS= read -r -d '' body; do
    n=$((n + 1))
    printf '\x00%s' "$body" >"$gen/decoder/seed-doc-$n"
    printf '%s' "$body" >"$gen/offers/seed-doc-$n"
  done < <(python3 - "$shared/seeds" <<'PY'
# Every JSON object of two or more members anywhere in the seed documents (they embed
# event bodies in prose, Python and shell examples).
import json, pathlib, sys
dec = json.JSONDecoder()
seen = set()
for doc in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    text = doc.read_text(errors="replace")
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            break
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        if isinstance(obj, dict) and len(obj) >= 2:
            body = json.dumps(obj)
            if body not in seen:
                seen.add(body)
                sys.stdout.write(body + "\0")
        i = end
PY
)
fi
if [[ -d "$shared/evaldata" ]]; then
  # The replay target's first line is the column spec (as `eddy replay --columns`).
  taobao="$shared/evaldata/taobao-userbehavior-sample/UserBehavior.csv"
  ratings="$shared/evaldata/movielens-ml-latest-small/ratings.csv"
  [[ -f "$taobao" ]] && { echo "userId,itemId,category,type,timestamp"; head -n 50 "$taobao"; } >"$gen/replay/taobao"
  [[ -f "$ratings" ]] && { echo "userId,itemId,-,timestamp"; head -n 50 "$ratings"; } >"$gen/replay/movielens"
fi

failed=()
run_one() {
  local t="$1" corpus="$root/corpus/$1" art="$root/artifacts/$1/"
  mkdir -p "$corpus" "$art"
  for d in "tests/fuzz/seeds/$t" "tests/fuzz/regressions/$t" "$gen/$t"; do
    [[ -d "$d" ]] && cp -n "$d"/* "$corpus"/ 2>/dev/null || true
  done
  if "$root/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$art" "$corpus" >"$root/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$root/fuzz_$t.log" | awk '{print $2}') runs in ${seconds}s, $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$root/fuzz_$t.log" | tail -n 1), corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz_$t: FAILED — see $root/fuzz_$t.log and $art"
    return 1
  fi
}
jobs_max="${JOBS:-1}"
pids=() names=()
for t in "${targets[@]}"; do
  run_one "$t" & pids+=($!) names+=("$t")
  if ((${#pids[@]} >= jobs_max)); then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}") names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}"); done
if ((${#failed[@]})); then
  echo "tools/fuzz.sh: crashes in ${failed[*]}" >&2
  exit 1
fi
