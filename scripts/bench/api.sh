#!/usr/bin/env bash
# The API's exec round trip (docs/benchmarks.md, "API"), in one run: a command
# in a running cell through `POST /v1/cells/NAME/exec` (curl on the unix
# socket; and the Python SDK's Cell.exec in one process, so its start-up is
# not counted) vs `brig cell exec NAME -- echo hi` (the baseline), RUNS each,
# alternating, medians.
# Brings up its own brig system in a temporary BRIG_HOME and takes it down at
# the end, so it refuses to run while another brig system is up.
#
#   sudo scripts/bench/api.sh
#   sudo RUNS=10 scripts/bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-20}
IMAGE=localhost/brig-busybox:latest

# shellcheck source=scripts/bench/system-lib.sh
. scripts/bench/system-lib.sh
bench_brig api.sh "$IMAGE"
cleanup() {
  "$BRIG" cell rm --force bench-api >/dev/null 2>&1 || true
  "$BRIG" system down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$BRIG" system up >/dev/null
"$BRIG" run -d --name bench-api "$IMAGE" -- sleep 3600 >/dev/null
sock=$BRIG_HOME/run/api.sock

ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cli_exec() { "$BRIG" cell exec bench-api -- echo hi; }
api_exec() {
  curl -sS --unix-socket "$sock" -X POST localhost/v1/cells/bench-api/exec -d '{"cmd": ["echo", "hi"]}' | grep -q '"exit_code":0'
}
for f in cli api; do : >"$work/$f"; done
cli_exec >/dev/null; api_exec  # warm
log "exec round trip, $RUNS runs each (alternating)"
for _ in $(seq 1 "$RUNS"); do
  t0=$(ms); cli_exec >/dev/null; echo $(( ($(ms) - t0) / 1000000 )) >>"$work/cli"
  t0=$(ms); api_exec; echo $(( ($(ms) - t0) / 1000000 )) >>"$work/api"
done
# The SDK in one Python process: per-exec time, the interpreter's start-up not counted.
sdk=$(BRIG_HOME=$BRIG_HOME RUNS=$RUNS python3 - <<'PY'
import os, sys, time
sys.path.insert(0, "src/sdk/python")
import brig
c = brig.Brig().get("bench-api")
c.exec(["echo", "hi"])
times = []
for _ in range(int(os.environ["RUNS"])):
    t0 = time.monotonic()
    r = c.exec(["echo", "hi"])
    assert r.exit_code == 0 and r.stdout == "hi\n", r
    times.append((time.monotonic() - t0) * 1000)
times.sort()
n = len(times)
print(int(times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2))
PY
)
cli=$(median <"$work/cli"); api=$(median <"$work/api")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "exec round trip (median of $RUNS): brig cell exec ${cli} ms; API via curl ${api} ms ($(ratio "$api" "$cli")x); SDK Cell.exec ${sdk} ms ($(ratio "$sdk" "$cli")x)"
