#!/usr/bin/env bash
# .ci/aot.sh [extra dotnet publish arguments...]
#
# NativeAOT lane: publishes samples/AotSmoke (net8.0, PublishAot) for this machine's linux RID, lists the trim/AOT
# analysis warnings of the publish (the engine's are what issue 6 tracks), runs the native binary and fails when
# the publish or any check of the sample fails. See docs/hardened-and-aot.md.
#
# Needs: the .NET SDK on PATH, the Microsoft.DotNet.ILCompiler 8.x packages from the NuGet feed, a C toolchain
# for the native link (clang, else gcc; the ILCompiler targets fall back to gcc), objcopy (binutils) for the
# separate symbol file and zlib1g-dev. Missing Debian packages are installed with apt-get.
#
# Environment:
#   HYBRID_AOT_RID           runtime identifier (default: linux-<x64|arm64> of this machine)
#   HYBRID_AOT_CONFIGURATION Release (default) or Debug
#   HYBRID_WEAVE_DLL         an already built hybrid-weave.dll to weave AotSmoke.Targets with
#                            (default: AotSmoke.Targets builds weaver/Hybrid.Weaver.Cli itself)
#   HYBRID_AOT_LOG           where the publish log goes (default: .ci/cache/aot/publish.log)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
log() { printf '[aot] %s\n' "$*" >&2; }

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) log "unsupported machine $(uname -m)"; exit 1 ;;
esac
rid="${HYBRID_AOT_RID:-linux-$arch}"
cfg="${HYBRID_AOT_CONFIGURATION:-Release}"
logfile="${HYBRID_AOT_LOG:-.ci/cache/aot/publish.log}"
mkdir -p "$(dirname "$logfile")"

command -v dotnet >/dev/null || { log ".NET SDK (dotnet) is required on PATH"; exit 1; }

missing=()
command -v clang >/dev/null || command -v gcc >/dev/null || missing+=(gcc)
command -v objcopy >/dev/null || missing+=(binutils)
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
args=(publish samples/AotSmoke -c "$cfg" -r "$rid" -nologo -v minimal -clp:NoSummary)
[[ -n "${HYBRID_WEAVE_DLL:-}" ]] && args+=("-p:HybridWeaveDll=$HYBRID_WEAVE_DLL")
args+=("$@")

log "dotnet ${args[*]}"
set +e
dotnet "${args[@]}" >"$logfile" 2>&1
rc=$?
set -e
# Trim (IL2xxx) and AOT (IL3xxx) analysis warnings, one line each, de-duplicated.
warnings=$(grep -E 'warning IL[23][0-9]{3}' "$logfile" | sed -E 's/ \[[^]]*\.csproj\]$//' | sort -u || true)
if [[ -n "$warnings" ]]; then
  log "trim/AOT analysis warnings ($(printf '%s\n' "$warnings" | wc -l)):"
  printf '%s\n' "$warnings" | sed "s|$PWD/||" >&2
else
  log "no trim/AOT analysis warnings"
fi
if ((rc != 0)); then
  grep -E ': error |error [A-Z]+[0-9]+' "$logfile" | sort -u >&2 || tail -n 40 "$logfile" >&2
  log "publish FAILED (exit $rc, $((SECONDS - start)) s); full log: $logfile"
  exit "$rc"
fi
log "published in $((SECONDS - start)) s"

bin="samples/AotSmoke/bin/$cfg/net8.0/$rid/publish/AotSmoke"
[[ -x "$bin" ]] || { log "expected native binary $bin is missing"; exit 1; }
log "running $bin"
set +e
"$bin"
rc=$?
set -e
if ((rc != 0)); then
  log "AotSmoke FAILED (exit $rc, $((SECONDS - start)) s in total)"
  exit "$rc"
fi
log "AotSmoke passed ($((SECONDS - start)) s in total)"
