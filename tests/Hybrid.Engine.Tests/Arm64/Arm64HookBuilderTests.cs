using System;
using System.Linq;
using Hybrid.Arm64;
using Hybrid.Patching;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// The engine's arm64 hook as GNU objdump reads it: one B at the entry, the dispatch stubs, the trampoline. (Arm64ExecutionTests
/// runs the same bytes under qemu.)
/// </summary>
[TestFixture]
public class Arm64HookBuilderTests
{
    private const ulong Body = 0x0000_0010_0000_1000;
    private const ulong Stub = Body - 0x7F0_0000;        // 127 MiB below: still one B away
    private const ulong Data = Stub + 0x1000;
    private const uint Prologue = 0xA9BF7BFD;            // stp x29, x30, [sp, #-16]!

    private static HookCode Build(StubFilter? filter, uint first = Prologue, ulong stub = Stub) =>
        Arm64HookBuilder.Build(unchecked((nint)Body), first, unchecked((nint)stub), unchecked((nint)(stub + 0x1000)), 0x1000, filter);

    private static string[] Text(byte[] bytes, ulong vma, int words) =>
        Objdump.Disassemble(bytes.Take(words * 4).ToArray(), vma).Select(l => $"{l.Mnemonic} {l.Operands}".Trim()).ToArray();

    [Test]
    public void Entry_patch_is_one_B_to_the_stub()
    {
        var code = Build(null);
        Assert.That(Text(code.EntryPatch, Body, 1), Is.EqualTo(new[] { $"b 0x{Stub:x}" }));
    }

    [Test]
    public void Plain_stub_loads_the_cell_and_branches()
    {
        var code = Build(null);
        Assert.That(Text(code.StubPage, Stub, 3), Is.EqualTo(new[] { $"ldr x16, 0x{Data + HookDataLayout.CellOffset:x}", "br x16", "brk #0x4859" }));
    }

    [Test]
    public void Trampoline_runs_the_first_instruction_then_branches_back()
    {
        var code = Build(null);
        Assert.That((ulong)code.Trampoline, Is.EqualTo(Stub + Arm64HookBuilder.TrampolineOffset));
        var page = code.StubPage.Skip(Arm64HookBuilder.TrampolineOffset).ToArray();
        Assert.That(Text(page, Stub + Arm64HookBuilder.TrampolineOffset, 2),
            Is.EqualTo(new[] { "stp x29, x30, [sp, #-16]!", $"b 0x{Body + 4:x}" }));
    }

    [Test]
    public void Trampoline_relocates_a_pc_relative_first_instruction()
    {
        // adr x0, .+0x100 at the body must still produce Body + 0x100 from the trampoline.
        uint adr = 0x10000800; // adr x0, #0x100
        var code = Build(null, adr);
        var page = code.StubPage.Skip(Arm64HookBuilder.TrampolineOffset).ToArray();
        var lines = Objdump.Disassemble(page.Take(32).ToArray(), Stub + Arm64HookBuilder.TrampolineOffset);
        ulong x0 = 0;
        foreach (var line in lines.TakeWhile(l => l.Mnemonic is "mov" or "movz" or "movk"))
        {
            var parts = line.Operands.Split(',').Select(p => p.Trim()).ToArray();
            Assert.That(parts[0], Is.EqualTo("x0"), line.ToString());
            ulong imm = Objdump.ParseNumber(parts[1].TrimStart('#'));
            int shift = parts.Length > 2 ? int.Parse(parts[2].Replace("lsl #", "")) : 0;
            x0 = line.Mnemonic == "movk" ? (x0 & ~(0xFFFFUL << shift)) | (imm << shift) : imm << shift;
        }
        Assert.That(x0, Is.EqualTo(Body + 0x100));
    }

    [Test]
    public void Filter_stub_walks_the_table_with_a_barrier_before_the_target_load()
    {
        var code = Build(new StubFilter(false, 1));
        ulong table = Data + HookDataLayout.TableOffset;
        ulong loop = Stub + 8, miss = Stub + 36;
        Assert.That(Text(code.StubPage, Stub, 11), Is.EqualTo(new[]
        {
            "add x17, x1, #0x0",  // mov x17, x1 (objdump shows the MOV alias only for SP)
            $"adr x16, 0x{table:x}",
            "ldr x9, [x16], #16",
            $"cbz x9, 0x{miss:x}",
            "cmp x9, x17",
            $"b.ne 0x{loop:x}",
            "dmb ishld",
            "ldur x16, [x16, #-8]",
            "br x16",
            $"b 0x{Stub + Arm64HookBuilder.TrampolineOffset:x}",
            "brk #0x4859",
        }));
    }

    [Test]
    public void This_filter_loads_the_method_table_from_x0()
    {
        var code = Build(new StubFilter(true, 0));
        Assert.That(Text(code.StubPage, Stub, 1), Is.EqualTo(new[] { "ldr x17, [x0]" }));
    }

    [Test]
    public void A_stub_out_of_B_range_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => Build(null, stub: Body + 0x800_0000));
        Assert.That(Arm64HookBuilder.Reaches(unchecked((nint)Body), unchecked((nint)(Body - 0x800_0000))), Is.True);
        Assert.That(Arm64HookBuilder.Reaches(unchecked((nint)Body), unchecked((nint)(Body + 0x800_0000))), Is.False);
    }
}
