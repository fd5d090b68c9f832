#!/usr/bin/env bash
# Checks the gVisor pin in vm/lima.yaml (provisioning step 3; offline; run by
# scripts/test.sh):
#   - GVISOR_CHANNEL, GVISOR_RELEASE, GVISOR_KEY_FINGERPRINT,
#     GVISOR_SHA512_X86_64 and GVISOR_SHA512_AARCH64 are each set exactly once;
#   - the release looks like 20240212 or 20240212.0; the channel is "release"
#     or the release's own dated suite (20240212);
#   - the key fingerprint is empty (a warning: provisioning then trusts the key
#     as fetched over HTTPS) or fingerprints of 40 (or 64) uppercase hex digits;
#   - the sha512s are both empty (runsc from gVisor's signed apt repository) or
#     both 128 lowercase hex digits, and different (the binary pin);
#   - the apt path keeps its guarantees: the repository and key are fetched
#     over https, apt trusts the key for this repository only (signed-by=),
#     and the key's fingerprint is printed;
#   - every other place that quotes the pin (docs/macos.md) quotes it
#     identically.
#
#   scripts/check-gvisor-pin.sh [ROOT]     # ROOT: a brig tree (default: this one)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
template="$root/vm/lima.yaml"
others=("$root/docs/macos.md")
keys=(GVISOR_CHANNEL GVISOR_RELEASE GVISOR_KEY_FINGERPRINT GVISOR_SHA512_X86_64 GVISOR_SHA512_AARCH64)

fail() {
  echo "check-gvisor-pin: error: $1" >&2
  echo "fix: ${2:-scripts/pin-gvisor.sh RELEASE (on a connected machine)}" >&2
  exit 1
}

# values FILE KEY: every value of KEY="..." in FILE, one per line (empty ones too).
values() { grep -oE "(^|[^A-Z_])$2=\"[^\"]*\"" "$1" | sed -E "s/^.*$2=\"(.*)\"\$/\\1/" || true; }
count() { grep -cE "(^|[^A-Z_])$2=\"[^\"]*\"" "$1" || true; }

[ -f "$template" ] || fail "$template not found" "run from a brig checkout, or pass its root"
for key in "${keys[@]}"; do
  n=$(count "$template" "$key")
  [ "$n" -eq 1 ] || fail "$template: $key must be set exactly once (found $n)"
done
# pin KEY: its value in the template (no associative arrays: macOS has bash 3.2).
pin() { values "$template" "$1"; }

release=$(pin GVISOR_RELEASE)
[[ $release =~ ^20[0-9]{6}(\.[0-9]+)?$ ]] ||
  fail "$template: GVISOR_RELEASE=\"$release\" is not a release like 20240212 or 20240212.0"
repin="scripts/pin-gvisor.sh $release (on a connected machine)"
channel=$(pin GVISOR_CHANNEL)
[ "$channel" = release ] || [ "$channel" = "${release%%.*}" ] ||
  fail "$template: GVISOR_CHANNEL=\"$channel\" is neither \"release\" nor the dated suite ${release%%.*} of $release" \
    "scripts/pin-gvisor.sh $release --channel release"
fingerprint=$(pin GVISOR_KEY_FINGERPRINT)
for f in $fingerprint; do
  [[ $f =~ ^([0-9A-F]{40}|[0-9A-F]{64})$ ]] ||
    fail "$template: GVISOR_KEY_FINGERPRINT holds \"$f\", not a fingerprint of 40 (or 64) uppercase hex digits" "$repin"
done
x86=$(pin GVISOR_SHA512_X86_64)
arm=$(pin GVISOR_SHA512_AARCH64)
if [ -n "$x86$arm" ]; then
  for key in GVISOR_SHA512_X86_64 GVISOR_SHA512_AARCH64; do
    sum=$(pin "$key")
    [[ $sum =~ ^[0-9a-f]{128}$ ]] ||
      fail "$template: $key is not a sha512 (128 lowercase hex digits, got ${#sum} characters)" \
        "scripts/pin-gvisor.sh --sha512 $release (on a connected machine), or $repin for the apt repository"
  done
  [ "$x86" != "$arm" ] ||
    fail "$template: the x86_64 and aarch64 sha512s are identical" "scripts/pin-gvisor.sh --sha512 $release"
fi

# The apt path's guarantees, as the provisioning script states them.
need() { grep -qF -- "$1" "$template" || fail "$template: provisioning no longer $2 (no '$1')" "git checkout -- vm/lima.yaml"; }
# shellcheck disable=SC2016  # literal script text, not expansions
{
need 'repo="https://storage.googleapis.com/gvisor/releases"' "reads gVisor's repository over https"
need 'key_url="https://gvisor.dev/archive.key"' "fetches gVisor's archive key over https"
need 'signed-by=$keyring' "restricts the key to gVisor's repository"
need 'say "gVisor archive key fingerprint: $f"' "prints the archive key's fingerprint"
need '"runsc=$GVISOR_RELEASE"' "installs the pinned runsc version"
}

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

if [ -z "$fingerprint" ]; then
  echo "check-gvisor-pin: warning: no GVISOR_KEY_FINGERPRINT recorded: provisioning prints the archive key's" \
    "fingerprint but trusts the key as fetched over HTTPS; run $repin to record it" >&2
fi
if [ -n "$x86" ]; then
  how="the release's runsc binaries, pinned by sha512 for x86_64 and aarch64"
else
  how="gVisor's signed apt repository, suite $channel"
fi
echo "check-gvisor-pin: ok (gVisor $release from $how; archive key ${fingerprint:-fingerprint not recorded})"
