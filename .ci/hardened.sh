#!/usr/bin/env bash
# .ci/hardened.sh [command [args...]]
#
# Hardened-Linux lane: runs a command with W^X enforced, the way macOS hardened runtime and SELinux
# (execmem denied) enforce it -- every mmap/mprotect/pkey_mprotect asking for PROT_WRITE|PROT_EXEC fails
# with EACCES. See docs/hardened-and-aot.md.
#
#   .ci/hardened.sh                       # build the launcher and run its self-test only
#   .ci/hardened.sh dotnet test tests/Hybrid.Engine.Tests -f net10.0 --filter TestCategory=Hardened
#
# Steps: build tests/hardened/wx-launcher.c and wx-probe.c (gcc -O2) into the cache directory when the
# sources changed; check with wx-probe that the filter is in force (RWX -> EACCES, RW<->RX still allowed);
# then exec the command under the launcher. The command's exit code is the script's.
#
# The whole process tree runs under the filter (dotnet -> MSBuild -> vstest.console -> testhost), including
# the build step of `dotnet test`. To keep it that way the script turns off everything that would hand work to
# a server process started earlier *outside* the filter: MSBuild node reuse, the MSBuild server and the
# Roslyn compiler server.
#
# Environment:
#   HYBRID_HARDENED_CACHE   where the binaries go (default: .ci/cache/hardened)
#   CC                      C compiler (default: gcc; installed with apt-get when missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
cache="${HYBRID_HARDENED_CACHE:-$repo/.ci/cache/hardened}"
src="$repo/tests/hardened"
cc="${CC:-gcc}"

log() { printf '[hardened] %s\n' "$*" >&2; }

if ! command -v "$cc" >/dev/null 2>&1 || [[ ! -e /usr/include/linux/seccomp.h ]]; then
  log "installing gcc and kernel headers"
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends gcc libc6-dev linux-libc-dev >/dev/null
fi

mkdir -p "$cache"
for prog in wx-launcher wx-probe; do
  if [[ ! -x "$cache/$prog" || "$src/$prog.c" -nt "$cache/$prog" ]]; then
    log "building $prog"
    "$cc" -O2 -Wall -Wextra -Werror -o "$cache/$prog.tmp" "$src/$prog.c"
    mv -f "$cache/$prog.tmp" "$cache/$prog"
  fi
done

# Self-test: the filter must refuse RWX with EACCES and still allow what a W^X JIT needs.
if ! probe_out=$("$cache/wx-launcher" -q "$cache/wx-probe" 2>&1); then
  printf '%s\n' "$probe_out" >&2
  log "self-test FAILED: the launcher does not enforce W^X as expected on this kernel"
  exit 1
fi
log "self-test passed: mmap/mprotect/pkey_mprotect(W|X) -> EACCES; RW<->RX toggling and memfd double mapping allowed"

(($#)) || exit 0

# .NET's own W^X mode (default on since .NET 7) is what lets the runtime JIT under this filter;
# with DOTNET_EnableWriteXorExecute=0 the runtime maps its code heap RWX and crashes (SIGSEGV) at start-up.
if [[ "${DOTNET_EnableWriteXorExecute:-1}" == 0 ]]; then
  log "DOTNET_EnableWriteXorExecute=0 cannot work under W^X (the runtime crashes); forcing 1"
fi
export DOTNET_EnableWriteXorExecute=1
# Keep every build/test process a descendant of the launcher (no reused nodes or servers from outside).
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 UseSharedCompilation=false
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log "running under W^X: $*"
exec "$cache/wx-launcher" -q -- "$@"
