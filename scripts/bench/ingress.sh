#!/usr/bin/env bash
# Ingress benchmark, in one run on this machine: what warden's ingress
# (https://<cell>.localhost:8443, TLS + bearer token) costs over reaching the
# cell's port directly.
#  1. throughput: wrk, THREADS threads, CONNECTIONS keep-alive connections,
#     DURATION s, GET /index.html (a 40-byte page from scripts/bench/cell_http.c,
#     a keep-alive server run in a busybox cell) (a) through ingress from the host and (b) directly on
#     the cell's address from inside warden's network namespace (plain HTTP,
#     the hop ingress itself makes);
#  2. unloaded latency: the same two with one connection (wrk -t1 -c1), p50
#     each way and the p50 ingress adds;
#  3. SSE: the delay between the response head and the first event (the cell
#     sends the event 200 ms after the head), SSE_RUNS each way, medians: what
#     ingress adds to an event of an open stream.
# Brings up its own brig system in a temporary BRIG_HOME and takes it down at
# the end, so it refuses to run while another brig system is up.
#
#   sudo scripts/bench/ingress.sh
#   sudo DURATION=5 CONNECTIONS=32 scripts/bench/ingress.sh
#
# Knobs (environment): DURATION (s per wrk run, 10), THREADS (2),
# CONNECTIONS (16), SSE_RUNS (10), JOBS (ninja, 1), KEEP=1 keeps the work dir.
#
# wrk has no --resolve: it runs in a private mount namespace whose /etc/hosts
# maps CELL.localhost to 127.0.0.1 (the host's /etc/hosts is never touched),
# so it connects to the published listener with the cell's name as SNI and
# Host. wrk does not verify certificates. Every load loop is bounded by a
# duration and by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
SSE_RUNS=${SSE_RUNS:-10}
JOBS=${JOBS:-1}
IMAGE=localhost/brig-busybox:latest
CELL=bench-ing
HOST=$CELL.localhost
PORT=8443

