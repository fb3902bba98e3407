#!/usr/bin/env bash
# .ci/windows.sh [TFM...]
#
# The Windows x64 lane: the engine test suite on CoreCLR win-x64 (runtime packs from the NuGet feed, self-contained)
# under Wine. Installs wine64 (Debian) when missing, keeps a Wine prefix in ~/.cache/hybrid-wine (created on first use,
# ~10 s), and runs .ci/engine-exe.sh win-x64 TFM through wine64 for each TFM (default: net10.0).
# Wine is not the Windows kernel: a result here says "CoreCLR win-x64 code on Wine", not "on Windows".
#
# Wine 8.0 (Debian 12's) and CoreCLR exceptions: when CoreCLR unwinds an exception through native frames with
# RtlUnwindEx, Wine 8 keeps a stale frame on the thread, and the thread's next such exception hangs or overflows the
# stack ("detected collided unwind", then an access violation in a loop). Hence:
#   * .NET 9 runs (test.sh runs .NET 10 and .NET 9).
#   * .NET 8 cannot run here: all its exception handling goes that way, so the second exception on a thread hangs
#     (a three-line program that throws and catches twice does). `.ci/windows.sh net8.0` still tries, for a newer Wine.
#   * .NET 10 handles exceptions in managed code, except where they cross native runtime frames: reflection's
#     first-call invoke (NUnit invokes every test once) is one, so the program is built with emitted invoke stubs
#     (Switch.System.Reflection.ForceEmitInvoke). A collected DynamicMethod's finalizer then failed with "Internal CLR
#     error" after many exceptions, so gen0 is made large enough that no GC runs during the ~10 s of tests.
# Tests that ignore themselves here, with the reason: the Arm64 encoder/execution tests (they need the Linux cross
# tools, objdump and qemu) and the concurrent install/dispose stress test (no thread fence on Windows yet; Explain warns
# about it).
#
# Environment:
#   HYBRID_WINE_PREFIX         Wine prefix (default: ~/.cache/hybrid-wine, outside the tree: see .ci/wine-env.sh)
#   HYBRID_WIN_X64_VERSIONS    runtime (and apphost) pack per TFM, pinned to versions the feed serves
#                              (default: "net10.0=10.0.12 net8.0=8.0.31", the SDK 10.0.4xx choices)
#   HYBRID_WINDOWS_FILTER      test filter (VSTest syntax); empty runs every test
#   HYBRID_EXE_TIMEOUT         seconds per run (default here: 300)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
log() { printf '[windows] %s\n' "$*" >&2; }

# wine64, a Wine prefix (sets $wine and $prefix, exports WINEPREFIX and WINEDEBUG).
# shellcheck source=.ci/wine-env.sh
source .ci/wine-env.sh || exit 1

declare -A pinned=()
for kv in ${HYBRID_WIN_X64_VERSIONS:-net10.0=10.0.12 net9.0=9.0.23 net8.0=8.0.31}; do pinned[${kv%%=*}]=${kv#*=}; done
tfms=("$@"); ((${#tfms[@]})) || tfms=(net10.0)
filter="${HYBRID_WINDOWS_FILTER-}"
args=(); [[ -n $filter ]] && args=(--filter "$filter")

status=0
for tfm in "${tfms[@]}"; do
  v=${pinned[$tfm]:-}
  HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v HYBRID_EXE_TIMEOUT="${HYBRID_EXE_TIMEOUT:-300}" \
  HYBRID_EXE_PROPS="-p:HybridExeForceEmitInvoke=true" \
    .ci/engine-exe.sh win-x64 "$tfm" env WINEPREFIX="$prefix" WINEDEBUG=-all DOTNET_GCgen0size=0x30000000 "$wine" \
      -- "${args[@]}" || status=1
done
/usr/lib/wine/wineserver -k 2>/dev/null || true
exit $status
