#!/usr/bin/env bash
# Issue 7 proof: run the parallel fixture (60 tests faking the same three methods with different values, 8 NUnit
# workers) 20 times, each in a fresh test host (so the engine installs its redirects from scratch every time), and
# stop at the first failure. Builds once; each run passes the built DLL straight to `dotnet test`, which skips
# MSBuild evaluation (~3 s per run on an idle 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-20}"
config="${CONFIGURATION:-Release}"
project=tests/Hybrid.Testing.Tests/Hybrid.Testing.Tests.csproj
dll=tests/Hybrid.Testing.Tests/bin/$config/net10.0/Hybrid.Testing.Tests.dll

start=$(date +%s)
dotnet build "$project" -c "$config" -nologo -v q
for i in $(seq 1 "$runs"); do
  t0=$(date +%s%3N)
  # A hang (deadlock in a dispatcher, a parked thread never released) must fail the run, not stall CI.
  if ! out=$(timeout 120 dotnet test "$dll" --nologo --filter "TestCategory=ParallelProof" 2>&1); then
    echo "$out"
    echo "parallel-proof: run $i of $runs FAILED (exit 124 = hung for 120 s)" >&2
    exit 1
  fi
  summary=$(grep -E "^(Passed|Failed)!" <<<"$out" || true)
  if ! grep -Eq "Failed: +0, Passed: +60," <<<"$summary"; then
    echo "$out"
    echo "parallel-proof: run $i of $runs did not pass exactly 60 tests: $summary" >&2
    exit 1
  fi
  ms=$(( $(date +%s%3N) - t0 ))
  printf 'parallel-proof: run %2d/%d ok in %d.%03d s: %s\n' "$i" "$runs" $((ms / 1000)) $((ms % 1000)) "$summary"
done
echo "parallel-proof: $runs/$runs runs passed in $(( $(date +%s) - start )) s"
