#!/usr/bin/env bash
# .ci/in-root.sh ROOT [--bind DIR]... CMD [ARGS...]
#
# Runs CMD inside ROOT (a root made by .ci/wine-root.sh) in the current working directory, with the host's /proc,
# /sys, /dev, /tmp, $HOME, the repository, the working directory and every --bind DIR mounted at the same paths, so
# that a path of the host means the same file in there. The mounts live in a mount namespace of the command's own
# (unshare -m): nothing is left mounted on the host when it ends. Needs root (or sudo), as chroot does.
set -euo pipefail
root=${1:?usage: $0 ROOT [--bind DIR]... CMD [ARGS...]}; shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binds=(/proc /sys /dev /tmp "${HOME:-/root}" "$repo" "$PWD")
while [[ ${1:-} == --bind ]]; do binds+=("$2"); shift 2; done
(($#)) || { echo "usage: $0 ROOT [--bind DIR]... CMD [ARGS...]" >&2; exit 2; }
sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo --preserve-env)
# shellcheck disable=SC2016
exec "${sudo[@]}" unshare -m bash -c '
set -e
root=$1 n=$2; shift 2
for ((i = 0; i < n; i++)); do
  d=$1; shift
  [[ -d $d ]] || continue
  mkdir -p "$root$d"
  mountpoint -q "$root$d" || mount --rbind "$d" "$root$d"
done
exec chroot "$root" /usr/bin/env --chdir="$PWD" "$@"' in-root "$root" "${#binds[@]}" "${binds[@]}" "$@"
