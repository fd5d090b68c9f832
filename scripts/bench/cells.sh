#!/usr/bin/env bash
# Cell benchmarks, in one run on this machine (docs/benchmarks.md, "Cells"):
#  1. time to first output of `brig run --rm IMAGE echo hi` vs the bare
#     `podman run --rm --runtime runsc ... echo hi` with the same hardening
#     flags on an existing internal network (the baseline), and vs the same
#     isolation done by hand (network create + warden connect + podman run +
#     teardown), RUNS each, alternating;
#  2. `brig cell list` with CELLS (50) idle cells vs `podman ps` of the same;
#  3. memory per idle cell (host MemAvailable before and after IDLE (20) idle
#     cells) and how many would fit in 16 GiB;
#  4. warm pools: time to first output of `brig run --pool --rm P echo hi`
#     (a claim) in the same alternating loop as 1, each measurement started
#     with the pool full (so no refill runs beside another measurement); the
#     refill time after a claim; memory per waiting pool cell (POOL_IDLE, 10);
#  5. CPU time (user + system of the command and what it waited for) of the
#     whole `brig run --rm` against the bare podman run;
#  6. cells started per minute with 4 in parallel (PAR_RUNS, 12, `run --rm
#     IMAGE true` each), brig against bare podman (on 4 existing networks).
# Brings up its own brig system in a temporary BRIG_HOME and takes it down at
# the end, so it refuses to run while another brig system is up.
#
#   sudo scripts/bench/cells.sh
#   sudo RUNS=5 CELLS=20 IDLE=10 scripts/bench/cells.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-10}
POOL_IDLE=${POOL_IDLE:-10}
PAR_RUNS=${PAR_RUNS:-12}
CELLS=${CELLS:-50}
IDLE=${IDLE:-20}
IMAGE=localhost/brig-busybox:latest

