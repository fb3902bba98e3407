#!/usr/bin/env bash
# .ci/differential-exe.sh RID [RUNNER...] [-- LANE-ARGS...]
#
# The differential lane (tests/Hybrid.Differential: every method of real libraries redirected at once through
# pass-through replacements, the workloads' digests compared) on another platform's CoreCLR: publishes the lane
# self-contained for RID (.NET 10) and runs it through RUNNER (e.g. a qemu or Wine command line) in its publish
# folder, with the baseline in the same process (--baseline-here: a child process would be started outside the
# RUNNER) and LANE-ARGS. Used by .ci/arm64-differential.sh and .ci/windows-differential.sh.
# Ends with the lane's own line "differential: N passed, N failed" — also when the program crashes or hangs.
#
# Environment:
#   HYBRID_EXE_RUNTIME_VERSION / HYBRID_EXE_APPHOST_VERSION  runtime and apphost packs to pin (default: the SDK's)
#   HYBRID_EXE_PROPS               extra MSBuild properties
#   HYBRID_DIFFERENTIAL_TIMEOUT    seconds before a hung run is killed (default 2400)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[differential-exe] %s\n' "$*" >&2; }
fail() { log "$*"; echo "differential: 0 passed, 1 failed"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
(($# >= 1)) || { echo "usage: $0 RID [RUNNER...] [-- LANE-ARGS...]" >&2; exit 2; }
rid=$1; shift
runner=() args=()
while (($#)) && [[ $1 != -- ]]; do runner+=("$1"); shift; done
(($#)) && shift && args=("$@")

project=tests/Hybrid.Differential/Hybrid.Differential.csproj
out=$PWD/.ci/cache/differential-exe/$rid
props=()
[[ -n ${HYBRID_EXE_RUNTIME_VERSION:-} ]] && props+=(-p:HybridExeRuntimeVersion="$HYBRID_EXE_RUNTIME_VERSION")
[[ -n ${HYBRID_EXE_APPHOST_VERSION:-} ]] && props+=(-p:HybridExeAppHostVersion="$HYBRID_EXE_APPHOST_VERSION")
# shellcheck disable=SC2206  # split on purpose
props+=(${HYBRID_EXE_PROPS:-})
started=$SECONDS
for lib in engine/Hybrid.Engine.csproj tests/Hybrid.Weaver.Workloads/Hybrid.Weaver.Workloads.csproj; do
  dotnet restore "$lib" -nologo -v:q || fail "restoring $lib failed"
done
dotnet restore "$project" -r "$rid" --no-dependencies -p:SelfContained=true "${props[@]}" -nologo -v:q \
  || fail "restoring $project for $rid failed (is the $rid runtime pack on the feed?)"
rm -rf "$out"
dotnet publish "$project" -c Release -r "$rid" --self-contained --no-restore "${props[@]}" -o "$out" -nologo -v:q \
  || fail "publishing $project for $rid failed"
log "published $rid to $out in $((SECONDS - started))s"
exe=./Hybrid.Differential
[[ $rid == win-* ]] && exe+=.exe

report=$(mktemp)
trap 'rm -f "$report"' EXIT
started=$SECONDS
(cd "$out" && timeout --kill-after=30 "${HYBRID_DIFFERENTIAL_TIMEOUT:-2400}" "${runner[@]}" "$exe" --baseline-here "${args[@]}") 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
log "$rid: program exited with $rc after $((SECONDS - started))s"
if ! grep -qaE '^differential: [0-9]+ passed, [0-9]+ failed' "$report"; then
  ((rc != 0)) || rc=1
  what="crashed (exit $rc)"; ((rc == 124 || rc == 137)) && what="timed out"
  log "the lane $what before its summary; rerun with --trace to see the method being redirected"
  echo "differential: 0 passed, 1 failed"
fi
exit "$rc"
