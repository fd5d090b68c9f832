#!/usr/bin/env bash
# Cell benchmarks, in one run on this machine (docs/benchmarks.md, "Cells"):
#  1. time to first output of `brig run --rm IMAGE echo hi` vs the bare
#     `podman run --rm --runtime runsc ... echo hi` with the same hardening
#     flags on an existing internal network (the baseline), and vs the same
#     isolation done by hand (network create + warden connect + podman run +
#     teardown), RUNS each, alternating;
#  2. `brig cell list` with CELLS (50) idle cells vs `podman ps` of the same;
#  3. memory per idle cell (host MemAvailable before and after IDLE (20) idle
#     cells) and how many would fit in 16 GiB.
# Brings up its own brig system in a temporary BRIG_HOME and takes it down at
# the end, so it refuses to run while another brig system is up.
#
#   sudo scripts/bench/cells.sh
#   sudo RUNS=5 CELLS=20 IDLE=10 scripts/bench/cells.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-10}
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
  podman rm -f bench-bare >/dev/null 2>&1 || true
  podman network rm -f brig-benchnet brig-benchhand >/dev/null 2>&1 || true
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

log "time to first output, $RUNS runs each (alternating)"
"$BRIG" run --rm --name bench-warm --memory 512m "$IMAGE" echo hi >/dev/null  # writes the seccomp file; warms caches
bare >/dev/null
for f in brig bare hand; do : >"$work/$f.first"; : >"$work/$f.total"; done
for i in $(seq 1 "$RUNS"); do
  first_output "$work/brig.first" "$work/brig.total" "$BRIG" run --rm --name "bench-$i" --memory 512m "$IMAGE" echo hi
  first_output "$work/bare.first" "$work/bare.total" bare
  first_output "$work/hand.first" "$work/hand.total" by_hand
done
for f in brig bare hand; do
  eval "${f}_first=\$(median <\"\$work/$f.first\")"; eval "${f}_total=\$(median <\"\$work/$f.total\")"
done

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
EOF
