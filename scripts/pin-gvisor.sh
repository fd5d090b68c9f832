#!/usr/bin/env bash
# Pins a gVisor release for brig's Lima VM: rewrites the GVISOR_* lines in
# vm/lima.yaml and docs/macos.md, then runs scripts/check-gvisor-pin.sh.
# Needs the network and gpg (run it on a connected machine); works with GNU
# and BSD (macOS) sed and bash 3.2.
#
#   scripts/pin-gvisor.sh RELEASE [--channel SUITE] [--sha512]
#
#   RELEASE      like 20240212 or 20240212.0: the runsc version apt installs
#   --channel    the apt suite: release (default) or RELEASE's dated suite (20240212)
#   --sha512     pin the release's runsc binaries by sha512 instead of using
#                the apt repository (fetches RELEASE/{x86_64,aarch64}/runsc.sha512)
#
# Always fetches gVisor's archive key and records its fingerprint
# (GVISOR_KEY_FINGERPRINT), which provisioning then requires of the key it
# fetches. Check the printed fingerprint against one gVisor publishes before
# committing. GVISOR_BASE_URL overrides the release bucket and GVISOR_KEY_URL
# the key (tests use file:// mirrors).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "error: $1" >&2
  echo "fix: pick a release from https://github.com/google/gvisor/releases (tag release-RELEASE), e.g. scripts/pin-gvisor.sh 20240212.0" >&2
  exit 2
}
release="" channel=release binary=false
while [ $# -gt 0 ]; do
  case "$1" in
    --sha512) binary=true ;;
    --channel) [ $# -ge 2 ] || usage "--channel needs a suite"; channel=$2; shift ;;
    --channel=*) channel=${1#--channel=} ;;
    -*) usage "unknown option '$1'" ;;
    *) [ -z "$release" ] || usage "one RELEASE only, got '$release' and '$1'"; release=$1 ;;
  esac
  shift
done
if ! [[ $release =~ ^20[0-9]{6}(\.[0-9]+)?$ ]]; then
  usage "usage: scripts/pin-gvisor.sh RELEASE (like 20240212 or 20240212.0), got '${release}'"
fi
[ "$channel" = release ] || [ "$channel" = "${release%%.*}" ] ||
  usage "--channel must be release or ${release%%.*} (the dated suite of $release), got '$channel'"
bucket="${GVISOR_BASE_URL:-https://storage.googleapis.com/gvisor/releases/release}"
key_url="${GVISOR_KEY_URL:-https://gvisor.dev/archive.key}"
command -v gpg >/dev/null || {
  echo "error: gpg not found (it reads the archive key's fingerprint)" >&2
  echo "fix: brew install gnupg (macOS) or sudo apt-get install gpg, then rerun scripts/pin-gvisor.sh $release" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch URL FILE
fetch() {
  if ! curl -fsSL --proto-redir '=https' --retry 3 -o "$2" "$1"; then
    echo "error: cannot fetch $1" >&2
    echo "fix: check the release name and the network, then rerun scripts/pin-gvisor.sh $release" >&2
    exit 1
  fi
}

fetch "$key_url" "$tmp/archive.key"
mkdir -m 0700 "$tmp/gnupg"
fingerprint=$(GNUPGHOME="$tmp/gnupg" gpg --batch --quiet --show-keys --with-colons "$tmp/archive.key" 2>/dev/null |
  awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { printf "%s%s", sep, toupper($10); sep = " "; p = 0 }')
if [ -z "$fingerprint" ]; then
  echo "error: $key_url holds no OpenPGP public key" >&2
  echo "fix: check the URL, then rerun scripts/pin-gvisor.sh $release" >&2
  exit 1
fi

sha_x86_64="" sha_aarch64=""
if $binary; then
  # fetch_sha ARCH: prints the sha512 of RELEASE's runsc for ARCH.
  fetch_sha() {
    local url="$bucket/$release/$1/runsc.sha512" sum
    fetch "$url" "$tmp/sha512"
    # The file reads "<sha512>  runsc".
    sum=$(awk 'NR == 1 { print $1 }' "$tmp/sha512")
    if ! [[ $sum =~ ^[0-9a-f]{128}$ ]]; then
      echo "error: $url does not hold a sha512" >&2
      echo "fix: check the release name, then rerun scripts/pin-gvisor.sh --sha512 $release" >&2
      exit 1
    fi
    echo "$sum"
  }
  # No associative arrays: macOS ships bash 3.2.
  sha_x86_64=$(fetch_sha x86_64)
  sha_aarch64=$(fetch_sha aarch64)
fi

for f in vm/lima.yaml docs/macos.md; do
  [ -f "$f" ] || continue
  sed -i.pin-bak -E \
    -e "s/GVISOR_CHANNEL=\"[^\"]*\"/GVISOR_CHANNEL=\"$channel\"/g" \
    -e "s/GVISOR_RELEASE=\"[^\"]*\"/GVISOR_RELEASE=\"$release\"/g" \
    -e "s/GVISOR_KEY_FINGERPRINT=\"[^\"]*\"/GVISOR_KEY_FINGERPRINT=\"$fingerprint\"/g" \
    -e "s/GVISOR_SHA512_X86_64=\"[^\"]*\"/GVISOR_SHA512_X86_64=\"$sha_x86_64\"/g" \
    -e "s/GVISOR_SHA512_AARCH64=\"[^\"]*\"/GVISOR_SHA512_AARCH64=\"$sha_aarch64\"/g" \
    "$f"
  rm -f "$f.pin-bak"
done
from="the archive key at $key_url"
$binary && from="$from and the official runsc.sha512 files"
sed -i.pin-bak -E "s|^# brig-gvisor-pin-refreshed: .*|# brig-gvisor-pin-refreshed: $(date -u +%Y-%m-%d) from $from|" \
  vm/lima.yaml
rm -f vm/lima.yaml.pin-bak

echo "gVisor archive key fingerprint: $fingerprint (from $key_url)"
echo "compare it with the fingerprint gVisor publishes before you commit"
scripts/check-gvisor-pin.sh
echo "pinned gVisor $release; rebuild brig (the template is compiled in) and commit vm/lima.yaml docs/macos.md"
