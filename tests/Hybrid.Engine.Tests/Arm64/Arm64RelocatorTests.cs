using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Hybrid.Arm64;
using NUnit.Framework;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// Every relocation is judged by GNU objdump, never by the engine's own decoders: the ORIGINAL word is disassembled at
/// its old address and the RELOCATED words at the new one, and the relocated sequence is executed symbolically from
/// objdump's text (MOVZ/MOVK arithmetic, literal reads, both sides of a condition). The two must branch to the same
/// address under the same condition, write the same value to the same register, or perform the same load from the same
/// address — and touch no register but the destination and x17. A second fixture runs both versions under qemu.
/// </summary>
[TestFixture]
public class Arm64RelocatorTests
{
    private const ulong From = 0x0000_0040_0000_1000; // 4 KiB aligned, far from 0 and from the top of the space
    private const ulong MiB = 1UL << 20;
    private const ulong Far = From + 200 * MiB;       // beyond B/BL reach of From
    private const ulong FarBack = From - 200 * MiB;
    private const long Max = (1L << 27) - 4;

    private static IEnumerable<TestCaseData> Cases()
    {
        // (word, from, to, mnemonic objdump must print for the original, expected relocated length or 0 = any > 1)
        TestCaseData C(uint word, ulong from, ulong to, string mnemonic, int words, string name) =>
            new TestCaseData(word, from, to, mnemonic, words).SetName(name);

        // B / BL
        yield return C(B(From, From + 16 * MiB), From, From + 0x1000, "b", 1, "B +16MiB, moved 4KiB: one B");
        yield return C(B(From, From - 4 * MiB), From, Far, "b", 0, "B -4MiB, moved +200MiB: absolute jump");
        yield return C(B(From, From + 4 * MiB), From, Far + 4, "b", 0, "B moved to a 4-mod-8 address: absolute jump");
        yield return C(B(From, From + 16 * MiB), From, From + 16 * MiB - (ulong)Max, "b", 1, "B exactly +128MiB-4 from the new address");
        yield return C(B(From, From + 16 * MiB), From, From + 16 * MiB - (ulong)Max - 4, "b", 0, "B one word past reach from the new address");
        yield return C(B(From, From - 64 * MiB), From, FarBack, "b", 0, "B moved -200MiB");
        yield return C(Bl(From, From + 16 * MiB), From, From + 0x1000, "bl", 1, "BL in range: one BL");
        yield return C(Bl(From, From + 16 * MiB), From, Far, "bl", 0, "BL out of range: MOVZ-MOVK x17, BLR x17");
        yield return C(Bl(From, From - 64 * MiB), From, FarBack, "bl", 0, "BL negative, out of range");

        // B.cond / BC.cond (cond: 0 EQ, 1 NE, 11 LT, 12 GT, 14 AL)
        yield return C(BCond(1, From, From + 0x8000), From, From + 0x1000, "b.ne", 1, "B.NE fits: re-encoded");
        yield return C(BCond(1, From, From + 0x8000), From, Far, "b.ne", 0, "B.NE does not fit: skip over absolute jump");
        yield return C(BCond(11, From, From - 0x4_0000), From, Far, "b.lt", 0, "B.LT negative offset, does not fit");
        yield return C(BCond(12, From, From + 0x8000), From, From + 2 * MiB, "b.gt", 3, "B.GT out of imm19, in B range: three words");
        yield return C(BCond(0, From, From - 0x8000), From, From - 0x8000 + MiB, "b.eq", 1, "B.EQ exactly -1MiB from the new address");
        yield return C(BCond(0, From, From - 0x8000), From, From - 0x8000 + MiB + 4, "b.eq", 3, "B.EQ one word past -1MiB");
        yield return C(BcCond(0, From, From + 0x8000), From, Far, "bc.eq", 0, "BC.EQ keeps the consistent hint");
        yield return C(BcCond(0, From, From + 0x8000), From, From + 0x1000, "bc.eq", 1, "BC.EQ fits: re-encoded");
        yield return C(BCond(14, From, From + 0x8000), From, Far, "b.al", 0, "B.AL (no inverse condition) does not fit");

        // CBZ / CBNZ
        yield return C(CompareBranch(false, false, 3, From, From + 0x8000), From, From + 0x1000, "cbz", 1, "CBZ W3 fits");
        yield return C(CompareBranch(true, true, 3, From, From + 0x8000), From, Far, "cbnz", 0, "CBNZ X3 does not fit");
        yield return C(CompareBranch(false, true, 0, From, From - 0xF_FFFC), From, Far, "cbz", 0, "CBZ X0 negative offset, does not fit");
        yield return C(CompareBranch(true, false, 30, From, From + 0x4_0000), From, FarBack, "cbnz", 0, "CBNZ W30 moved -200MiB");
        yield return C(CompareBranch(false, true, 9, From, From + 0x4_0000), From, From + 2 * MiB, "cbz", 3, "CBZ X9 out of imm19, in B range");

        // TBZ / TBNZ
        yield return C(TestBit(false, 5, 3, From, From + 0x4000), From, From + 0x1000, "tbz", 1, "TBZ W5 #3 fits");
        yield return C(TestBit(true, 5, 40, From, From + 0x4000), From, From + 0x1_0000, "tbnz", 3, "TBNZ X5 #40 out of imm14, in B range");
        yield return C(TestBit(false, 0, 63, From, From - 0x8000), From, Far, "tbz", 0, "TBZ X0 #63 negative offset, does not fit");
        yield return C(TestBit(true, 7, 0, From, From + 0x7FFC), From, FarBack, "tbnz", 0, "TBNZ W7 #0 moved -200MiB");
        yield return C(TestBit(false, 1, 2, From, From + 0x7FFC), From, From + 0x7FFC + 0x8000, "tbz", 1, "TBZ exactly -32KiB from the new address");
        yield return C(TestBit(false, 1, 2, From, From + 0x7FFC), From, From + 0x7FFC - 0x8000 + 4, "tbz", 1, "TBZ exactly +32KiB-4 from the new address");
        yield return C(TestBit(false, 1, 2, From, From + 0x7FFC), From, From + 0x7FFC - 0x8000, "tbz", 3, "TBZ one word past +32KiB-4");

        // ADR / ADRP: the exact value, with MOVZ/MOVK
        yield return C(Adr(3, From, From + 0x1235), From, Far, "adr", 2, "ADR X3 odd positive offset");
        yield return C(Adr(0, From, From - 0xF_FFFF), From, FarBack, "adr", 3, "ADR X0 negative offset");
        yield return C(Adr(9, 0x0000_FFFF_0000_1000, 0x0000_FFFF_0000_1010), 0x0000_FFFF_0000_1000, From, "adr", 2, "ADR value with a zero and a 0xFFFF halfword");
        yield return C(Adr(31, From, From + 0x40), From, Far, "adr", 1, "ADR XZR is a NOP");
        yield return C(Adrp(4, From + 0xFFC, From + 0x1000), From + 0xFFC, Far, "adrp", 2, "ADRP from a page's last word to the next page");
        yield return C(Adrp(4, From + 0xFFC, From + 0xFFC), From + 0xFFC, From + 0x1000, "adrp", 2, "ADRP moved one word into the next page");
        yield return C(Adrp(1, From, From - 0x1234_5000), From, Far, "adrp", 0, "ADRP negative pages");
        yield return C(Adrp(2, 0x0000_0000_FFFF_F000, 0x0000_0001_0000_0000), 0x0000_0000_FFFF_F000, From, "adrp", 1, "ADRP across 4GiB: one MOVZ lsl 32");
        yield return C(Adrp(2, 0x0000_FFFF_0010_0000, 0x0000_FFFF_0000_0000), 0x0000_FFFF_0010_0000, From, "adrp", 1, "ADRP value 0xFFFF lsl 32 only");

        // Load register (literal)
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrW, 1, From, From + 0x100), From, Far, "ldr", 3, "LDR W1 literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrX, 2, From, From - 0x100), From, Far, "ldr", 3, "LDR X2 literal negative offset");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrX, 2, From, From + 0x100), From, From + 0x1000, "ldr", 3, "LDR X2 literal, moved only 4KiB");
        yield return C(LoadLiteral(Arm64LiteralLoad.Ldrsw, 5, From, From + 0xF_FFFC), From, FarBack, "ldrsw", 4, "LDRSW X5 literal at +1MiB-4");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrS, 1, From, From + 0x10), From, Far, "ldr", 3, "LDR S1 literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrD, 2, From, From - MiB), From, Far, "ldr", 4, "LDR D2 literal at -1MiB");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrQ, 3, From, From + 0x20), From, Far, "ldr", 3, "LDR Q3 literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.Prfm, 0, From, From + 0x40), From, Far, "prfm", 3, "PRFM PLDL1KEEP literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.Prfm, 0x1F, From, From + 0x40), From, Far, "prfm", 3, "PRFM #0x1f literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrX, 31, From, From + 0x8), From, Far, "ldr", 3, "LDR XZR literal goes through x17");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrX, 17, From, From + 0x8), From, Far, "ldr", 3, "LDR X17 literal");
        yield return C(LoadLiteral(Arm64LiteralLoad.LdrW, 0, 0x0000_0000_0010_0000, 0x0000_0000_0010_0008), 0x0000_0000_0010_0000, Far, "ldr", 3, "LDR W0 literal with two zero halfwords");

        // Not PC-relative: copied as is
        yield return C(0xA9BF7BFDu, From, Far, "stp", 1, "STP x29, x30, [sp, #-16]! copied");
        yield return C(0xD10083FFu, From, Far, "sub", 1, "SUB sp, sp, #0x20 copied");
        yield return C(0x910003FDu, From, Far, "mov", 1, "MOV x29, sp copied");
        yield return C(0xD503233Fu, From, Far, "paciasp", 1, "PACIASP copied");
        yield return C(0xD503245Fu, From, Far, "bti", 1, "BTI c copied");
        yield return C(0xF9400020u, From, Far, "ldr", 1, "LDR x0, [x1] copied");
        yield return C(Blr(17), From, Far, "blr", 1, "BLR x17 copied (returns into the trampoline)");
        yield return C(Nop, From, Far, "nop", 1, "NOP copied");
    }

    [TestCaseSource(nameof(Cases))]
    public void Relocated_code_does_what_the_original_did(uint word, ulong from, ulong to, string mnemonic, int expectedWords)
    {
        var original = Objdump.Disassemble(BitConverter.GetBytes(word), from).Single();
        Assert.That(original.Mnemonic, Is.EqualTo(mnemonic), "test data: the original is not what the case says: " + original);

        uint[] relocated = Arm64Relocator.Relocate(word, from, to);
        byte[] bytes = ToBytes(relocated);
        var lines = Objdump.Disassemble(bytes, to);
        string listing = $"original  {original}\nrelocated\n  " + string.Join("\n  ", lines);
        if (expectedWords > 0)
            Assert.That(relocated.Length, Is.EqualTo(expectedWords), listing);
        else
            Assert.That(relocated.Length, Is.GreaterThan(1), listing);
        foreach (var l in lines)
            Assert.That(l.Operands, Does.Not.Match(@"\b[xw]16\b"), "x16 belongs to the trampoline's jump back\n" + listing);

        ulong end = to + (ulong)bytes.Length;
        string[] ops = Operands(original);
        switch (Classify(original))
        {
            case Kind.Branch:
            {
                ulong target = Objdump.ParseNumber(ops.Last());
                var run = Execute(lines, bytes, to, taken: true);
                Assert.That(run.Exit, Is.EqualTo(target), listing);
                Assert.That(run.Linked, Is.EqualTo(original.Mnemonic == "bl"), listing);
                if (run.Linked)
                    Assert.That(run.Lr, Is.EqualTo(end), "BL must return to the word after the relocated sequence\n" + listing);
                Assert.That(run.Conditions, Is.Empty, listing);
                AssertOnlyWrote(run, listing);
                break;
            }
            case Kind.Conditional:
            {
                ulong target = Objdump.ParseNumber(ops.Last());
                string condition = Condition(original);
                var taken = Execute(lines, bytes, to, taken: true);
                var notTaken = Execute(lines, bytes, to, taken: false);
                Assert.That(taken.Exit, Is.EqualTo(target), "taken: " + listing);
                Assert.That(notTaken.Exit, Is.EqualTo(end), "not taken must fall through: " + listing);
                Assert.That(taken.Conditions, Is.EqualTo(new[] { condition }), listing);
                Assert.That(notTaken.Conditions, Is.EqualTo(new[] { condition }), listing);
                Assert.That(taken.Linked || notTaken.Linked, Is.False, listing);
                AssertOnlyWrote(taken, listing);
                AssertOnlyWrote(notTaken, listing);
                if (relocated.Length == 1)
                    Assert.That(lines[0].Mnemonic, Is.EqualTo(original.Mnemonic), listing);
                break;
            }
            case Kind.Address:
            {
                string rd = ops[0];
                ulong value = Objdump.ParseNumber(ops[1]);
                var run = Execute(lines, bytes, to, taken: true);
                Assert.That(run.Exit, Is.EqualTo(end), listing);
                if (rd == "xzr")
                {
                    AssertOnlyWrote(run, listing);
                    break;
                }
                Assert.That(run.Regs.TryGetValue(rd, out ulong got), Is.True, $"{rd} not written\n" + listing);
                Assert.That(got, Is.EqualTo(value), $"{rd} = 0x{got:x}, original computed 0x{value:x}\n" + listing);
                AssertOnlyWrote(run, listing, rd);
                Assert.That(run.Loads, Is.Empty, listing);
                break;
            }
            case Kind.LiteralLoad:
            {
                ulong address = Objdump.ParseNumber(ops[1]);
                var run = Execute(lines, bytes, to, taken: true);
                Assert.That(run.Exit, Is.EqualTo(end), listing);
                Assert.That(run.Loads, Is.EqualTo(new[] { $"{original.Mnemonic} {ops[0]} [0x{address:x}]" }), listing);
                AssertOnlyWrote(run, listing, original.Mnemonic == "prfm" ? null : ToX(ops[0]));
                break;
            }
            default:
                Assert.That(relocated, Is.EqualTo(new[] { word }), listing);
                Assert.That(lines[0].ToString(), Is.EqualTo(original.ToString().Replace($"{from:x}:", $"{to:x}:")), listing);
                break;
        }
        Assert.That(Arm64Relocator.IsPcRelative(word), Is.EqualTo(Classify(original) != Kind.Copied), "IsPcRelative");
    }

    [Test]
    public void IsPcRelative_agrees_with_the_encoding_tables()
    {
        var pcRelative = new[]
        {
            0x14000000u, 0x17FFFFFFu, 0x94000001u, 0x54000001u, 0x54FFFFF0u, 0x34000003u, 0xB5FFFFE3u, 0x36180205u,
            0xB7400205u, 0x300091A3u, 0x90000004u, 0x18000801u, 0x58FFF802u, 0x98000045u, 0x1C000081u, 0x5C000082u,
            0x9C000083u, 0xD8000100u,
            0xDC000000u, // Load register (literal) opc=11 V=1: unallocated, but in a PC-relative class
            0x74052005u, // FEAT_CMPBR cbgt w5, w5, #-1024
        };
        var notPcRelative = new[]
        {
            0xA9BF7BFDu, 0xD10083FFu, 0x910003FDu, Ret, Nop, 0xD63F0220u, 0xD61F0200u, 0xF9400020u, 0xB9400221u,
            0x3DC00223u, 0xF9800223u, 0xD2824680u, 0xF2BFFFE0u, 0xD503233Fu, 0xD503245Fu, 0x7100001Fu, 0xD4200000u,
        };
        foreach (uint w in pcRelative)
            Assert.That(Arm64Relocator.IsPcRelative(w), Is.True, $"0x{w:x8}");
        foreach (uint w in notPcRelative)
        {
            Assert.That(Arm64Relocator.IsPcRelative(w), Is.False, $"0x{w:x8}");
            Assert.That(Arm64Relocator.Relocate(w, From, Far), Is.EqualTo(new[] { w }), $"0x{w:x8}");
        }
    }

    [Test]
    public void Unknown_pc_relative_encodings_are_refused_naming_the_word()
    {
        // cbgt w5, w5, #-1024 (FEAT_CMPBR, Armv9.6): PC-relative, not in the base tables, unknown to binutils 2.40.
        var ex = Assert.Throws<NotSupportedException>(() => Arm64Relocator.Relocate(0x74052005u, From, Far));
        Assert.That(ex!.Message, Does.Contain("0x74052005"));
        // Load register (literal), opc=11 V=1: unallocated.
        ex = Assert.Throws<NotSupportedException>(() => Arm64Relocator.Relocate(0xDC000040u, From, Far));
        Assert.That(ex!.Message, Does.Contain("0xdc000040"));
    }

    [Test]
    public void Misaligned_addresses_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Arm64Relocator.Relocate(Nop, From + 2, Far));
        Assert.Throws<ArgumentException>(() => Arm64Relocator.Relocate(Nop, From, Far + 1));
    }

    [TestCase(0x0000_0000_0000_0000UL, 1)]
    [TestCase(0x0000_0000_0000_1234UL, 1)]
    [TestCase(0x0000_FFFF_0000_0000UL, 1)]
    [TestCase(0x0000_FFFF_0000_1010UL, 2)]
    [TestCase(0xFFFF_0000_0000_FFFFUL, 2)]
    [TestCase(0x1234_0000_5678_0000UL, 2)]
    [TestCase(0x0000_7FFF_F7A0_1230UL, 3)]
    [TestCase(0xFFFF_FFFF_FFFF_FFFFUL, 4)]
    [TestCase(0x1234_5678_9ABC_DEF0UL, 4)]
    public void MoveImmediate64_skips_exactly_the_zero_halfwords(ulong value, int words)
    {
        uint[] seq = MoveImmediate64(Ip1, value);
        Assert.That(seq.Length, Is.EqualTo(words));
        var lines = Objdump.Disassemble(ToBytes(seq), From);
        var run = Execute(lines, ToBytes(seq), From, taken: true);
        Assert.That(run.Regs["x17"], Is.EqualTo(value), string.Join("\n", lines));
        Assert.That(run.Written, Is.EquivalentTo(new[] { "x17" }));
    }

    [Test]
    public void New_encoders_match_objdump()
    {
        var cases = new (uint Word, string Expected)[]
        {
            (CompareBranch(false, false, 3, From, From + 0x100), $"cbz w3, 0x{From + 0x100:x}"),
            (CompareBranch(true, true, 30, From, From - MiB), $"cbnz x30, 0x{From - MiB:x}"),
            (CompareBranch(false, true, 0, From, From + MiB - 4), $"cbz x0, 0x{From + MiB - 4:x}"),
            (BcCond(1, From, From - 4), $"bc.ne 0x{From - 4:x}"),
            (LoadLiteral(Arm64LiteralLoad.LdrW, 1, From, From + 8), $"ldr w1, 0x{From + 8:x}"),
            (LoadLiteral(Arm64LiteralLoad.LdrS, 1, From, From + 8), $"ldr s1, 0x{From + 8:x}"),
            (LoadLiteral(Arm64LiteralLoad.LdrX, 2, From, From - MiB), $"ldr x2, 0x{From - MiB:x}"),
            (LoadLiteral(Arm64LiteralLoad.LdrD, 2, From, From + 8), $"ldr d2, 0x{From + 8:x}"),
            (LoadLiteral(Arm64LiteralLoad.Ldrsw, 5, From, From + MiB - 4), $"ldrsw x5, 0x{From + MiB - 4:x}"),
            (LoadLiteral(Arm64LiteralLoad.LdrQ, 3, From, From + 8), $"ldr q3, 0x{From + 8:x}"),
            (LoadLiteral(Arm64LiteralLoad.Prfm, 2, From, From + 8), $"prfm pldl2keep, 0x{From + 8:x}"),
            (LoadBase(Arm64LiteralLoad.LdrW, 1, 17), "ldr w1, [x17]"),
            (LoadBase(Arm64LiteralLoad.LdrS, 1, 17), "ldr s1, [x17]"),
            (LoadBase(Arm64LiteralLoad.LdrX, 2, 2), "ldr x2, [x2]"),
            (LoadBase(Arm64LiteralLoad.LdrD, 2, 17), "ldr d2, [x17]"),
            (LoadBase(Arm64LiteralLoad.Ldrsw, 5, 5), "ldrsw x5, [x5]"),
            (LoadBase(Arm64LiteralLoad.LdrQ, 31, 17), "ldr q31, [x17]"),
            (LoadBase(Arm64LiteralLoad.Prfm, 0x11, 17), "prfm pstl1strm, [x17]"),
        };
        foreach (var (word, expected) in cases)
        {
            var line = Objdump.Disassemble(BitConverter.GetBytes(word), From).Single();
            Assert.That(line.Mnemonic + " " + line.Operands, Is.EqualTo(expected), $"0x{word:x8}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => CompareBranch(false, true, 0, From, From + MiB));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadLiteral(Arm64LiteralLoad.LdrX, 0, From, From - MiB - 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadLiteral(Arm64LiteralLoad.Unallocated, 0, From, From));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadBase(Arm64LiteralLoad.LdrX, 0, 31));
    }

    // ------------------------------------------------------------------ symbolic execution of objdump's text

    private enum Kind
    {
        Copied,
        Branch,
        Conditional,
        Address,
        LiteralLoad,
    }

    private static Kind Classify(ObjdumpLine l)
    {
        string m = l.Mnemonic;
        if (m == "b" || m == "bl")
            return Kind.Branch;
        if (m.StartsWith("b.", StringComparison.Ordinal) || m.StartsWith("bc.", StringComparison.Ordinal) || m is "cbz" or "cbnz" or "tbz" or "tbnz")
            return Kind.Conditional;
        if (m is "adr" or "adrp")
            return Kind.Address;
        if ((m is "ldr" or "ldrsw" or "prfm") && !Operands(l)[1].StartsWith("[", StringComparison.Ordinal))
            return Kind.LiteralLoad;
        return Kind.Copied;
    }

    private static string[] Operands(ObjdumpLine l) =>
        l.Operands.Length == 0 ? Array.Empty<string>() : l.Operands.Split(',').Select(s => s.Trim()).ToArray();

    /// <summary>What a conditional branch tests: its mnemonic and every operand but the target.</summary>
    private static string Condition(ObjdumpLine l)
    {
        var ops = Operands(l);
        return (l.Mnemonic + " " + string.Join(", ", ops.Take(ops.Length - 1))).Trim();
    }

    private static string ToX(string reg) => reg.StartsWith("w", StringComparison.Ordinal) ? "x" + reg.Substring(1) : reg;

    private static void AssertOnlyWrote(Outcome run, string listing, string? destination = null)
    {
        var allowed = new HashSet<string> { "x17" };
        if (destination != null)
            allowed.Add(destination);
        Assert.That(run.Written, Is.SubsetOf(allowed), "clobbered a register other than the destination and x17\n" + listing);
    }

    private sealed class Outcome
    {
        public ulong Exit;
        public bool Linked;
        public ulong Lr;
        public readonly Dictionary<string, ulong> Regs = new();
        public readonly HashSet<string> Written = new();
        public readonly List<string> Loads = new();
        public readonly List<string> Conditions = new();
    }

    /// <summary>
    /// Runs the sequence from its first word using only objdump's text (and the raw bytes for an inline literal).
    /// Every conditional branch goes the way <paramref name="taken"/> says. Leaving the sequence — by a branch
    /// elsewhere or by falling off its end — stops the run; <see cref="Outcome.Exit"/> is where control went.
    /// </summary>
    private static Outcome Execute(List<ObjdumpLine> lines, byte[] bytes, ulong vma, bool taken)
    {
        var o = new Outcome();
        ulong end = vma + (ulong)bytes.Length;
        ulong pc = vma;
        for (int steps = 0; steps < 32; steps++)
        {
            if (pc == end)
            {
                o.Exit = end;
                return o;
            }
            Assert.That(pc >= vma && pc < end, $"pc 0x{pc:x} outside the sequence");
            var l = lines[(int)((pc - vma) / 4)];
            string[] ops = Operands(l);
            ulong next = pc + 4;
            string m = l.Mnemonic;
            bool conditional = m.StartsWith("b.", StringComparison.Ordinal) || m.StartsWith("bc.", StringComparison.Ordinal) || m is "cbz" or "cbnz" or "tbz" or "tbnz";
            if (conditional)
                o.Conditions.Add(Condition(l));
            if (m == "b" || (conditional && taken))
            {
                next = Objdump.ParseNumber(ops.Last());
            }
            else if (conditional)
            {
                // falls through
            }
            else
            {
                switch (m)
                {
                    case "nop":
                        break;
                    case "bl":
                        o.Linked = true;
                        o.Lr = pc + 4;
                        o.Exit = Objdump.ParseNumber(ops[0]);
                        return o;
                    case "br":
                    case "blr":
                        Assert.That(o.Regs.ContainsKey(ops[0]), $"{m} {ops[0]} before it was set: {l}");
                        o.Linked = m == "blr";
                        o.Lr = pc + 4;
                        o.Exit = o.Regs[ops[0]];
                        return o;
                    case "mov":
                    case "movz":
                        Write(o, ops[0], Objdump.ParseNumber(ops[1]) << Shift(ops));
                        break;
                    case "movn":
                        Write(o, ops[0], ~(Objdump.ParseNumber(ops[1]) << Shift(ops)));
                        break;
                    case "movk":
                    {
                        int shift = Shift(ops);
                        Assert.That(o.Regs.ContainsKey(ops[0]), $"movk before mov: {l}");
                        Write(o, ops[0], (o.Regs[ops[0]] & ~(0xFFFFUL << shift)) | (Objdump.ParseNumber(ops[1]) << shift));
                        break;
                    }
                    case "ldr":
                    case "ldrsw":
                    case "prfm":
                        if (ops[1].StartsWith("[", StringComparison.Ordinal))
                        {
                            string rn = ops[1].Trim('[', ']');
                            Assert.That(ops.Length, Is.EqualTo(2), $"only the #0 unsigned-offset form is expected: {l}");
                            Assert.That(o.Regs.ContainsKey(rn), $"load through {rn} before it was set: {l}");
                            o.Loads.Add($"{m} {ops[0]} [0x{o.Regs[rn]:x}]");
                            if (m != "prfm")
                                Forget(o, ops[0]);
                        }
                        else
                        {
                            ulong literal = Objdump.ParseNumber(ops[1]);
                            if (literal >= vma && literal < end)
                            {
                                // An inline literal (absolute jump): 8 bytes inside the sequence, 8-aligned.
                                Assert.That(m, Is.EqualTo("ldr"));
                                Assert.That(literal % 8, Is.EqualTo(0UL), $"inline literal 0x{literal:x} must be 8-aligned");
                                Assert.That(literal + 8, Is.LessThanOrEqualTo(end));
                                Write(o, ops[0], BitConverter.ToUInt64(bytes, (int)(literal - vma)));
                            }
                            else
                            {
                                o.Loads.Add($"{m} {ops[0]} [0x{literal:x}]");
                                if (m != "prfm")
                                    Forget(o, ops[0]);
                            }
                        }
                        break;
                    default:
                        Assert.Fail($"unexpected instruction executed in a relocated sequence: {l}");
                        break;
                }
            }
            if (next < vma || next > end)
            {
                o.Exit = next;
                return o;
            }
            pc = next;
        }
        Assert.Fail("the relocated sequence did not finish within 32 instructions");
        return o;
    }

    private static void Write(Outcome o, string reg, ulong value)
    {
        Forget(o, reg);
        if (ToX(reg) != "xzr")
            o.Regs[ToX(reg)] = reg.StartsWith("w", StringComparison.Ordinal) ? (uint)value : value;
    }

    private static void Forget(Outcome o, string reg)
    {
        string x = ToX(reg);
        if (x.StartsWith("x", StringComparison.Ordinal) && x != "xzr")
        {
            o.Written.Add(x);
            o.Regs.Remove(x);
        }
        else if (x != "xzr")
        {
            o.Written.Add(x); // SIMD&FP destination
        }
    }

    private static int Shift(string[] ops)
    {
        var lsl = ops.FirstOrDefault(o => o.StartsWith("lsl", StringComparison.Ordinal));
        return lsl == null ? 0 : (int)Objdump.ParseNumber(lsl.Substring(3));
    }
}

/// <summary>
/// Runs the original instruction at its address and the relocated words at theirs under qemu (tests/arm64/harness.c,
/// unchanged), each followed by RET, and checks both return the same x0 — the value a correct relocation must
/// reproduce. BL overwrites LR, so its case keeps the caller's return address in x10 (the harness's target function
/// touches only x0 and x9) and follows the sequence with MVN x0, x0; RET x10: the result is inverted only if the
/// callee returned to the word right after the relocated sequence.
/// </summary>
[TestFixture]
[NonParallelizable]
public class Arm64RelocatorExecutionTests
{
    private const ulong From = 0x0000_0010_0000_1000;
    private const ulong Far = From + 0xC80_0000;   // +200 MiB
    private const ulong Near = From + 0x20_0000;   // +2 MiB: conditional offsets no longer fit, B does
    private const ulong Data = From + 0x800;       // 16 bytes of literal data inside the original's code page
    private const ulong Magic = 0x5EED_F00D_CAFE_D00D;
    private const ulong LiteralValue = 0x8123_4567_89AB_CDEF;

    private static readonly uint CmpW0Zero = SubsImm32(Zr, X0, 0);   // cmp w0, #0
    private static readonly uint FmovX0D0 = 0x9E660000u;             // fmov x0, d0
    private static readonly uint MovX0V0D1 = 0x4E183C00u;            // mov x0, v0.d[1]
    private static readonly uint MovX10Lr = 0xAA1E03EAu;             // mov x10, x30
    private static readonly uint RetX10 = 0xD65F0140u;               // ret x10
    private static readonly uint MvnX0 = 0xAA2003E0u;                // mvn x0, x0

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (ulong to in new[] { Far, Near + 4, From + 0x1_0000 })
        {
            string where = to == Far ? "moved +200MiB" : to == Near + 4 ? "moved +2MiB+4" : "moved +64KiB";
            yield return Case($"ADR x0 positive, {where}", Adr(0, From, From + 0x1235), to, args: 0);
            yield return Case($"ADR x0 negative, {where}", Adr(0, From, From - 0xF_FFFF), to, args: 0);
            yield return Case($"LDR x0 literal, {where}", LoadLiteral(Arm64LiteralLoad.LdrX, 0, From, Data), to, args: 0);
            yield return Case($"LDR w0 literal zero-extends, {where}", LoadLiteral(Arm64LiteralLoad.LdrW, 0, From, Data + 4), to, args: 0);
            yield return Case($"LDRSW x0 literal sign-extends, {where}", LoadLiteral(Arm64LiteralLoad.Ldrsw, 0, From, Data), to, args: 0);
            yield return Case($"LDR d0 literal, {where}", LoadLiteral(Arm64LiteralLoad.LdrD, 0, From, Data + 8), to, after: new[] { FmovX0D0 }, args: 0);
            yield return Case($"LDR q0 literal (high half), {where}", LoadLiteral(Arm64LiteralLoad.LdrQ, 0, From, Data), to, after: new[] { MovX0V0D1 }, args: 0);
            yield return Case($"PRFM literal, {where}", LoadLiteral(Arm64LiteralLoad.Prfm, 0, From, Data), to, args: 0x77);
            yield return Case($"B to a function, {where}", B(From, From + 0x8_0000), to, args: 0x1234);
            yield return Case($"CBZ x0 both ways, {where}", CompareBranch(false, true, 0, From, From + 0x8_0000), to, args: new ulong[] { 0, 7 });
            yield return Case($"CBNZ w0 both ways, {where}", CompareBranch(true, false, 0, From, From + 0x8_0000), to, args: new ulong[] { 1, 1UL << 32 });
            yield return Case($"TBNZ x0 #40 both ways, {where}", TestBit(true, 0, 40, From, From + 0x4000), to, args: new ulong[] { 1UL << 40, 1 });
            yield return Case($"B.EQ after CMP both ways, {where}", BCond(0, From + 4, From + 0x8_0000), to, before: CmpW0Zero, args: new ulong[] { 0, 3 });
            yield return Case($"BL returns after the sequence, {where}", Bl(From + 4, From + 0x8_0000), to, before: MovX10Lr, after: new[] { MvnX0, RetX10 }, args: 0x4321);
        }
        // ADRP from the last word of a page: the page is taken from the original PC, not the new one.
        yield return new TestCaseData(Adrp(0, From + 0xFFC, From + 0x5000), From + 0xFFC, Far + 0xFFC + 4, 0u, Array.Empty<uint>(), new ulong[] { 0 })
            .SetName("ADRP x0 from a page's last word, moved one word further (next page)");
    }

    private static TestCaseData Case(string name, uint word, ulong to, ulong args, uint before = 0, uint[]? after = null) =>
        Case(name, word, to, new[] { args }, before, after);

    private static TestCaseData Case(string name, uint word, ulong to, ulong[] args, uint before = 0, uint[]? after = null) =>
        new TestCaseData(word, before == 0 ? From : From + 4, before == 0 ? to : to + 4, before, after ?? Array.Empty<uint>(), args).SetName(name);

    [TestCaseSource(nameof(Cases))]
    public void Original_and_relocated_return_the_same_x0(uint word, ulong from, ulong to, uint before, uint[] after, ulong[] args)
    {
        uint[] moved = Arm64Relocator.Relocate(word, from, to);
        var original = new List<uint>();
        var relocated = new List<uint>();
        if (before != 0)
        {
            original.Add(before);
            relocated.Add(before);
        }
        original.Add(word);
        relocated.AddRange(moved);
        original.AddRange(after);
        relocated.AddRange(after);
        original.Add(Ret);
        relocated.Add(Ret);
        ulong originalEntry = before == 0 ? from : from - 4;
        ulong relocatedEntry = before == 0 ? to : to - 4;

        var script = new Script();
        ulong fromPage = From & ~0xFFFUL;
        script.Map(fromPage, 0x2000);
        var data = BitConverter.GetBytes(LiteralValue).Concat(BitConverter.GetBytes(~LiteralValue)).ToArray();
        script.Write(Data, data);
        script.Write(originalEntry, ToBytes(original.ToArray()));
        script.Protect(fromPage, 0x2000, "rx");
        ulong toPage = relocatedEntry & ~0xFFFUL;
        script.Map(toPage, 0x2000);
        script.Write(relocatedEntry, ToBytes(relocated.ToArray()));
        script.Protect(toPage, 0x2000, "rx");
        ulong branchTarget = From + 0x8_0000;
        script.Function(branchTarget, Magic);
        script.Function(From + 0x4000, Magic);

        var calls = new List<(ulong Arg, int OriginalLine, int RelocatedLine)>();
        foreach (ulong arg in args)
            calls.Add((arg, script.Call(originalEntry, arg), script.Call(relocatedEntry, arg)));
        var output = script.Run("cortex-a57");
        string transcript = "relocated:\n  " + string.Join("\n  ", Objdump.Disassemble(ToBytes(moved), to)) + "\n" + string.Join("\n", output);
        foreach (var (arg, o, r) in calls)
        {
            Assert.That(output[o], Does.StartWith("result "), transcript);
            Assert.That(output[r], Is.EqualTo(output[o]), $"arg 0x{arg:x}: original and relocated disagree\n" + transcript);
        }
        // The value itself, computed here from objdump's reading of the original and the data written above.
        ulong first = Objdump.ParseNumber("0x" + output[calls[0].OriginalLine].Substring("result ".Length));
        var decoded = Objdump.Disassemble(BitConverter.GetBytes(word), from).Single();
        string[] ops = decoded.Operands.Split(',').Select(o => o.Trim()).ToArray();
        switch (decoded.Mnemonic)
        {
            case "adr":
            case "adrp":
                Assert.That(first, Is.EqualTo(Objdump.ParseNumber(ops[1])), transcript);
                break;
            case "ldr":
            case "ldrsw":
            {
                int offset = (int)(Objdump.ParseNumber(ops[1]) - Data);
                ulong expected = (decoded.Mnemonic, ops[0]) switch
                {
                    ("ldr", "x0") or ("ldr", "d0") => BitConverter.ToUInt64(data, offset),
                    ("ldr", "w0") => BitConverter.ToUInt32(data, offset),
                    ("ldrsw", "x0") => unchecked((ulong)BitConverter.ToInt32(data, offset)),
                    ("ldr", "q0") => BitConverter.ToUInt64(data, offset + 8), // mov x0, v0.d[1]
                    _ => throw new InvalidOperationException(decoded.ToString()),
                };
                Assert.That(first, Is.EqualTo(expected), transcript);
                break;
            }
            case "prfm":
                Assert.That(first, Is.EqualTo(args[0]), transcript);
                break;
            case "bl":
                Assert.That(first, Is.EqualTo(~(args[0] ^ Magic)), "the callee must return to the MVN after the sequence\n" + transcript);
                break;
            default:
                // Branch cases: the first argument takes the branch into the x0 ^ Magic function, the second falls
                // through to the RET after the sequence.
                Assert.That(first, Is.EqualTo(args[0] ^ Magic), "first call should reach the target function\n" + transcript);
                if (args.Length > 1)
                    Assert.That(output[calls[1].OriginalLine], Is.EqualTo($"result {args[1]:x}"), "second call should fall through\n" + transcript);
                break;
        }
    }

    private sealed class Script
    {
        private readonly StringBuilder _text = new();
        private int _lines;

        public void Map(ulong page, ulong length) => Line($"map {page:x} {length:x}");

        public void Write(ulong address, byte[] bytes) => Line($"write {address:x} {Convert.ToHexString(bytes)}");

        public void Protect(ulong page, ulong length, string mode) => Line($"protect {page:x} {length:x} {mode}");

        /// <summary>A harness-encoded function returning x0 ^ magic, in its own mapping.</summary>
        public void Function(ulong address, ulong magic)
        {
            Map(address & ~0xFFFUL, 0x1000);
            Line($"target {address:x} {magic:x}");
            Protect(address & ~0xFFFUL, 0x1000, "rx");
        }

        /// <summary>Returns the output line index that will hold the call's result.</summary>
        public int Call(ulong address, ulong arg)
        {
            int index = _lines;
            Line($"call {address:x} {arg:x}");
            return index;
        }

        private void Line(string line)
        {
            _text.Append(line).Append('\n');
            _lines++;
        }

        public List<string> Run(string cpu)
        {
            // qemu keeps the instruction and data sides coherent, so no cache maintenance is needed between the writes
            // and the calls here; Arm64ExecutionTests covers the engine's maintenance routine.
            var (output, _) = Arm64Tools.RunHarness(_text.ToString(), cpu, _lines);
            return output;
        }
    }
}
