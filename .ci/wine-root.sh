#!/usr/bin/env bash
# .ci/wine-root.sh ROOT
#
# Makes ROOT a Debian trixie (amd64) minbase root with Wine 10 (wine64) in it, unless it is one already, for the
# Windows lanes (.ci/wine-env.sh). Why not Debian 12's own wine64 (Wine 8)? When CoreCLR unwinds an exception through
# native frames with RtlUnwindEx, Wine 8 leaves a stale frame on the thread and the thread's next such exception hangs
# or overflows the stack ("detected collided unwind"). .NET 8 handles every exception that way, so a three-line
# program that throws and catches twice hangs under Wine 8; .NET 9 and 10 got through only with emitted reflection
# invoke stubs and a gen0 large enough that no GC ran. Under Wine 10 all three run with none of that.
#
# 1. debootstrap --foreign --variant=minbase --include=wine64 trixie (~250 packages, ~200 MB; ~40 s here), then
#    `dpkg -x` of every downloaded .deb (~10 s). The root's architecture is the host's, so the two maintainer steps
#    Wine needs are run in it for real: ldconfig, and libwine's postinst (it copies zlib1.dll, which Wine's user32
#    imports, from libz-mingw-w64 into Wine's DLL folder).
# 2. Writes ROOT/.hybrid-ready.
# Programs run in the root through .ci/in-root.sh. Environment: HYBRID_DEBIAN_MIRROR overrides the mirror (default
# http://deb.debian.org/debian).
set -euo pipefail
log() { printf '[wine-root] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

root=${1:?usage: $0 ROOT}
[[ -f $root/.hybrid-ready && -x $root/usr/lib/wine/wine64 ]] && exit 0
[[ $(uname -m) == x86_64 ]] || die "the Windows x64 lanes need an x86_64 host"

sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
command -v debootstrap >/dev/null 2>&1 || {
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
mirror=${HYBRID_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log "debootstrap amd64 trixie (wine64) from $mirror into $root"
start=$SECONDS
# A fresh machine downloads ~250 packages here: a transient mirror or network error gets two more tries.
for attempt in 1 2 3; do
  "${sudo[@]}" rm -rf "$root"; mkdir -p "$root"
  "${sudo[@]}" debootstrap --arch=amd64 --foreign --variant=minbase --include=wine64 trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 && break
  tail -n 20 "$root.debootstrap.log" >&2
  ((attempt < 3)) || die "debootstrap failed three times"
  log "debootstrap failed (attempt $attempt); trying again in 10 s"
  sleep 10
done
log "debootstrap: $((SECONDS - start)) s; unpacking $(ls "$root"/var/cache/apt/archives/*.deb | wc -l) packages"
start=$SECONDS
for deb in "$root"/var/cache/apt/archives/*.deb; do "${sudo[@]}" dpkg -x "$deb" "$root"; done
"${sudo[@]}" chroot "$root" /sbin/ldconfig
libwine=$(ls "$root"/var/cache/apt/archives/libwine_*.deb)
control=$(mktemp -d)
dpkg -e "$libwine" "$control"
"${sudo[@]}" cp "$control/postinst" "$root/libwine.postinst"
rm -rf "$control"
"${sudo[@]}" chroot "$root" /bin/sh /libwine.postinst configure
"${sudo[@]}" rm -f "$root/libwine.postinst" "$root"/var/cache/apt/archives/*.deb
[[ -f $root/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/zlib1.dll ]] || die "libwine's postinst made no zlib1.dll"
[[ -x $root/usr/lib/wine/wine64 ]] || die "no wine64 in the root"
log "unpacked and configured: $((SECONDS - start)) s"
"${sudo[@]}" touch "$root/.hybrid-ready"
