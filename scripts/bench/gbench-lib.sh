# Shared by the Google Benchmark scripts (policy.sh, secrets.sh): source it,
# then `gbench_run TARGET [flags...]` builds TARGET in Release (build-bench/),
# runs it 5 times, leaves its JSON in $gbench_out, and prints the machine line.
command -v jq >/dev/null || { echo "$(basename "$0"): jq is needed to format the table (apt-get install jq)" >&2; exit 1; }

gbench_run() {
  local target=$1
  shift
  local dir=build-bench
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=ON -DBRIG_BENCH=ON >/dev/null
  ninja -C "$dir" ${JOBS:+-j "$JOBS"} "$target" >&2
  gbench_out="$dir/$target.json"
  "$dir/tests/bench/$target" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_out="$gbench_out" --benchmark_out_format=json "$@" >&2
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr); g++ $(g++ -dumpfullversion); Release build"
}
