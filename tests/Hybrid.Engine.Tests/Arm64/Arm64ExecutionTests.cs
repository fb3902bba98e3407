using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Hybrid.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// Runs the emitted bytes on an emulated arm64 CPU: tests/arm64/harness.c (static, under qemu-aarch64-static) maps
/// memory at the exact addresses the encoder was given, installs a function, overwrites its entry with the jump,
/// synchronises with the engine's own cache-maintenance routine, calls through and checks the value the target returns.
/// qemu keeps I/D coherent by itself, so these tests prove the bytes and the routine execute correctly — not that a
/// flush happened (<see cref="Arm64CodeWriterTests"/> covers that).
/// </summary>
[TestFixture]
[NonParallelizable]
public class Arm64ExecutionTests
{
    private const ulong FlushPage = 0x0000_0050_0000_0000;
    private const ulong ProbePage = 0x0000_0050_0001_0000;
    private const ulong Entry = 0x0000_0010_0000_1000;
    private const ulong OriginalMagic = 0x0BAD_C0DE_0BAD_C0DE;
    private const ulong TargetMagic = 0x5EED_F00D_CAFE_D00D;
    private const ulong Arg = 0x1234_5678;

    // Cortex-A57 reports CTR_EL0 = 0x8444c004 (IDC=0, DIC=0), so both maintenance loops really execute DC/IC.
    private static readonly string[] CpuModels = { "cortex-a57", "max", "a64fx" };

    private static IEnumerable<TestCaseData> JumpCases()
    {
        const long Max = (1L << 27) - 4;
        yield return new TestCaseData(Entry, Entry + (ulong)Max, Arm64JumpForms.Any, Arm64JumpForm.Branch).SetName("B to exactly +128MiB-4");
        yield return new TestCaseData(Entry, Entry - (1UL << 27), Arm64JumpForms.Any, Arm64JumpForm.Branch).SetName("B to exactly -128MiB");
        yield return new TestCaseData(Entry, Entry + (ulong)Max + 4, Arm64JumpForms.Any, Arm64JumpForm.LiteralLoad).SetName("one word past B range, literal");
        yield return new TestCaseData(Entry, Entry - (1UL << 27) - 4, Arm64JumpForms.Any, Arm64JumpForm.LiteralLoad).SetName("one word before B range, literal");
        yield return new TestCaseData(Entry + 4, 0x0000_0020_0000_0000UL, Arm64JumpForms.LiteralLoad, Arm64JumpForm.LiteralLoad).SetName("literal from 4-mod-8 entry with BRK pad");
        yield return new TestCaseData(Entry, 0x0000_3F12_3456_7000UL, Arm64JumpForms.MoveWide, Arm64JumpForm.MoveWide).SetName("MOVZ+2 MOVK far forward");
        yield return new TestCaseData(Entry + 4, 0x0000_3F12_3456_7000UL, Arm64JumpForms.Any, Arm64JumpForm.MoveWide).SetName("shortest from 4-mod-8 entry is MOVZ-MOVK");
        yield return new TestCaseData(Entry, 0x0000_2FFF_FFFF_F000UL, Arm64JumpForms.MoveWide, Arm64JumpForm.MoveWide).SetName("MOVK with a 0xFFFF halfword");
        yield return new TestCaseData(Entry, 0x0000_0000_1000_0000UL, Arm64JumpForms.Any, Arm64JumpForm.MoveWide).SetName("far backward, single MOVZ");
    }

    [TestCaseSource(nameof(JumpCases))]
    public void Jump_written_over_a_function_entry_lands_on_the_target(ulong entry, ulong target, object forms, object expected)
    {
        // (object: the enums are internal to the engine, and NUnit test methods must be public.)
        var seq = Arm64JumpEncoder.Encode(entry, target, (Arm64JumpForms)forms);
        Assert.That(seq.Form, Is.EqualTo((Arm64JumpForm)expected));
        var script = new Script();
        script.InstallFlushRoutine();
        script.Function(entry, OriginalMagic);
        script.Call(entry, Arg, Arg ^ OriginalMagic);
        script.Function(target, TargetMagic);
        script.Patch(entry, seq.ToBytes());
        script.Call(entry, Arg, Arg ^ TargetMagic);
        script.Run(CpuModels[0]);
    }

