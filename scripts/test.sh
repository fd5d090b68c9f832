#!/usr/bin/env bash
# Installs what the build and tests need, builds brig, and runs every test:
# the normal build (warnings are errors), an ASan+UBSan build, then a short
# libFuzzer run (clang) on warden's request-head + policy path and its DNS
# query codec. The normal run also checks the module boundaries
# (scripts/check-layering.sh) and the gVisor pin, and builds the client-only
# (macOS) subset.
#
#   scripts/test.sh                 # everything (what CI runs)
#   scripts/test.sh --no-sanitize   # the normal build only
#   scripts/test.sh --sanitize      # the sanitizer build only
#   scripts/test.sh --fuzz          # the fuzz run only (FUZZ_SECONDS in all, default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

normal=1 sanitize=1 fuzz=1
case "${1:-}" in
  --no-sanitize) sanitize=0 fuzz=0 ;;
  --sanitize) normal=0 fuzz=0 ;;
  --fuzz) normal=0 sanitize=0 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--no-sanitize|--sanitize|--fuzz]" >&2; exit 2 ;;
esac

scripts/bootstrap.sh
jobs=$(nproc)
# ccache (installed by bootstrap) makes a second build of unchanged sources
# cheap, across the build directories below and across clones.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

run_suite() {  # run_suite BUILD_DIR "CTEST_ARGS" CMAKE_ARGS...
  local dir=$1 ctest_args=$2; shift 2
  echo "==> configure $dir"
  cmake -S . -B "$dir" -G Ninja -DBRIG_WERROR=ON "${launcher[@]}" "$@" >/dev/null
  echo "==> build $dir"
  ninja -C "$dir" -j "$jobs"
  echo "==> test $dir"
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900 $ctest_args
}

if [ "$normal" = 1 ]; then
  # The module boundaries of docs/architecture.md, before anything is built.
  echo "==> layering"
  scripts/check-layering.sh
  # The cells' end-to-end suite needs the local images (no registry here).
  scripts/build-images.sh
  run_suite build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
if [ "$normal" = 1 ]; then
  # macOS: the gVisor pin in vm/lima.yaml, and the thin client's portable
  # subset (BRIG_CLIENT_ONLY) built without warden or Linux-only code.
  echo "==> gVisor pin"
  scripts/check-gvisor-pin.sh
  echo "==> build build-client (client-only)"
  cmake -S . -B build-client -G Ninja -DBRIG_CLIENT_ONLY=ON -DBRIG_WERROR=ON -DBRIG_TESTS=OFF "${launcher[@]}" >/dev/null
  ninja -C build-client -j "$jobs"
  scripts/check-portable.sh build-client
fi
if [ "$sanitize" = 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan "-LE e2e" -DCMAKE_BUILD_TYPE=Debug -DBRIG_SANITIZE=ON -DBRIG_BENCH=OFF
fi
if [ "$fuzz" = 1 ]; then
  # libFuzzer (clang) on the request-head + policy path and on the DNS query
  # codec, each for half of FUZZ_SECONDS, on a copy of its own seed corpus.
  fuzz_seconds=${FUZZ_SECONDS:-60}
  echo "==> fuzz build-fuzz (${fuzz_seconds} s)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRIG_FUZZ=ON \
    -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF >/dev/null
  ninja -C build-fuzz -j "$jobs" fuzz_request_head fuzz_dns_query
  run_fuzzer() {  # run_fuzzer TARGET CORPUS: on a copy of tests/fuzz/CORPUS, for half the time
    mkdir -p "build-fuzz/$2"
    cp "tests/fuzz/$2"/* "build-fuzz/$2/"
    "build-fuzz/tests/fuzz/$1" -max_total_time="$(( (fuzz_seconds + 1) / 2 ))" -timeout=10 \
      -print_final_stats=1 "build-fuzz/$2"
  }
  run_fuzzer fuzz_request_head corpus
  run_fuzzer fuzz_dns_query corpus-dns
fi
echo "==> all tests passed"
