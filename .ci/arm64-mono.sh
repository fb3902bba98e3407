#!/usr/bin/env bash
# .ci/arm64-mono.sh — the managed arm64 lane: the engine's netstandard2.0 build on Debian's arm64 Mono, under qemu-user.
#
# 1. debootstrap --foreign an arm64 bookworm minbase root with mono-runtime + mono-devel (mono-devel brings the
#    netstandard.dll facade a netstandard2.0 library needs; ~100 MB of .debs; --foreign never runs arm64 maintainer
#    scripts), then `dpkg -x` every downloaded .deb into the root (~10 s).
# 2. Builds tests/arm64/mono-lane (a net472 program referencing the engine) with the host SDK, weaves its Woven class
#    with hybrid-weave, and runs it on arm64 Mono: Engine.Redirect on a static, an instance, a generic and a struct-returning method, the original called,
#    disposal restoring it, an instruction-cache flush checked after every code write, and the woven IL guard taking
#    over where the native jump cannot serve (Mono's shared generic code). It prints a VSTest-style
#    summary line that test.sh counts.
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
if [[ ! -f "$ROOT/.hybrid-ready" || ! -f "$ROOT/usr/lib/mono/4.5/Facades/netstandard.dll" ]]; then
  MIRROR="$(mirror)"
  .ci/debootstrap-root.sh arm64 bookworm mono-runtime,mono-devel "$ROOT" "$MIRROR" || die "could not make the arm64 Mono root"
  [[ -x "$ROOT/usr/bin/mono-sgen" ]] || die "no mono in the root"
  touch "$ROOT/.hybrid-ready"
fi

mono() { qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/mono" --config "$ROOT/etc/mono/config" "$@"; }

# ------------------------------------------------------------------ the engine on arm64 Mono
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
command -v dotnet >/dev/null 2>&1 || die "dotnet not found (the lane builds the engine with the host SDK)"
start=$SECONDS
dotnet build "$REPO/tests/arm64/mono-lane/Hybrid.MonoLane.csproj" -c Release -o "$work/lane" -v quiet -nologo >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; die "building tests/arm64/mono-lane failed"; }
dotnet build "$REPO/weaver/Hybrid.Weaver.Cli/Hybrid.Weaver.Cli.csproj" -c Release -f net8.0 -v quiet -nologo >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; die "building hybrid-weave failed"; }
# The lane's Woven class gets IL guards, as <Patchable> would give it: the IL-guard fallback on Mono is checked too.
dotnet "$REPO/weaver/Hybrid.Weaver.Cli/bin/Release/net8.0/hybrid-weave.dll" "$work/lane/Hybrid.MonoLane.exe" --patchable "Hybrid.MonoLane.Woven.*"
log "built and wove the lane: $((SECONDS - start)) s"
start=$SECONDS
mono "$work/lane/Hybrid.MonoLane.exe"
log "arm64 Mono lane passed in $((SECONDS - start)) s"
