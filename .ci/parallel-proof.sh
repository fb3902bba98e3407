#!/usr/bin/env bash
# Issue 7 proof: run the parallel fixture (60 tests faking the same methods with different values, 8 workers)
# 20 times in fresh test hosts; stop at the first failure. Builds once, then reuses the build (~3-4 s per run).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-20}"
project=tests/Hybrid.Testing.Tests/Hybrid.Testing.Tests.csproj
config="${CONFIGURATION:-Release}"

start=$(date +%s)
dotnet build "$project" -c "$config" -nologo -v q
for i in $(seq 1 "$runs"); do
  t0=$(date +%s%3N)
  if ! out=$(dotnet test "$project" -c "$config" --no-build --nologo --filter "TestCategory=ParallelProof" 2>&1); then
    echo "$out"
    echo "parallel-proof: run $i of $runs FAILED" >&2
    exit 1
  fi
  summary=$(grep -E "^(Passed|Failed)!" <<<"$out" || true)
  if ! grep -q "Passed:    60\b" <<<"$summary"; then
    echo "$out"
    echo "parallel-proof: run $i of $runs did not pass 60 tests: $summary" >&2
    exit 1
  fi
  ms=$(( $(date +%s%3N) - t0 ))
  printf 'parallel-proof: run %2d/%d ok (%d.%03d s) %s\n' "$i" "$runs" $((ms / 1000)) $((ms % 1000)) "$summary"
done
echo "parallel-proof: $runs/$runs runs passed in $(( $(date +%s) - start )) s"
