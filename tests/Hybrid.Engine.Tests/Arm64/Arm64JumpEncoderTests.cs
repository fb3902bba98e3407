using System;
using System.Collections.Generic;
using System.Linq;
using Hybrid.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// Every sequence the encoder emits is decoded by GNU objdump and executed symbolically from objdump's text; the
/// test checks both the exact instruction list and that the sequence lands on the intended target.
/// </summary>
[TestFixture]
public class Arm64JumpEncoderTests
{
    private const ulong Base = 0x0000_0040_0000_1000; // 4 KiB aligned, far above the 128 MiB needed below it
    private const long Max = (1L << 27) - 4;
    private const long Min = -(1L << 27);

    private static IEnumerable<TestCaseData> BranchCases()
    {
        yield return new TestCaseData(Base, Base + (ulong)Max).SetName("B reaches exactly +128MiB-4");
        yield return new TestCaseData(Base, unchecked(Base + (ulong)Min)).SetName("B reaches exactly -128MiB");
        yield return new TestCaseData(Base, Base).SetName("B to itself (offset 0)");
        yield return new TestCaseData(Base, Base - 4).SetName("B one word back");
        yield return new TestCaseData(Base, Base + 4).SetName("B one word forward");
        yield return new TestCaseData(Base + 4, Base + 4 + 0x123_4560).SetName("B from a 4-mod-8 address");
        yield return new TestCaseData(Base, Base - 0x40_0000).SetName("B negative 4 MiB");
    }

    [TestCaseSource(nameof(BranchCases))]
    public void Shortest_form_within_range_is_a_single_B(ulong from, ulong to)
    {
        var seq = Arm64JumpEncoder.Encode(from, to);
        Assert.That(seq.Form, Is.EqualTo(Arm64JumpForm.Branch));
        Assert.That(seq.Length, Is.EqualTo(4));
        var executed = VerifyWithObjdump(seq);
        Assert.That(executed, Is.EqualTo(new[] { "b" }));
    }

    private static IEnumerable<TestCaseData> OutOfBranchRangeCases()
    {
        yield return new TestCaseData(Base, Base + (ulong)Max + 4).SetName("one word past +128MiB-4");
        yield return new TestCaseData(Base, unchecked(Base + (ulong)Min - 4)).SetName("one word past -128MiB");
        yield return new TestCaseData(Base + 4, Base + 4 + (ulong)Max + 4).SetName("one word past, from 4-mod-8");
        yield return new TestCaseData(Base, 0x0000_7FFF_F7A0_1230UL).SetName("typical far user-space address");
        yield return new TestCaseData(Base, 0x0000_0000_0000_1000UL).SetName("low address, three zero halfwords");
    }

    [TestCaseSource(nameof(OutOfBranchRangeCases))]
    public void Out_of_range_falls_back_to_an_absolute_form_that_reaches_the_target(ulong from, ulong to)
    {
        Assert.That(Arm64Instructions.IsBranchInRange(from, to), Is.False);
        var seq = Arm64JumpEncoder.Encode(from, to);
        Assert.That(seq.Form, Is.Not.EqualTo(Arm64JumpForm.Branch));
        Assert.That(seq.Register, Is.EqualTo(16), "only IP0 may be clobbered");
        VerifyWithObjdump(seq);
        int shortest = Math.Min(Arm64JumpEncoder.LiteralLength(from), Arm64JumpEncoder.MoveWideLength(to));
        Assert.That(seq.Length, Is.EqualTo(shortest));
    }

    [Test]
    public void Branch_encoder_refuses_one_word_past_either_end()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64Instructions.B(Base, Base + (ulong)Max + 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64Instructions.B(Base, unchecked(Base + (ulong)Min - 4)));
        Assert.Throws<ArgumentException>(() => Arm64Instructions.B(Base, Base + 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64JumpEncoder.Encode(Base, Base + (ulong)Max + 4, Arm64JumpForms.Branch));
    }

