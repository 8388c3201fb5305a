#!/usr/bin/env bash
# Installs every Debian 12 package that eddy's build, tests and benches need.
# Idempotent: when everything is already installed it only runs dpkg-query and exits.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build ccache mold pkg-config git
  libboost1.81-dev librocksdb-dev libsimdjson-dev libabsl-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev prometheus-cpp-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  libjwt-dev libssl-dev libjs-chart.js
  nats-server libnats-dev
  chromium chromium-driver
  curl wrk redis-server redis-tools prometheus python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
