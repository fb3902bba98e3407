#!/usr/bin/env bash
# .ci/dotnet-runtimes.sh [CACHE_DIR]
#
# Builds (idempotently) a private "hybrid" dotnet root that contains
#   * the installed muxer (copied) and SDK(s) (hard-linked, or copied when hard
#     links are impossible -- a symlinked sdk/ does NOT work, see below),
#   * host/, packs/, sdk-manifests/, templates/, ... symlinked to the system install,
#   * every installed shared framework (per-version symlinks, e.g. 10.0.x),
#   * Microsoft.NETCore.App 8.0.<latest> and 9.0.<latest>, assembled from the
#     NuGet runtime packs Microsoft.NETCore.App.Runtime.<rid>.
#
# Only NuGet access is needed (no dotnet-install script, no Microsoft CDN).
# The path of the root is printed as the LAST line of stdout; all diagnostics
# go to stderr. Use it like:
#
#   root="$(.ci/dotnet-runtimes.sh | tail -n 1)"
#   export DOTNET_ROOT="$root" PATH="$root:$PATH"
#   dotnet test tests/Foo.Tests/Foo.Tests.csproj          # all TFMs
#   dotnet test tests/Foo.Tests/Foo.Tests.csproj -f net8.0
#
# Always invoke the root's muxer ("$root/dotnet", e.g. via PATH): `dotnet test`
# derives the runtime location for testhosts from the SDK that is running.
#
# Arguments / environment:
#   $1                          cache directory (default: $HOME/.cache/hybrid-dotnet)
#   HYBRID_DOTNET_CHANNELS      extra runtime channels (default: "8.0 9.0")
#   HYBRID_DOTNET_VERSIONS      pin exact versions, e.g. "8.0.33 9.0.22" (skips the feed
#                               lookup; replaces HYBRID_DOTNET_CHANNELS)
#   HYBRID_DOTNET_SOURCE_ROOT   dotnet install to base the root on
#                               (default: resolved from `dotnet` on PATH, else /usr/share/dotnet)
#   HYBRID_DOTNET_RID           runtime identifier (default: linux-<arch of this machine>)
#   HYBRID_NUGET_CONFIG         NuGet.config to use for the feed lookup and restore
#                               (default: the repository's nuget.config if there is one)
#   HYBRID_DOTNET_OFFLINE=1     do not query the feed; reuse what is cached / SDK-known versions
#   HYBRID_DOTNET_SDK_MODE      auto (default: hard links, else copy) | hardlink | copy
set -euo pipefail
shopt -s nullglob

log()  { printf '[dotnet-runtimes] %s\n' "$*" >&2; }
die()  { printf '[dotnet-runtimes] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

[[ -n "${HOME:-}" || -n "${1:-}" ]] || die "HOME is not set; pass the cache directory as \$1"
CACHE_DIR="${1:-$HOME/.cache/hybrid-dotnet}"
mkdir -p "$CACHE_DIR" || die "cannot create cache directory '$CACHE_DIR'"
CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
ROOT="$CACHE_DIR/root"
WORK="$CACHE_DIR/work"
CHANNELS="${HYBRID_DOTNET_CHANNELS:-8.0 9.0}"
PACK_ID_PREFIX="Microsoft.NETCore.App.Runtime"
FX_NAME="Microsoft.NETCore.App"
MARKER=".hybrid-dotnet-runtime-pack"   # marks framework dirs that this script assembled

# ---------------------------------------------------------------- locking ---
# Serialize concurrent invocations sharing one cache (parallel CI jobs).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/.lock"
  flock 9 || die "could not lock $CACHE_DIR/.lock"
fi

# ------------------------------------------------------- source dotnet root ---
resolve_source_root() {
  if [[ -n "${HYBRID_DOTNET_SOURCE_ROOT:-}" ]]; then
    printf '%s\n' "$HYBRID_DOTNET_SOURCE_ROOT"; return
  fi
  local d
  if d="$(command -v dotnet 2>/dev/null)"; then
    d="$(dirname "$(readlink -f "$d")")"
    # If our own root is first on PATH, go back to the install it was built from.
    if [[ "$d" == "$ROOT" && -f "$ROOT/.source-root" ]]; then
      d="$(cat "$ROOT/.source-root")"
    fi
    if [[ "$d" != "$ROOT" ]]; then printf '%s\n' "$d"; return; fi
  fi
  printf '%s\n' /usr/share/dotnet
}
SRC="$(resolve_source_root)"
SRC="${SRC%/}"
[[ -x "$SRC/dotnet" ]] || die "no dotnet muxer at '$SRC/dotnet' (set HYBRID_DOTNET_SOURCE_ROOT)"
[[ -d "$SRC/sdk" && -d "$SRC/host/fxr" && -d "$SRC/shared/$FX_NAME" ]] \
  || die "'$SRC' does not look like a dotnet install with an SDK (need sdk/, host/fxr/, shared/$FX_NAME/)"
SYS_DOTNET="$SRC/dotnet"

# Use the source install for everything this script runs (never our own root,
# never a user's DOTNET_ROOT), and keep the SDK quiet.
export DOTNET_ROOT="$SRC"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false
unset DOTNET_ROLL_FORWARD DOTNET_ROLL_FORWARD_TO_PRERELEASE MSBuildSDKsPath MSBUILD_EXE_PATH || true

case "$(uname -m)" in
  x86_64|amd64)  ARCH=x64 ;;
  aarch64|arm64) ARCH=arm64 ;;
  armv7l|armv7*) ARCH=arm ;;
  *) die "unsupported machine architecture '$(uname -m)'" ;;
