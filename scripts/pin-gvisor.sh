#!/usr/bin/env bash
# Pins a gVisor release for brig's Lima VM: fetches the official runsc.sha512
# of RELEASE for x86_64 and aarch64 and rewrites the GVISOR_* lines in
# vm/lima.yaml and docs/macos.md, then runs scripts/check-gvisor-pin.sh.
# Needs the network (run it on a connected machine) and works with GNU and
# BSD (macOS) sed.
#
#   scripts/pin-gvisor.sh 20240212.0
#
# GVISOR_BASE_URL overrides the release bucket (tests use a file:// mirror).
set -euo pipefail
cd "$(dirname "$0")/.."

release=${1:-}
if ! [[ $release =~ ^20[0-9]{6}(\.[0-9]+)?$ ]]; then
  echo "error: usage: scripts/pin-gvisor.sh RELEASE (like 20240212 or 20240212.0), got '${release}'" >&2
  echo "fix: pick a release from https://github.com/google/gvisor/releases (tag release-RELEASE)" >&2
  exit 2
fi
base="${GVISOR_BASE_URL:-https://storage.googleapis.com/gvisor/releases/release}/$release"

# fetch_sha ARCH: prints the sha512 of RELEASE's runsc for ARCH.
fetch_sha() {
  local url="$base/$1/runsc.sha512" body sum
  # The file reads "<sha512>  runsc".
  if ! body=$(curl -fsSL --retry 3 "$url"); then
    echo "error: cannot fetch $url" >&2
    echo "fix: check the release name and the network" >&2
    exit 1
  fi
  sum=$(printf '%s\n' "$body" | awk 'NR == 1 { print $1 }')
  if ! [[ $sum =~ ^[0-9a-f]{128}$ ]]; then
    echo "error: $url does not hold a sha512" >&2
    echo "fix: check the release name" >&2
    exit 1
  fi
  echo "$sum"
}
# No associative arrays: macOS ships bash 3.2.
sha_x86_64=$(fetch_sha x86_64)
sha_aarch64=$(fetch_sha aarch64)

for f in vm/lima.yaml docs/macos.md; do
  [ -f "$f" ] || continue
  sed -i.pin-bak -E \
    -e "s/GVISOR_RELEASE=\"[^\"]*\"/GVISOR_RELEASE=\"$release\"/g" \
    -e "s/GVISOR_SHA512_X86_64=\"[^\"]*\"/GVISOR_SHA512_X86_64=\"$sha_x86_64\"/g" \
    -e "s/GVISOR_SHA512_AARCH64=\"[^\"]*\"/GVISOR_SHA512_AARCH64=\"$sha_aarch64\"/g" \
    "$f"
  rm -f "$f.pin-bak"
done
sed -i.pin-bak -E "s|^# brig-gvisor-pin-refreshed: .*|# brig-gvisor-pin-refreshed: $(date -u +%Y-%m-%d) from the official runsc.sha512 files|" \
  vm/lima.yaml
rm -f vm/lima.yaml.pin-bak

scripts/check-gvisor-pin.sh
echo "pinned gVisor $release; rebuild brig (the template is compiled in) and commit vm/lima.yaml docs/macos.md"
