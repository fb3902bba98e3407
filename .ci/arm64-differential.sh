#!/usr/bin/env bash
# .ci/arm64-differential.sh [LANE-ARGS...]
#
# The differential lane on CoreCLR linux-arm64 .NET 10 under qemu-user (.ci/differential-exe.sh): every method of
# Mono.Cecil, Iced and Newtonsoft.Json redirected (default; LANE-ARGS narrow it), with DOTNET_EnableWriteXorExecute=0
# (see .ci/arm64-coreclr.sh for why) and QEMU_CPU=cortex-a57 (the DC/IC loops execute). ~8 min on 2 cores.
#   HYBRID_ARM64_DIFFERENTIAL_VERSION  runtime/apphost pack version (default 10.0.12, served for linux-arm64)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[arm64-differential] %s\n' "$*" >&2; }
# shellcheck source=.ci/arm64-qemu-env.sh
source .ci/arm64-qemu-env.sh || { echo "differential: 0 passed, 1 failed"; exit 1; }
v=${HYBRID_ARM64_DIFFERENTIAL_VERSION:-10.0.12}
HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v \
  exec .ci/differential-exe.sh linux-arm64 \
    env DOTNET_EnableWriteXorExecute=0 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 QEMU_CPU=cortex-a57 LD_LIBRARY_PATH="$libs" \
    qemu-aarch64-static -L "$sysroot" -- "$@"
