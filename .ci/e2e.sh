#!/usr/bin/env bash
# .ci/e2e.sh — end-to-end lane: use Hybrid the way a new user would.
#
#   1. pack Hybrid (engine + MSBuild task + targets) and Hybrid.Fody into a local folder;
#   2. patchable:  `dotnet new classlib` + `dotnet new nunit`, `dotnet add package Hybrid`, <Patchable> items in the
#                  library, a test that redirects the woven methods; `dotnet test` passes; a rebuild does no weaving;
#                  editing the <Patchable> list weaves again; diagnostics land on the csproj line (HYB0010, HYB0205);
#   3. references: Assembly="Newtonsoft.Json" (NuGet) and Assembly="Billing" (project reference) woven into the test
#                  output and redirected; the NuGet cache copy stays byte-identical; a rebuild skips weaving;
#   4. fody:       the same as 2 through FodyWeavers.xml and the Hybrid.Fody add-in;
#   5. testing:    pack Hybrid.Testing and the framework packages; an app library with a <Patchable> clock, and a test
#                  project per framework — `dotnet new nunit`, `dotnet new mstest`, an xUnit v3 project as xUnit's docs
#                  show one — each with `dotnet add package Hybrid.<Framework>`; fakes arranged in async set-up are seen
#                  by the test; `dotnet test` passes natively, pinned to the IL guard and under the W^X launcher;
#   6. tool:       pack hybrid-weave, `dotnet tool install` it as a local tool, weave a `dotnet new classlib` with it
#                  (a selector matching nothing leaves the assembly unmarked; a second run says "already woven"), and
#                  redirect the woven methods from a console app pinned to the IL guard.
#
# Needs only dotnet and NuGet. Everything happens in a fresh temp dir with its own NUGET_PACKAGES, so ~/.nuget and the
# repository's obj/ and bin/ folders are never touched (the repo is packed with --artifacts-path into the temp dir).
# Budget: ~4-6 minutes on a 2-core runner with a cold package cache.
#
# Usage: .ci/e2e.sh [patchable] [references] [fody] [testing] [tool]     (default: all)
#   HYBRID_E2E_KEEP=1   keep the temp dir (it is always kept when a step fails)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scenarios="$repo/tests/Hybrid.EndToEnd/scenarios"
work="$(mktemp -d "${TMPDIR:-/tmp}/hybrid-e2e.XXXXXX")"
feed="$work/feed"
version=0.1.0-dev
lanes=("$@"); ((${#lanes[@]})) || lanes=(patchable references fody testing tool)

export NUGET_PACKAGES="$work/nuget-packages"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false
# No lingering MSBuild worker nodes or MSBuild server holding task assemblies from a temp dir we are about to delete.
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0

ok=0
start=$SECONDS
log() { printf '[e2e %4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
finish() {
  local rc=$?
  if ((rc == 0)) && [[ "${HYBRID_E2E_KEEP:-}" != 1 ]]; then rm -rf "$work"; else log "work dir kept: $work"; fi
  ((rc == 0)) && log "PASS: $ok checks in $((SECONDS - start)) s" || log "FAIL (exit $rc) after $ok checks"
}
trap finish EXIT
fail() { log "FAILED: $*"; exit 1; }
check() { ok=$((ok + 1)); log "ok: $*"; }
# expect_log <file> <extended regex> <what>
expect_log() { grep -Eq -- "$2" "$1" || { tail -n 40 "$1" >&2; fail "$3 (no match for /$2/ in $1)"; }; check "$3"; }
refuse_log() { ! grep -Eq -- "$2" "$1" || { grep -E -- "$2" "$1" | head -n 5 >&2; fail "$3 (unexpected /$2/ in $1)"; }; check "$3"; }
# run <log> <command...>: output to the log; on failure show its tail
run() { local out=$1; shift; "$@" >"$out" 2>&1 || { tail -n 60 "$out" >&2; fail "$* (see $out)"; }; }
build() { run "$1" dotnet build "$2" -nodeReuse:false -tl:off -v:n "${@:3}"; }
add_items() { # add_items <csproj> <xml lines...>: an <ItemGroup> before </Project>
  local proj=$1; shift
  python3 - "$proj" "$@" <<'PY'
import sys
path, lines = sys.argv[1], sys.argv[2:]
text = open(path).read()
block = "  <ItemGroup>\n" + "".join("    " + l + "\n" for l in lines) + "  </ItemGroup>\n"
open(path, "w").write(text.replace("</Project>", block + "</Project>", 1))
PY
}

log "work dir: $work"
mkdir -p "$feed"
# A local source next to the configured ones (nuget.org or its mirror), for every project below this folder.
cat >"$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="hybrid-local" value="$feed" />
  </packageSources>
</configuration>
XML

log "pack Hybrid"
run "$work/pack-hybrid.log" dotnet pack "$repo/msbuild/Hybrid.Package/Hybrid.Package.csproj" -c Release -o "$feed" \
  --artifacts-path "$work/artifacts" -nodeReuse:false -tl:off
[[ -f "$feed/Hybrid.$version.nupkg" ]] || fail "Hybrid.$version.nupkg was not produced"
check "packed Hybrid.$version.nupkg"
if [[ " ${lanes[*]} " == *" fody "* ]]; then
  log "pack Hybrid.Fody"
  run "$work/pack-fody.log" dotnet pack "$repo/msbuild/Hybrid.Fody/Hybrid.Fody.csproj" -c Release -o "$feed" \
    --artifacts-path "$work/artifacts" -nodeReuse:false -tl:off
  [[ -f "$feed/Hybrid.Fody.$version.nupkg" ]] || fail "Hybrid.Fody.$version.nupkg was not produced"
  check "packed Hybrid.Fody.$version.nupkg"
fi

new_pair() { # new_pair <dir> <lib> <tests>: a class library and an NUnit project that references it
  local dir=$1 lib=$2 tests=$3
  mkdir -p "$dir" && cd "$dir"
  run "$dir/new.log" dotnet new classlib -n "$lib" -o "$lib"
  run "$dir/new-tests.log" dotnet new nunit -n "$tests" -o "$tests"
  rm -f "$lib/Class1.cs" "$tests/UnitTest1.cs"
  run "$dir/ref.log" dotnet add "$tests/$tests.csproj" reference "$lib/$lib.csproj"
}

lane_patchable() {
  local d="$work/patchable"
  log "patchable: dotnet new classlib Shop + nunit Shop.Tests"
  new_pair "$d" Shop Shop.Tests
  cp "$scenarios/patchable/PriceList.cs" Shop/
  cp "$scenarios/patchable/CartTests.cs" Shop.Tests/
  run "$d/add1.log" dotnet add Shop/Shop.csproj package Hybrid --version $version
  run "$d/add2.log" dotnet add Shop.Tests/Shop.Tests.csproj package Hybrid --version $version
  add_items Shop/Shop.csproj '<Patchable Include="Shop.PriceList.PriceOf" />' '<Patchable Include="Shop.Cart.%2A" />'

  log "patchable: first build"
  build "$d/build1.log" Shop.Tests/Shop.Tests.csproj
  expect_log "$d/build1.log" 'Hybrid: wove 4 method\(s\) in Shop\.dll in [0-9]+ ms' "first build wove Shop.dll (PriceOf + Cart.* = 4 methods)"
  refuse_log "$d/build1.log" 'HYB0008|already woven' "no 'already woven' message"

  log "patchable: dotnet test"
  run "$d/test.log" dotnet test Shop.Tests/Shop.Tests.csproj -nodeReuse:false -tl:off -v:n --logger "console;verbosity=normal"
  expect_log "$d/test.log" 'Passed!? *[:-] *Failed: *0, Passed: *2|Total tests: 2' "dotnet test: 2 tests passed"
  expect_log "$d/test.log" 'e2e: redirected Shop.PriceList.PriceOf with strategy' "the test redirected a woven method"
  grep -Eo 'e2e: redirected .*' "$d/test.log" | head -n 1 >&2 || true
  refuse_log "$d/test.log" 'Hybrid: wove' "dotnet test after a build did not weave again"

  log "patchable: second build (no change)"
  build "$d/build2.log" Shop.Tests/Shop.Tests.csproj
  refuse_log "$d/build2.log" 'Hybrid: wove' "no-change rebuild: weaving skipped"
  expect_log "$d/build2.log" 'Skipping target "CoreCompile" because all output files are up-to-date' "no-change rebuild: CoreCompile skipped"
  refuse_log "$d/build2.log" 'HYB0008|already woven' "no 'already woven' message on rebuild"

  log "patchable: edit the Patchable list"
  sed -i 's|<Patchable Include="Shop.Cart.%2A" />|<Patchable Include="Shop.Cart.Total" />|' Shop/Shop.csproj
  build "$d/build3.log" Shop.Tests/Shop.Tests.csproj -v:d
  expect_log "$d/build3.log" 'Hybrid: wove 2 method\(s\) in Shop\.dll' "changed Patchable list: re-woven (2 methods)"
  # Isolation: the task's Mono.Cecil comes from the package's tasks/ folder, in the task's own load context.
  expect_log "$d/build3.log" "Hybrid: Mono.Cecil [0-9.]+ from .*/hybrid/$version/tasks/net8.0/Mono.Cecil.dll in load context '[^']*Hybrid.MSBuild.dll[^']*'" \
    "Mono.Cecil loaded from tasks/net8.0 in the task's own AssemblyLoadContext"
  grep -Eo "Hybrid: Mono.Cecil .*" "$d/build3.log" | head -n 1 >&2 || true

  log "patchable: diagnostics"
  add_items Shop/Shop.csproj '<Patchable Include="Shop.Cart.Totl" />'
  build "$d/build4.log" Shop/Shop.csproj
  expect_log "$d/build4.log" 'Shop\.csproj\([0-9]+,[0-9]+\): warning HYB0010: .*Shop\.Cart\.Totl.*Shop\.Cart\.Total' \
    "unmatched selector: warning HYB0010 on the csproj line, naming the closest method"
  expect_log "$d/build4.log" 'Hybrid: wove 2 method\(s\) in Shop\.dll' "unmatched selector: the others are still woven"
  sed -i 's|Include="Shop.Cart.Totl"|Include="Shop.Cart.T*"|' Shop/Shop.csproj
  if dotnet build Shop/Shop.csproj -nodeReuse:false -tl:off -v:n >"$d/build5.log" 2>&1; then fail "a raw '*' in Include must fail the build"; fi
  expect_log "$d/build5.log" 'Shop\.csproj.*error HYB0205: line [0-9]+: <Patchable Include="Shop.Cart.T\*" />.*%2A' "raw '*' in Include: error HYB0205 with the fix"
}

lane_references() {
  local d="$work/references"
  log "references: dotnet new classlib Billing + nunit Json.Tests, Newtonsoft.Json from NuGet"
  new_pair "$d" Billing Json.Tests
  cp "$scenarios/references/Billing.cs" Billing/
  cp "$scenarios/references/ReferenceTests.cs" Json.Tests/
  run "$d/add1.log" dotnet add Json.Tests/Json.Tests.csproj package Newtonsoft.Json --version 13.0.3
  run "$d/add2.log" dotnet add Json.Tests/Json.Tests.csproj package Hybrid --version $version
  add_items Json.Tests/Json.Tests.csproj \
    '<Patchable Include="Newtonsoft.Json.JsonConvert.SerializeObject(System.Object)" Assembly="Newtonsoft.Json" />' \
    '<Patchable Include="Billing.TaxTable.RateFor" Assembly="Billing" />'
  local cached
  cached="$(find "$NUGET_PACKAGES/newtonsoft.json/13.0.3/lib" -name Newtonsoft.Json.dll | sort)"
  sha256sum $cached >"$d/cache-before.sha256"

  log "references: first build"
  build "$d/build1.log" Json.Tests/Json.Tests.csproj
  expect_log "$d/build1.log" 'Hybrid: wove 1 method\(s\) in Newtonsoft\.Json\.dll' "NuGet assembly woven (Assembly=\"Newtonsoft.Json\")"
  expect_log "$d/build1.log" 'Hybrid: wove 1 method\(s\) in Billing\.dll' "project reference woven (Assembly=\"Billing\")"
  refuse_log "$d/build1.log" 'warning HYB' "no Hybrid warnings (strong-name removal is harmless on .NET and not reported)"

  log "references: dotnet test"
  run "$d/test.log" dotnet test Json.Tests/Json.Tests.csproj -nodeReuse:false -tl:off -v:n --logger "console;verbosity=normal"
  expect_log "$d/test.log" 'Passed!? *[:-] *Failed: *0, Passed: *2|Total tests: 2' "dotnet test: 2 tests passed"
  sha256sum --quiet -c "$d/cache-before.sha256" || fail "the NuGet cache copy of Newtonsoft.Json.dll changed"
  check "NuGet cache copy of Newtonsoft.Json.dll unchanged"
  local out
  out="$(find Json.Tests/bin -name Newtonsoft.Json.dll | head -n 1)"
  cmp -s "$out" "$(head -n 1 <<<"$cached")" && fail "bin/ has the un-woven Newtonsoft.Json.dll"
  check "bin/ holds the woven Newtonsoft.Json.dll"

  log "references: second build (no change)"
  build "$d/build2.log" Json.Tests/Json.Tests.csproj
  refuse_log "$d/build2.log" 'Hybrid: wove' "no-change rebuild: weaving skipped"
  expect_log "$d/build2.log" 'Hybrid: Newtonsoft\.Json\.dll is up to date; weaving skipped' "no-change rebuild: woven copy reused"

  log "references: diagnostics"
  add_items Json.Tests/Json.Tests.csproj '<Patchable Include="X.Y.Z" Assembly="Newtonsoft.Jsn" />'
  if dotnet build Json.Tests/Json.Tests.csproj -nodeReuse:false -tl:off -v:n >"$d/build3.log" 2>&1; then fail "an unknown Assembly= must fail the build"; fi
  expect_log "$d/build3.log" 'Json\.Tests\.csproj\([0-9]+,[0-9]+\): error HYB0201: .*Newtonsoft\.Jsn.*Closest copy-local references: Newtonsoft\.Json' \
    "unknown Assembly=: error HYB0201 on the csproj line, naming the closest reference"
}

lane_fody() {
  local d="$work/fody"
  log "fody: dotnet new classlib Shop + nunit Shop.Tests, Fody + Hybrid.Fody"
  new_pair "$d" Shop Shop.Tests
  cp "$scenarios/patchable/PriceList.cs" Shop/
  cp "$scenarios/patchable/CartTests.cs" Shop.Tests/
  cp "$scenarios/fody/Receipt.cs" Shop/
  cp "$scenarios/fody/ReceiptTests.cs" Shop.Tests/
  run "$d/add1.log" dotnet add Shop/Shop.csproj package Hybrid.Fody --version $version
  run "$d/add2.log" dotnet add Shop.Tests/Shop.Tests.csproj package Hybrid --version $version
  cp "$scenarios/fody/FodyWeavers.xml" Shop/

  log "fody: first build"
  build "$d/build1.log" Shop.Tests/Shop.Tests.csproj
  expect_log "$d/build1.log" 'Hybrid: wove 4 method\(s\) and 1 call site\(s\) in Shop\.dll' \
    "Fody add-in wove Shop.dll (PriceOf + Cart.* = 4 methods, and Receipt.Stamp's call of DateTime.UtcNow)"
  log "fody: dotnet test"
  run "$d/test.log" dotnet test Shop.Tests/Shop.Tests.csproj -nodeReuse:false -tl:off -v:n --logger "console;verbosity=normal"
  expect_log "$d/test.log" 'Passed!? *[:-] *Failed: *0, Passed: *3|Total tests: 3' "dotnet test: 3 tests passed (the faked clock included)"
  log "fody: second build (no change)"
  build "$d/build2.log" Shop.Tests/Shop.Tests.csproj
  refuse_log "$d/build2.log" 'Hybrid: wove' "no-change rebuild: weaving skipped"
}

lane_testing() {
  local d="$work/testing"
  log "testing: pack Hybrid.Testing, Hybrid.NUnit, Hybrid.Xunit, Hybrid.MSTest"
  local p
  for p in Hybrid.Testing Hybrid.NUnit Hybrid.Xunit Hybrid.MSTest; do
    run "$work/pack-$p.log" dotnet pack "$repo/testing/$p/$p.csproj" -c Release -o "$feed" \
      --artifacts-path "$work/artifacts" -nodeReuse:false -tl:off
    [[ -f "$feed/$p.$version.nupkg" ]] || fail "$p.$version.nupkg was not produced"
  done
  check "packed Hybrid.Testing, Hybrid.NUnit, Hybrid.Xunit, Hybrid.MSTest $version"

  log "testing: dotnet new classlib Calendar, <Patchable Include=\"Calendar.Clock.Year\" />"
  mkdir -p "$d" && cd "$d"
  run "$d/new-lib.log" dotnet new classlib -n Calendar -o Calendar
  rm -f Calendar/Class1.cs
  cp "$scenarios/testing/Calendar.cs" Calendar/
  run "$d/add-lib.log" dotnet add Calendar/Calendar.csproj package Hybrid --version $version
  add_items Calendar/Calendar.csproj '<Patchable Include="Calendar.Clock.Year" />'

  local fw t mode
  for fw in NUnit Xunit MSTest; do
    t="Calendar.$fw.Tests"
    case $fw in
      NUnit) run "$d/new-$fw.log" dotnet new nunit -n "$t" -o "$t"; rm -f "$t/UnitTest1.cs" ;;
      MSTest) run "$d/new-$fw.log" dotnet new mstest -n "$t" -o "$t"; rm -f "$t/Test1.cs" ;;
      Xunit) mkdir -p "$t"; cp "$scenarios/testing/Xunit.csproj" "$t/$t.csproj" ;; # the SDK's template is xUnit v2
    esac
    cp "$scenarios/testing/${fw}Tests.cs" "$t/"
    run "$d/ref-$fw.log" dotnet add "$t/$t.csproj" reference Calendar/Calendar.csproj
    log "testing: dotnet add $t package Hybrid.$fw"
    run "$d/add-$fw.log" dotnet add "$t/$t.csproj" package "Hybrid.$fw" --version $version
    check "$fw: the template's project restores with Hybrid.$fw added"
    build "$d/build-$fw.log" "$t/$t.csproj"
    [[ $fw != NUnit ]] || expect_log "$d/build-$fw.log" 'Hybrid: wove 1 method\(s\) in Calendar\.dll' "Calendar.Clock.Year woven (once: later builds find Calendar up to date)"
    for mode in native il wx; do
      local how=()
      case $mode in
        il) how=(env HYBRID_STRATEGY=il) ;;
        wx) how=(env HYBRID_HARDENED=1 "$repo/.ci/hardened.sh") ;;
      esac
      run "$d/test-$fw-$mode.log" "${how[@]}" dotnet test "$d/$t/$t.csproj" --no-build -nodeReuse:false -tl:off -v:n --logger "console;verbosity=normal"
      expect_log "$d/test-$fw-$mode.log" 'Passed!? *[:-] *Failed: *0, Passed: *2|Total tests: 2' "$fw ($mode): dotnet test passed both tests"
    done
  done
}