    // (target, expected MoveWide mnemonics as objdump prints them). objdump prints MOVZ/MOVN as the "mov" alias when
    // that alias is preferred (Arm ARM C6: MOV (wide immediate) / MOV (inverted wide immediate)).
    private static IEnumerable<TestCaseData> MoveWideCases()
    {
        yield return new TestCaseData(0x0000_7FFF_F7A0_1230UL, new[] { "mov", "movk", "movk", "br" }).SetName("48-bit address, all low halfwords set");
        yield return new TestCaseData(0x0000_7FFF_0000_1230UL, new[] { "mov", "movk", "br" }).SetName("zero halfword in the middle is skipped");
        yield return new TestCaseData(0x0000_0000_0000_1000UL, new[] { "mov", "br" }).SetName("only the low halfword");
        yield return new TestCaseData(0x0000_0001_0000_0000UL, new[] { "mov", "br" }).SetName("only halfword 2");
        yield return new TestCaseData(0x1234_0000_0000_0000UL, new[] { "mov", "br" }).SetName("only the top halfword");
        yield return new TestCaseData(0x1234_5678_9ABC_DEF0UL, new[] { "mov", "movk", "movk", "movk", "br" }).SetName("no zero halfword: four moves");
        yield return new TestCaseData(0xFFFF_FFFF_FFFF_F000UL, new[] { "mov", "br" }).SetName("0xFFFF halfwords: one MOVN");
        yield return new TestCaseData(0xFFFF_8000_1234_5678UL, new[] { "mov", "movk", "movk", "br" }).SetName("kernel-style address: MOVN skips the 0xFFFF halfword");
        yield return new TestCaseData(0xFFFF_0000_FFFF_0000UL, new[] { "mov", "movk", "br" }).SetName("tie between 0x0000 and 0xFFFF halfwords");
        yield return new TestCaseData(0x0000_FFFF_FFFF_0000UL, new[] { "mov", "movk", "br" }).SetName("two 0xFFFF and two zero halfwords (tie goes to MOVZ)");
        yield return new TestCaseData(0xFFFF_0000_0000_FFFCUL, new[] { "mov", "movk", "br" }).SetName("0xFFFF top and 0xFFFC bottom");
        yield return new TestCaseData(0x0000_0000_FFFF_FFFCUL, new[] { "mov", "movk", "br" }).SetName("4 GiB - 4");
    }

    [TestCaseSource(nameof(MoveWideCases))]
    public void MoveWide_builds_the_target_with_the_fewest_moves(ulong target, string[] expected)
    {
        foreach (ulong from in new[] { Base, Base + 4 })
        {
            var seq = Arm64JumpEncoder.EncodeMoveWide(from, target);
            var executed = VerifyWithObjdump(seq);
            Assert.That(executed, Is.EqualTo(expected));
            Assert.That(seq.Length, Is.EqualTo(Arm64JumpEncoder.MoveWideLength(target)));
        }
    }

    [TestCase(0xFFFF_8000_1234_5678UL, "movn")] // one 0xFFFF halfword, no zero halfword
    [TestCase(0xFFFF_FFFF_FFFF_F000UL, "movn")]
    [TestCase(0xFFFF_0000_FFFF_0000UL, "movz")] // tie
    [TestCase(0x0000_7FFF_F7A0_1230UL, "movz")]
    public void MoveWide_background_choice_is_visible_in_the_raw_opcode(ulong target, string first)
    {
        // objdump prints both as the "mov" alias, so check the opcode field itself (sf=1, opc: 00 MOVN, 10 MOVZ).
        uint word = Arm64JumpEncoder.EncodeMoveWide(Base, target).Words[0];
        Assert.That(word & 0xFF800000u, Is.EqualTo(first == "movn" ? 0x92800000u : 0xD2800000u));
        // And objdump without aliases agrees.
        string tool = Arm64Tools.Require(Arm64Tools.Objdump);
        string file = Arm64Tools.TempFile(".bin");
        System.IO.File.WriteAllBytes(file, BitConverter.GetBytes(word));
        try
        {
            var r = Arm64Tools.Run(tool, new[] { "-D", "-b", "binary", "-m", "aarch64", "-M", "no-aliases", file });
            Assert.That(r.StdOut, Does.Contain("\t" + first + "\t"));
        }
        finally
        {
            System.IO.File.Delete(file);
        }
    }

    private static IEnumerable<TestCaseData> LiteralCases()
    {
        foreach (ulong target in new[] { 0x0000_7FFF_F7A0_1230UL, 0x0000_0000_0000_1000UL, 0xFFFF_FFFF_FFFF_F000UL, 0x1234_5678_9ABC_DEF0UL })
        {
            yield return new TestCaseData(Base, target, 16).SetName($"literal from 8-aligned entry to 0x{target:x}");
            yield return new TestCaseData(Base + 4, target, 20).SetName($"literal from 4-mod-8 entry to 0x{target:x} (BRK pad)");
        }
    }

    [TestCaseSource(nameof(LiteralCases))]
    public void LiteralLoad_keeps_the_literal_8_byte_aligned(ulong from, ulong target, int length)
    {
        var seq = Arm64JumpEncoder.EncodeLiteral(from, target);
        Assert.That(seq.Length, Is.EqualTo(length));
        Assert.That((from + (ulong)seq.LiteralOffset) % 8, Is.EqualTo(0UL));
        var lines = Objdump.Disassemble(seq.ToBytes(), from);
        Assert.That(lines[0].Mnemonic, Is.EqualTo("ldr"));
        Assert.That(lines[0].Operands, Is.EqualTo($"x16, 0x{from + (ulong)seq.LiteralOffset:x}"));
        Assert.That(lines[1].ToString(), Does.EndWith("br x16"));
        if (length == 20)
            Assert.That(lines[2].Mnemonic + " " + lines[2].Operands, Is.EqualTo("brk #0xf000"), "the pad word after BR is a trap");
        var executed = VerifyWithObjdump(seq);
        Assert.That(executed, Is.EqualTo(new[] { "ldr", "br" }));
    }

