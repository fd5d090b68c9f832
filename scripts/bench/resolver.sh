#!/usr/bin/env bash
# Warden's resolver as a cell sees it (docs/benchmarks.md, "Resolver and
# transparent egress"): from inside a real cell (podman + runsc, the node
# image's python3), QUERIES sequential UDP queries to the cell's resolver
# (warden) for a name its policy allows, then for one it does not, against
# the baseline of the same client's UDP round trip to an echo server on the
# cell's own loopback (the floor of a Python UDP exchange under gVisor).
# Brings up its own brig system in a temporary BRIG_HOME and takes it down at
# the end, so it refuses to run while another brig system is up.
#
#   sudo scripts/bench/resolver.sh
#   sudo QUERIES=2000 scripts/bench/resolver.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

QUERIES=${QUERIES:-5000}
IMAGE=localhost/brig-node:latest

# shellcheck source=scripts/bench/system-lib.sh
. scripts/bench/system-lib.sh
bench_brig resolver.sh "$IMAGE"
cleanup() {
  "$BRIG" cell rm --force bench-dns >/dev/null 2>&1 || true
  "$BRIG" system down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The resolver's default rate (200/s, burst 400 per cell) bounds a flooding
# cell; the benchmark measures the resolver itself, so it is raised here.
printf 'limits:\n  dns_rate: 100000000\n  dns_burst: 100000000\n' >"$BRIG_HOME/warden.yaml"
"$BRIG" system up >/dev/null

# The client: N queries one after another on one socket (2 s timeout each,
# counted lost), then median / p99 latency and exchanges per second.
cat >"$work/dns.py" <<'EOF'
import json, socket, sys, threading, time

def query(name, qid):
    q = bytes([qid >> 8, qid & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0\0\1\0\1"

def run(addr, payload, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(addr)
    lat, lost, rcode = [], 0, -1
    t0 = time.perf_counter()
    for i in range(n):
        m = payload(i & 0xffff)
        t = time.perf_counter()
        s.send(m)
        try:
            r = s.recv(512)
        except socket.timeout:
            lost += 1
            continue
        lat.append(time.perf_counter() - t)
        rcode = r[3] & 15 if len(r) > 3 else -1
    el = time.perf_counter() - t0
    lat.sort()
    us = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6) if lat else 0
    return {"n": n, "lost": lost, "per_s": round(len(lat) / el), "p50_us": us(0.5), "p99_us": us(0.99), "rcode": rcode}

def echo(sock):
    while True:
        d, a = sock.recvfrom(2048)
        sock.sendto(d, a)

n = int(sys.argv[1])
resolver = next(l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver"))
e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
e.bind(("127.0.0.1", 0))
threading.Thread(target=echo, args=(e,), daemon=True).start()
out = {
    "loopback_echo": run(e.getsockname(), lambda i: query("allowed.bench.test", i), n),
    "allowed": run((resolver, 53), lambda i: query("allowed.bench.test", i), n),
    "denied": run((resolver, 53), lambda i: query("x%d.denied.bench.test" % i, i), n),
}
print(json.dumps(out))
EOF

log "$QUERIES sequential queries from a cell: loopback echo, allowed name, denied name"
"$BRIG" run -d --name bench-dns --allow allowed.bench.test "$IMAGE" -- sleep 600 >/dev/null
"$BRIG" cell exec -i bench-dns -- sh -c 'cat > /tmp/dns.py' <"$work/dns.py"
result=$("$BRIG" cell exec bench-dns -- python3 /tmp/dns.py "$QUERIES")
log "$result"
j() { jq -r "$1" <<<"$result"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(date -u +%Y-%m-%d)"
echo
echo "| from a cell, $QUERIES sequential UDP exchanges | per s | p50 µs | p99 µs | lost | p50 vs loopback echo |"
echo "|---|---:|---:|---:|---:|---:|"
for k in loopback_echo allowed denied; do
  echo "| $k (rcode $(j ".$k.rcode")) | $(j ".$k.per_s") | $(j ".$k.p50_us") | $(j ".$k.p99_us") | $(j ".$k.lost") | $(ratio "$(j ".$k.p50_us")" "$(j .loopback_echo.p50_us)") |"
done
