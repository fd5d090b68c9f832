#!/usr/bin/env bash
# Checks the pinned gVisor release in vm/lima.yaml: the release looks like
# 20240212 or 20240212.0, each sha512 (x86_64, aarch64) is 128 lowercase hex
# digits, and every other place that quotes the pin (docs/macos.md) quotes it
# identically. Runs in scripts/test.sh; offline.
#
#   scripts/check-gvisor-pin.sh [ROOT]     # ROOT: a brig tree (default: this one)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
template="$root/vm/lima.yaml"
others=("$root/docs/macos.md")
keys=(GVISOR_RELEASE GVISOR_SHA512_X86_64 GVISOR_SHA512_AARCH64)

fail() {
  echo "check-gvisor-pin: error: $1" >&2
  echo "fix: ${2:-scripts/pin-gvisor.sh RELEASE (on a connected machine)}" >&2
  exit 1
}

# values FILE KEY: every value of KEY="..." in FILE, one per line.
values() { grep -oE "$2=\"[^\"]*\"" "$1" | sed -E "s/^$2=\"(.*)\"\$/\\1/" || true; }

[ -f "$template" ] || fail "$template not found" "run from a brig checkout, or pass its root"
for key in "${keys[@]}"; do
  n=$(values "$template" "$key" | grep -c . || true)
  [ "$n" -eq 1 ] || fail "$template: $key must be set exactly once (found $n)"
done
# pin KEY: its value in the template (no associative arrays: macOS has bash 3.2).
pin() { values "$template" "$1"; }

release=$(pin GVISOR_RELEASE)
[[ $release =~ ^20[0-9]{6}(\.[0-9]+)?$ ]] ||
  fail "$template: GVISOR_RELEASE=\"$release\" is not a release like 20240212 or 20240212.0"
for key in GVISOR_SHA512_X86_64 GVISOR_SHA512_AARCH64; do
  sum=$(pin "$key")
  [[ $sum =~ ^[0-9a-f]{128}$ ]] ||
    fail "$template: $key is not a sha512 (128 lowercase hex digits, got ${#sum} characters)" \
      "scripts/pin-gvisor.sh $release (on a connected machine)"
done
[ "$(pin GVISOR_SHA512_X86_64)" != "$(pin GVISOR_SHA512_AARCH64)" ] ||
  fail "$template: the x86_64 and aarch64 sha512s are identical" "scripts/pin-gvisor.sh $release"

for f in "${others[@]}"; do
  [ -f "$f" ] || continue
  for key in "${keys[@]}"; do
    want=$(pin "$key")
    while IFS= read -r v; do
      [ "$v" = "$want" ] ||
        fail "$f: $key=\"$v\" differs from vm/lima.yaml" "scripts/pin-gvisor.sh $release rewrites every copy"
    done < <(values "$f" "$key")
  done
done

if grep -q '^# brig-gvisor-pin-refreshed: never' "$template"; then
  echo "check-gvisor-pin: warning: the pinned hashes are placeholders; run scripts/pin-gvisor.sh $release" \
    "on a connected machine before the first macOS release" >&2
fi
echo "check-gvisor-pin: ok (gVisor $release; sha512 for x86_64 and aarch64)"
