#!/usr/bin/env bash
# The full benchmark run quoted in docs/benchmarks.md: every benchmark with BenchmarkDotNet's Short job
# (1 launch, 3 warm-up iterations) with 15 measured iterations instead of 3 (the machine is shared: more samples,
# medians); the install-halves and MSBuild benchmarks fix their own invocation/iteration counts. Release build.
# Results: benchmarks/Hybrid.Benchmarks/BenchmarkDotNet.Artifacts/results/ (*-report-github.md; the memory table is
# Hybrid.Benchmarks.MemoryFootprint-report.md). Extra arguments go to BenchmarkDotNet: --filter '*Call*',
# --job default (longer, tighter error bars), --list flat, ...
set -euo pipefail
cd "$(dirname "$0")/Hybrid.Benchmarks"
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime)"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(--filter '*' --job short --iterationCount 15 --buildTimeout 900); fi
dotnet run -c Release -- "${args[@]}"
echo "end: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime)"
