#!/usr/bin/env bash
# Installs dependencies, builds the Release daemon and starts it on config/eddy.toml
# (data in ./data, port 8080). Extra arguments go to eddy, e.g. `tools/run.sh --port 9090`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target eddy
exec ./build/release/eddy --config config/eddy.toml "$@"