esac
RID="${HYBRID_DOTNET_RID:-linux-$ARCH}"
if [[ -z "${HYBRID_DOTNET_RID:-}" ]] && ldd --version 2>&1 | grep -qi musl; then RID="linux-musl-$ARCH"; fi
PACK_ID="$PACK_ID_PREFIX.$RID"
PACK_ID_LC="$(printf '%s' "$PACK_ID" | tr '[:upper:]' '[:lower:]')"

NUGET_CONFIG="${HYBRID_NUGET_CONFIG:-}"
if [[ -z "$NUGET_CONFIG" ]]; then
  for f in nuget.config NuGet.config NuGet.Config; do
    if [[ -f "$REPO_ROOT/$f" ]]; then NUGET_CONFIG="$REPO_ROOT/$f"; break; fi
  done
fi
CONFIG_ARGS=()
[[ -n "$NUGET_CONFIG" ]] && CONFIG_ARGS=(--configfile "$NUGET_CONFIG")

SDK_VERSION="$(cd "$CACHE_DIR" && "$SYS_DOTNET" --version 2>/dev/null)" || die "'$SYS_DOTNET --version' failed"
SDK_DIR="$SRC/sdk/$SDK_VERSION"
SDK_TFM="net${SDK_VERSION%%.*}.0"
log "source install: $SRC (SDK $SDK_VERSION), rid: $RID, cache: $CACHE_DIR"

# --------------------------------------------------------- version lookup ---
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --connect-timeout 15 --max-time 60 "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 60 -t 3 -O - "$1"
  else
    return 1
  fi
}

# Prints "<source>" lines for every enabled package source.
list_sources() {
  (cd "$CACHE_DIR" && "$SYS_DOTNET" nuget list source --format short "${CONFIG_ARGS[@]}" 2>/dev/null) \
    | sed -n 's/^[[:space:]]*E[[:space:]]\{1,\}\(.*[^[:space:]]\)[[:space:]]*$/\1/p'
}

# Prints all stable versions of $PACK_ID available on the configured feeds.
feed_versions() {
  local src base idx
  while IFS= read -r src; do
    [[ -n "$src" ]] || continue
    case "$src" in
      http://*|https://*)
        if [[ "$src" == *.json ]]; then
          # NuGet v3: find PackageBaseAddress/3.0.0 (flat container) in the service index.
          idx="$(http_get "$src" 2>/dev/null | tr -d '\r\n' | sed 's/}/}\n/g')" || { log "  cannot read $src"; continue; }
          base="$(printf '%s\n' "$idx" | grep '"PackageBaseAddress/3\.0\.0"' \
                  | sed -n 's/.*"@id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)"
          [[ -n "$base" ]] || { log "  no PackageBaseAddress in $src"; continue; }
          http_get "${base%/}/$PACK_ID_LC/index.json" 2>/dev/null \
            | grep -oE '"[0-9]+\.[0-9]+\.[0-9]+"' | tr -d '"' || true
        else
          log "  skipping non-v3 source $src"
        fi ;;
      *)
        if [[ -d "$src" ]]; then   # local folder feed (flat or hierarchical layout)
          find "$src" -maxdepth 3 -iname "$PACK_ID_LC.*.nupkg" -printf '%f\n' 2>/dev/null \
            | tr '[:upper:]' '[:lower:]' | sed -n "s/^$PACK_ID_LC\.\([0-9]*\.[0-9]*\.[0-9]*\)\.nupkg$/\1/p" || true
        fi ;;
    esac
  done < <(list_sources)
}

