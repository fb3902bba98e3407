using System.Collections.Generic;
using System.Linq;
using Hybrid.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

[TestFixture]
public class Arm64InstructionCacheTests
{
    // The intended routine, as GNU objdump prints it at address 0. Kept literal on purpose: this is the reviewable
    // statement of what the engine runs after every code write (Arm ARM B2.4, "Synchronization and coherency issues
    // between data and instruction accesses").
    private static readonly string[] ExpectedRoutine =
    {
        "mrs x2, ctr_el0",              // CTR_EL0 on every call (Linux may trap and return a sanitised value)
        "add x1, x0, x1",               // end = start + length
        "tbnz w2, #28, 0x34",           // IDC=1: no clean to PoU needed
        "ubfx x9, x2, #16, #4",         // DminLine
        "mov x12, #0x4",
        "lsl x9, x12, x9",              // D line bytes = 4 << DminLine
        "sub x11, x9, #0x1",
        "bic x10, x0, x11",             // first line
        "b 0x2c",
        "dc cvau, x10",
        "add x10, x10, x9",
        "cmp x10, x1",
        "b.cc 0x24",
        "dsb ish",                      // order the cleans (or, with IDC, the code stores) before the invalidates
        "tbnz w2, #29, 0x68",           // DIC=1: no I-cache invalidation needed
        "ubfx x9, x2, #0, #4",          // IminLine
        "mov x12, #0x4",
        "lsl x9, x12, x9",
        "sub x11, x9, #0x1",
        "bic x10, x0, x11",
        "b 0x5c",
        "ic ivau, x10",
        "add x10, x10, x9",
        "cmp x10, x1",
        "b.cc 0x54",
        "dsb ish",
        "isb",
        "ret",
    };

    [Test]
    public void Routine_disassembles_to_the_DC_DSB_IC_DSB_ISB_sequence()
    {
        var lines = Objdump.Disassemble(Arm64CacheMaintenanceRoutine.EmitBytes(), 0);
        var actual = lines.Select(l => (l.Mnemonic + " " + l.Operands).Trim()).ToArray();
        Assert.That(actual, Is.EqualTo(ExpectedRoutine), string.Join("\n", lines));
    }

    [Test]
    public void Probe_variant_differs_only_in_the_MRS_and_the_two_cache_operations()
    {
        var real = Arm64CacheMaintenanceRoutine.Emit();
        var probe = Arm64CacheMaintenanceRoutine.Emit(probe: true);
        var differing = Enumerable.Range(0, real.Length).Where(i => real[i] != probe[i]).ToArray();
        Assert.That(differing, Is.EqualTo(new[] { 0, 9, 21 }));
        var lines = Objdump.Disassemble(Arm64CacheMaintenanceRoutine.EmitBytes(probe: true), 0);
        Assert.That(lines[0].Mnemonic, Is.EqualTo("nop"));
        Assert.That(lines[9].Mnemonic + " " + lines[9].Operands, Is.EqualTo("str x10, [x3], #8"));
        Assert.That(lines[21].Mnemonic + " " + lines[21].Operands, Is.EqualTo("str x10, [x4], #8"));
    }

    [Test]
    public void Routine_uses_only_caller_saved_registers_and_no_stack()
    {
        // AAPCS64: x0-x18 are caller-saved (x16/x17/x18 excluded here anyway), so a leaf routine may clobber them freely.
        var lines = Objdump.Disassemble(Arm64CacheMaintenanceRoutine.EmitBytes(), 0);
        var registers = lines.SelectMany(l => System.Text.RegularExpressions.Regex.Matches(l.Operands, @"\b[xw](\d+)\b").Select(m => int.Parse(m.Groups[1].Value))).Distinct().OrderBy(r => r).ToArray();
        Assert.That(registers, Is.EqualTo(new[] { 0, 1, 2, 9, 10, 11, 12 }));
        Assert.That(lines.Any(l => l.Operands.Contains("sp")), Is.False);
    }

