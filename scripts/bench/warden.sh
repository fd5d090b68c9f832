#!/usr/bin/env bash
# Warden's proxy benchmarks, all in one run against one upstream: nginx in a
# network namespace this script creates (198.19.N.2, plain :80 and TLS :443
# with a throwaway test CA), warden from a Release build in build-bench/,
# tinyproxy and mitmdump as reference proxies. Prints a markdown table;
# docs/benchmarks.md ("Warden") quotes it and describes the method.
#
#   sudo scripts/bench/warden.sh
#   sudo DURATION=5 TUNNELS=1000 scripts/bench/warden.sh
#
# Knobs (environment): DURATION (s per wrk run, 10), CONNECTIONS (wrk, 64),
# HTTPS_CONNECTIONS (16), NEW_HOSTS (50), BULK_RUNS (3),
# TUNNELS (5000), WARDEN_THREADS (2), DNS_QUERIES (200000), JOBS (ninja, 1),
# KEEP=1 keeps the work dir.
#
# Traffic goes only to loopback and into the namespace created here; every
# load loop is bounded by a request count or a duration, and by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
HTTPS_CONNECTIONS=${HTTPS_CONNECTIONS:-16}
NEW_HOSTS=${NEW_HOSTS:-50}
BULK_RUNS=${BULK_RUNS:-3}
TUNNELS=${TUNNELS:-5000}
WARDEN_THREADS=${WARDEN_THREADS:-2}
JOBS=${JOBS:-1}
DNS_QUERIES=${DNS_QUERIES:-200000}

die() { echo "warden.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (it creates a network namespace)"
need() { command -v "$1" >/dev/null || die "$1 is missing: install the Debian package $2 (scripts/bootstrap.sh lists it)"; }
need cmake cmake; need ninja ninja-build; need cc build-essential; need ip iproute2; need ss iproute2
need nginx nginx-light; need openssl openssl; need curl curl; need wrk wrk; need jq jq
need tinyproxy tinyproxy; need mitmdump mitmproxy; need unshare util-linux
[ -f /usr/include/openssl/ssl.h ] || die "OpenSSL headers are missing: install the Debian package libssl-dev"
# Proxy variables from the caller's environment would reroute the direct runs.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# Idle tunnels need two descriptors each in warden (client + upstream).
ulimit -n "$(ulimit -Hn)"
fds=$(ulimit -n)
[ $((2 * TUNNELS + 512)) -le "$fds" ] || die "TUNNELS=$TUNNELS needs $((2 * TUNNELS + 512)) open files; the hard limit is $fds"

# ---------------------------------------------------------------- build
log "building brig (Release, build-bench/)"
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF >/dev/null
ninja -C build-bench -j "$JOBS" brig >&2
brig=$root/build-bench/src/brig
cc -O2 -Wall -o build-bench/idle_tunnels scripts/bench/idle_tunnels.c -lssl -lcrypto
tunnels_bin=$root/build-bench/idle_tunnels
cc -O2 -Wall -o build-bench/https_load scripts/bench/https_load.c -lssl -lcrypto -lpthread
https_bin=$root/build-bench/https_load
cc -O2 -Wall -o build-bench/dns_load scripts/bench/dns_load.c
dns_bin=$root/build-bench/dns_load

# ---------------------------------------------------------------- cleanup
work=$(mktemp -d /tmp/brig-bench-XXXXXX)
chmod 755 "$work"  # nginx's worker (nobody) reads www/
id=$(($$ % 16000))
ns=brig-bench-$$
veth=bbn$id
host_ip=198.19.$((id / 64)).$(((id % 64) * 4 + 1))
up=198.19.$((id / 64)).$(((id % 64) * 4 + 2))
pids=()
failed=0

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip link del "$veth" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || [ "$failed" = 1 ]; then
    echo "warden.sh: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
  done
  die "no free loopback port found"
}

