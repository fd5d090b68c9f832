#!/usr/bin/env bash
# Installs every Debian package brig's build, tests and runtime need.
# Idempotent and non-interactive; safe to run repeatedly.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git ccache
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libboost-dev libssl-dev
  libspdlog-dev libfmt-dev libseccomp-dev libidn2-dev libpsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # runtime
  podman runc runsc nftables iproute2 curl ca-certificates openssl
  # tests and benchmarks
  nginx-light busybox-static debootstrap wrk jq clang libclang-rt-14-dev
  tinyproxy mitmproxy docker-registry
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
