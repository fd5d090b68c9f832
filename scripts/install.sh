#!/usr/bin/env bash
# Installs brig on macOS: Lima (the VM) and brig's build dependencies through
# Homebrew, then builds the client-only brig from this checkout and installs
# it. The VM later builds its own Linux brig from the same checkout, so keep it.
#
#   scripts/install.sh [--prefix DIR]     # default: $(brew --prefix)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=""
case "${1:-}" in
  --prefix) prefix=${2:?"--prefix needs a directory"} ;;
  "") ;;
  *) echo "error: unknown argument '$1'" >&2; echo "fix: scripts/install.sh [--prefix DIR]" >&2; exit 2 ;;
esac

if [ "$(uname -s)" != Darwin ]; then
  echo "error: scripts/install.sh is for macOS; on Linux brig runs natively" >&2
  echo "fix: scripts/bootstrap.sh && cmake -S . -B build -G Ninja && ninja -C build && sudo ninja -C build install" >&2
  exit 1
fi
if ! command -v brew >/dev/null; then
  echo "error: Homebrew not found" >&2
  echo "fix: install it from https://brew.sh, then run scripts/install.sh again" >&2
  exit 1
fi

# Lima: the VM. Then the libraries brig links and the tools that build it.
packages=(lima cmake ninja pkg-config cli11 nlohmann-json yaml-cpp spdlog fmt libidn2 libpsl)
missing=()
for p in "${packages[@]}"; do
  brew list --versions "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> brew install ${missing[*]}"
  brew install "${missing[@]}"
fi
echo "==> $(limactl --version)"

prefix=${prefix:-$(brew --prefix)}
echo "==> build (client-only: the VM runs the cells)"
cmake -S . -B build-macos -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRIG_CLIENT_ONLY=ON \
  -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF -DCMAKE_PREFIX_PATH="$(brew --prefix)" -DCMAKE_INSTALL_PREFIX="$prefix"
ninja -C build-macos
echo "==> install into $prefix/bin"
cmake --install build-macos

echo
echo "brig $("$prefix/bin/brig" --version | awk '{print $2}') is installed. Next:"
echo "  brig vm create"
echo "  brig vm start"