# Polls `cmd...` every 0.2 s for at most $1 seconds.
wait_for() {
  local secs=$1; shift
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# ---------------------------------------------------------------- upstream
log "upstream: nginx in netns $ns at $up"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/upstream-ca.key" \
  -out "$work/upstream-ca.crt" -days 2 -subj "/CN=brig bench upstream CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/srv.key" -out "$work/srv.csr" \
  -subj "/CN=bench.test" 2>/dev/null
printf 'subjectAltName=DNS:bench.test,DNS:*.bench.test\nbasicConstraints=CA:FALSE\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/srv.csr" -CA "$work/upstream-ca.crt" -CAkey "$work/upstream-ca.key" -CAcreateserial \
  -out "$work/srv.crt" -days 2 -extfile "$work/ext.cnf" 2>/dev/null
chmod 600 "$work"/*.key
mkdir -p "$work/www/files"
truncate -s 1G "$work/www/files/big.bin"  # sparse: served from the page cache, no disk I/O
big_bytes=$((1 << 30))
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $fds;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((fds - 100)); }
http {
  access_log off;
  client_body_temp_path $work;
  keepalive_timeout 600s;
  keepalive_requests 10000000;
  client_header_timeout 600s;
  sendfile on;
  server {
    listen $up:80 reuseport;
    listen $up:443 ssl;
    ssl_certificate $work/srv.crt;
    ssl_certificate_key $work/srv.key;
    location = / { default_type text/plain; return 200 "brig bench upstream: a small fixed body\n"; }
    location /files/ { root $work/www; }
  }
}
EOF
ip netns add "$ns"
ip link add "$veth" type veth peer name "${veth}n"
ip link set "${veth}n" netns "$ns"
ip addr add "$host_ip/30" dev "$veth"
ip link set "$veth" up
ip netns exec "$ns" ip addr add "$up/30" dev "${veth}n"
ip netns exec "$ns" ip link set "${veth}n" up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" nginx -e "$work/nginx-error.log" -c "$work/nginx.conf"
wait_for 10 curl -sf --max-time 2 "http://$up/" || die "nginx in $ns does not answer on http://$up/"

# ---------------------------------------------------------------- warden
home=$work/home
mkdir -p "$home/state/system" "$home/policy/cells"
echo '{"127.0.0.0/8": "bench"}' >"$home/state/system/subnet-map.json"
echo '{"allow": ["bench.test", "*.bench.test"], "tls_passthrough": ["pass.bench.test"]}' >"$home/policy/cells/bench.json"
{
  echo "resolve_overrides:"
  for h in bench.test pass.bench.test; do echo "  - $h:80:$up"; echo "  - $h:443:$up"; done
  for i in $(seq "$NEW_HOSTS"); do echo "  - h$i.bench.test:443:$up"; done
} >"$home/warden.yaml"

wpid=
wproxy=
wops=
wdns=
# start_warden NAME [extra args]: sets wpid, wproxy, wops (and wdns with --dns-listen).
start_warden() {
  local name=$1; shift
  BRIG_HOME=$home NO_COLOR=1 "$brig" warden serve --proxy-listen 127.0.0.1:0 --ops-listen 127.0.0.1:0 \
    --upstream-ca "$work/upstream-ca.crt" --threads "$WARDEN_THREADS" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  wpid=$!
  pids+=("$wpid")
  wait_for 15 grep -q proxy "$work/$name.out" || { failed=1; cat "$work/$name.err" >&2; die "warden ($name) printed no addresses"; }
  wproxy=$(head -1 "$work/$name.out" | jq -r .proxy)
  wops=$(head -1 "$work/$name.out" | jq -r .ops)
  wdns=$(head -1 "$work/$name.out" | jq -r '.dns // empty')
  log "warden ($name) pid $wpid proxy $wproxy ops $wops"
}

# check_warden WHEN: stops the run, with warden's stderr, if it has died.
check_warden() {
  kill -0 "$wpid" 2>/dev/null && return 0
  failed=1
  local st=0
  wait "$wpid" || st=$?
  echo "warden.sh: warden (pid $wpid) died during $1 with status $st; last stderr lines:" >&2
  tail -40 "$work"/warden-*.err >&2
  exit 1
}
metric() { curl -sf --max-time 5 "http://$wops/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# warden-a also takes transparent HTTPS on 127.0.0.1:443 (the port a
# transparent client dials) and runs the resolver, unthrottled for the load.
{ cat "$home/warden.yaml"; printf 'limits:\n  dns_rate: 100000000\n  dns_burst: 100000000\n'; } >"$work/warden-a.yaml"
[ -z "$(ss -Htln 'sport = :443')" ] || die "port 443 is in use on this host: the transparent HTTPS run needs it"
start_warden warden-a --config "$work/warden-a.yaml" --https-listen 127.0.0.1:443 --dns-listen 127.0.0.1:0
curl -sSf --max-time 5 -x "http://$wproxy" -o /dev/null "http://bench.test/" || { failed=1; cat "$work/warden-a.err" >&2; die "warden does not proxy http://bench.test/"; }

# ---------------------------------------------------------------- reference proxies
# tinyproxy and mitmdump resolve names themselves: each runs in a private mount
# namespace where /etc/hosts maps bench.test to the upstream, so every proxy
# gets the same absolute URI and the host's /etc/hosts is never touched.
printf '127.0.0.1 localhost\n%s bench.test pass.bench.test\n' "$up" >"$work/hosts"
# Called directly (not from a function) so that $! is the proxy's own pid:
# unshare and sh both exec.
with_hosts=(unshare -m -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$work/hosts")

tport=$(free_port)
cat >"$work/tinyproxy.conf" <<EOF
Port $tport
Listen 127.0.0.1
Timeout 600
MaxClients 1024
LogLevel Error
PidFile "$work/tinyproxy.pid"
DisableViaHeader Yes
EOF
"${with_hosts[@]}" tinyproxy -d -c "$work/tinyproxy.conf" >"$work/tinyproxy.log" 2>&1 &
pids+=($!)

mport=$(free_port)
mkdir -p "$work/mitm"
"${with_hosts[@]}" mitmdump -q --listen-host 127.0.0.1 --listen-port "$mport" --set confdir="$work/mitm" \
  --set ssl_verify_upstream_trusted_ca="$work/upstream-ca.crt" >"$work/mitmdump.log" 2>&1 &
pids+=($!)
wait_for 30 curl -sf --max-time 2 -x "http://127.0.0.1:$tport" -o /dev/null http://bench.test/ ||
  { cat "$work/tinyproxy.log" >&2; die "tinyproxy does not proxy http://bench.test/"; }
wait_for 60 curl -sf --max-time 2 -x "http://127.0.0.1:$mport" -o /dev/null http://bench.test/ ||
  { cat "$work/mitmdump.log" >&2; die "mitmdump does not proxy http://bench.test/"; }

# ---------------------------------------------------------------- 1. plain HTTP (wrk)
cat >"$work/done.lua" <<'EOF'
wrk.headers["Host"] = "bench.test"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF
{ echo 'wrk.path = "http://bench.test/"'; cat "$work/done.lua"; } >"$work/proxy.lua"

declare -A R  # name -> JSON result
# wrk_run NAME THREADS CONNECTIONS SECONDS URL LUA
wrk_run() {
  local name=$1 t=$2 c=$3 d=$4 url=$5 lua=$6
  log "wrk $name: -t$t -c$c -d${d}s $url"
  timeout $((d + 60)) wrk -t"$t" -c"$c" -d"${d}s" --timeout 5s --latency -s "$lua" "$url" >"$work/wrk-$name.txt" 2>&1 || true
  local j
  j=$(sed -n 's/^BENCH //p' "$work/wrk-$name.txt")
  if [ -z "$j" ]; then
    echo "warden.sh: wrk $name gave no result:" >&2
    cat "$work/wrk-$name.txt" >&2
    j='{"requests": 0, "duration_us": 1, "p50_us": 0, "p99_us": 0, "errors": {}}'
  fi
  R[$name]=$j
}

log "1. plain HTTP keep-alive, $CONNECTIONS connections, ${DURATION}s each (2 s warm-up before each)"
wrk_run warmup 2 "$CONNECTIONS" 2 "http://$up/" "$work/done.lua"
wrk_run http-direct 2 "$CONNECTIONS" "$DURATION" "http://$up/" "$work/done.lua"
wrk_run warmup 2 "$CONNECTIONS" 2 "http://$wproxy/" "$work/proxy.lua"
wrk_run http-warden 2 "$CONNECTIONS" "$DURATION" "http://$wproxy/" "$work/proxy.lua"
check_warden "plain HTTP load"
wrk_run warmup 2 "$CONNECTIONS" 2 "http://127.0.0.1:$tport/" "$work/proxy.lua"
wrk_run http-tinyproxy 2 "$CONNECTIONS" "$DURATION" "http://127.0.0.1:$tport/" "$work/proxy.lua"
wrk_run warmup 2 "$CONNECTIONS" 2 "http://127.0.0.1:$mport/" "$work/proxy.lua"
wrk_run http-mitmdump 2 "$CONNECTIONS" "$DURATION" "http://127.0.0.1:$mport/" "$work/proxy.lua"
log "1b. plain HTTP, one connection (unloaded latency)"
wrk_run http1-direct 1 1 "$DURATION" "http://$up/" "$work/done.lua"
wrk_run http1-warden 1 1 "$DURATION" "http://$wproxy/" "$work/proxy.lua"
check_warden "plain HTTP single-connection run"

# ---------------------------------------------------------------- 2. HTTPS keep-alive (https_load)
log "2. HTTPS keep-alive, $HTTPS_CONNECTIONS connections, ${DURATION}s each (1 s warm-up inside each run)"
declare -A S  # name -> https_load JSON result
https_run() {  # https_run NAME [https_load args]: GET https://bench.test/ over reused connections
  local name=$1; shift
  local j
  j=$(timeout $((DURATION + 60)) "$https_bin" -c "$HTTPS_CONNECTIONS" -d "$DURATION" -w 1 "$@" 2>"$work/https-$name.err" | tail -1) || true
  [ -n "$j" ] || { echo "warden.sh: https_load $name gave no result:" >&2; cat "$work/https-$name.err" >&2; j='{"requests": 0, "req_per_s": 0, "p50_us": 0, "p99_us": 0, "errors": 1, "connections": 0}'; }
  S[$name]=$j
  log "https $name: $j"
}
wait_for 30 test -f "$work/mitm/mitmproxy-ca-cert.pem" || die "mitmdump made no CA in $work/mitm"
https_run https-direct -k "$work/upstream-ca.crt" "$up" 443 bench.test /
https_run https-warden -x "$wproxy" -i 127.0.0.2 -k "$home/ca/ca.crt" "$up" 443 bench.test /
check_warden "HTTPS load"
# The same load as a client that ignores proxy variables: straight to
# warden's :443, routed by the SNI. Alternating with the proxy path.
https_run https-transparent -i 127.0.0.2 -k "$home/ca/ca.crt" 127.0.0.1 443 bench.test /
https_run https-warden2 -x "$wproxy" -i 127.0.0.2 -k "$home/ca/ca.crt" "$up" 443 bench.test /
https_run https-transparent2 -i 127.0.0.2 -k "$home/ca/ca.crt" 127.0.0.1 443 bench.test /
check_warden "transparent HTTPS load"
https_run https-mitmdump -x "127.0.0.1:$mport" -k "$work/mitm/mitmproxy-ca-cert.pem" "$up" 443 bench.test /

declare -A H  # name -> "ok median_ms mean_ms leaves_signed" (new-host passes)
# awk function: nearest-rank index of percentile p among NR sorted samples
pct='function rank(p,  i) { i = int(p / 100 * NR); if (i < p / 100 * NR) i++; return i < 1 ? 1 : i }'
warden_tls=(-x "http://$wproxy" --interface 127.0.0.2 --cacert "$home/ca/ca.crt")

# ---------------------------------------------------------------- 3. new-host MITM cost
# One sequential curl per pass over h1..hN.bench.test: every request opens a
# new tunnel and a new client TLS session. Cold: warden signs a leaf per host.
# Warm: the same hosts again from a new curl process (leaves cached).
log "3. first request to $NEW_HOSTS new hosts vs the same hosts again"
newhost_pass() {
  local name=$1 cfg=$work/urls-$1.cfg
  for i in $(seq "$NEW_HOSTS"); do printf 'url = "https://h%d.bench.test/"\noutput = "/dev/null"\n' "$i"; done >"$cfg"
  local m0 m1
  m0=$(metric brig_warden_cert_cache_misses_total)
  timeout 300 curl -sS --http1.1 --max-time 30 -K "$cfg" -w '%{http_code} %{time_total}\n' "${warden_tls[@]}" \
    >"$work/samples-$name.txt" 2>"$work/curl-$name.err" || true
  m1=$(metric brig_warden_cert_cache_misses_total)
  H[$name]=$(awk '$1 == 200 { print $2 * 1000 }' "$work/samples-$name.txt" | sort -n |
    awk -v gen="$((${m1:-0} - ${m0:-0}))" "$pct"'
    { t[NR] = $1; sum += $1 }
    END { printf "%d %.3f %.3f %d\n", NR, (NR ? t[rank(50)] : 0), (NR ? sum / NR : 0), gen }')
  log "curl $name: ${H[$name]} (ok median_ms mean_ms leaves_signed)"
}
newhost_pass newhost-cold
newhost_pass newhost-warm
check_warden "new-host requests"

# ---------------------------------------------------------------- 4. passthrough bulk
# 1 GiB over TLS from nginx; through warden the host is in tls_passthrough, so
# curl verifies nginx's own certificate (the upstream CA), not warden's.
log "4. 1 GiB download over TLS, direct vs warden passthrough, $BULK_RUNS runs each (alternating)"
bulk_url=https://pass.bench.test/files/big.bin
# One untimed download first: the first read of the sparse file fills the
# page cache (it ran at a quarter of the later speed), and it is not a
# property of either path.
timeout 300 curl -sS --max-time 240 -o /dev/null --resolve "pass.bench.test:443:$up" --cacert "$work/upstream-ca.crt" \
  "$bulk_url" || true
: >"$work/bulk-direct.txt"
: >"$work/bulk-warden.txt"
for r in $(seq "$BULK_RUNS"); do
  timeout 300 curl -sS --max-time 240 -o /dev/null -w '%{http_code} %{size_download} %{speed_download}\n' \
    --resolve "pass.bench.test:443:$up" --cacert "$work/upstream-ca.crt" "$bulk_url" >>"$work/bulk-direct.txt" || true
  timeout 300 curl -sS --max-time 240 -o /dev/null -w '%{http_code} %{size_download} %{speed_download}\n' \
    -x "http://$wproxy" --interface 127.0.0.2 --cacert "$work/upstream-ca.crt" "$bulk_url" >>"$work/bulk-warden.txt" || true
  check_warden "passthrough download $r"
done
# median MiB/s of complete 200 downloads ("0" if none)
bulk_median() {
  awk -v size="$big_bytes" '$1 == 200 && $2 == size { printf "%.0f\n", $3 / 1048576 }' "$1" | sort -n |
    awk '{ s[NR] = $1 } END { print (NR ? s[int((NR + 1) / 2)] : 0) }'
}
bulk_direct=$(bulk_median "$work/bulk-direct.txt")
bulk_warden=$(bulk_median "$work/bulk-warden.txt")
log "bulk MiB/s direct: $(awk '{printf "%.0f ", $3/1048576}' "$work/bulk-direct.txt") warden: $(awk '{printf "%.0f ", $3/1048576}' "$work/bulk-warden.txt")"

# ---------------------------------------------------------------- 4b. resolver
log "4b. resolver: $DNS_QUERIES A queries over UDP, 64 in flight, then one at a time"
dns_run() {  # dns_run NAME WINDOW QUERIES
  local j
  j=$(timeout 60 "$dns_bin" -i 127.0.0.2 -s 127.0.0.1 -p "${wdns##*:}" -n "$3" -w "$2" -d 20 bench.test 2>"$work/dns-$1.err") || true
  [ -n "$j" ] || { echo "warden.sh: dns_load $1 gave no result:" >&2; cat "$work/dns-$1.err" >&2; j='{"answers_per_s": 0, "p50_us": 0, "p99_us": 0, "lost": -1, "rcode": -1}'; }
  D[$1]=$j
  log "dns $1: $j"
}
declare -A D
dns_run dns-64 64 "$DNS_QUERIES"
dns_run dns-1 1 $((DNS_QUERIES / 10))
check_warden "resolver load"

log "stopping warden-a (SIGTERM)"
warden_a_metrics=$(curl -sf --max-time 5 "http://$wops/metrics" || true)
kill -TERM "$wpid"
st=0
for _ in $(seq 150); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$wpid" 2>/dev/null && { echo "warden.sh: warden-a still running 15 s after SIGTERM" >&2; kill -9 "$wpid"; }
wait "$wpid" || st=$?
log "warden-a exited with status $st"

# ---------------------------------------------------------------- 5. RSS per idle tunnel
# A fresh warden (same policy) with the per-cell tunnel cap raised above
# TUNNELS and a long idle timeout, so the tunnels stay open while measured.
{
  cat "$home/warden.yaml"
  printf 'limits:\n  max_tunnels_per_cell: %d\n  idle_timeout_ms: 900000\n' $((TUNNELS + 64))
} >"$work/warden-rss.yaml"
start_warden warden-b --config "$work/warden-rss.yaml"
# One short passthrough exchange first, so one-time set-up is in the baseline.
curl -sS --max-time 10 -o /dev/null -x "http://$wproxy" --interface 127.0.0.2 --cacert "$work/upstream-ca.crt" \
  https://pass.bench.test/ || true
sleep 1
rss0=$(rss_kib "$wpid")
log "5. opening $TUNNELS idle passthrough tunnels (warden RSS before: $rss0 KiB)"
"$tunnels_bin" "${wproxy%:*}" "${wproxy##*:}" pass.bench.test 443 "$TUNNELS" 600 127.0.0.2 >"$work/tunnels.out" 2>&1 &
tpid=$!
pids+=("$tpid")
t0=$SECONDS
wait_for 330 grep -q '^opened' "$work/tunnels.out" || echo "warden.sh: the tunnel helper did not finish opening" >&2
log "tunnel helper after $((SECONDS - t0)) s: $(cat "$work/tunnels.out")"
opened=$(awk '/^opened/ { print $2 }' "$work/tunnels.out")
opened=${opened:-0}
sleep 3
check_warden "idle tunnels"
rss1=$(rss_kib "$wpid")
active=$(metric brig_warden_active_connections)
kill "$tpid" 2>/dev/null || true
wait "$tpid" 2>/dev/null || true
sleep 3
rss2=$(rss_kib "$wpid")
log "RSS with $opened tunnels: $rss1 KiB (active connections $active); after closing them: $rss2 KiB"

# ---------------------------------------------------------------- table
j() { jq -r "$2" <<<"${R[$1]}"; }
rps() { j "$1" '.requests / (.duration_us / 1e6) | floor'; }
ms() { j "$1" ".$2 / 1000 * 100 | round / 100"; }
errs() { j "$1" '[.errors[]] | add // 0'; }
f() { awk "BEGIN { printf \"$1\", $2 }"; }
hs() { local a=(${H[$1]}); echo "${a[$2]}"; }  # field of an HTTPS result
sj() { jq -r "$2" <<<"${S[$1]}"; }  # field of an https_load result
met() { awk "BEGIN { exit !($1) }" && echo met || echo "NOT met"; }

echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(date -u +%Y-%m-%d)"
echo "Load average (1/5/15 min) at start: $load0; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Versions: $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | awk '{print "wrk " $2}'), tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}'), mitmdump $(mitmdump --version 2>/dev/null | awk '/Mitmproxy/ {print $2}'), curl $(curl --version | awk 'NR==1 {print $2}'); warden --threads $WARDEN_THREADS"
echo
echo "| measurement | direct | warden | tinyproxy | mitmdump |"
echo "|---|---:|---:|---:|---:|"
echo "| plain HTTP req/s ($CONNECTIONS conns, ${DURATION} s) | $(rps http-direct) | $(rps http-warden) | $(rps http-tinyproxy) | $(rps http-mitmdump) |"
echo "| plain HTTP p50 / p99 ms | $(ms http-direct p50_us) / $(ms http-direct p99_us) | $(ms http-warden p50_us) / $(ms http-warden p99_us) | $(ms http-tinyproxy p50_us) / $(ms http-tinyproxy p99_us) | $(ms http-mitmdump p50_us) / $(ms http-mitmdump p99_us) |"
echo "| plain HTTP wrk errors | $(errs http-direct) | $(errs http-warden) | $(errs http-tinyproxy) | $(errs http-mitmdump) |"
echo "| plain HTTP, 1 conn: req/s, p50 / p99 ms | $(rps http1-direct), $(ms http1-direct p50_us) / $(ms http1-direct p99_us) | $(rps http1-warden), $(ms http1-warden p50_us) / $(ms http1-warden p99_us) | – | – |"
tms() { sj "$1" ".$2 / 1000 * 100 | round / 100"; }
echo "| HTTPS keep-alive req/s ($HTTPS_CONNECTIONS conns, ${DURATION} s) | $(sj https-direct .req_per_s) | $(sj https-warden .req_per_s) | – | $(sj https-mitmdump .req_per_s) |"
echo "| HTTPS p50 / p99 ms | $(tms https-direct p50_us) / $(tms https-direct p99_us) | $(tms https-warden p50_us) / $(tms https-warden p99_us) | – | $(tms https-mitmdump p50_us) / $(tms https-mitmdump p99_us) |"
echo "| HTTPS errors / connections | $(sj https-direct .errors) / $(sj https-direct .connections) | $(sj https-warden .errors) / $(sj https-warden .connections) | – | $(sj https-mitmdump .errors) / $(sj https-mitmdump .connections) |"
echo "| TLS bulk 1 GiB MiB/s (median of $BULK_RUNS) | $bulk_direct | $bulk_warden (passthrough) | – | – |"
echo
# Transparent vs proxy path: the mean of the two alternating runs of each.
tmean() { jq -n --argjson a "${S[$1]}" --argjson b "${S[$2]}" "(\$a.$3 + \$b.$3) / 2 | floor"; }
t_rps=$(tmean https-transparent https-transparent2 req_per_s)
p_rps=$(tmean https-warden https-warden2 req_per_s)
echo "| HTTPS keep-alive through warden ($HTTPS_CONNECTIONS conns, ${DURATION} s, mean of 2 alternating runs) | proxy (CONNECT) | transparent (:443, SNI) | ratio |"
echo "|---|---:|---:|---:|"
echo "| req/s (runs: $(sj https-warden .req_per_s), $(sj https-warden2 .req_per_s) / $(sj https-transparent .req_per_s), $(sj https-transparent2 .req_per_s)) | $p_rps | $t_rps | $(f %.2f "$t_rps / ($p_rps > 0 ? $p_rps : 1)") ($(met "$t_rps >= 0.9 * $p_rps") goal >= 0.90) |"
echo "| p50 / p99 ms (first runs) | $(tms https-warden p50_us) / $(tms https-warden p99_us) | $(tms https-transparent p50_us) / $(tms https-transparent p99_us) | |"
echo "| errors (all runs) | $(( $(sj https-warden .errors) + $(sj https-warden2 .errors) )) | $(( $(sj https-transparent .errors) + $(sj https-transparent2 .errors) )) | |"
echo
dj() { jq -r "$2" <<<"${D[$1]}"; }
echo "| resolver (UDP, A for an allowed name) | answers/s | p50 µs | p99 µs | lost |"
echo "|---|---:|---:|---:|---:|"
echo "| 64 queries in flight | $(dj dns-64 .answers_per_s) | $(dj dns-64 .p50_us) | $(dj dns-64 .p99_us) | $(dj dns-64 .lost) |"
echo "| one at a time | $(dj dns-1 .answers_per_s) | $(dj dns-1 .p50_us) | $(dj dns-1 .p99_us) | $(dj dns-1 .lost) |"
echo
echo "| warden figure | value |"
echo "|---|---:|"
echo "| new host, first request (cold leaf), median / mean ms | $(hs newhost-cold 1) / $(hs newhost-cold 2) |"
echo "| same hosts again (cached leaf, new tunnel), median / mean ms | $(hs newhost-warm 1) / $(hs newhost-warm 2) |"
echo "| leaves signed, cold / warm pass ($NEW_HOSTS hosts) | $(hs newhost-cold 3) / $(hs newhost-warm 3) |"
echo "| added cost of a new host, mean ms | $(f %.2f "$(hs newhost-cold 2) - $(hs newhost-warm 2)") |"
echo "| idle passthrough tunnels open | $opened of $TUNNELS |"
echo "| RSS before / with tunnels / after closing, KiB | $rss0 / $rss1 / $rss2 |"
per_tunnel=$(f %.1f "($rss1 - $rss0) / ($opened > 0 ? $opened : 1)")
echo "| RSS per idle tunnel, KiB | $per_tunnel |"
echo
http_vs_mitm=$(f %.1f "$(rps http-warden) / $(rps http-mitmdump)")
https_vs_mitm=$(f %.1f "$(sj https-warden .req_per_s) / ($(sj https-mitmdump .req_per_s) > 0 ? $(sj https-mitmdump .req_per_s) : 1)")
http_vs_direct=$(f %.2f "$(rps http-warden) / $(rps http-direct)")
added_p50_1=$(f %.3f "($(j http1-warden .p50_us) - $(j http1-direct .p50_us)) / 1000")
added_p50_64=$(f %.2f "($(j http-warden .p50_us) - $(j http-direct .p50_us)) / 1000")
added_p50_tls=$(f %.2f "($(sj https-warden .p50_us) - $(sj https-direct .p50_us)) / 1000")
pass_ratio=$(f %.2f "$bulk_warden / ($bulk_direct > 0 ? $bulk_direct : 1)")
echo "| target | measured | result |"
echo "|---|---:|---|"
echo "| plain HTTP req/s >= 20x mitmdump | ${http_vs_mitm}x | $(met "$http_vs_mitm >= 20") |"
echo "| MITM HTTPS req/s >= 20x mitmdump | ${https_vs_mitm}x | $(met "$https_vs_mitm >= 20") |"
echo "| plain HTTP req/s >= 50% of direct | $(f %.0f "$http_vs_direct * 100")% | $(met "$http_vs_direct >= 0.5") |"
echo "| added p50 <= 1 ms, warm (1 connection, plain HTTP) | $added_p50_1 ms | $(met "$added_p50_1 <= 1") |"
echo "| added p50 <= 1 ms, warm ($CONNECTIONS connections, plain HTTP) | $added_p50_64 ms | $(met "$added_p50_64 <= 1") |"
echo "| added p50 <= 1 ms, warm (HTTPS MITM, $HTTPS_CONNECTIONS connections) | $added_p50_tls ms | $(met "$added_p50_tls <= 1") |"
echo "| passthrough >= 80% of direct throughput | $(f %.0f "$pass_ratio * 100")% | $(met "$pass_ratio >= 0.8") |"
echo "| <= 64 KiB RSS per idle tunnel | $per_tunnel KiB | $(met "$per_tunnel <= 64") |"
echo
echo "warden-a: exit status $st after SIGTERM; warnings or errors on its stderr: $(grep -ciE 'warn|error|critical' "$work/warden-a.err" || true)"
echo "warden-a requests by decision: $(grep '^brig_warden_requests_total' <<<"$warden_a_metrics" | sed 's/.*decision="\([a-z]*\)"} /\1=/' | tr '\n' ' ')"
if [ "$st" -ne 0 ]; then
  failed=1
  echo "warden.sh: warden-a did not exit cleanly on SIGTERM (status $st; 134 = SIGABRT, 139 = SIGSEGV); its stderr:" >&2
  cat "$work/warden-a.err" >&2
  exit 1
fi
