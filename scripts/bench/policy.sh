#!/usr/bin/env bash
# Builds the policy micro-benchmark in Release (build-bench/), runs it, and
# prints a markdown table: ns per decision for the compiled policy and for a
# naive linear scan over the same 1,000 rules, measured in the same run.
# docs/benchmarks.md quotes its output.
#
#   scripts/bench/policy.sh                 # 5 repetitions, medians
#   scripts/bench/policy.sh --benchmark_min_time=2   # extra flags go to policy_bench
#   JOBS=1 scripts/bench/policy.sh                    # limit the build to one job
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/bench/gbench-lib.sh
gbench_run policy_bench "$@"
echo "Median of 5 repetitions (time per decision):"
echo
jq -r '
  (reduce (.benchmarks[] | select(.aggregate_name == "median")) as $x ({}; .[$x.run_name] = $x)) as $m
  | "| case | compiled (ns/decision) | naive scan (ns/decision) | naive / compiled | allocs/decision (compiled / naive) |",
    "|---|---:|---:|---:|---:|",
    ( ["exact_allowed", "wildcard_3_deep_allowed", "no_rule_denied", "path_allowed"][] as $c
      | $m["BM_Compiled/\($c)"] as $p | $m["BM_Naive/\($c)"] as $n
      | "| \($c) | \($p.real_time | round) | \($n.real_time | round) | \(($n.real_time / $p.real_time * 10 | round) / 10 | tostring | if test("[.]") then . else . + ".0" end)x | \($p["allocs/decision"]) / \($n["allocs/decision"]) |")
' "$gbench_out"
