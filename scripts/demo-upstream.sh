#!/usr/bin/env bash
# A local stand-in for "the internet" for the quickstart demo: nginx in its own
# network namespace (brig-demo) at 198.18.99.2, serving demo.brig.test over
# HTTP and HTTPS (certificate from a throwaway CA in $DEMO_DIR). Traffic stays
# on this machine. Usage: scripts/demo-upstream.sh up|down
set -euo pipefail
DEMO_DIR=${DEMO_DIR:-/var/lib/brig-demo}
ns=brig-demo host_if=brigdemo0 addr=198.18.99.2 host_addr=198.18.99.1
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

down() {
  [ -f "$DEMO_DIR/nginx.pid" ] && $SUDO kill "$(cat "$DEMO_DIR/nginx.pid")" 2>/dev/null || true
  $SUDO ip link del "$host_if" 2>/dev/null || true
  $SUDO ip netns del "$ns" 2>/dev/null || true
}

up() {
  down
  $SUDO mkdir -p "$DEMO_DIR"
  if [ ! -s "$DEMO_DIR/ca.crt" ]; then
    $SUDO openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$DEMO_DIR/ca.key" \
      -out "$DEMO_DIR/ca.crt" -days 3650 -subj "/CN=brig demo upstream CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    $SUDO openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$DEMO_DIR/srv.key" \
      -out "$DEMO_DIR/srv.csr" -subj "/CN=demo.brig.test" 2>/dev/null
    printf 'subjectAltName=DNS:demo.brig.test\nbasicConstraints=CA:FALSE\n' | $SUDO tee "$DEMO_DIR/ext.cnf" >/dev/null
    $SUDO openssl x509 -req -in "$DEMO_DIR/srv.csr" -CA "$DEMO_DIR/ca.crt" -CAkey "$DEMO_DIR/ca.key" \
      -CAcreateserial -out "$DEMO_DIR/srv.crt" -days 3650 -extfile "$DEMO_DIR/ext.cnf" 2>/dev/null
    $SUDO chmod 0644 "$DEMO_DIR/ca.crt"
  fi
  $SUDO tee "$DEMO_DIR/nginx.conf" >/dev/null <<CONF
worker_processes 1;
pid $DEMO_DIR/nginx.pid;
error_log $DEMO_DIR/error.log;
events { worker_connections 128; }
http {
  access_log $DEMO_DIR/access.log;
  server {
    listen $addr:80; listen $addr:443 ssl;
    ssl_certificate $DEMO_DIR/srv.crt; ssl_certificate_key $DEMO_DIR/srv.key;
    location / { return 200 "hello from demo.brig.test (\$scheme), reached through warden\n"; }
  }
}
CONF
  $SUDO ip netns add "$ns"
  $SUDO ip link add "$host_if" type veth peer name "${host_if}n"
  $SUDO ip link set "${host_if}n" netns "$ns"
  $SUDO ip addr add "$host_addr/30" dev "$host_if"
  $SUDO ip link set "$host_if" up
  $SUDO ip netns exec "$ns" ip addr add "$addr/30" dev "${host_if}n"
  $SUDO ip netns exec "$ns" ip link set "${host_if}n" up
  $SUDO ip netns exec "$ns" ip link set lo up
  $SUDO ip netns exec "$ns" nginx -c "$DEMO_DIR/nginx.conf"
  echo "demo upstream: demo.brig.test at $addr (CA $DEMO_DIR/ca.crt)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/demo-upstream.sh up|down" >&2; exit 2 ;;
esac
