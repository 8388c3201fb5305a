#!/usr/bin/env bash
# The .deb, end to end: cpack builds it from a build dir, dpkg installs it into a temp root
# (its maintainer scripts run chrootless and honour DPKG_ROOT: nothing outside the root is
# touched), and the installed eddy runs: --version, check-config on the installed config,
# and a start on it with the data in the root's /var/lib/eddy until /readyz answers.
# Usage: tools/package-test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
cd "$build"
rm -rf packages
cpack -G DEB >"$root.cpack.log" 2>&1 || { cat "$root.cpack.log"; exit 1; }
rm -f "$root.cpack.log"
deb=$(ls packages/eddy_*.deb)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | grep -E "Package: eddy|Version: |Depends: " | sed 's/^ */  /'
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/eddy ./usr/bin/eddy-load ./etc/eddy/eddy.toml ./usr/lib/systemd/system/eddy.service; do
  grep -q " $f\$" <<<"$contents" || { echo "missing from the package: $f"; exit 1; }
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/eddy/eddy.toml \
  || { echo "/etc/eddy/eddy.toml is not a conffile"; exit 1; }

mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# (The root has no other package: its dependencies are forced; the system provides them.)
dpkg --root="$root" --force-depends --force-script-chrootless --force-not-root --log=/dev/null \
  -i "$deb" >"$root/dpkg.log" 2>&1 || { cat "$root/dpkg.log"; exit 1; }
dpkg --root="$root" -s eddy | grep -q "Status: install ok installed"
test -d "$root/var/lib/eddy"
"$root/usr/bin/eddy" --version
"$root/usr/bin/eddy" check-config "$root/etc/eddy/eddy.toml"
grep -q '^ExecStart=/usr/bin/eddy --config /etc/eddy/eddy.toml --data-dir /var/lib/eddy$' \
  "$root/usr/lib/systemd/system/eddy.service"

# The unit's command line, in the root.
"$root/usr/bin/eddy" --config "$root/etc/eddy/eddy.toml" --data-dir "$root/var/lib/eddy" \
  --port 0 --port-file "$root/port" --log-level warn &
pid=$!
for _ in $(seq 600); do
  [[ -s "$root/port" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "the installed eddy exited"; exit 1; }
  sleep 0.05
done
port=$(cat "$root/port")
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null
kill -TERM "$pid"
wait "$pid"
pid=""
test -d "$root/var/lib/eddy/checkpoints"
echo "installed into $root: eddy --version, check-config, start, /readyz, clean stop: OK"