    [Test]
    public void Island_jump_lands_on_the_target_on_every_cpu_model()
    {
        ulong island = Entry + 0x400_0000;       // 64 MiB away: reachable by B
        ulong target = 0x0000_3F12_3456_7000UL;  // far: needs the absolute form in the island
        var islandSeq = Arm64JumpEncoder.Encode(island, target);
        var head = Arm64JumpEncoder.EncodeBranch(Entry, island);
        foreach (var cpu in CpuModels)
        {
            var script = new Script();
            script.InstallFlushRoutine();
            script.Function(Entry, OriginalMagic);
            script.Function(target, TargetMagic);
            script.Map(island & ~0xFFFUL, 0x2000);
            script.Write(island, islandSeq.ToBytes());          // tail first, flushed ...
            script.Protect(island & ~0xFFFUL, 0x2000, "rx");
            script.FlushWith(island, islandSeq.Length);
            script.Call(Entry, Arg, Arg ^ OriginalMagic);       // ... while the entry still runs the original
            script.Patch(Entry, head.ToBytes());                // then the single entry word
            script.Call(Entry, Arg, Arg ^ TargetMagic);
            script.Run(cpu);
        }
    }

    [Test]
    public void Retargeting_a_literal_jump_in_place_switches_the_destination()
    {
        ulong first = 0x0000_3F12_3456_7000UL, second = 0x0000_3F00_0000_1000UL;
        var seq = Arm64JumpEncoder.EncodeLiteral(Entry, first);
        var retargeted = Arm64JumpEncoder.EncodeLiteral(Entry, second);
        var script = new Script();
        script.InstallFlushRoutine();
        script.Function(Entry, OriginalMagic);
        script.Function(first, TargetMagic);
        script.Function(second, ~TargetMagic);
        script.Patch(Entry, seq.ToBytes());
        script.Call(Entry, Arg, Arg ^ TargetMagic);
        // Only the 8 literal bytes change (a data store; see Arm64CodeWriter.RetargetLiteral).
        script.Protect(Entry & ~0xFFFUL, 0x2000, "rw");
        script.Write(Entry + (ulong)seq.LiteralOffset, retargeted.ToBytes().Skip(seq.LiteralOffset).ToArray());
        script.Protect(Entry & ~0xFFFUL, 0x2000, "rx");
        script.Call(Entry, Arg, Arg ^ ~TargetMagic);
        script.Run("cortex-a57");
    }

    private static readonly (ulong Ctr, ulong Start, ulong Length)[] ProbeCases =
    {
        (0x8444C004, 0x0000_0010_0000_1000, 4),      // one word, 64-byte lines
        (0x8444C004, 0x0000_0010_0000_103C, 8),      // straddles a 64-byte line
        (0x84448003, 0x0000_0010_0000_1038, 0x50),   // I 32 / D 64: different line counts
        (0x86668006, 0x0000_0010_0000_10F8, 0x20),   // 256-byte lines (A64FX)
        (0x9444C004, 0x0000_0010_0000_1000, 0x100),  // IDC: no DC at all
        (0xA444C004, 0x0000_0010_0000_1000, 0x100),  // DIC: no IC at all
        (0xB444C004, 0x0000_0010_0000_1000, 0x100),  // IDC+DIC: barriers only
        (0x8444C004, 0x0000_0010_0000_1000, 0),      // empty range: nothing
        (0x80038003, 0x0000_0010_0000_0FE0, 0x44),   // qemu "max": 32-byte lines
    };

    [Test]
    public void Maintenance_loops_visit_exactly_the_lines_of_the_range()
    {
        var script = new Script();
        script.Map(ProbePage, 0x1000);
        script.Write(ProbePage, Arm64CacheMaintenanceRoutine.EmitBytes(probe: true));
        script.Protect(ProbePage, 0x1000, "rx");
        foreach (var (ctr, start, length) in ProbeCases)
            script.Line($"probe {ProbePage:x} {start:x} {length:x} {ctr:x}", outputLines: 2);
        var output = script.Run("max").Where(l => l.StartsWith("dc", StringComparison.Ordinal) || l.StartsWith("ic", StringComparison.Ordinal)).ToList();
        Assert.That(output.Count, Is.EqualTo(ProbeCases.Length * 2));
        for (int i = 0; i < ProbeCases.Length; i++)
        {
            var (ctr, start, length) = ProbeCases[i];
            var dc = new List<ulong>();
            var ic = new List<ulong>();
            new Arm64CacheType(ctr).ExpectedMaintenance(start, length, dc, ic);
            Assert.That(output[2 * i], Is.EqualTo(("dc " + string.Join(" ", dc.Select(a => a.ToString("x")))).Trim()), $"CTR 0x{ctr:x}, [0x{start:x}, +0x{length:x})");
            Assert.That(output[2 * i + 1], Is.EqualTo(("ic " + string.Join(" ", ic.Select(a => a.ToString("x")))).Trim()), $"CTR 0x{ctr:x}, [0x{start:x}, +0x{length:x})");
        }
    }

