#!/usr/bin/env bash
# Builds the injected-secrets micro-benchmark in Release (build-bench/), runs
# it, and prints a markdown table: a request head's copy plus warden's head
# stage for a cell without secrets (the baseline), with secrets but no placeholder in
# the request, and injecting one; and the scan of a streamed 16 KiB body
# piece against copying it, all in the same run. docs/benchmarks.md quotes it.
#
#   scripts/bench/secrets.sh            # 5 repetitions, medians
#   JOBS=1 scripts/bench/secrets.sh     # limit the build to one job
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/bench/gbench-lib.sh
gbench_run secrets_bench "$@"
echo "Median of 5 repetitions:"
echo
jq -r '
  (reduce (.benchmarks[] | select(.aggregate_name == "median")) as $x ({}; .[$x.run_name] = $x)) as $m
  | $m["BM_Head_NoSecrets"].real_time as $base
  | "| copy of a 10-field request head + head stage | ns/request | added ns | vs no secrets |",
    "|---|---:|---:|---:|",
    ( [["no secrets (baseline)", "BM_Head_NoSecrets"], ["3 secrets, no placeholder", "BM_Head_SecretsNoPlaceholder"],
       ["3 secrets, 1 injected", "BM_Head_Inject"]][] as $c
      | "| \($c[0]) | \($m[$c[1]].real_time | round) | \($m[$c[1]].real_time - $base | round) | \(($m[$c[1]].real_time / $base * 100 | round) / 100)x |"),
    "",
    "| body, 16 KiB pieces | MiB/s | vs copying |",
    "|---|---:|---:|",
    ( [["memcpy (baseline)", "BM_Body_Copy"], ["scan for 3 placeholders", "BM_Body_Scan"]][] as $c
      | "| \($c[0]) | \($m[$c[1]].bytes_per_second / 1048576 | round) | \(($m[$c[1]].bytes_per_second / $m["BM_Body_Copy"].bytes_per_second * 100 | round) / 100)x |")
' "$gbench_out"
