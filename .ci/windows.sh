#!/usr/bin/env bash
# .ci/windows.sh [TFM...]
#
# The Windows x64 lane: the engine test suite on CoreCLR win-x64 (runtime packs from the NuGet feed, self-contained)
# under Wine: runs .ci/engine-exe.sh win-x64 TFM through Wine's wine64 for each TFM (default: net10.0).
# Wine is not the Windows kernel: a result here says "CoreCLR win-x64 code on Wine", not "on Windows".
#
# Wine is Wine 10 from a Debian trixie root (.ci/wine-env.sh, .ci/wine-root.sh): Debian 12's Wine 8 hangs on the second
# exception a thread of .NET 8 throws, and needed workarounds for .NET 9 and 10 (see .ci/wine-root.sh).
# Tests that ignore themselves here, with the reason: the Arm64 encoder/execution tests (they need the Linux cross
# tools, objdump and qemu), the x64 objdump tests and one that reads /proc/self/maps.
#
# Environment:
#   HYBRID_WINE_ROOT, HYBRID_WINE_PREFIX  the Wine root and prefix (default: ~/.cache/hybrid-wine10/{root,prefix})
#   HYBRID_WIN_X64_VERSIONS    runtime (and apphost) pack per TFM, pinned to versions the feed serves
#                              (default: "net10.0=10.0.12 net9.0=9.0.23 net8.0=8.0.31")
#   HYBRID_WINDOWS_FILTER      test filter (VSTest syntax); empty runs every test
#   HYBRID_EXE_TIMEOUT         seconds per run (default here: 300)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
log() { printf '[windows] %s\n' "$*" >&2; }

# Wine 10 in its root, a Wine prefix (sets $wine, $wine_server and $prefix, exports WINEPREFIX and WINEDEBUG).
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
    .ci/engine-exe.sh win-x64 "$tfm" "${wine[@]}" -- "${args[@]}" || status=1
done
"${wine_server[@]}" -k 2>/dev/null || true
exit $status
