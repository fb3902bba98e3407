# .ci/arm64-qemu-env.sh — sourced by the arm64 CoreCLR lanes (.ci/arm64-coreclr.sh, .ci/arm64-differential.sh).
#
# Makes sure a self-contained linux-arm64 .NET program can run here under qemu-user: installs qemu-user-static and
# the arm64 libc/libstdc++ (the program's loader and the runtime's native dependencies, found through
# `qemu-aarch64-static -L /usr/aarch64-linux-gnu`) when missing, and fetches an arm64 libssl3 (the runtime's
# cryptography needs one, and it has no cross package): its .deb is fetched with apt-get under a private arm64 state
# (the system's sources; nothing installed, no foreign architecture added) and unpacked into
# .ci/cache/arm64-coreclr/openssl. Sets:
#   sysroot  the arm64 sysroot for qemu's -L
#   libs     a folder with arm64 libssl.so.3 and libcrypto.so.3 for the guest's LD_LIBRARY_PATH
#            (HYBRID_ARM64_LIBS overrides it)
# Expects the caller's working directory to be the repository root and a `log` function.
sysroot=/usr/aarch64-linux-gnu
missing=()
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
[[ -e $sysroot/lib/ld-linux-aarch64.so.1 ]] || missing+=(libc6-dev-arm64-cross)
[[ -e $sysroot/lib/libstdc++.so.6 ]] || missing+=(libstdc++6-arm64-cross)
if ((${#missing[@]})); then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { log "apt-get install ${missing[*]} failed"; return 1; }
fi
command -v qemu-aarch64-static >/dev/null 2>&1 || { log "no qemu-aarch64-static after installing qemu-user-static"; return 1; }
log "$(qemu-aarch64-static --version | head -n 1)"

# arm64 OpenSSL: apt-get with its own state in the cache (arm64 package lists, empty dpkg status).
libs="${HYBRID_ARM64_LIBS:-$PWD/.ci/cache/arm64-coreclr/openssl/usr/lib/aarch64-linux-gnu}"
if [[ ! -e $libs/libssl.so.3 && -z ${HYBRID_ARM64_LIBS:-} ]]; then
  apt=$PWD/.ci/cache/arm64-coreclr/apt
  rm -rf "$apt"; mkdir -p "$apt/lists/partial" "$apt/archives/partial"; : >"$apt/status"
  o=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root -o Acquire::Languages=none
     -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status" -o Dir::Cache="$apt"
     -o Dir::Cache::archives="$apt/archives" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
  log "fetching libssl3:arm64 (apt-get with a private arm64 state in $apt)"
  # A transient mirror or network error on a fresh machine gets two more tries.
  for attempt in 1 2 3; do
    apt-get "${o[@]}" update -qq >/dev/null 2>&1 || log "apt-get update (arm64 lists) reported errors; trying the download anyway"
    (cd "$apt/archives" && apt-get "${o[@]}" download -qq libssl3 >/dev/null) && break
    ((attempt < 3)) || { log "apt-get download libssl3:arm64 failed three times"; return 1; }
    log "apt-get download libssl3:arm64 failed (attempt $attempt); trying again in 10 s"
    sleep 10
  done
  rm -rf "$PWD/.ci/cache/arm64-coreclr/openssl"
  dpkg -x "$apt"/archives/libssl3_*_arm64.deb "$PWD/.ci/cache/arm64-coreclr/openssl" || { log "dpkg -x libssl3 failed"; return 1; }
  rm -rf "$apt"
fi
[[ -e $libs/libssl.so.3 ]] || { log "no arm64 libssl.so.3 in $libs"; return 1; }