    [Test]
    public void Real_routine_runs_at_EL0_on_every_cpu_model()
    {
        foreach (var cpu in CpuModels)
        {
            var script = new Script();
            script.Line("ctr");
            script.InstallFlushRoutine();
            script.Map(Entry & ~0xFFFUL, 0x10000);
            script.Protect(Entry & ~0xFFFUL, 0x10000, "rx");
            script.FlushWith(Entry, 4);
            script.FlushWith(Entry + 0x3C, 0x8000);  // many lines, unaligned start
            script.FlushWith(Entry, 0);
            var output = script.Run(cpu);
            TestContext.Out.WriteLine($"{cpu}: {output[0]}");
        }
    }

    // ------------------------------------------------------------------ the engine's whole arm64 hook

    private const ulong StubPage = Entry + 0x200_0000; // 32 MiB from the body: within B range, as the engine allocates it
    private const ulong DataPage = StubPage + 0x1000;
    private const ulong Replacement = 0x0000_3F12_3456_7000UL; // far: reached through the data cell, not a branch

    /// <summary>The first word the harness's <c>target</c> function starts with (movz x9, #lo), as the engine would read it.</summary>
    private static uint FirstWordOfHarnessFunction(ulong magic) => 0xD2800000u | ((uint)(magic & 0xFFFF) << 5) | 9;

    private static void InstallHook(Script script, Hybrid.Patching.HookCode code, byte[] data)
    {
        script.Map(StubPage, 0x1000);
        script.Write(StubPage, code.StubPage);
        script.Protect(StubPage, 0x1000, "rx");
        script.FlushWith(StubPage, 0x1000);
        script.Map(DataPage, 0x1000);
        script.Write(DataPage, data);
        script.Patch(Entry, code.EntryPatch);
    }

    [Test]
    public void Hook_sends_the_body_to_the_cell_target_and_the_trampoline_runs_the_original()
    {
        var code = Arm64HookBuilder.Build(unchecked((nint)Entry), FirstWordOfHarnessFunction(OriginalMagic), unchecked((nint)StubPage), unchecked((nint)DataPage), 0x1000, null);
        Assert.That(code.EntryPatch, Has.Length.EqualTo(4), "one instruction at the entry");
        Assert.That(code.InteriorFixups, Is.Empty);
        var data = new byte[16];
        Arm64Instructions.WriteUInt64(data, Hybrid.Patching.HookDataLayout.CellOffset, Replacement);
        foreach (var cpu in CpuModels)
        {
            var script = new Script();
            script.InstallFlushRoutine();
            script.Function(Entry, OriginalMagic);
            script.Function(Replacement, TargetMagic);
            InstallHook(script, code, data);
            script.Call(Entry, Arg, Arg ^ TargetMagic);                      // body -> B stub -> LDR x16, cell -> replacement
            script.Call((ulong)code.Trampoline, Arg, Arg ^ OriginalMagic);   // relocated movz, then B back to body+4
            script.Patch(Entry, Arm64Instructions.ToBytes(new[] { FirstWordOfHarnessFunction(OriginalMagic) })); // dispose
            script.Call(Entry, Arg, Arg ^ OriginalMagic);
            script.Run(cpu);
        }
    }

    [Test]
    public void Shared_generic_filter_dispatches_on_the_key_register_and_falls_back_to_the_original()
    {
        // Hidden-argument filter on x0 (a static generic method: the context is the first argument). The harness's
        // functions return x0 ^ magic, so the key doubles as the argument.
        const ulong Wanted = 0x7777_0000, Other = 0x8888_0000, Removed = 0x9999_0000;
        var code = Arm64HookBuilder.Build(unchecked((nint)Entry), FirstWordOfHarnessFunction(OriginalMagic), unchecked((nint)StubPage), unchecked((nint)DataPage), 0x1000, new Hybrid.Patching.StubFilter(false, 0));
        var data = new byte[0x1000];
        int t = Hybrid.Patching.HookDataLayout.TableOffset;
        Arm64Instructions.WriteUInt64(data, t, 1);                 // a removed pair (key 1: never a MethodDesc) is skipped
        Arm64Instructions.WriteUInt64(data, t + 8, Removed);
        Arm64Instructions.WriteUInt64(data, t + 16, Wanted);
        Arm64Instructions.WriteUInt64(data, t + 24, Replacement);
        // key 0 ends the table
        var script = new Script();
        script.InstallFlushRoutine();
        script.Function(Entry, OriginalMagic);
        script.Function(Replacement, TargetMagic);
        InstallHook(script, code, data);
        script.Call(Entry, Wanted, Wanted ^ TargetMagic);
        script.Call(Entry, Other, Other ^ OriginalMagic);
        script.Run(CpuModels[0]);
    }