    [TestCase(0x8444C004UL, 64, 64, false, false)] // Cortex-A57/A72-style: 64-byte lines, full maintenance needed
    [TestCase(0x9444C004UL, 64, 64, true, false)]  // IDC set (Neoverse N1 class): no DC clean
    [TestCase(0xB444C004UL, 64, 64, true, true)]   // IDC+DIC: only the barriers
    [TestCase(0x84448003UL, 32, 64, false, false)] // 32-byte I lines, 64-byte D lines (mixed line sizes)
    public void Cache_type_fields_decode(ulong ctr, int iline, int dline, bool idc, bool dic)
    {
        var type = new Arm64CacheType(ctr);
        Assert.That(type.InstructionLineBytes, Is.EqualTo(iline));
        Assert.That(type.DataLineBytes, Is.EqualTo(dline));
        Assert.That(type.Idc, Is.EqualTo(idc));
        Assert.That(type.Dic, Is.EqualTo(dic));
    }

    [Test]
    public void Expected_maintenance_covers_partial_lines_at_both_ends()
    {
        var type = new Arm64CacheType(0x84448003UL); // I 32, D 64
        var dc = new List<ulong>();
        var ic = new List<ulong>();
        type.ExpectedMaintenance(0x1038, 0x50, dc, ic); // [0x1038, 0x1088)
        Assert.That(dc, Is.EqualTo(new ulong[] { 0x1000, 0x1040, 0x1080 }));
        Assert.That(ic, Is.EqualTo(new ulong[] { 0x1020, 0x1040, 0x1060, 0x1080 }));
    }

    [Test]
    public void Counting_flusher_records_and_forwards()
    {
        var inner = new CountingInstructionCacheFlusher();
        var outer = new CountingInstructionCacheFlusher(inner);
        outer.Flush(0x1000, 16);
        outer.Flush(0x2000, 4);
        Assert.That(outer.Count, Is.EqualTo(2));
        Assert.That(inner.Calls, Is.EqualTo(outer.Calls));
        Assert.That(outer.Covers(0x1004, 8), Is.True);
        Assert.That(outer.Covers(0x1008, 16), Is.False);
    }

    [Test]
    public void Arm64_flushers_are_never_chosen_off_arm64()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64)
            Assert.Ignore("running on arm64: the refusal path does not apply");
        Assert.That(Hybrid.Platform.Cpu, Is.Not.InstanceOf<Arm64Hooks>(), "arm64 code stores and flushes are never chosen here");
    }
}

/// <summary>
/// The choices the arm64 path makes per operating system, checked on every lane (macOS and Windows arm64 cannot run
/// here; docs/arm64.md says what was proven where).
/// </summary>
[TestFixture]
public class Arm64PlatformDecisionTests
{
    [Test]
    public void EachOsGetsItsDocumentedCacheMaintenance()
    {
        Assert.That(Arm64InstructionCache.FlusherFor(windows: false, mac: false), Is.EqualTo(Arm64FlusherKind.Linux));
        Assert.That(Arm64InstructionCache.FlusherFor(windows: false, mac: true), Is.EqualTo(Arm64FlusherKind.Mac));
        Assert.That(Arm64InstructionCache.FlusherFor(windows: true, mac: false), Is.EqualTo(Arm64FlusherKind.Windows));
    }

    [Test]
    public void MacJitWriteProtectionIsToggledOnlyOnMacWhereSupported()
    {
        int asked = 0;
        System.Func<bool> supported = () => { asked++; return true; };
        Assert.That(Arm64Hooks.CodeMemoryFor(macOS: true, supported), Is.InstanceOf<MacJitCodeMemory>());
        Assert.That(Arm64Hooks.CodeMemoryFor(macOS: true, () => false), Is.SameAs(WritableCodeMemory.Instance), "a process without MAP_JIT write protection");
        Assert.That(Arm64Hooks.CodeMemoryFor(macOS: false, supported), Is.SameAs(WritableCodeMemory.Instance));
        Assert.That(asked, Is.EqualTo(1), "pthread_jit_write_protect_supported_np is asked on macOS only (it exists nowhere else)");
    }
}