# Version the SDK itself would use for a self-contained publish of that TFM.
sdk_known_version() {
  local channel="$1"
  sed -n '/<KnownFrameworkReference Include="Microsoft.NETCore.App"/,/\/>/p' \
      "$SDK_DIR/Microsoft.NETCoreSdk.BundledVersions.props" 2>/dev/null \
    | tr -d '\n' | sed 's/\/>/\/>\n/g' | grep "TargetFramework=\"net$channel\"" \
    | sed -n 's/.*LatestRuntimeFrameworkVersion="\([^"]*\)".*/\1/p' | head -n 1
}

cached_version() {   # newest already-assembled framework for a channel
  local channel="$1"
  find "$ROOT/shared/$FX_NAME" -mindepth 2 -maxdepth 2 -name "$MARKER" -printf '%h\n' 2>/dev/null \
    | xargs -r -n1 basename | grep -E "^${channel//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true
}

declare -A WANT=()
if [[ -n "${HYBRID_DOTNET_VERSIONS:-}" ]]; then
  for v in $HYBRID_DOTNET_VERSIONS; do
    [[ "$v" =~ ^([0-9]+\.[0-9]+)\.[0-9]+$ ]] || die "HYBRID_DOTNET_VERSIONS: '$v' is not an x.y.z version"
    WANT["${BASH_REMATCH[1]}"]="$v"
  done
