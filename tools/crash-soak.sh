#!/usr/bin/env bash
# The kill -9 crash test (tests/integration/crash_test.cc) for ROUNDS rounds on one data
# dir: each round starts eddy, ingests batches of 1-120 events with ack wal or fsync at
# random (checkpoints requested back to back in about half the rounds), and kills it
# after a random amount of progress; then every acknowledged event must be stored exactly
# once and every answer (sessions, revenue, inventory, alerts, catalog, trending, ...) equal
# a fresh ingest of the stored events. SEED picks the random choices (default: random,
# printed, so a failure can be re-run).
# Usage: tools/crash-soak.sh [ROUNDS] (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-100}"
seed="${SEED:-$RANDOM$RANDOM}"
tools/setup-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release --target eddy integration_test >/dev/null
echo "crash soak: $rounds rounds, seed $seed"
EDDY_CRASH_ROUNDS="$rounds" EDDY_CRASH_SEED="$seed" build/release/tests/integration_test \
  --gtest_filter='CrashTest.KillNineNeverLosesAnAcknowledgedEventAndRecoversEveryAnswer' \
  | grep -E '^crash test:|OK \]|FAILED|Failure' 
