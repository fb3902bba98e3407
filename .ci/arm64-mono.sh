#!/usr/bin/env bash
# .ci/arm64-mono.sh — PROTOTYPE of the managed arm64 lane: Debian's Mono (arm64) under qemu-user.
#
# 1. debootstrap --foreign an arm64 bookworm minbase root with mono-runtime + mono-mcs (downloads ~45 MB of .debs;
#    --foreign never runs arm64 maintainer scripts), then `dpkg -x` every downloaded .deb into the root (~10 s).
# 2. Proves the root works: compiles a trivial program with mcs *inside the emulated root* and runs it.
# 3. Smoke test of the engine's Arm64 code on a real arm64 runtime: tests/arm64/mono (the engine/Arm64 sources built
#    for net472 by the host dotnet SDK + a driver) redirects a JIT-compiled managed method with Arm64CodeWriter, using
#    the engine-emitted cache-maintenance routine through an unmanaged function pointer, and restores it.
#
# The root is cached in .ci/cache/arm64-mono (git-ignored); delete it to rebuild. Usage:
#   .ci/arm64-mono.sh [ROOT]
# Environment: HYBRID_DEBIAN_MIRROR overrides the mirror (default: the first bookworm URI in /etc/apt/sources.list*,
# else http://deb.debian.org/debian). QEMU_CPU defaults to cortex-a57 (CTR_EL0.IDC=DIC=0: the DC/IC loops execute).
set -euo pipefail

log() { printf '[arm64-mono] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
ROOT="${1:-$REPO/.ci/cache/arm64-mono/root}"
export QEMU_CPU="${QEMU_CPU:-cortex-a57}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ------------------------------------------------------------------ host tools
missing=()
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  log "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mirror() {
  if [[ -n "${HYBRID_DEBIAN_MIRROR:-}" ]]; then echo "$HYBRID_DEBIAN_MIRROR"; return; fi
  local uri=""
  # deb822 (.sources): a stanza whose Suites include plain "bookworm"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && /Components:[^\n]*main/ { if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
    [[ -n $uri ]] && break
  done
  # one-line format
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1=="deb" && $0 ~ / bookworm( |$)/ { for (i=2;i<=NF;i++) if ($i ~ /^(https?|ftp):/) { print $i; exit } }')
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# ------------------------------------------------------------------ the root
if [[ ! -f "$ROOT/.hybrid-ready" ]]; then
  MIRROR="$(mirror)"
  log "debootstrap arm64 bookworm (mono-runtime, mono-mcs) from $MIRROR into $ROOT"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  start=$SECONDS
  debootstrap --arch=arm64 --foreign --variant=minbase --include=mono-runtime,mono-mcs bookworm "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -n 20 "$ROOT.debootstrap.log" >&2; die "debootstrap failed"; }
  log "debootstrap: $((SECONDS - start)) s; unpacking $(ls "$ROOT"/var/cache/apt/archives/*.deb | wc -l) packages"
  start=$SECONDS
  for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$ROOT"; done
  log "dpkg -x: $((SECONDS - start)) s"
  [[ -x "$ROOT/usr/bin/mono-sgen" ]] || die "no mono in the root"
  touch "$ROOT/.hybrid-ready"
fi

mono() { qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/mono" --config "$ROOT/etc/mono/config" "$@"; }

# ------------------------------------------------------------------ 1. mcs inside the root
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cat >"$work/hello.cs" <<'EOF'
using System;
using System.Runtime.InteropServices;
static class Hello
{
    static int Main()
    {
        Console.WriteLine("hello from {0} {1}, {2}-bit pointers, CLR {3}",
            Type.GetType("Mono.Runtime") != null ? "Mono" : "?", RuntimeInformation.ProcessArchitecture, IntPtr.Size * 8, Environment.Version);
        return RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0 : 1;
    }
}
EOF
start=$SECONDS
mono "$ROOT/usr/lib/mono/4.5/mcs.exe" -nologo -out:"$work/hello.exe" "$work/hello.cs"
log "mcs under qemu: $((SECONDS - start)) s"
mono "$work/hello.exe"

# ------------------------------------------------------------------ 2. engine Arm64 smoke test on arm64 Mono
if command -v dotnet >/dev/null 2>&1; then
  dotnet build "$REPO/tests/arm64/mono/MonoSmoke.csproj" -c Release -o "$work/smoke" -v quiet -nologo >/dev/null \
    || dotnet build "$REPO/tests/arm64/mono/MonoSmoke.csproj" -c Release -o "$work/smoke"
  mono "$work/smoke/MonoSmoke.exe"
  log "Mono arm64 smoke test passed"
else
  log "dotnet not found: skipped the engine smoke test"
fi
