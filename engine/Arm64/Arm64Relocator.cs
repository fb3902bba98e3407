using System;
using System.Collections.Generic;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Arm64;

/// <summary>
/// The seven accesses of the "Load register (literal)" class (DDI 0487 C4.1), numbered opc:V exactly as the encoding
/// numbers them, so a value can be read straight out of bits 31:30 and 26.
/// </summary>
internal enum Arm64LiteralLoad
{
    /// <summary>LDR Wt, label (opc=00, V=0).</summary>
    LdrW = 0,

    /// <summary>LDR St, label (opc=00, V=1).</summary>
    LdrS = 1,

    /// <summary>LDR Xt, label (opc=01, V=0).</summary>
    LdrX = 2,

    /// <summary>LDR Dt, label (opc=01, V=1).</summary>
    LdrD = 3,

    /// <summary>LDRSW Xt, label (opc=10, V=0).</summary>
    Ldrsw = 4,

    /// <summary>LDR Qt, label (opc=10, V=1).</summary>
    LdrQ = 5,

    /// <summary>PRFM prfop, label (opc=11, V=0): Rt is the prefetch operation, not a register.</summary>
    Prfm = 6,

    /// <summary>opc=11, V=1: unallocated.</summary>
    Unallocated = 7,
}

/// <summary>
/// Moves the instruction the engine overwrites at a method's entry into the trampoline, so that executed at its new
/// address it has exactly the effect it had at the old one and then falls through (to the trampoline's jump back).
///
/// Only the instructions that read the PC need rewriting. In the A64 base encoding tables (DDI 0487 C4.1) these are:
/// "PC-rel. addressing" (ADR, ADRP), "Unconditional branch (immediate)" (B, BL), "Conditional branch (immediate)"
/// (B.cond, BC.cond), "Compare and branch (immediate)" (CBZ, CBNZ), "Test and branch (immediate)" (TBZ, TBNZ) and
/// "Load register (literal)" (LDR/LDRSW/PRFM, GPR and SIMD&amp;FP). Instructions that write a return address (BLR, SVC)
/// are not PC-relative in that sense: moved, they return into the trampoline, which is the right place to continue.
///
/// Scratch register: x17 (IP1) only. AAPCS64 §6.1.1 lets a veneer clobber IP0/IP1 on any call, so neither holds a
/// value at a method's entry; x16 (IP0) is left to the trampoline's jump back, which runs after these words.
/// </summary>
internal static class Arm64Relocator
{
    private const int Scratch = Ip1;

    /// <summary>Returns words that, placed at <paramref name="to"/>, do what <paramref name="word"/> did at
    /// <paramref name="from"/>, then fall through to the word after them.</summary>
    public static uint[] Relocate(uint word, ulong from, ulong to)
    {
        if (((from | to) & 3) != 0)
            throw new ArgumentException($"A64 code addresses must be 4-byte aligned (from 0x{from:x}, to 0x{to:x}).");

        if (IsB(word))
            return RelocateB(DecodeBranchTarget(from, word), to);
        if (IsBl(word))
            return RelocateBl(DecodeBranchTarget(from, word), to);

        if (IsConditionalBranch(word, out int cond, out bool consistent, out long offset))
            return RelocateConditional(Add(from, offset), to, 19,
                (at, target) => consistent ? BcCond(cond, at, target) : BCond(cond, at, target));
        if (IsCompareBranch(word, out bool nonZero, out bool is64, out int rt, out offset))
            return RelocateConditional(Add(from, offset), to, 19,
                (at, target) => CompareBranch(nonZero, is64, rt, at, target));
        if (IsTestBit(word, out nonZero, out rt, out int bit, out offset))
            return RelocateConditional(Add(from, offset), to, 14,
                (at, target) => TestBit(nonZero, rt, bit, at, target));

        // ADR/ADRP compute a value from the PC alone (C6.2 ADR: X[d] = PC + imm; ADRP: X[d] = (PC AND NOT 0xFFF) +
        // imm*4096), so at relocation time that value is a constant and MOVZ/MOVK can write it: no memory access,
        // no flags, no scratch register. Rd=31 is XZR for both (the write is discarded), so nothing is emitted but NOP.
        if (IsAdr(word, from, out int rd, out ulong value) || IsAdrp(word, from, out rd, out value))
            return rd == Zr ? new[] { Nop } : MoveImmediate64(rd, value);

        if (IsLoadLiteral(word, from, out var kind, out rt, out ulong literal))
            return RelocateLiteral(word, kind, rt, literal);

        if (IsCompareAndBranchExtended(word))
            throw new NotSupportedException($"0x{word:x8} is a FEAT_CMPBR compare-and-branch (PC-relative imm9); relocating it is not supported.");

        return new[] { word };
    }

