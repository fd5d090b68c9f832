# Shared by the benchmarks that bring up a brig system of their own
# (cells.sh, resolver.sh). Source it, then `bench_brig NAME IMAGE`: checks
# root, that no other brig system is up and that IMAGE exists, builds brig in
# Release (build-bench/, JOBS ninja jobs), and sets BRIG, work (a temporary
# directory) and BRIG_HOME (inside it, after `brig system init`). The caller
# sets its cleanup trap and brings the system up.
die() { echo "$bench_name: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

bench_brig() {
  bench_name=$1
  local image=$2
  [ "$(id -u)" -eq 0 ] || die "needs root (podman, nftables)"
  podman container exists brig-warden && die "a brig system is up (brig-warden exists): run brig system down first"
  podman image exists "$image" || die "$image is missing: scripts/build-images.sh"
  log "build brig (Release) in build-bench/"
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF -DBRIG_BENCH=OFF >/dev/null
  ninja -C build-bench -j "${JOBS:-1}" brig >/dev/null
  BRIG=$PWD/build-bench/src/brig
  work=$(mktemp -d "/tmp/brig-bench-${bench_name%.sh}.XXXXXX")
  export BRIG_HOME=$work/home
  "$BRIG" system init --accept-weaker-network >/dev/null
}
