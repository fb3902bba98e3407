#!/usr/bin/env bash
# .ci/windows-differential.sh [LANE-ARGS...]
#
# The differential lane on CoreCLR win-x64 .NET 10 under Wine 10 (.ci/differential-exe.sh), as .ci/windows.sh runs the
# engine suite. LANE-ARGS are the lane's options (default: every library of the lane).
#   HYBRID_WIN_DIFFERENTIAL_VERSION  runtime/apphost pack version (default 10.0.12)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[windows-differential] %s\n' "$*" >&2; }
# shellcheck source=.ci/wine-env.sh
source .ci/wine-env.sh || { echo "differential: 0 passed, 1 failed"; exit 1; }
v=${HYBRID_WIN_DIFFERENTIAL_VERSION:-10.0.12}
HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v .ci/differential-exe.sh win-x64 "${wine[@]}" -- "$@"
rc=$?
"${wine_server[@]}" -k 2>/dev/null || true
exit $rc