else
  FEED=""
  if [[ "${HYBRID_DOTNET_OFFLINE:-0}" != 1 ]]; then
    log "looking up $PACK_ID versions on the configured NuGet feeds ..."
    FEED="$(feed_versions | sort -u -V || true)"
  fi
  for ch in $CHANNELS; do
    v="$(printf '%s\n' "$FEED" | grep -E "^${ch//./\\.}\.[0-9]+$" | tail -n 1 || true)"
    if [[ -z "$v" ]]; then
      v="$(cached_version "$ch")"
      [[ -n "$v" ]] && log "  $ch: no version from the feed, reusing cached $v"
    fi
    if [[ -z "$v" ]]; then
      v="$(sdk_known_version "$ch")"
      [[ -n "$v" ]] && log "  $ch: no version from the feed, using the SDK-known version $v"
    fi
    [[ -n "$v" ]] || die "cannot determine a $PACK_ID version for channel $ch (feed unreachable?); set HYBRID_DOTNET_VERSIONS"
    WANT["$ch"]="$v"
  done
fi
mapfile -t WANT_CHANNELS < <(printf '%s\n' "${!WANT[@]}" | sort -V)
for ch in "${WANT_CHANNELS[@]}"; do log "  $FX_NAME $ch -> ${WANT[$ch]}"; done

# ------------------------------------------------------------ root layout ---
mkdir -p "$ROOT/shared"
printf '%s\n' "$SRC" > "$ROOT/.source-root"

copy_if_changed() {   # copy_if_changed SRC DEST  (atomic, skipped when identical)
  cmp -s "$1" "$2" 2>/dev/null && return 0
  rm -rf "$2"
  cp -p "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}

# The muxer must be a real file: it locates host/fxr next to its *resolved* path.
# Same for `dnx`, which resolves its own location with `pwd -P`.
for f in "$SRC"/*; do
  name="$(basename "$f")"
  [[ "$name" == shared || "$name" == sdk ]] && continue
  if [[ -d "$f" ]]; then
    [[ -L "$ROOT/$name" || ! -e "$ROOT/$name" ]] || rm -rf "${ROOT:?}/$name"
    ln -sfn "$f" "$ROOT/$name"
  else
    copy_if_changed "$f" "$ROOT/$name"
  fi
done

# SDKs must be REAL directories inside the root (hard links or a copy), not symlinks:
#  * hostfxr realpath()s dotnet.dll, and the SDK derives "its" dotnet root from that
#    location (Muxer: AppContext.BaseDirectory/../..). `dotnet test` hands that root to
#    vstest (VSTEST_DOTNET_ROOT_PATH -> DOTNET_ROOT_X64 for the testhost), so with a
#    symlinked sdk/ the testhosts run on the system install (no 8.0/9.0 there).
#  * MSBuild worker nodes (`dotnet MSBuild.dll`) would resolve to the system path while
#    the main node uses the root path; the node handshake then never succeeds and the
#    build hangs spawning nodes.
# Hard links (cp -al) cost ~0.3 s and no space; when not possible (other filesystem,
# fs.protected_hardlinks for non-owners) the SDK is copied (~400 MB, a few seconds).
sdk_is_current() {   # sdk_is_current SRC_SDK_DIR DEST_SDK_DIR
  [[ -f "$2/.hybrid-sdk-source" ]] && cmp -s "$1/dotnet.dll" "$2/dotnet.dll" \
    && cmp -s "$1/.version" "$2/.version" && [[ "$(cat "$2/.hybrid-sdk-source")" == "$1" ]]
}
[[ -L "$ROOT/sdk" ]] && rm -f "$ROOT/sdk"
mkdir -p "$ROOT/sdk"
for s in "$ROOT"/sdk/*/; do
  s="${s%/}"
  [[ -d "$SRC/sdk/$(basename "$s")" ]] || { log "  removing stale SDK $s"; rm -rf "$s"; }
done
rm -rf "$ROOT"/sdk/.tmp-* 2>/dev/null || true
for s in "$SRC"/sdk/*/; do
  s="${s%/}"; sv="$(basename "$s")"
  [[ -f "$s/dotnet.dll" ]] || continue
  dest="$ROOT/sdk/$sv"
  sdk_is_current "$s" "$dest" && continue
  tmp="$ROOT/sdk/.tmp-$sv.$$"
  rm -rf "$tmp"
  mode="${HYBRID_DOTNET_SDK_MODE:-auto}"
  if [[ "$mode" != copy ]] && cp -al "$s" "$tmp" 2>/dev/null; then
    log "  SDK $sv: hard-linked into root"
  else
    [[ "$mode" == hardlink ]] && die "cannot hard-link $s into $ROOT/sdk (HYBRID_DOTNET_SDK_MODE=hardlink)"
    rm -rf "$tmp"
    log "  SDK $sv: copying into root (hard links not possible here) ..."
    cp -a "$s" "$tmp" || { rm -rf "$tmp"; die "copying $s to $tmp failed (disk space?)"; }
  fi
  printf '%s\n' "$s" > "$tmp/.hybrid-sdk-source"
  rm -rf "$dest"; mv "$tmp" "$dest"
done

# Drop links to things that disappeared from the source install.
find "$ROOT" -mindepth 1 -maxdepth 1 -xtype l -delete 2>/dev/null || true

# Installed shared frameworks: one symlink per version (keeps the
# framework directories enumerable and lets us add real 8.0/9.0 dirs next to them).
for fx in "$SRC"/shared/*/; do
  fx="${fx%/}"; fxname="$(basename "$fx")"
  [[ -L "$ROOT/shared/$fxname" ]] && rm -f "$ROOT/shared/$fxname"
  mkdir -p "$ROOT/shared/$fxname"
  for ver in "$fx"/*/; do
    ver="${ver%/}"
    [[ -e "$ROOT/shared/$fxname/$(basename "$ver")/$MARKER" ]] && continue
    ln -sfn "$ver" "$ROOT/shared/$fxname/$(basename "$ver")"
  done
done

find "$ROOT/shared" -mindepth 2 -maxdepth 2 -xtype l -delete 2>/dev/null || true

# ---------------------------------------------- runtime packs -> frameworks ---
MISSING=()
for ch in "${WANT_CHANNELS[@]}"; do
  v="${WANT[$ch]}"
  d="$ROOT/shared/$FX_NAME/$v"
  if [[ -L "$d" ]]; then
    log "  $FX_NAME $v is provided by the source install"
  elif [[ -f "$d/$MARKER" && -f "$d/libcoreclr.so" ]]; then
    log "  $FX_NAME $v already assembled"
  else
    MISSING+=("$v")
  fi
done

if ((${#MISSING[@]})); then
  PKGS="$WORK/packages"
  PROJ_DIR="$WORK/restore"
  rm -rf "$PROJ_DIR"; mkdir -p "$PROJ_DIR" "$PKGS"
  versions=""
  for v in "${MISSING[@]}"; do versions+="${versions:+;}[$v]"; done
  # Explicit Sdk imports so Directory.Build.* / Directory.Packages.props from
  # parent directories of the cache cannot leak in.
  cat > "$PROJ_DIR/runtimepacks.csproj" <<EOF
<Project>
  <PropertyGroup>
    <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
    <ImportDirectoryBuildTargets>false</ImportDirectoryBuildTargets>
    <ImportDirectoryPackagesProps>false</ImportDirectoryPackagesProps>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <Import Project="Sdk.props" Sdk="Microsoft.NET.Sdk" />
  <PropertyGroup>
    <TargetFramework>$SDK_TFM</TargetFramework>
    <RestorePackagesPath>$PKGS</RestorePackagesPath>
    <NuGetAudit>false</NuGetAudit>
    <DisableImplicitFrameworkReferences>true</DisableImplicitFrameworkReferences>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="$PACK_ID" Version="$versions" />
  </ItemGroup>
  <Import Project="Sdk.targets" Sdk="Microsoft.NET.Sdk" />
</Project>
EOF
  log "restoring $PACK_ID ${MISSING[*]} from NuGet ..."
  if ! (cd "$PROJ_DIR" && "$SYS_DOTNET" restore runtimepacks.csproj "${CONFIG_ARGS[@]}" \
          -p:RestorePackagesPath="$PKGS" -nologo -v:q --disable-build-servers -nodeReuse:false) >&2 9>&-; then
    die "restoring $PACK_ID ${MISSING[*]} failed (is a NuGet feed with these versions reachable? see output above)"
  fi

  for v in "${MISSING[@]}"; do
    major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
    pkg="$PKGS/$PACK_ID_LC/$v"
    lib="$pkg/runtimes/$RID/lib/net$major.$minor"
    native="$pkg/runtimes/$RID/native"
    for req in "$lib/System.Private.CoreLib.dll" "$lib/$FX_NAME.deps.json" \
               "$native/libcoreclr.so" "$native/libhostpolicy.so"; do
      [[ -f "$req" ]] || die "unexpected layout of $PACK_ID $v: missing $req"
    done
    dest="$ROOT/shared/$FX_NAME/$v"
    tmp="$ROOT/shared/$FX_NAME/.tmp-$v.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    # Same layout as an installed shared framework: managed assemblies plus the
    # pack's Microsoft.NETCore.App.deps.json / .runtimeconfig.json, and the native
    # runtime (minus libhostfxr.so, which lives in host/fxr and is not in deps.json).
    cp -p "$lib"/* "$tmp"/
    find "$native" -maxdepth 1 -type f ! -name 'libhostfxr.so' -exec cp -p {} "$tmp"/ \;
    chmod 0755 "$tmp"/*.so "$tmp"/createdump 2>/dev/null || true
    chmod 0644 "$tmp"/*.dll "$tmp"/*.json 2>/dev/null || true
    if [[ -f "$pkg/$FX_NAME.versions.txt" ]]; then
      cp "$pkg/$FX_NAME.versions.txt" "$tmp/.version"      # "<commit>\n<version>", like installs
    else
      printf 'unknown\n%s\n' "$v" > "$tmp/.version"
    fi
    printf '%s %s\n' "$PACK_ID" "$v" > "$tmp/$MARKER"
    rm -rf "$dest"; mv "$tmp" "$dest"
    log "  assembled $dest"
  done
  rm -rf "$PKGS" "$PROJ_DIR"; rmdir "$WORK" 2>/dev/null || true
fi

# Prune frameworks this script assembled earlier for versions no longer wanted.
for d in "$ROOT/shared/$FX_NAME"/*/; do
  d="${d%/}"; v="$(basename "$d")"
  [[ -f "$d/$MARKER" ]] || continue
  keep=0
  for ch in "${!WANT[@]}"; do [[ "${WANT[$ch]}" == "$v" ]] && keep=1; done
  if ((keep == 0)); then log "  removing outdated $d"; rm -rf "$d"; fi
done
rm -rf "$ROOT/shared/$FX_NAME"/.tmp-* 2>/dev/null || true

# ------------------------------------------------------------------ check ---
runtimes="$(DOTNET_ROOT="$ROOT" "$ROOT/dotnet" --list-runtimes 2>&1)" \
  || die "'$ROOT/dotnet --list-runtimes' failed: $runtimes"
for ch in "${WANT_CHANNELS[@]}"; do
  grep -q "^$FX_NAME ${WANT[$ch]//./\\.} \[$ROOT/shared/$FX_NAME\]" <<<"$runtimes" \
    || die "$FX_NAME ${WANT[$ch]} not visible to $ROOT/dotnet:"$'\n'"$runtimes"
done
printf '%s\n' "$runtimes" | sed 's/^/  /' >&2
log "ready. use: export DOTNET_ROOT=\"$ROOT\" PATH=\"$ROOT:\$PATH\""
printf '%s\n' "$ROOT"
