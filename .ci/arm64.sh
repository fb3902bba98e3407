#!/usr/bin/env bash
# .ci/arm64.sh — the arm64 lane.
#
# Installs (only if missing) the cross binutils, the cross gcc + arm64 libc headers (for the static test harness)
# and qemu-user-static, then runs only the Arm64 tests of tests/Hybrid.Engine.Tests:
#   * every emitted instruction sequence is disassembled with aarch64-linux-gnu-objdump and checked,
#   * CoreCLR stub fixtures are re-assembled from the transcribed template text with aarch64-linux-gnu-as,
#   * tests/arm64/harness.c is built static and runs the emitted jumps and cache-maintenance routine under
#     qemu-aarch64-static.
# CI=true is exported (unless already set) so that a missing tool fails the lane instead of skipping tests.
# Budget: < 5 minutes on a 2-core runner (apt ~60 s when nothing is cached, build ~25 s, tests ~20 s).
#
# Usage: .ci/arm64.sh [extra dotnet test arguments...]
set -euo pipefail

log() { printf '[arm64] %s\n' "$*" >&2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CI="${CI:-true}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# tool -> Debian package
declare -A packages=(
  [aarch64-linux-gnu-objdump]=binutils-aarch64-linux-gnu
  [aarch64-linux-gnu-as]=binutils-aarch64-linux-gnu
  [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu
  [qemu-aarch64-static]=qemu-user-static
)
missing=()
for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${packages[$tool]}")
done
# The static harness also needs the arm64 libc headers/archives (only a Recommends of the cross gcc).
[[ -e /usr/aarch64-linux-gnu/lib/libc.a ]] || missing+=(libc6-dev-arm64-cross)

if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "need root or sudo to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  log "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static >/dev/null
else
  log "cross tools present"
fi

for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { log "still missing after install: $tool"; exit 1; }
done
log "$(aarch64-linux-gnu-objdump --version | head -n 1); $(qemu-aarch64-static --version | head -n 1)"

# Hard cap below the 5-minute budget so a hung emulator cannot eat the whole job.
timeout 270 dotnet test tests/Hybrid.Engine.Tests --filter "FullyQualifiedName~Arm64" "$@"
