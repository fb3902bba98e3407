#!/usr/bin/env bash
# The install benchmarks on arm64 CoreCLR (.NET 10) under qemu-user: the arm64 figure of docs/benchmarks.md. It is not
# a figure of arm64 hardware — qemu translates every instruction — so compare it with the same benchmarks run the same
# way on x64 (benchmarks/run.sh with the same arguments). Publishes Hybrid.Benchmarks self-contained for linux-arm64
# (the served 10.0.12 runtime pack; what .ci/arm64-qemu-env.sh installs for the arm64 lanes), then runs it under
# qemu-aarch64-static with BenchmarkDotNet's in-process toolchain: its usual child process would be another project
# to build and run emulated.
#   benchmarks/arm64.sh                                   # = --filter '*InstallPair*' --job short --inProcess
#   benchmarks/arm64.sh --filter '*Install*' --job short --inProcess
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-arm64] %s\n' "$*" >&2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# shellcheck source=../.ci/arm64-qemu-env.sh
source .ci/arm64-qemu-env.sh

out="${TMPDIR:-/tmp}/hybrid-bench-arm64"
project=benchmarks/Hybrid.Benchmarks/Hybrid.Benchmarks.csproj
# As for the engine test program (.ci/engine-exe.sh): the libraries are restored on their own (no runtime pack is
# needed for them), the program for linux-arm64 only.
for lib in engine/Hybrid.Engine.csproj weaver/Hybrid.Weaver/Hybrid.Weaver.csproj testing/Hybrid.Testing/Hybrid.Testing.csproj \
           benchmarks/Hybrid.Benchmarks.Targets/Hybrid.Benchmarks.Targets.csproj; do
  dotnet restore "$lib" -nologo -v:q
done
dotnet restore "$project" -r linux-arm64 --no-dependencies -p:SelfContained=true -p:InvariantGlobalization=true -nologo -v:q
rm -rf "$out"
dotnet publish "$project" -c Release -r linux-arm64 --self-contained --no-restore -p:InvariantGlobalization=true -o "$out" -nologo -v:q
log "published to $out"

args=("$@")
((${#args[@]})) || args=(--filter '*InstallPair*' --job short --inProcess)
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime)"
# W^X off: qemu-user does not see code CoreCLR writes through its second (writable) mapping.
(cd "$out" && env DOTNET_EnableWriteXorExecute=0 LD_LIBRARY_PATH="$libs" qemu-aarch64-static -L "$sysroot" ./Hybrid.Benchmarks "${args[@]}")
echo "end: $(date -u '+%Y-%m-%d %H:%M UTC'); $(uptime)"
