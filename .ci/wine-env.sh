# .ci/wine-env.sh — sourced by the Windows lanes (.ci/windows.sh, .ci/windows-differential.sh).
#
# Installs wine64 (Debian) when missing and keeps a Wine prefix in ~/.cache/hybrid-wine (HYBRID_WINE_PREFIX overrides
# it; created on first use, ~10 s). Outside the repository on purpose: a prefix's dosdevices/z: links to /, and tools
# that search the tree for project files (BenchmarkDotNet's project lookup) walked into /proc and failed. Sets:
#   wine    the wine64 loader
#   prefix  the Wine prefix (exported as WINEPREFIX, with WINEDEBUG=-all)
# Expects the caller's working directory to be the repository root and a `log` function.
wine=/usr/lib/wine/wine64
if [[ ! -x $wine ]]; then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  log "installing wine64"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends wine64 >/dev/null || { log "apt-get install wine64 failed"; return 1; }
fi
[[ -x $wine ]] || { log "no $wine after installing wine64"; return 1; }
log "$("$wine" --version)"

prefix="${HYBRID_WINE_PREFIX:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hybrid-wine}"
mkdir -p "$prefix"
export WINEPREFIX="$prefix" WINEDEBUG=-all
if [[ ! -f $prefix/system.reg ]]; then
  started=$SECONDS
  # No Wine Mono / Gecko install prompts while the prefix is made (.NET needs neither; mscoree must stay enabled
  # afterwards: Wine's loader needs it to map IL-only assemblies).
  WINEDLLOVERRIDES="mscoree,mshtml=" "$wine" wineboot --init >/dev/null 2>&1 || { log "wineboot --init failed in $prefix"; return 1; }
  /usr/lib/wine/wineserver -w 2>/dev/null || true
  log "created Wine prefix $prefix in $((SECONDS - started))s"
fi

