#!/usr/bin/env bash
# .ci/debootstrap-root.sh ARCH SUITE PACKAGES ROOT MIRROR
#
# Makes ROOT a Debian SUITE minbase root for ARCH with PACKAGES (comma-separated) in it, without running a maintainer
# script: `debootstrap --foreign` downloads and unpacks the base, then every downloaded .deb is unpacked with
# `dpkg -x`. A fresh machine downloads tens to hundreds of packages here, so a transient mirror or network error gets
# two more tries. Used by .ci/arm64-mono.sh (arm64 bookworm, Mono) and .ci/wine-root.sh (amd64 trixie, Wine 10),
# which finish their roots themselves.
set -euo pipefail
log() { printf '[debootstrap-root] %s\n' "$*" >&2; }
(($# == 5)) || { echo "usage: $0 ARCH SUITE PACKAGES ROOT MIRROR" >&2; exit 2; }
arch=$1 suite=$2 packages=$3 root=$4 mirror=$5
sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
log "debootstrap $arch $suite ($packages) from $mirror into $root"
start=$SECONDS
for attempt in 1 2 3; do
  "${sudo[@]}" rm -rf "$root"; mkdir -p "$root"
  "${sudo[@]}" debootstrap --arch="$arch" --foreign --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 && break
  tail -n 20 "$root.debootstrap.log" >&2
  ((attempt < 3)) || { log "ERROR: debootstrap failed three times"; exit 1; }
  log "debootstrap failed (attempt $attempt); trying again in 10 s"
  sleep 10
done
log "debootstrap: $((SECONDS - start)) s; unpacking $(ls "$root"/var/cache/apt/archives/*.deb | wc -l) packages"
start=$SECONDS
for deb in "$root"/var/cache/apt/archives/*.deb; do "${sudo[@]}" dpkg -x "$deb" "$root"; done
log "dpkg -x: $((SECONDS - start)) s"
