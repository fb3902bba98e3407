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
# 1. .ci/debootstrap-root.sh amd64 trixie wine64 (~250 packages, ~200 MB; ~40 s here, then ~10 s of `dpkg -x`). The
#    root's architecture is the host's, so the two maintainer steps Wine needs are run in it for real: ldconfig, and
#    libwine's postinst (it copies zlib1.dll, which Wine's user32 imports, from libz-mingw-w64 into Wine's DLL folder).
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
"$(dirname "${BASH_SOURCE[0]}")/debootstrap-root.sh" amd64 trixie wine64 "$root" "$mirror"
start=$SECONDS
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
log "configured: $((SECONDS - start)) s"
"${sudo[@]}" touch "$root/.hybrid-ready"