# shellcheck source=scripts/bench/system-lib.sh
. scripts/bench/system-lib.sh
bench_brig cells.sh "$IMAGE"
cleanup() {
  for d in "$BRIG_HOME"/state/*/; do
    n=$(basename "$d"); [ "$n" = system ] || "$BRIG" cell rm --force "$n" >/dev/null 2>&1 || true
  done
  "$BRIG" pool rm bench >/dev/null 2>&1 || true
  "$BRIG" pool rm benchidle >/dev/null 2>&1 || true
  podman rm -f bench-bare bench-par-1 bench-par-2 bench-par-3 bench-par-4 >/dev/null 2>&1 || true
  podman network rm -f brig-benchnet brig-benchhand brig-benchpar1 brig-benchpar2 brig-benchpar3 brig-benchpar4 \
    >/dev/null 2>&1 || true
  "$BRIG" system down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$BRIG" system up >/dev/null

ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The bare baseline: podman with the same flags brig passes (taken from the
# container brig creates), on a network that already exists.
ulimits=$(jq -r '.ulimits[] | "--ulimit " + .' "$BRIG_HOME/config.json" | tr '\n' ' ')
flags=$(jq -r '.runsc_network' "$BRIG_HOME/config.json")
rtflags="--runtime-flag oci-seccomp"
[ "$flags" = host ] && rtflags="$rtflags --runtime-flag network=host"
podman network create --internal --disable-dns --subnet 10.60.250.0/24 brig-benchnet >/dev/null
# shellcheck disable=SC2086
bare() { bare_on brig-benchnet 10.60.250.2; }  # (the resolver named as brig names warden)
bare_on() {
  podman $rtflags run --rm --name bench-bare --runtime runsc --network "$1" --dns "$2" --dns-search . --read-only \
    --tmpfs /tmp:rw,size=256m,noexec,nosuid,nodev --tmpfs /run:rw,size=64m,noexec,nosuid,nodev \
    --cap-drop ALL --security-opt no-new-privileges --security-opt seccomp="$BRIG_HOME/run/seccomp-cell.json" \
    --memory 512m --memory-swap 512m --pids-limit 1024 $ulimits "$IMAGE" echo hi
}
# First output: the time until "hi" arrives on stdout; the command's teardown
# (--rm) runs on afterwards and is timed as "total".
first_output() {  # first_output FIRST_FILE TOTAL_FILE CMD...
  local first=$1 total=$2 t0; shift 2; t0=$(ms)
  "$@" | { read -r _; echo $(( ($(ms) - t0) / 1000000 )) >>"$first"; cat >/dev/null; }
  echo $(( ($(ms) - t0) / 1000000 )) >>"$total"
}
# The same isolation by hand: what brig automates, as podman commands.
by_hand() {
  podman network create --internal --disable-dns --subnet 10.60.249.0/24 brig-benchhand >/dev/null
  podman network connect --ip 10.60.249.2 brig-benchhand brig-warden
  bare_on brig-benchhand 10.60.249.2
  podman network disconnect --force brig-benchhand brig-warden
  podman network rm --force brig-benchhand >/dev/null
}

# A pool's row field (ready, starting, ...).
pool_field() { "$BRIG" --format json pool list | jq -r --arg p "$1" --arg f "$2" '.[] | select(.name == $p) | .[$f]'; }
# Waits until pool $1 has $2 ready cells and none starting; prints the ms it took.
pool_full() {
  local t0; t0=$(ms)
  for _ in $(seq 1 1200); do
    [ "$(pool_field "$1" ready)" = "$2" ] && [ "$(pool_field "$1" starting)" = 0 ] && break
    sleep 0.05
  done
  echo $(( ($(ms) - t0) / 1000000 ))
}

log "time to first output, $RUNS runs each (alternating)"
"$BRIG" run --rm --name bench-warm --memory 512m "$IMAGE" echo hi >/dev/null  # writes the seccomp file; warms caches
bare >/dev/null
"$BRIG" pool create bench "$IMAGE" --size 2 >/dev/null
for f in brig bare hand pool; do : >"$work/$f.first"; : >"$work/$f.total"; done
: >"$work/refill"
pool_full bench 2 >/dev/null
for i in $(seq 1 "$RUNS"); do
  first_output "$work/brig.first" "$work/brig.total" "$BRIG" run --rm --name "bench-$i" --memory 512m "$IMAGE" echo hi
  pool_full bench 2 >/dev/null
  first_output "$work/bare.first" "$work/bare.total" bare
  pool_full bench 2 >/dev/null
  first_output "$work/hand.first" "$work/hand.total" by_hand
  pool_full bench 2 >/dev/null
  first_output "$work/pool.first" "$work/pool.total" "$BRIG" run --pool bench --rm -- echo hi
  pool_full bench 2 >>"$work/refill"  # from the claim's end: the refill time
done
"$BRIG" pool rm bench >/dev/null
refill_ms=$(median <"$work/refill")
for f in brig bare hand pool; do
  eval "${f}_first=\$(median <\"\$work/$f.first\")"; eval "${f}_total=\$(median <\"\$work/$f.total\")"
done

log "CPU time of the whole run, $RUNS each (alternating)"
cpu() {  # cpu FILE CMD...: appends user+system seconds of CMD (and what it waited for), and its wall time
  local TIMEFORMAT="%U %S %R"
  { time "${@:2}" >/dev/null 2>&1; } 2>"$work/time.out"
  awk '{ printf "%.3f %.3f\n", $1 + $2, $3 }' "$work/time.out" >>"$1"
}
: >"$work/brig.cpu"; : >"$work/bare.cpu"
for i in $(seq 1 "$RUNS"); do
  cpu "$work/brig.cpu" "$BRIG" run --rm --name "bench-cpu-$i" --memory 512m "$IMAGE" echo hi
  cpu "$work/bare.cpu" bare
done
brig_cpu=$(cut -d' ' -f1 "$work/brig.cpu" | median); bare_cpu=$(cut -d' ' -f1 "$work/bare.cpu" | median)
brig_wall=$(cut -d' ' -f2 "$work/brig.cpu" | median); bare_wall=$(cut -d' ' -f2 "$work/bare.cpu" | median)

log "cells per minute, 4 in parallel, $PAR_RUNS runs each"
for n in 1 2 3 4; do podman network create --internal --disable-dns --subnet "10.60.24$n.0/24" "brig-benchpar$n" >/dev/null; done
par() {  # par KIND: PAR_RUNS runs of KIND (brig|bare), 4 at a time; prints the seconds taken
  local t0; t0=$(ms)
  for n in 1 2 3 4; do
    (
      for i in $(seq "$n" 4 "$PAR_RUNS"); do
        if [ "$1" = brig ]; then
          "$BRIG" run --rm --name "bench-par-$i" --memory 512m "$IMAGE" true >/dev/null
        else
          podman $rtflags run --rm --name "bench-par-$n" --runtime runsc --network "brig-benchpar$n" --read-only \
            --cap-drop ALL --security-opt no-new-privileges --security-opt seccomp="$BRIG_HOME/run/seccomp-cell.json" \
            --memory 512m --memory-swap 512m --pids-limit 1024 $ulimits "$IMAGE" true >/dev/null
        fi
      done
    ) &
  done
  wait
  awk -v t="$(( ($(ms) - t0) / 1000000 ))" 'BEGIN { printf "%.1f", t / 1000 }'
}
par_brig_s=$(par brig); par_bare_s=$(par bare)
per_min() { awk -v n="$PAR_RUNS" -v s="$1" 'BEGIN { printf "%.0f", n * 60 / s }'; }

log "memory per waiting pool cell ($POOL_IDLE)"
sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
pmem0=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
"$BRIG" pool create benchidle "$IMAGE" --size "$POOL_IDLE" >/dev/null
pool_full benchidle "$POOL_IDLE" >/dev/null
sleep 3
pmem1=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
per_pool_kib=$(( (pmem0 - pmem1) / POOL_IDLE ))
"$BRIG" pool rm benchidle >/dev/null

log "$CELLS idle cells"
avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }
sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
mem0=$(avail)
for i in $(seq 1 "$CELLS"); do
  "$BRIG" run -d --name "idle-$i" "$IMAGE" sleep 3600 >/dev/null
  if [ "$i" = "$IDLE" ]; then sleep 3; mem1=$(avail); fi
done
list_runs() {  # median ms of 5 runs of "$@"
  for _ in 1 2 3 4 5; do local t0; t0=$(ms); "$@" >/dev/null; echo $(( ($(ms) - t0) / 1000000 )); done | median
}
list_ms=$(list_runs "$BRIG" cell list)
ps_ms=$(list_runs podman ps --all --filter label=brig.cell --format json)
count=$("$BRIG" cell list | tail -n +2 | wc -l)
per_cell_kib=$(( (mem0 - mem1) / IDLE ))
fit=$(( 16 * 1024 * 1024 / (per_cell_kib > 0 ? per_cell_kib : 1) ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<EOF

| measurement | brig | baseline | ratio |
|---|---:|---:|---:|
| time to first output, median of $RUNS (ms) | $brig_first | $bare_first (bare podman run, network exists) | $(ratio "$brig_first" "$bare_first") |
| time to first output (ms) | $brig_first | $hand_first (the same steps by hand: network create + connect + podman run) | $(ratio "$brig_first" "$hand_first") |
| whole run with --rm teardown (ms) | $brig_total | $bare_total (bare) / $hand_total (by hand) | $(ratio "$brig_total" "$bare_total") / $(ratio "$brig_total" "$hand_total") |
| \`cell list\` with $count cells, median of 5 (ms) | $list_ms | $ps_ms (podman ps alone) | $(ratio "$list_ms" "$ps_ms") |
| memory per idle cell (KiB, MemAvailable over $IDLE cells) | $per_cell_kib | – | – |
| idle cells in 16 GiB (extrapolated) | $fit | – | – |
| claim from a warm pool: time to first output, median of $RUNS (ms) | $pool_first | $brig_first (cold brig run) / $bare_first (bare) | $(ratio "$pool_first" "$brig_first") / $(ratio "$pool_first" "$bare_first") |
| claim, whole run with --rm teardown (ms) | $pool_total | $brig_total (cold brig run) | $(ratio "$pool_total" "$brig_total") |
| pool refill after a claim, median (ms) | $refill_ms | – | – |
| memory per waiting pool cell (KiB, over $POOL_IDLE) | $per_pool_kib | – | – |
| whole \`brig run --rm\`: CPU time, median of $RUNS (s) | $brig_cpu | $bare_cpu (bare) | $(ratio "$brig_cpu" "$bare_cpu") |
| whole \`brig run --rm\`: wall time, same runs (s) | $brig_wall | $bare_wall (bare) | $(ratio "$brig_wall" "$bare_wall") |
| cells started per minute, 4 in parallel ($PAR_RUNS runs) | $(per_min "$par_brig_s") | $(per_min "$par_bare_s") (bare) | $(ratio "$(per_min "$par_brig_s")" "$(per_min "$par_bare_s")") |
EOF
