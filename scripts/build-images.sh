#!/usr/bin/env bash
# Builds brig's local images (no registry is reachable from cells or CI):
#   localhost/brig-busybox:latest  Debian's busybox-static, one applet link each
#   localhost/brig-debian:latest   debootstrap minbase + curl + ca-certificates
#   localhost/brig-node:latest     the same + nodejs + python3 (clients that
#                                  ignore the proxy variables)
# Idempotent: an image that exists is kept (FORCE=1 rebuilds). The debootstrap
# tarballs are cached in $BRIG_IMAGE_CACHE (default /var/cache/brig-images), so a
# rebuild after `podman system reset` takes seconds.
set -euo pipefail

cache=${BRIG_IMAGE_CACHE:-/var/cache/brig-images}
suite=${BRIG_DEBIAN_SUITE:-bookworm}
mirror=${BRIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

have_image() { $SUDO podman image exists "$1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${FORCE:-0}" = 1 ] || ! have_image localhost/brig-busybox:latest; then
  echo "build-images: localhost/brig-busybox:latest"
  root=$tmp/busybox
  mkdir -p "$root"/{bin,etc,tmp,run,work,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar --numeric-owner -C "$root" -cf "$tmp/busybox.tar" .
  $SUDO podman import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    "$tmp/busybox.tar" localhost/brig-busybox:latest >/dev/null
fi

# debian_image IMAGE TAG PACKAGES: debootstrap minbase of $suite plus PACKAGES
# (comma-separated), cached as $cache/debian-$suite-minbase-TAG.tar.
debian_image() {
  local image=$1 tag=$2 packages=$3
  if [ "${FORCE:-0}" != 1 ] && have_image "$image"; then return 0; fi
  local tarball=$cache/debian-$suite-minbase-$tag.tar
  if [ ! -s "$tarball" ]; then
    echo "build-images: debootstrap $suite (minbase + ${packages//,/ + }) into $tarball"
    $SUDO mkdir -p "$cache"
    local root=$tmp/debian-$tag
    $SUDO debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
      { tail -n 20 "$tmp/debootstrap.log" >&2; echo "build-images: debootstrap failed" >&2; exit 1; }
    $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    $SUDO tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    $SUDO mv "$tarball.tmp" "$tarball"
    $SUDO rm -rf "$root"
  fi
  echo "build-images: $image"
  $SUDO podman import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" "$image" >/dev/null
}

# The tarball tag "curl" is the name brig-debian's cache always had.
debian_image localhost/brig-debian:latest curl curl,ca-certificates
debian_image localhost/brig-node:latest node curl,ca-certificates,nodejs,python3
echo "build-images: localhost/brig-busybox:latest localhost/brig-debian:latest localhost/brig-node:latest ready"
