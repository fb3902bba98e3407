using System.Linq;
using Hybrid.Arm64;
using Hybrid.CoreClr;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// The arm64 tier-up filter in front of the JIT, as GNU objdump reads it. (On CoreCLR arm64 the filter itself runs in
/// every compile of the engine suite's arm64 lane; HoldTests prove what it is for.)
/// </summary>
[TestFixture]
public class LinuxArm64JitFilterTests
{
    private const ulong At = 0x0000_0055_0000_0000;
    private const ulong Original = 0x0000_0055_1234_5678;
    private const ulong TableCell = 0x0000_0055_aaaa_0000;
    private const ulong Recent = 0x0000_0055_bbbb_0000;

    private static string[] Listing() =>
        Objdump.Disassemble(LinuxArm64JitFilter.Build(At, Original, TableCell, Recent, 256, TieringFreeze.NameWord(0), TieringFreeze.NameWord(8)), At)
            .Select(l => $"{l.Mnemonic} {l.Operands}".Trim()).ToArray();

    [Test]
    public void CallsTheJitThenDeclinesAHeldMethodOnlyOnTheTieringThread()
    {
        var code = Listing();
        // Labels as objdump prints them: absolute addresses.
        string A(int word) => $"0x{At + (ulong)word * 4:x}";
        var expected = new[]
        {
            "stp x29, x30, [sp, #-32]!",
            "mov x29, sp",
            "stp x19, x20, [sp, #16]",
            "ldr x19, [x2]",
            "mov x20, x4",
            $"ldr x16, {A(50)}",
            "blr x16",
            $"cbnz w0, {A(46)}",
            "sub sp, sp, #0x10",
            "mov x0, #0x10",
            "mov x1, sp",
            "mov x8, #0xa7",
            "svc #0x0",
            "ldr x9, [sp]",
            "ldr x10, [sp, #8]",
            "add sp, sp, #0x10",
            $"ldr x11, {A(52)}",
            "cmp x9, x11",
            $"b.ne {A(42)}",
            $"ldr x11, {A(54)}",
            "cmp x10, x11",
            $"b.ne {A(42)}",
            $"ldr x9, {A(56)}",
            "ldar x9, [x9]",
            "ldar x10, [x9]",
            $"cbz x10, {A(31)}",
            "ldr x11, [x9, x10, lsl #3]",
            "cmp x11, x19",
            $"b.eq {A(44)}",
            "sub x10, x10, #0x1",
            $"b {A(25)}",
            $"ldr x9, {A(58)}",
            "ldxr x10, [x9]",
            "add x11, x10, #0x1",
            "stlxr w12, x11, [x9]",
            $"cbnz w12, {A(32)}",
            "ubfx x10, x10, #0, #8",
            "add x10, x9, x10, lsl #4",
            "ldr x11, [x20]",
            "str x11, [x10, #16]",
            "add x12, x10, #0x8",
            "stlr x19, [x12]",
            "mov w0, #0x0",
            $"b {A(46)}",
            "mov w0, #0x4",
            "movk w0, #0x8000, lsl #16",
            // done:
        };
        Assert.That(code.Take(expected.Length), Is.EqualTo(expected));
        Assert.That(code.Skip(expected.Length).Take(4), Is.EqualTo(new[] { "ldp x19, x20, [sp, #16]", "ldp x29, x30, [sp], #32", "ret", "brk #0x0" }), "epilogue, then the pad before the literal pool");
    }

    [Test]
    public void LiteralPoolHoldsTheJitTheTablesAndTheWorkerName()
    {
        var bytes = LinuxArm64JitFilter.Build(At, Original, TableCell, Recent, 256, TieringFreeze.NameWord(0), TieringFreeze.NameWord(8));
        ulong Literal(int word) => Arm64Instructions.ReadUInt64(bytes, word * 4);
        Assert.That(Literal(50), Is.EqualTo(Original));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 52 * 4, 15), Is.EqualTo(".NET Tiered Com"));
        Assert.That(bytes[52 * 4 + 15], Is.EqualTo(0), "the comm field's NUL");
        Assert.That(Literal(56), Is.EqualTo(TableCell));
        Assert.That(Literal(58), Is.EqualTo(Recent));
        Assert.That(bytes.Length, Is.EqualTo(60 * 4));
    }
}
