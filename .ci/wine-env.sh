# .ci/wine-env.sh — sourced by the Windows lanes (.ci/windows.sh, .ci/windows-differential.sh).
#
# Wine 10, from a Debian trixie root (.ci/wine-root.sh; ~1 min on a fresh machine, cached after that), run through
# .ci/in-root.sh. Debian 12's own Wine 8 cannot run .NET 8 at all (see .ci/wine-root.sh). Both the root and the Wine
# prefix live in ~/.cache/hybrid-wine10 (HYBRID_WINE_ROOT, HYBRID_WINE_PREFIX override them; the prefix is created
# on first use, ~10 s), outside the repository on purpose: a prefix's dosdevices/z: links to /, and tools that search
# the tree for project files (BenchmarkDotNet's project lookup) walked into /proc and failed. Sets:
#   wine          the command that runs a Windows program: in-root.sh ROOT /usr/lib/wine/wine64 (an array)
#   wine_server   the same for wineserver (an array; "${wine_server[@]}" -k ends every Wine process of the prefix)
#   prefix        the Wine prefix (exported as WINEPREFIX, with WINEDEBUG=-all)
# Expects the caller's working directory to be the repository root and a `log` function.
wine_home="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hybrid-wine10"
wine_root="${HYBRID_WINE_ROOT:-$wine_home/root}"
prefix="${HYBRID_WINE_PREFIX:-$wine_home/prefix}"
.ci/wine-root.sh "$wine_root" || { log "no Wine root in $wine_root (.ci/wine-root.sh failed)"; return 1; }
mkdir -p "$prefix"
wine=("$PWD/.ci/in-root.sh" "$wine_root" --bind "$prefix" /usr/lib/wine/wine64)
wine_server=("$PWD/.ci/in-root.sh" "$wine_root" --bind "$prefix" /usr/lib/wine/wineserver)
export WINEPREFIX="$prefix" WINEDEBUG=-all
# Wine 10's display drivers look for a Wayland socket there and print an error to every run when it is unset.
mkdir -p -m 700 "$wine_home/run"
export XDG_RUNTIME_DIR="$wine_home/run"
log "$("${wine[@]}" --version) (Debian trixie root $wine_root)"
if [[ ! -f $prefix/system.reg ]]; then
  started=$SECONDS
  # No Wine Mono / Gecko install prompts while the prefix is made (.NET needs neither; mscoree must stay enabled
  # afterwards: Wine's loader needs it to map IL-only assemblies).
  WINEDLLOVERRIDES="mscoree,mshtml=" "${wine[@]}" wineboot --init >/dev/null 2>&1 || { log "wineboot --init failed in $prefix"; return 1; }
  "${wine_server[@]}" -w 2>/dev/null || true
  log "created Wine prefix $prefix in $((SECONDS - started))s"
fi
