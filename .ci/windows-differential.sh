#!/usr/bin/env bash
# .ci/windows-differential.sh [LANE-ARGS...]
#
# The differential lane on CoreCLR win-x64 .NET 10 under Wine (.ci/differential-exe.sh), as .ci/windows.sh runs the
# engine suite (emitted reflection invoke stubs and a large gen0, for Wine 8's exception unwinding; see there).
# By default Mono.Cecil's and Iced's methods are redirected (~15,000; ~2 min): Newtonsoft.Json's workload throws and
# catches many exceptions, and under Wine 8 that ends, even with nothing redirected (in the baseline), in "Internal
# CLR error" from a DynamicMethod's finalizer (the Wine unwinding fault of .ci/windows.sh). LANE-ARGS replace that.
#   HYBRID_WIN_DIFFERENTIAL_VERSION  runtime/apphost pack version (default 10.0.12)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[windows-differential] %s\n' "$*" >&2; }
# shellcheck source=.ci/wine-env.sh
source .ci/wine-env.sh || { echo "differential: 0 passed, 1 failed"; exit 1; }
(($#)) || set -- --assembly Mono.Cecil --assembly Iced
v=${HYBRID_WIN_DIFFERENTIAL_VERSION:-10.0.12}
HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v HYBRID_EXE_PROPS="-p:HybridExeForceEmitInvoke=true" \
  .ci/differential-exe.sh win-x64 env WINEPREFIX="$prefix" WINEDEBUG=-all DOTNET_GCgen0size=0x30000000 "$wine" -- "$@"
rc=$?
/usr/lib/wine/wineserver -k 2>/dev/null || true
exit $rc
