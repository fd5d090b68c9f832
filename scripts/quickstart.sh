#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working brig: installs packages, builds,
# installs /usr/local/bin/brig, builds the local images, brings brig up and runs
# a demo cell whose allowed request succeeds and whose disallowed request is
# refused by warden with its reason. No registry or internet is needed: the
# demo's "internet" is nginx in a network namespace on this machine
# (scripts/demo-upstream.sh), reached through warden.yaml's resolve_overrides.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF >/dev/null
ninja -C build-release brig
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO install -m 0755 build-release/src/brig /usr/local/bin/brig
echo "==> installed $(brig --version) to /usr/local/bin/brig"

echo "==> brig run --dry-run --file docs/examples/hello.yaml"
brig run --dry-run --file docs/examples/hello.yaml

echo "==> local images"
scripts/build-images.sh

echo "==> brig system init"
# Debian 12's runsc cannot use gVisor's own network stack on newer kernels;
# init probes that and, with this flag, records runsc network=host instead.
$SUDO brig system init --accept-weaker-network
home=$($SUDO sh -c 'echo ${BRIG_HOME:-$HOME/.brig}')

echo "==> demo upstream"
scripts/demo-upstream.sh up
if ! $SUDO grep -q '^# brig quickstart demo' "$home/warden.yaml"; then
  if $SUDO grep -Eq '^(resolve_overrides|upstream_ca):' "$home/warden.yaml"; then
    echo "note: $home/warden.yaml has settings of its own; add the demo's by hand:" >&2
    echo "  resolve_overrides: [demo.brig.test:443:198.18.99.2, demo.brig.test:80:198.18.99.2]" >&2
    echo "  upstream_ca: /var/lib/brig-demo/ca.crt" >&2
  else
    $SUDO tee -a "$home/warden.yaml" >/dev/null <<'YAML'
# brig quickstart demo (scripts/quickstart.sh): demo.brig.test is nginx in netns brig-demo
resolve_overrides: ["demo.brig.test:443:198.18.99.2", "demo.brig.test:80:198.18.99.2"]
upstream_ca: /var/lib/brig-demo/ca.crt
YAML
  fi
fi

echo "==> brig system up"
$SUDO brig system up
$SUDO brig system doctor || true

echo
echo "==> a demo cell: allowed https://demo.brig.test/, then a host it may not reach"
$SUDO brig cell rm --force demo >/dev/null 2>&1 || true
$SUDO brig run --rm --name demo --allow demo.brig.test localhost/brig-debian:latest -- sh -c '
  echo "--- curl https://demo.brig.test/ (allowed; TLS inspected by warden, CA mounted automatically)"
  curl -sS --max-time 20 https://demo.brig.test/
  echo "--- curl http://example.com/ (not allowed)"
  curl -sS --max-time 20 http://example.com/
  echo "--- curl --noproxy \"*\" http://198.18.99.2/ (going around warden)"
  curl -sS --max-time 5 --noproxy "*" http://198.18.99.2/ || echo "(no route: the cell reaches nothing but warden)"
'
echo
echo "Next: brig --help; brig cell list; brig warden stats; docs/reference/cli.md"