    [Test]
    public void This_method_table_filter_reads_the_key_from_the_object()
    {
        const ulong ObjectPage = 0x0000_0060_0000_0000, Wanted = 0x0000_0000_ABCD_0000, Other = 0x0000_0000_DCBA_0000;
        var code = Arm64HookBuilder.Build(unchecked((nint)Entry), FirstWordOfHarnessFunction(OriginalMagic), unchecked((nint)StubPage), unchecked((nint)DataPage), 0x1000, new Hybrid.Patching.StubFilter(true, 0));
        var data = new byte[0x1000];
        Arm64Instructions.WriteUInt64(data, Hybrid.Patching.HookDataLayout.TableOffset, Wanted);
        Arm64Instructions.WriteUInt64(data, Hybrid.Patching.HookDataLayout.TableOffset + 8, Replacement);
        var objects = new byte[16];
        Arm64Instructions.WriteUInt64(objects, 0, Wanted);    // object at ObjectPage: its MethodTable is the wanted key
        Arm64Instructions.WriteUInt64(objects, 8, Other);     // object at ObjectPage + 8: another instantiation
        var script = new Script();
        script.InstallFlushRoutine();
        script.Function(Entry, OriginalMagic);
        script.Function(Replacement, TargetMagic);
        InstallHook(script, code, data);
        script.Map(ObjectPage, 0x1000);
        script.Write(ObjectPage, objects);
        script.Call(Entry, ObjectPage, ObjectPage ^ TargetMagic);
        script.Call(Entry, ObjectPage + 8, (ObjectPage + 8) ^ OriginalMagic);
        script.Run(CpuModels[0]);
    }

    private sealed class Script
    {
        private readonly StringBuilder _text = new();
        private readonly List<(int Index, string Expected)> _expectations = new();
        private readonly HashSet<ulong> _mapped = new();
        private int _lines;

        /// <summary>Appends a command; <paramref name="outputLines"/> is how many lines the harness prints for it.</summary>
        public void Line(string line, int outputLines = 1)
        {
            _text.Append(line).Append('\n');
            _lines += outputLines;
        }

        public void Map(ulong page, ulong length)
        {
            for (ulong p = page; p < page + length; p += 0x1000)
                if (!_mapped.Add(p))
                    throw new InvalidOperationException($"page 0x{p:x} mapped twice in one script");
            Line($"map {page:x} {length:x}");
        }

        public void Write(ulong address, byte[] bytes) => Line($"write {address:x} {Convert.ToHexString(bytes)}");

        public void Protect(ulong page, ulong length, string mode) => Line($"protect {page:x} {length:x} {mode}");

        public void FlushWith(ulong address, int length) => Line($"flushwith {FlushPage:x} {address:x} {length:x}");

        public void InstallFlushRoutine()
        {
            Map(FlushPage, 0x1000);
            Write(FlushPage, Arm64CacheMaintenanceRoutine.EmitBytes());
            Protect(FlushPage, 0x1000, "rx");
        }

        /// <summary>A function returning x0 ^ magic at <paramref name="address"/>, in its own read+execute mapping.</summary>
        public void Function(ulong address, ulong magic)
        {
            ulong page = address & ~0xFFFUL;
            Map(page, 0x2000); // the function may run over the end of the first page
            Line($"target {address:x} {magic:x}");
            Protect(page, 0x2000, "rx");
        }

        /// <summary>Overwrite code with a W^X toggle, then synchronise with the engine's routine, as the engine does.</summary>
        public void Patch(ulong address, byte[] bytes)
        {
            ulong page = address & ~0xFFFUL;
            Protect(page, 0x2000, "rw");
            Write(address, bytes);
            Protect(page, 0x2000, "rx");
            FlushWith(address, bytes.Length);
        }

        public void Call(ulong address, ulong arg, ulong expected)
        {
            _expectations.Add((_lines, $"result {expected:x}"));
            Line($"call {address:x} {arg:x}");
        }

        public List<string> Run(string cpu)
        {
            var (output, transcript) = Arm64Tools.RunHarness(_text.ToString(), cpu, _lines);
            foreach (var (index, expected) in _expectations)
                Assert.That(output[index], Is.EqualTo(expected), $"line {index}\n" + transcript);
            return output;
        }
    }
}
