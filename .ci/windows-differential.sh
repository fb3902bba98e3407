#!/usr/bin/env bash
# .ci/windows-differential.sh [LANE-ARGS...]
#
# The differential lane on CoreCLR win-x64 .NET 10 under Wine (.ci/differential-exe.sh), as .ci/windows.sh runs the
# engine suite (emitted reflection invoke stubs and a large gen0, for Wine 8's exception unwinding; see there).
# Every entry write goes through the Windows thread fence (SuspendThread/GetThreadContext), a round trip to the
# wineserver that costs tens of milliseconds under Wine (microseconds on Windows): by default only Mono.Cecil's
# methods are redirected (--assembly Mono.Cecil, ~3,400 methods); LANE-ARGS replace that.
#   HYBRID_WIN_DIFFERENTIAL_VERSION  runtime/apphost pack version (default 10.0.12)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[windows-differential] %s\n' "$*" >&2; }
# shellcheck source=.ci/wine-env.sh
source .ci/wine-env.sh || { echo "differential: 0 passed, 1 failed"; exit 1; }
(($#)) || set -- --assembly Mono.Cecil
v=${HYBRID_WIN_DIFFERENTIAL_VERSION:-10.0.12}
HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v HYBRID_EXE_PROPS="-p:HybridExeForceEmitInvoke=true" \
  .ci/differential-exe.sh win-x64 env WINEPREFIX="$prefix" WINEDEBUG=-all DOTNET_GCgen0size=0x30000000 "$wine" -- "$@"
rc=$?
/usr/lib/wine/wineserver -k 2>/dev/null || true
exit $rc
