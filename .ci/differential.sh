#!/usr/bin/env bash
# .ci/differential.sh — differential lane: redirect every method of Mono.Cecil, Iced and Newtonsoft.Json at once
# (pass-through replacements that count the call and run the original through GetOriginal), run the libraries'
# deterministic workloads unredirected, redirected and after disposing every redirect, and require identical digests.
#
# Builds tests/Hybrid.Differential in Release and runs it in one process. Always ends with one line
#   differential: N passed, N failed
# also when the process crashes (then: "differential: P passed, F failed" with the crash counted as a failure, and
# the last progress line says how far redirecting got; rerun with --trace to see the method, or --bisect to narrow a
# crash or a mismatch down to the responsible methods). Exit code 0 only if every check passed.
#
# Usage: .ci/differential.sh [--il] [lane arguments]
#   --il  the same on woven copies of the libraries (hybrid-weave --patchable "*") with HYBRID_STRATEGY=il: every
#         redirect goes through the woven IL guard, no machine code is written.      e.g. --report /tmp/refusals.tsv, --only <regex>, --bisect
#   Arguments go to the program (see `dotnet tests/Hybrid.Differential/bin/Release/net10.0/Hybrid.Differential.dll --help`).
#   HYBRID_DIFFERENTIAL_TIMEOUT  seconds before a hung run is killed (default 1200)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

config=Release
il=0
if [[ ${1:-} == --il ]]; then il=1; shift; fi
dll=tests/Hybrid.Differential/bin/$config/net10.0/Hybrid.Differential.dll
dotnet build tests/Hybrid.Differential/Hybrid.Differential.csproj -c "$config" -nologo -v q

log=$(mktemp)
woven=""
trap 'rm -f "$log"; [[ -z $woven ]] || rm -rf "$woven"' EXIT
if ((il)); then
  # A copy of the lane with every method of the libraries woven; the lane loads the libraries from its own folder.
  dotnet build weaver/Hybrid.Weaver.Cli/Hybrid.Weaver.Cli.csproj -c "$config" -nologo -v q
  woven=$(mktemp -d)
  cp -r "$(dirname "$dll")/." "$woven/"
  for library in Mono.Cecil Iced Newtonsoft.Json; do
    dotnet "weaver/Hybrid.Weaver.Cli/bin/$config/net8.0/hybrid-weave.dll" "$woven/$library.dll" --patchable '*' -r "$woven" | tail -n 1
  done
  dll="$woven/$(basename "$dll")"
  export HYBRID_STRATEGY=il
fi
rc=0
timeout "${HYBRID_DIFFERENTIAL_TIMEOUT:-1200}" dotnet "$dll" "$@" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}

if ! grep -qE '^differential: [0-9]+ passed, [0-9]+ failed$' "$log"; then
  # The process died before its summary (a crash in patched code takes the whole process): report it as a failure.
  ((rc != 0)) || rc=1
  what="crashed (exit $rc)"; ((rc == 124)) && what="timed out"
  echo "differential: the lane $what before its summary; rerun with --trace to see the method being redirected, or with --bisect to narrow it down" >&2
  echo "differential: 0 passed, 1 failed"
fi
exit "$rc"