    [Test]
    public void Ties_at_16_bytes_prefer_the_retargetable_literal()
    {
        ulong target = 0x1234_5678_9ABC_DEF0UL; // MOVZ+3 MOVK+BR = 20 bytes > 16
        Assert.That(Arm64JumpEncoder.Encode(Base, target).Form, Is.EqualTo(Arm64JumpForm.LiteralLoad));
        target = 0x0000_7FFF_F7A0_1230UL;        // MOVZ+2 MOVK+BR = 16 bytes == literal 16 bytes
        Assert.That(Arm64JumpEncoder.Encode(Base, target).Form, Is.EqualTo(Arm64JumpForm.LiteralLoad));
        // From a 4-mod-8 entry the literal needs a pad word (20 bytes), so the 16-byte MOVZ/MOVK form wins.
        Assert.That(Arm64JumpEncoder.Encode(Base + 4, target).Form, Is.EqualTo(Arm64JumpForm.MoveWide));
        // Fewer moves beat the literal outright.
        Assert.That(Arm64JumpEncoder.Encode(Base, 0x1000UL).Length, Is.EqualTo(8));
    }

    [Test]
    public void X17_is_accepted_and_other_registers_are_refused()
    {
        var seq = Arm64JumpEncoder.EncodeMoveWide(Base, 0x0000_7FFF_F7A0_1230UL, register: 17);
        var lines = Objdump.Disassemble(seq.ToBytes(), Base);
        Assert.That(lines.Last().ToString(), Does.EndWith("br x17"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64JumpEncoder.EncodeMoveWide(Base, 0x1000, register: 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64JumpEncoder.EncodeLiteral(Base, 0x1000, register: 26));
    }

    [Test]
    public void Misaligned_addresses_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Arm64JumpEncoder.Encode(Base + 2, Base + 0x100));
        Assert.Throws<ArgumentException>(() => Arm64JumpEncoder.Encode(Base, 0x7FFF_F7A0_1231UL));
    }

    [Test]
    public void Decoder_round_trips_every_form()
    {
        var cases = new List<Arm64JumpSequence>
        {
            Arm64JumpEncoder.EncodeBranch(Base, Base + (ulong)Max),
            Arm64JumpEncoder.EncodeBranch(Base, unchecked(Base + (ulong)Min)),
            Arm64JumpEncoder.EncodeLiteral(Base, 0x1234_5678_9ABC_DEF0UL),
            Arm64JumpEncoder.EncodeLiteral(Base + 4, 0x0000_7FFF_F7A0_1230UL),
            Arm64JumpEncoder.EncodeMoveWide(Base, 0xFFFF_8000_1234_5678UL),
            Arm64JumpEncoder.EncodeMoveWide(Base, 0x1000UL),
            Arm64JumpEncoder.EncodeMoveWide(Base, 0xFFFF_FFFF_FFFF_FFFCUL),
        };
        foreach (var seq in cases)
        {
            Assert.That(Arm64JumpEncoder.TryDecode(seq.From, seq.ToBytes(), out var decoded), Is.True, seq.ToString());
            Assert.That(decoded!.Target, Is.EqualTo(seq.To), seq.ToString());
            Assert.That(decoded.Length, Is.EqualTo(seq.Length), seq.ToString());
        }
    }

