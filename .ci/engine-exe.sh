#!/usr/bin/env bash
# .ci/engine-exe.sh RID TFM [RUNNER...] [-- PROGRAM-ARGS...]
#
# Runs the engine test suite on another platform's CoreCLR: publishes tests/Hybrid.Engine.Tests.Exe (the sources of
# tests/Hybrid.Engine.Tests as an NUnit program on Microsoft.Testing.Platform) self-contained for RID and TFM, then
# runs the program through RUNNER (nothing: run it here; e.g. a Wine or qemu command line) with PROGRAM-ARGS (options of
# Microsoft.Testing.Platform / NUnit, e.g. --filter "FullyQualifiedName!~Arm64"), e.g.
#
#   .ci/engine-exe.sh win-x64 net10.0 env WINEPREFIX=... WINEDEBUG=-all /usr/lib/wine/wine64
#   .ci/engine-exe.sh linux-arm64 net9.0 env DOTNET_EnableWriteXorExecute=0 qemu-aarch64-static -L /usr/aarch64-linux-gnu
#
# Prints MTP's own report, then one VSTest-style line that test.sh counts:
#   "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T" (or "Failed!  - ...").
# Exits non-zero when a test failed, the run crashed (no summary) or timed out.
#
# The runtime pack comes from the NuGet feed: the SDK's own version for TFM and RID, or HYBRID_EXE_RUNTIME_VERSION
# (and HYBRID_EXE_APPHOST_VERSION for the apphost pack) when that one is not served.
# Restore follows shared/README ("a project referencing the multi-targeted engine"): the libraries are restored on
# their own, the program for RID only with --no-dependencies, then published with --no-restore.
#
# Environment:
#   HYBRID_EXE_OUT              publish folder (default: .ci/cache/engine-exe/RID-TFM; must be outside the project)
#   HYBRID_EXE_TIMEOUT          seconds before the run is killed (default 1200)
#   HYBRID_EXE_RUNTIME_VERSION  runtime pack version to pin (default: the SDK's)
#   HYBRID_EXE_APPHOST_VERSION  apphost pack version to pin (default: the SDK's)
#   HYBRID_EXE_PROPS            extra MSBuild properties for restore and publish
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

log() { printf '[engine-exe] %s\n' "$*" >&2; }
(($# >= 2)) || { echo "usage: $0 RID TFM [RUNNER...] [-- PROGRAM-ARGS...]" >&2; exit 2; }
rid=$1 tfm=$2; shift 2
runner=() args=()
while (($#)) && [[ $1 != -- ]]; do runner+=("$1"); shift; done
(($#)) && shift && args=("$@")
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

project=tests/Hybrid.Engine.Tests.Exe/Hybrid.Engine.Tests.Exe.csproj
out="${HYBRID_EXE_OUT:-$repo/.ci/cache/engine-exe/$rid-$tfm}"
props=(-p:HybridExeTargetFramework="$tfm")
[[ -n "${HYBRID_EXE_RUNTIME_VERSION:-}" ]] && props+=(-p:HybridExeRuntimeVersion="$HYBRID_EXE_RUNTIME_VERSION")
[[ -n "${HYBRID_EXE_APPHOST_VERSION:-}" ]] && props+=(-p:HybridExeAppHostVersion="$HYBRID_EXE_APPHOST_VERSION")
# shellcheck disable=SC2206  # split on purpose
props+=(${HYBRID_EXE_PROPS:-})

started=$SECONDS
for lib in engine/Hybrid.Engine.csproj tests/Hybrid.Engine.Fixtures/Hybrid.Engine.Fixtures.csproj tests/Hybrid.Engine.LateFixtures/Hybrid.Engine.LateFixtures.csproj \
           weaver/Hybrid.Weaver.Cli/Hybrid.Weaver.Cli.csproj; do
  dotnet restore "$lib" -nologo -v:q || { log "restoring $lib failed"; exit 1; }
done
dotnet restore "$project" -r "$rid" --no-dependencies -p:SelfContained=true "${props[@]}" -nologo -v:q \
  || { log "restoring $project for $rid/$tfm failed (is the $rid runtime pack for $tfm on the feed?)"; exit 1; }
rm -rf "$out"
dotnet publish "$project" -c Release -f "$tfm" -r "$rid" --self-contained --no-restore "${props[@]}" -o "$out" -nologo -v:q \
  || { log "publishing $project for $rid/$tfm failed"; exit 1; }
log "published $rid/$tfm to $out in $((SECONDS - started))s"

exe="$out/Hybrid.Engine.Tests"
[[ $rid == win-* ]] && exe+=.exe
[[ -f $exe ]] || { log "no program at $exe"; exit 1; }

report=$(mktemp)
trap 'rm -f "$report"' EXIT
started=$SECONDS
(cd "$out" && timeout --kill-after=30 "${HYBRID_EXE_TIMEOUT:-1200}" "${runner[@]}" "$exe" \
   --progress off --no-ansi --output detailed --results-directory "$out/TestResults" "${args[@]}") 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
log "$rid/$tfm: program exited with $rc after $((SECONDS - started))s"

# MTP's summary: "  total: T", "  failed: F", "  succeeded: P", "  skipped: S" after "Test run summary: ...".
count() { sed -n '/Test run summary/,$p' "$report" | tr -d '\r' | grep -aoE "^ *$1: *[0-9]+" | tail -n 1 | grep -oE '[0-9]+$'; }
total=$(count total) failed=$(count failed) passed=$(count succeeded) skipped=$(count skipped)
if [[ -z $total || -z $failed || -z $passed || -z $skipped ]]; then
  # No summary: count the results printed so far (--output detailed) and the run itself as one failure.
  ((rc == 124 || rc == 137)) && what="timed out" || what="crashed (exit $rc)"
  log "$rid/$tfm: the test run $what before its summary; the last results:"
  grep -aE '^(passed|failed|skipped)' "$report" | tail -n 3 >&2
  lines() { grep -acE "^$1" "$report"; }
  passed=$(lines passed) failed=$(($(lines failed) + 1)) skipped=$(lines skipped)
  printf 'Failed!  - Failed: %d, Passed: %d, Skipped: %d, Total: %d (engine tests, %s %s: the run %s)\n' \
    "$failed" "$passed" "$skipped" "$((passed + failed + skipped))" "$rid" "$tfm" "$what"
  exit 1
fi
# MTP exits 8 when no test ran (e.g. a filter matched nothing): not a failure of the suite.
ok=0; ((failed == 0 && (rc == 0 || rc == 8))) && ok=1
verdict='Passed!'; ((ok)) || verdict='Failed!'
printf '%s  - Failed: %d, Passed: %d, Skipped: %d, Total: %d (engine tests, %s %s)\n' \
  "$verdict" "$failed" "$passed" "$skipped" "$total" "$rid" "$tfm"
((ok)) || exit 1
exit 0
