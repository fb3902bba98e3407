#!/usr/bin/env bash
# .ci/arm64-coreclr.sh [TFM...]
#
# The arm64 CoreCLR lane: the whole engine test suite on CoreCLR linux-arm64 (runtime packs from the NuGet feed,
# self-contained) under qemu-user. Installs qemu-user-static and the arm64 libc/libstdc++ (the program's loader and
# the runtime's native dependencies, found through `qemu-aarch64-static -L /usr/aarch64-linux-gnu`) when missing, then
# runs .ci/engine-exe.sh linux-arm64 TFM through qemu for each TFM (default: net10.0; net9.0 works too; the feed has no
# .NET 8 linux-arm64 runtime pack).
#
# W^X is off (DOTNET_EnableWriteXorExecute=0): with it on, CoreCLR writes code through a second mapping that qemu's
# self-modifying-code detection never sees, and stale code runs (shared/README). On hardware W^X is on by default: a
# result here says "CoreCLR arm64 code under qemu-user, W^X off", not "on an arm64 machine".
# QEMU_CPU is cortex-a57 by default (CTR_EL0.IDC=DIC=0: the engine's DC/IC loops execute); qemu's own default ("max")
# can be asked for as a second variant.
# The runtime's cryptography (SHA-256 in the Arm64 tests' harness cache) needs an arm64 libssl3, which has no cross
# package: its .deb is fetched with apt-get under a private arm64 state (the system's sources; nothing installed, no
# foreign architecture added) and unpacked into .ci/cache/arm64-coreclr/openssl, put on the guest's LD_LIBRARY_PATH
# (without it the program aborts: "No usable version of libssl was found").
# The program is InvariantGlobalization (its project says so; DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 as well): there
# is no arm64 ICU here.
#
# Environment:
#   HYBRID_ARM64_VERSIONS   runtime (and apphost) pack per TFM, pinned to versions the feed serves
#                           (default: "net10.0=10.0.12 net9.0=9.0.23")
#   HYBRID_QEMU_CPUS        QEMU_CPU settings to run, one run each (default: cortex-a57; "max" is qemu's default)
#   HYBRID_ARM64_FILTER     test filter (VSTest syntax); empty runs every test
#   HYBRID_ARM64_LIBS       a folder with arm64 libssl.so.3 and libcrypto.so.3 (default: fetched as above)
#   HYBRID_EXE_TIMEOUT      seconds per run (default here: 1500)
#   HYBRID_STRESS_CYCLES    install/dispose cycles of the concurrent stress test (default here: 2000). Under qemu every
#                           entry write parks the 8 calling threads (the arm64 thread fence): 10,000 cycles took 48-147 s
#                           a run here (~5 s before the fence), 2,000 keep the four runs' share of CI near 1 minute and
#                           still park threads ~30,000 times. HYBRID_STRESS_CYCLES=10000 runs the full count.
# Extra arguments for the test program go after "--": .ci/arm64-coreclr.sh net9.0 -- --list-tests
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[arm64-coreclr] %s\n' "$*" >&2; }

tfms=() extra=()
while (($#)) && [[ $1 != -- ]]; do tfms+=("$1"); shift; done
(($#)) && shift && extra=("$@")
((${#tfms[@]})) || tfms=(net10.0)

# qemu, the arm64 sysroot and libssl3 (sets $sysroot and $libs).
# shellcheck source=.ci/arm64-qemu-env.sh
source .ci/arm64-qemu-env.sh || exit 1

declare -A pinned=()
for kv in ${HYBRID_ARM64_VERSIONS:-net10.0=10.0.12 net9.0=9.0.23}; do pinned[${kv%%=*}]=${kv#*=}; done
filter="${HYBRID_ARM64_FILTER-}"
args=(); [[ -n $filter ]] && args=(--filter "$filter")
args+=("${extra[@]}")

status=0
for tfm in "${tfms[@]}"; do
  v=${pinned[$tfm]:-}
  for cpu in ${HYBRID_QEMU_CPUS:-cortex-a57}; do
    log "$tfm (runtime pack ${v:-as the SDK chooses}), QEMU_CPU=$cpu"
    started=$SECONDS
    HYBRID_EXE_RUNTIME_VERSION=$v HYBRID_EXE_APPHOST_VERSION=$v HYBRID_EXE_TIMEOUT="${HYBRID_EXE_TIMEOUT:-1500}" \
      .ci/engine-exe.sh linux-arm64 "$tfm" \
        env DOTNET_EnableWriteXorExecute=0 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 QEMU_CPU="$cpu" LD_LIBRARY_PATH="$libs" \
        HYBRID_STRESS_CYCLES="${HYBRID_STRESS_CYCLES:-2000}" \
        qemu-aarch64-static -L "$sysroot" -- "${args[@]}" || status=1
    log "$tfm, QEMU_CPU=$cpu: done in $((SECONDS - started))s"
  done
done
exit $status