die() { echo "ingress.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "needs root (podman, nftables, nsenter)"
need() { command -v "$1" >/dev/null || die "$1 is missing: install the Debian package $2 (scripts/bootstrap.sh lists it)"; }
need podman podman; need wrk wrk; need curl curl; need jq jq; need openssl openssl
need nsenter util-linux; need unshare util-linux; need cmake cmake; need ninja ninja-build
podman container exists brig-warden && die "a brig system is up (brig-warden exists): run brig system down first"
podman image exists "$IMAGE" || die "$IMAGE is missing: scripts/build-images.sh"
# Proxy variables from the caller's environment would reroute curl.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

log "build brig (Release) in build-bench/"
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF >/dev/null
ninja -C build-bench -j "$JOBS" brig >/dev/null
BRIG=$PWD/build-bench/src/brig

work=$(mktemp -d /tmp/brig-bench-ingress.XXXXXX)
export BRIG_HOME=$work/home
failed=0
cleanup() {
  set +e
  "$BRIG" cell rm --force "$CELL" >/dev/null 2>&1
  "$BRIG" system down >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ] || [ "$failed" = 1 ]; then
    echo "ingress.sh: work dir kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { failed=1; die "$@"; }

# Polls `cmd...` every 0.2 s for at most $1 seconds.
wait_for() {
  local secs=$1; shift
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

log "brig system in $BRIG_HOME"
"$BRIG" system init --accept-weaker-network >/dev/null
"$BRIG" system up >/dev/null

TOKEN=$(openssl rand -hex 32)
printf '%s' "$TOKEN" | "$BRIG" secrets add "$CELL-ingress-token" - >/dev/null

# The cell: scripts/bench/cell_http.c, built static and run from the
# workspace: keep-alive HTTP/1.1 on 8080 (a 40-byte page) and, at /sse, a
# server-sent-event stream (head, 200 ms, one event, end). (busybox httpd
# forks per request and closes every connection: it would be what is measured.)
mkdir -p "$work/ws"
cc -O2 -static -pthread -o "$work/ws/cell_http" scripts/bench/cell_http.c || fail "cannot build cell_http (gcc, libc6-dev)"
cat >"$work/cell.yaml" <<'YAML'
name: bench-ing
image: localhost/brig-busybox:latest
command: ["/work/cell_http", "8080"]
ingress:
  - {name: web, port: 8080, path_prefix: /}
  - {name: sse, port: 8080, path_prefix: /sse}
YAML
log "cell $CELL"
"$BRIG" run -d --file "$work/cell.yaml" --workspace "$work/ws" >&2 || fail "brig run failed"
cell_ip=$("$BRIG" --format json cell inspect "$CELL" | jq -r .address)
wpid=$(podman inspect -f '{{.State.Pid}}' brig-warden)
if [ -z "$cell_ip" ] || [ "$cell_ip" = null ]; then fail "no address for $CELL"; fi
[ "${wpid:-0}" -gt 0 ] || fail "no pid for brig-warden"

url_ing=https://$HOST:$PORT
url_dir=http://$cell_ip
ing_curl=(curl -sS --max-time 5 --cacert "$BRIG_HOME/ca/ca.crt" --resolve "$HOST:$PORT:127.0.0.1"
  -H "Authorization: Bearer $TOKEN")
in_warden=(nsenter -t "$wpid" -n --)
wait_for 30 "${ing_curl[@]}" -f "$url_ing/index.html" || fail "no 200 from $url_ing/index.html within 30 s"
wait_for 10 "${in_warden[@]}" curl -sSf --max-time 5 "$url_dir:8080/index.html" ||
  fail "no 200 from $url_dir:8080/index.html in warden's network namespace"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$BRIG_HOME/ca/ca.crt" \
  --resolve "$HOST:$PORT:127.0.0.1" "$url_ing/index.html" || true)
[ "$code" = 401 ] || fail "ingress without the token answered $code, not 401"

printf '127.0.0.1 localhost %s\n' "$HOST" >"$work/hosts"
# shellcheck disable=SC2016 # $0 and $@ are the inner sh's
with_hosts=(unshare -m -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$work/hosts")

# ---------------------------------------------------------------- wrk
cat >"$work/done.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF
declare -A R  # name -> JSON result
# wrk_run NAME THREADS CONNECTIONS SECONDS FROM URL [wrk args]; FROM is "host"
# (the hosts override, for ingress) or "warden" (warden's network namespace).
wrk_run() {
  local name=$1 t=$2 c=$3 d=$4 from=$5 url=$6; shift 6
  local -a pre
  case "$from" in
    host) pre=("${with_hosts[@]}") ;;
    warden) pre=("${in_warden[@]}") ;;
    *) fail "wrk_run: unknown origin $from" ;;
  esac
  log "wrk $name: -t$t -c$c -d${d}s $url ($from)"
  timeout $((d + 60)) "${pre[@]}" wrk -t"$t" -c"$c" -d"${d}s" --timeout 5s --latency -s "$work/done.lua" "$@" "$url" \
    >"$work/wrk-$name.txt" 2>&1 || true
  local j
  j=$(sed -n 's/^BENCH //p' "$work/wrk-$name.txt")
  if [ -z "$j" ]; then
    echo "ingress.sh: wrk $name gave no result:" >&2
    cat "$work/wrk-$name.txt" >&2
    j='{"requests": 0, "duration_us": 1, "p50_us": 0, "p99_us": 0, "errors": {}}'
  fi
  R[$name]=$j
}
auth=(-H "Authorization: Bearer $TOKEN")
log "1. throughput, $CONNECTIONS connections, ${DURATION}s each (2 s warm-up before each)"
wrk_run warmup "$THREADS" "$CONNECTIONS" 2 host "$url_ing/index.html" "${auth[@]}"
wrk_run ingress "$THREADS" "$CONNECTIONS" "$DURATION" host "$url_ing/index.html" "${auth[@]}"
wrk_run warmup "$THREADS" "$CONNECTIONS" 2 warden "$url_dir:8080/index.html"
wrk_run direct "$THREADS" "$CONNECTIONS" "$DURATION" warden "$url_dir:8080/index.html"
log "2. one connection (unloaded latency)"
wrk_run ingress1 1 1 "$DURATION" host "$url_ing/index.html" "${auth[@]}"
wrk_run direct1 1 1 "$DURATION" warden "$url_dir:8080/index.html"

