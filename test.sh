#!/usr/bin/env bash
# Runs every Hybrid test lane, exactly as CI does:
#   1. the solution's tests — the engine tests on .NET 8, 9 and 10 (a private dotnet root with the 8 and 9 runtimes
#      from NuGet runtime packs, see .ci/dotnet-runtimes.sh), the weaver tests and the rest;
#   2. the arm64 Mono lane (.ci/arm64-mono.sh): arm64 code running on a real arm64 JIT under qemu;
#   3. the engine tests and the testing API's tests again with the strategy pinned to the IL guard, and under a
#      seccomp W^X filter where the engine must fall back to the guard by itself (.ci/hardened.sh);
#   4. the differential lane (.ci/differential.sh): every method of Mono.Cecil, Iced and Newtonsoft.Json redirected
#      at once to pass-throughs, their workloads' digests compared unredirected / redirected / after dispose — once
#      with the libraries' code fresh (tier 0), once after a warm-up in this process (tier 1, OSR), and once on woven
#      copies with the strategy pinned to the IL guard;
#   5. the engine tests on CoreCLR win-x64 (.NET 10, 9 and 8) under Wine 10 (.ci/windows.sh, self-contained test
#      program; Wine from a Debian trixie root, .ci/wine-root.sh), and the differential lane there
#      (.ci/windows-differential.sh);
#   6. the engine tests on CoreCLR linux-arm64 (.NET 9 and 10, each with QEMU_CPU=cortex-a57 and qemu's default
#      "max") under qemu-user (.ci/arm64-coreclr.sh), and the differential lane there (.ci/arm64-differential.sh);
#   7. the other lanes under .ci/ that exist (NativeAOT smoke, end-to-end packaging, parallel-scope proof,
#      benchmark smoke run).
# Prints one summary line at the end: "tests: N passed, N failed, N skipped".
# Needs the Debian packages that .ci/run installs (cross binutils/gcc, qemu-user-static, debootstrap).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 CI="${CI:-true}"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
lane() {
  local name=$1; shift
  printf '\n===== %s =====\n' "$name"
  local started=$SECONDS
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  printf '===== %s: %s in %ss =====\n' "$name" "$([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)")" "$((SECONDS - started))"
  [[ $rc == 0 ]] || { status=1; failed_lanes+=("$name (exit $rc)"); }
}
failed_lanes=()

root="$(.ci/dotnet-runtimes.sh | tail -n 1)" || { echo "could not prepare the .NET 8/9/10 dotnet root" >&2; exit 1; }
export DOTNET_ROOT="$root" PATH="$root:$PATH"

# Engine tests that are not by nature about machine code, again through the woven IL guard only.
il_filter="TestCategory!=NativeOnly&FullyQualifiedName!~Arm64"

lane "solution tests (.NET 8, 9, 10)" dotnet test Hybrid.sln -c Release --logger "console;verbosity=minimal"
lane "engine tests, strategy pinned to IL (.NET 8, 9, 10)" env HYBRID_STRATEGY=il dotnet test tests/Hybrid.Engine.Tests -c Release --no-build --filter "$il_filter"
lane "engine tests under W^X (seccomp), automatic fallback" env HYBRID_HARDENED=1 .ci/hardened.sh dotnet test tests/Hybrid.Engine.Tests -c Release -f net10.0 --no-build --filter "$il_filter"
# The testing API (Fake.Of & co.) on the IL guard: its suite's targets and framework calls are woven.
# The same for the xUnit v3 and MSTest integrations (their suites weave their targets too).
for suite in Hybrid.Testing.Tests Hybrid.Xunit.Tests Hybrid.MSTest.Tests; do
  lane "testing API ($suite), strategy pinned to IL" env HYBRID_STRATEGY=il dotnet test "tests/$suite" -c Release --no-build
  lane "testing API ($suite) under W^X (seccomp), automatic fallback" env HYBRID_HARDENED=1 .ci/hardened.sh dotnet test "tests/$suite" -c Release --no-build
done
lane "arm64 Mono lane" .ci/arm64-mono.sh
lane "differential: every library method redirected (fresh code)" .ci/differential.sh
lane "differential: every library method redirected (after warm-up, tier 1)" .ci/differential.sh --baseline-here
lane "differential: every library method redirected through woven IL guards" .ci/differential.sh --il
lane "engine tests on CoreCLR win-x64 under Wine 10 (.NET 10, 9, 8)" .ci/windows.sh net10.0 net9.0 net8.0
lane "differential on CoreCLR win-x64 under Wine 10 (.NET 10)" .ci/windows-differential.sh
lane "engine tests on CoreCLR linux-arm64 under qemu (.NET 9, 10; cortex-a57, max)" env HYBRID_QEMU_CPUS="cortex-a57 max" .ci/arm64-coreclr.sh net10.0 net9.0
lane "differential on CoreCLR linux-arm64 under qemu (.NET 10)" .ci/arm64-differential.sh
for extra in aot e2e parallel-proof bench-quick; do
  [[ -x .ci/$extra.sh ]] && lane "$extra" ".ci/$extra.sh"
done

# One line that sums every test run above (VSTest prints "Passed!  - Failed: F, Passed: P, Skipped: S, ...").
# The differential lane prints "differential: P passed, F failed".
read -r passed failed skipped < <( { grep -aoE 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" |
  awk -F'[:,]' '{print $4+0, $2+0, $6+0}'; grep -aE '^differential: [0-9]+ passed, [0-9]+ failed$' "$log" |
  awk '{print $2+0, $4+0, 0}'; } | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
# Lanes that failed without a failing test (a crash, a check outside a test framework) would not show in the counts.
((${#failed_lanes[@]} == 0)) || printf '\nlanes failed: %s\n' "$(IFS=';'; echo "${failed_lanes[*]}")"
printf '\ntests: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[[ $failed == 0 ]] || status=1
exit $status
