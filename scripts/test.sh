#!/usr/bin/env bash
# Installs what the build and tests need, builds brig, and runs every test:
# first the normal build (warnings are errors), then an ASan+UBSan build.
#
#   scripts/test.sh                 # both builds (what CI runs)
#   scripts/test.sh --no-sanitize   # the normal build only
#   scripts/test.sh --sanitize      # the sanitizer build only
set -euo pipefail
cd "$(dirname "$0")/.."

normal=1 sanitize=1
case "${1:-}" in
  --no-sanitize) sanitize=0 ;;
  --sanitize) normal=0 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--no-sanitize|--sanitize]" >&2; exit 2 ;;
esac

scripts/bootstrap.sh
jobs=$(nproc)

run_suite() {  # run_suite BUILD_DIR CMAKE_ARGS...
  local dir=$1; shift
  echo "==> configure $dir"
  cmake -S . -B "$dir" -G Ninja -DBRIG_WERROR=ON "$@" >/dev/null
  echo "==> build $dir"
  ninja -C "$dir" -j "$jobs"
  echo "==> test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
}

if [ "$normal" = 1 ]; then
  run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
if [ "$sanitize" = 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DBRIG_SANITIZE=ON -DBRIG_BENCH=OFF
fi
echo "==> all tests passed"
