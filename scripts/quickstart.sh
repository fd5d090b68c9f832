#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working brig: installs packages, builds,
# installs /usr/local/bin/brig, and runs the demo on docs/examples/hello.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF >/dev/null
ninja -C build-release brig
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO install -m 0755 build-release/src/brig /usr/local/bin/brig
echo "==> installed $(brig --version) to /usr/local/bin/brig"

echo
echo "==> brig run --dry-run --file docs/examples/hello.yaml"
brig run --dry-run --file docs/examples/hello.yaml

echo
echo "==> what would warden let the hello cell reach?"
for url in https://example.com/ https://api.github.com/repos/x/y https://api.github.com/user https://evil.example/; do
  printf '%-40s ' "$url"
  brig policy test --file docs/examples/hello.yaml "$url" | head -n 1 || true
done
echo
echo "Next: brig --help, docs/reference/cli.md"