    [Test]
    public void Decoder_reads_CoreCLR_jump_stubs_and_ADRP_sequences()
    {
        // src/coreclr/vm/arm64/cgencpu.h, emitJump: 0x58000050 ldr x16, [pc, #8]; 0xD61F0200 br x16; [target]
        var stub = new byte[16];
        Arm64Instructions.WriteWord(stub, 0, 0x58000050);
        Arm64Instructions.WriteWord(stub, 4, 0xD61F0200);
        Arm64Instructions.WriteUInt64(stub, 8, 0x0000_FFFF_1234_5678);
        Assert.That(Arm64JumpEncoder.TryDecode(Base, stub, out var jump), Is.True);
        Assert.That(jump!.Kind, Is.EqualTo(Arm64DecodedJumpKind.LiteralLoad));
        Assert.That(jump.Target, Is.EqualTo(0x0000_FFFF_1234_5678UL));
        Assert.That(jump.Slot, Is.EqualTo(Base + 8));

        ulong far = Base + 0xF234_5678; // beyond B, within ADRP's ±4 GiB
        var adrpAdd = Arm64Instructions.ToBytes(new[]
        {
            Arm64Instructions.Adrp(16, Base, far),
            Arm64Instructions.AddImm(16, 16, (uint)(far & 0xFFF)),
            Arm64Instructions.Br(16),
        });
        var lines = Objdump.Disassemble(adrpAdd, Base);
        Assert.That(lines[0].ToString(), Does.EndWith($"adrp x16, 0x{far & ~0xFFFUL:x}"));
        Assert.That(lines[1].ToString(), Does.EndWith($"add x16, x16, #0x{far & 0xFFF:x}"));
        Assert.That(Arm64JumpEncoder.TryDecode(Base, adrpAdd, out jump), Is.True);
        Assert.That(jump!.Kind, Is.EqualTo(Arm64DecodedJumpKind.AdrpAdd));
        Assert.That(jump.Target, Is.EqualTo(far));

        ulong cell = 0x0000_0040_8765_4328; // 8-aligned cell
        var adrpLdr = Arm64Instructions.ToBytes(new[]
        {
            Arm64Instructions.Adrp(17, Base, cell),
            Arm64Instructions.LdrImm64(17, 17, (uint)(cell & 0xFFF)),
            Arm64Instructions.Br(17),
        });
        lines = Objdump.Disassemble(adrpLdr, Base);
        Assert.That(lines[1].ToString(), Does.EndWith($"ldr x17, [x17, #0x{cell & 0xFFF:x}]").Or.EndWith($"ldr x17, [x17, #{cell & 0xFFF}]"));
        Assert.That(Arm64JumpEncoder.TryDecode(Base, adrpLdr, out jump), Is.True);
        Assert.That(jump!.Kind, Is.EqualTo(Arm64DecodedJumpKind.AdrpLoad));
        Assert.That(jump.Slot, Is.EqualTo(cell));
        Assert.That(jump.Target, Is.Null);
    }

    [Test]
    public void PC_relative_encoders_match_objdump_at_their_limits()
    {
        // LDR literal: ±1 MiB, ADR: ±1 MiB, ADRP: ±4 GiB of pages. Each extreme is disassembled and decoded back.
        var words = new List<(uint Word, ulong At, string Expected)>();
        ulong at = Base + 0x20_0000;
        words.Add((Arm64Instructions.LdrLiteral64(16, at, at + (1UL << 20) - 4), at, $"ldr x16, 0x{at + (1UL << 20) - 4:x}"));
        words.Add((Arm64Instructions.LdrLiteral64(16, at, at - (1UL << 20)), at, $"ldr x16, 0x{at - (1UL << 20):x}"));
        words.Add((Arm64Instructions.Adr(3, at, at + (1UL << 20) - 1), at, $"adr x3, 0x{at + (1UL << 20) - 1:x}"));
        words.Add((Arm64Instructions.Adr(3, at, at - (1UL << 20)), at, $"adr x3, 0x{at - (1UL << 20):x}"));
        ulong upPage = (at & ~0xFFFUL) + (((1UL << 20) - 1) << 12);
        words.Add((Arm64Instructions.Adrp(16, at, upPage + 0x123), at, $"adrp x16, 0x{upPage:x}"));
        foreach (var (word, addr, expected) in words)
        {
            var line = Objdump.Disassemble(BitConverter.GetBytes(word), addr).Single();
            Assert.That(line.Mnemonic + " " + line.Operands, Is.EqualTo(expected));
            if (Arm64Instructions.IsLdrLiteral64(word, addr, out _, out ulong lit))
                Assert.That($"ldr x16, 0x{lit:x}", Is.EqualTo(expected));
            else if (Arm64Instructions.IsAdrp(word, addr, out _, out ulong page))
                Assert.That($"adrp x16, 0x{page:x}", Is.EqualTo(expected));
            else if (Arm64Instructions.IsAdr(word, addr, out _, out ulong target))
                Assert.That($"adr x3, 0x{target:x}", Is.EqualTo(expected));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64Instructions.LdrLiteral64(16, at, at + (1UL << 20)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Arm64Instructions.Adrp(16, at, at + (1UL << 32) + 0x1000));
    }

    /// <summary>Disassembles the sequence, interprets it from objdump's text and asserts it reaches seq.To.</summary>
    internal static List<string> VerifyWithObjdump(Arm64JumpSequence seq)
    {
        byte[] bytes = seq.ToBytes();
        var lines = Objdump.Disassemble(bytes, seq.From);
        Assert.That(lines[0].Address, Is.EqualTo(seq.From));
        var (target, executed) = Objdump.Interpret(lines, bytes, seq.From);
        Assert.That(target, Is.EqualTo(seq.To), $"{seq}: objdump says the sequence goes to 0x{target:x}\n" + string.Join("\n", lines));
        return executed;
    }
}
