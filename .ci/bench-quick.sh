#!/usr/bin/env bash
# Quick benchmark mode for CI: builds benchmarks/Hybrid.Benchmarks and runs every benchmark once with
# BenchmarkDotNet's Dry job (1 warm-up + 1 measured iteration, cold start), in process: BenchmarkDotNet's own
# build of a generated project per run takes minutes on a loaded 2-core machine (it timed out here at load 50).
# It proves that the benchmarks still build, set up (weaving the targets, installing redirects, building the MSBuild
# sample projects) and execute, including their own correctness checks; it asserts no times: Dry-job figures are
# cold-start numbers and mean nothing. Full run: benchmarks/run.sh (see docs/benchmarks.md).
# Extra arguments go to BenchmarkDotNet, e.g. --filter '*CallBenchmarks*'.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
artifacts="${TMPDIR:-/tmp}/hybrid-bench-quick-$$"
trap 'rm -rf "$artifacts"' EXIT

dotnet build benchmarks/Hybrid.Benchmarks/Hybrid.Benchmarks.csproj -c Release -nologo -v:q
# The MSBuild benchmark (item 6, incremental build) is left out: its setup builds the task and two projects per
# benchmark case, minutes on a loaded 2-core machine. Run it with: .ci/bench-quick.sh --filter '*MSBuild*'
if [ $# -eq 0 ]; then set -- --filter '*CallBenchmarks*' '*Install*' '*ScopeBenchmarks*' '*TestLifecycle*' '*WeavingBenchmarks*'; fi
# Program exits non-zero when a benchmark or its setup/cleanup check failed.
dotnet run --project benchmarks/Hybrid.Benchmarks/Hybrid.Benchmarks.csproj -c Release --no-build -- \
  --job Dry --inProcess --artifacts "$artifacts" --stopOnFirstError "$@"

echo "bench-quick: all benchmarks built and executed in $(( $(date +%s) - start )) s ($(uptime | sed 's/.*load average/load average/'))"
