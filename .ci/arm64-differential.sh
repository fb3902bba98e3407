#!/usr/bin/env bash
# .ci/arm64-differential.sh [lane arguments]
#
# The differential lane (tests/Hybrid.Differential: every method of real libraries redirected at once through
# pass-through replacements, workloads' digests compared) on CoreCLR linux-arm64 .NET 10 under qemu-user: published
# self-contained for linux-arm64 (runtime and apphost packs pinned to what the feed serves) and run with
# DOTNET_EnableWriteXorExecute=0 (see .ci/arm64-coreclr.sh for why) and QEMU_CPU=cortex-a57 (the DC/IC loops execute).
# The baseline runs in the same process (--baseline-here): a child would be an arm64 program started outside qemu.
# Arguments go to the lane (default: all three libraries). Ends with the lane's own line
#   differential: N passed, N failed
# (also when the program crashes). Exit code 0 only if every check passed.
#
# Environment:
#   HYBRID_ARM64_DIFFERENTIAL_VERSION  runtime/apphost pack version (default 10.0.12)
#   HYBRID_DIFFERENTIAL_TIMEOUT        seconds before a hung run is killed (default 2400)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[arm64-differential] %s\n' "$*" >&2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
fail() { log "$*"; echo "differential: 0 passed, 1 failed"; exit 1; }

# shellcheck source=.ci/arm64-qemu-env.sh
source .ci/arm64-qemu-env.sh || fail "no qemu environment for arm64"

v=${HYBRID_ARM64_DIFFERENTIAL_VERSION:-10.0.12}
project=tests/Hybrid.Differential/Hybrid.Differential.csproj
out=$PWD/.ci/cache/arm64-differential
props=(-p:HybridExeRuntimeVersion="$v" -p:HybridExeAppHostVersion="$v")
started=$SECONDS
for lib in engine/Hybrid.Engine.csproj tests/Hybrid.Weaver.Workloads/Hybrid.Weaver.Workloads.csproj; do
  dotnet restore "$lib" -nologo -v:q || fail "restoring $lib failed"
done
dotnet restore "$project" -r linux-arm64 --no-dependencies -p:SelfContained=true "${props[@]}" -nologo -v:q \
  || fail "restoring $project for linux-arm64 failed"
rm -rf "$out"
dotnet publish "$project" -c Release -r linux-arm64 --self-contained --no-restore "${props[@]}" -o "$out" -nologo -v:q \
  || fail "publishing $project for linux-arm64 failed"
log "published to $out in $((SECONDS - started))s"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
started=$SECONDS
(cd "$out" && timeout --kill-after=30 "${HYBRID_DIFFERENTIAL_TIMEOUT:-2400}" \
  env DOTNET_EnableWriteXorExecute=0 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 QEMU_CPU=cortex-a57 LD_LIBRARY_PATH="$libs" \
  qemu-aarch64-static -L "$sysroot" ./Hybrid.Differential --baseline-here "$@") 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
log "program exited with $rc after $((SECONDS - started))s"
if ! grep -qE '^differential: [0-9]+ passed, [0-9]+ failed$' "$report"; then
  ((rc != 0)) || rc=1
  what="crashed (exit $rc)"; ((rc == 124)) && what="timed out"
  log "the lane $what before its summary; rerun with --trace to see the method being redirected"
  echo "differential: 0 passed, 1 failed"
fi
exit "$rc"
