#!/usr/bin/env bash
# Installs dependencies, builds everything (Release: daemon, tests, benchmarks) and runs
# the whole test suite with ctest. `tools/test.sh asan` (or tsan, ubsan, debug, fuzz) uses
# that CMake preset instead. With CI=true and no preset named, it then also runs the suite
# under clang's ASan + UBSan (the fuzz preset, which runs every fuzz target over its
# regressions and seeds) and fuzzes each target for 30 s (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
tools/setup-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
if [[ "${CI:-}" == "true" && $# -eq 0 ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
  ctest --preset fuzz
  JOBS=2 tools/fuzz.sh 30
fi