# ---------------------------------------------------------------- SSE
# sse_delay CMD...: ms between the response's status line and the first
# "data:" line as they reach this shell ("" if either is missing). The head
# comes through -D - (curl -i would hold it back until the body starts);
# $EPOCHREALTIME costs no fork.
sse_delay() {
  local t_head="" t_event="" line
  while IFS= read -r line; do
    case "$line" in
      HTTP/*) t_head=${EPOCHREALTIME/./} ;;
      data:*) t_event=${EPOCHREALTIME/./}; break ;;
    esac
  done < <(timeout 10 "$@" 2>/dev/null)
  if [ -n "$t_head" ] && [ -n "$t_event" ]; then echo $(( (t_event - t_head) / 1000 )); fi
  return 0
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) : 0)}'; }
log "3. SSE first event after the head, $SSE_RUNS runs each way (alternating)"
: >"$work/sse-ingress.txt"
: >"$work/sse-direct.txt"
for _ in $(seq "$SSE_RUNS"); do
  sse_delay "${ing_curl[@]}" -N -D - "$url_ing/sse/events" >>"$work/sse-ingress.txt"
  sse_delay "${in_warden[@]}" curl -sS --max-time 5 -N -D - "$url_dir:8080/sse/events" >>"$work/sse-direct.txt"
done
sse_ing=$(median <"$work/sse-ingress.txt")
sse_dir=$(median <"$work/sse-direct.txt")
sse_n_ing=$(grep -c . "$work/sse-ingress.txt" || true)
sse_n_dir=$(grep -c . "$work/sse-direct.txt" || true)

# ---------------------------------------------------------------- summary
j() { jq -r "$2" <<<"${R[$1]}"; }
rps() { j "$1" '.requests / (.duration_us / 1e6) | floor'; }
ms() { j "$1" ".$2 / 1000 * 100 | round / 100"; }
errs() { j "$1" '[.errors[]] | add // 0'; }
f() { awk "BEGIN { printf \"$1\", $2 }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
rps_ing=$(rps ingress); rps_dir=$(rps direct)
added_p50_1=$(f %.3f "($(j ingress1 .p50_us) - $(j direct1 .p50_us)) / 1000")
added_p50_n=$(f %.2f "($(j ingress .p50_us) - $(j direct .p50_us)) / 1000")

cat <<EOF

Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(date -u +%Y-%m-%d)
Versions: $(podman --version), $(wrk -v 2>&1 | head -1 | awk '{print "wrk " $2}'), curl $(curl --version | awk 'NR==1 {print $2}')
ingress: GET $url_ing/index.html from the host (TLS, bearer token)
direct:  GET $url_dir:8080/index.html from warden's network namespace (plain HTTP)

| measurement | ingress | direct | ratio |
|---|---:|---:|---:|
| req/s ($THREADS threads, $CONNECTIONS conns, ${DURATION} s) | $rps_ing | $rps_dir | $(ratio "$rps_ing" "$rps_dir") |
| p50 / p99 ms ($CONNECTIONS conns) | $(ms ingress p50_us) / $(ms ingress p99_us) | $(ms direct p50_us) / $(ms direct p99_us) | – |
| req/s, 1 connection | $(rps ingress1) | $(rps direct1) | $(ratio "$(rps ingress1)" "$(rps direct1)") |
| p50 / p99 ms, 1 connection | $(ms ingress1 p50_us) / $(ms ingress1 p99_us) | $(ms direct1 p50_us) / $(ms direct1 p99_us) | – |
| wrk errors (throughput / 1 conn) | $(errs ingress) / $(errs ingress1) | $(errs direct) / $(errs direct1) | – |
| SSE: first event after the head, median ms (runs) | $sse_ing ($sse_n_ing) | $sse_dir ($sse_n_dir) | – |

| added by ingress | value |
|---|---:|
| p50, 1 connection (ms) | $added_p50_1 |
| p50, $CONNECTIONS connections (ms) | $added_p50_n |
| SSE first event, median (ms; the cell waits 200 ms either way) | $(f %.1f "$sse_ing - $sse_dir") |
EOF
