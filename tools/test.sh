#!/usr/bin/env bash
# Installs dependencies, builds everything (Release: daemon, tests, benchmarks) and runs
# the whole test suite with ctest. `tools/test.sh asan` (or tsan, ubsan, debug) uses that
# CMake preset instead.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
tools/setup-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