lane_tool() {
  local d="$work/tool"
  log "tool: pack hybrid-weave (Hybrid.Weaver.Cli), dotnet tool install as a local tool"
  run "$work/pack-cli.log" dotnet pack "$repo/weaver/Hybrid.Weaver.Cli/Hybrid.Weaver.Cli.csproj" -c Release -o "$feed" \
    --artifacts-path "$work/artifacts" -nodeReuse:false -tl:off
  [[ -f "$feed/Hybrid.Weaver.Cli.$version.nupkg" ]] || fail "Hybrid.Weaver.Cli.$version.nupkg was not produced"
  mkdir -p "$d" && cd "$d"
  # The CLI's tool resolver cache lives under DOTNET_CLI_HOME (~/.dotnet by default) and remembers where a tool
  # package was restored: an earlier run's entry points into its deleted temp dir and breaks `dotnet hybrid-weave`.
  local cli_home=${DOTNET_CLI_HOME-}
  export DOTNET_CLI_HOME="$work/cli-home"
  run "$d/manifest.log" dotnet new tool-manifest
  run "$d/install.log" dotnet tool install Hybrid.Weaver.Cli --version $version
  expect_log "$d/install.log" "hybrid-weave" "dotnet tool install Hybrid.Weaver.Cli: command hybrid-weave"

  run "$d/new-lib.log" dotnet new classlib -n Shop -o Shop
  rm -f Shop/Class1.cs
  cp "$scenarios/tool/Store.cs" Shop/
  build "$d/build-lib.log" Shop/Shop.csproj -c Release
  local dll
  dll=$(ls "$d"/Shop/bin/Release/net*/Shop.dll)
  # A selector that matches nothing must leave the assembly unwoven, so the corrected run still weaves.
  run "$d/weave-miss.log" dotnet hybrid-weave "$dll" --patchable System.IO.File.ReadAllText
  expect_log "$d/weave-miss.log" "warning HYB0015: selector 'System.IO.File.ReadAllText'" "hybrid-weave warns about a selector that matches nothing"
  expect_log "$d/weave-miss.log" "HYB0016: nothing was woven" "... and leaves the assembly unmarked"
  run "$d/weave.log" dotnet hybrid-weave "$dll" --patchable Shop.Store.IsOpen System.IO.File.ReadAllLines
  expect_log "$d/weave.log" "wove 1 method\(s\) and the call sites of 1 external method\(s\)" "hybrid-weave wove Shop.Store.IsOpen and the calls to File.ReadAllLines"
  run "$d/weave-again.log" dotnet hybrid-weave "$dll" --patchable Shop.Store.IsOpen
  expect_log "$d/weave-again.log" "HYB0008: already woven" "a second run says the assembly is already woven"

  # The woven Shop.dll, used as a plain reference by an app that redirects through its guards.
  run "$d/new-app.log" dotnet new console -n App -o App
  cp "$scenarios/tool/Program.cs" App/Program.cs
  run "$d/add-app.log" dotnet add App/App.csproj package Hybrid --version $version
  add_items App/App.csproj "<Reference Include=\"Shop\"><HintPath>$dll</HintPath></Reference>"
  build "$d/build-app.log" App/App.csproj -c Release
  run "$d/run-app.log" env HYBRID_STRATEGY=il dotnet run --project App/App.csproj -c Release --no-build
  expect_log "$d/run-app.log" "IsOpen\(midnight\)=True via ILDispatch" "the woven method is redirected through its IL guard"
  expect_log "$d/run-app.log" "Lines=faked via ILDispatch" "the woven call site of File.ReadAllLines is redirected"
  expect_log "$d/run-app.log" "after dispose IsOpen\(midnight\)=False" "disposed: the original runs"
  if [[ -n $cli_home ]]; then export DOTNET_CLI_HOME=$cli_home; else unset DOTNET_CLI_HOME; fi
}

for lane in "${lanes[@]}"; do
  "lane_$lane"
done