    /// <summary>True when <paramref name="word"/> is PC-relative (needs rewriting).</summary>
    public static bool IsPcRelative(uint word) =>
        IsB(word) || IsBl(word)
        || IsConditionalBranch(word, out _, out _, out _)
        || IsCompareBranch(word, out _, out _, out _, out _)
        || IsTestBit(word, out _, out _, out _, out _)
        || IsAdr(word, 0, out _, out _) || IsAdrp(word, 0, out _, out _)
        || IsLoadLiteral(word, 0, out _, out _, out _)
        || IsCompareAndBranchExtended(word);

    private static uint[] RelocateB(ulong target, ulong to) =>
        // B does not link and never falls through, so the jump encoder's shortest form (B if within ±128 MiB, else an
        // absolute jump through x17 with its literal kept 8-aligned) is the whole relocation.
        Arm64JumpEncoder.Encode(to, target, Arm64JumpForms.Any, Scratch).Words;

    private static uint[] RelocateBl(ulong target, ulong to)
    {
        // BL sets LR to its own address + 4 (C6.2 BL). Moved, the callee must return to the word after the relocated
        // sequence: that is where the trampoline's jump back to body+4 sits, i.e. where the original call returned.
        if (IsBranchInRange(to, target))
            return new[] { Bl(to, target) };
        // Not the literal form: the word after BLR is the return address, so data placed there would be executed.
        var words = new List<uint>(MoveImmediate64(Scratch, target)) { Blr(Scratch) };
        return words.ToArray();
    }

    /// <summary>
    /// Conditional branches test state (flags, a register, a bit) that must be tested by the very instruction kind
    /// the original was, so the branch is re-encoded when the new offset fits its <paramref name="bits"/>-bit word
    /// offset field. Otherwise the same condition branches over one B: [cond → +8] [B → end] [jump → target].
    /// The condition is kept rather than inverted because B.AL and B.NV both branch always (C1.2.4) and have no
    /// inverse, and one shape for B.cond/CBZ/TBZ keeps the three cases identical.
    /// </summary>
    private static uint[] RelocateConditional(ulong target, ulong to, int bits, Func<ulong, ulong, uint> encode)
    {
        long delta = unchecked((long)(target - to));
        long reach = (1L << (bits - 1)) * 4;
        if (delta >= -reach && delta < reach)
            return new[] { encode(to, target) };
        ulong jumpAt = to + 8;
        // B when the target is within ±128 MiB of the jump, else the absolute form through x17.
        var jump = Arm64JumpEncoder.Encode(jumpAt, target, Arm64JumpForms.Any, Scratch).Words;
        var words = new uint[2 + jump.Length];
        words[0] = encode(to, jumpAt);
        words[1] = B(to + 4, jumpAt + (ulong)(jump.Length * 4));
        Array.Copy(jump, 0, words, 2, jump.Length);
        return words;
    }

    /// <summary>
    /// A literal load reads memory at run time, and the cell may be rewritten later (a runtime may patch an indirection
    /// cell or jump target in place), so its address — not its current contents — is what has to move. The address is a
    /// constant, built with MOVZ/MOVK, then loaded through the unsigned-offset #0 form of the same access: same size,
    /// same extension, same destination, and an aligned doubleword LDR [Xn] is single-copy atomic exactly as the
    /// literal form was (B2.2.1). The base is Xt itself for a GPR load (the load overwrites it anyway), and x17 for
    /// SIMD&amp;FP, PRFM and Rt=31 (XZR as a load target; as a base, 31 would mean SP).
    /// </summary>
    private static uint[] RelocateLiteral(uint word, Arm64LiteralLoad kind, int rt, ulong literal)
    {
        if (kind == Arm64LiteralLoad.Unallocated)
            throw new NotSupportedException($"0x{word:x8} is in the PC-relative \"Load register (literal)\" class with opc=11, V=1 (unallocated); it cannot be relocated.");
        bool gpr = kind == Arm64LiteralLoad.LdrW || kind == Arm64LiteralLoad.LdrX || kind == Arm64LiteralLoad.Ldrsw;
        int baseRegister = gpr && rt != Zr ? rt : Scratch;
        var words = new List<uint>(MoveImmediate64(baseRegister, literal)) { LoadBase(kind, rt, baseRegister) };
        return words.ToArray();
    }

    private static ulong Add(ulong address, long offset) => unchecked(address + (ulong)offset);
}
