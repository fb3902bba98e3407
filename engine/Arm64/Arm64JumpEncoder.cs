using System;
using System.Collections.Generic;

namespace Hybrid.Arm64;

/// <summary>The three shapes of jump the engine writes at a method entry.</summary>
internal enum Arm64JumpForm
{
    /// <summary><c>B imm26</c>: 4 bytes, ±128 MiB, no register touched.</summary>
    Branch,

    /// <summary><c>LDR x16, lit; BR x16; [pad]; .quad target</c>: 16 bytes (20 when a pad word keeps the literal 8-aligned).</summary>
    LiteralLoad,

    /// <summary><c>MOVZ|MOVN x16; MOVK x16 ×0..3; BR x16</c>: 8..20 bytes, no data in the instruction stream.</summary>
    MoveWide,
}

/// <summary>Which forms <see cref="Arm64JumpEncoder.Encode"/> may choose from.</summary>
[Flags]
internal enum Arm64JumpForms
{
    Branch = 1,
    LiteralLoad = 2,
    MoveWide = 4,
    Any = Branch | LiteralLoad | MoveWide,
    Absolute = LiteralLoad | MoveWide,
}

/// <summary>An encoded jump: the exact bytes to place at <see cref="From"/>.</summary>
internal sealed class Arm64JumpSequence
{
    internal Arm64JumpSequence(ulong from, ulong to, Arm64JumpForm form, uint[] words, int literalOffset, int register)
    {
        From = from;
        To = to;
        Form = form;
        Words = words;
        LiteralOffset = literalOffset;
        Register = register;
    }

    public ulong From { get; }

    public ulong To { get; }

    public Arm64JumpForm Form { get; }

    /// <summary>Little-endian 32-bit words (instructions, pad, and the two halves of the literal for <see cref="Arm64JumpForm.LiteralLoad"/>).</summary>
    public uint[] Words { get; }

    public int Length => Words.Length * 4;

    /// <summary>Byte offset of the 8-byte target literal, or -1.</summary>
    public int LiteralOffset { get; }

    /// <summary>The scratch register the sequence clobbers, or -1 for <see cref="Arm64JumpForm.Branch"/>.</summary>
    public int Register { get; }

    public byte[] ToBytes() => Arm64Instructions.ToBytes(Words);

    public override string ToString() => $"{Form} 0x{From:x} -> 0x{To:x} ({Length} bytes)";
}

/// <summary>What <see cref="Arm64JumpEncoder.TryDecode"/> found at an address.</summary>
internal sealed class Arm64DecodedJump
{
    internal Arm64DecodedJump(Arm64DecodedJumpKind kind, int length, ulong? target, ulong? slot, int register)
    {
        Kind = kind;
        Length = length;
        Target = target;
        Slot = slot;
        Register = register;
    }

    public Arm64DecodedJumpKind Kind { get; }

    /// <summary>Bytes of code the jump occupies (including an inline literal).</summary>
    public int Length { get; }

    /// <summary>The destination, when it is fully determined by the bytes that were supplied.</summary>
    public ulong? Target { get; }

    /// <summary>For indirect forms: the address of the 8-byte cell that holds the destination.</summary>
    public ulong? Slot { get; }

    public int Register { get; }
}

internal enum Arm64DecodedJumpKind
{
    Branch,
    LiteralLoad,
    MoveWide,
    AdrpAdd,
    AdrpLoad,
}

/// <summary>
/// Chooses and encodes the shortest correct jump from a method entry to a replacement.
///
/// Register choice — why x16 (IP0) and x17 (IP1) and nothing else: AAPCS64 ("General-purpose registers", §6.1.1 in current editions) designates x16/x17 as
/// intra-procedure-call scratch registers that "can be used by a linker (veneer/PLT) between a routine and any
/// subroutine it calls". Because any call may pass through such a veneer, no caller can hold a live value in x16/x17
/// across a call, and no callee may expect an argument in them. At a method's first instruction we are exactly at
/// that boundary, so clobbering IP0 is invisible to both sides. (CoreCLR itself relies on this: its jump stubs are
/// <c>ldr x16, [pc, #8]; br x16</c> — see <c>emitJump</c> in src/coreclr/vm/arm64/cgencpu.h.) Every other register
/// is either an argument (x0–x7, x8 indirect result), a CoreCLR hidden argument (x12 secret/MethodDesc parameter,
/// x11 virtual-stub-dispatch and ready-to-run indirection cell), callee-saved (x19–x28), or the platform register x18
/// (reserved on macOS and Windows). With BTI-guarded pages, <c>BR x16/x17</c> may also land on a <c>BTI c</c> landing
/// pad, which a BR through any other register may not (PSTATE.BTYPE) — the reason linkers use IP0/IP1 in veneers.
///
/// Why gomonkey writes x26 and we do not: gomonkey replaces a Go function with a Go <em>func value</em> (a closure).
/// It emits <c>MOVZ/MOVK x26 ×4</c> with the address of the funcval, then <c>LDR x10, [x26]; BR x10</c>: x26 is Go's
/// closure-context register on arm64 (REGCTXT), and the replacement closure reads its captured variables through it,
/// so the context pointer must be delivered in x26 and the code pointer fetched from the funcval. A .NET replacement is
/// a plain method (or a bridge the engine generated) with the same managed calling convention as the original —
/// receivers and hidden arguments travel in the ordinary argument registers — so there is no context register to load
/// and a bare jump to the code address is complete.
/// </summary>
internal static class Arm64JumpEncoder
{
    public const int BranchLength = 4;
    public const int MaxLength = 20;

    /// <summary>
    /// Shortest jump from <paramref name="from"/> to <paramref name="to"/> among <paramref name="forms"/>.
    /// Ties between the 16-byte absolute forms go to <see cref="Arm64JumpForm.LiteralLoad"/> when its literal can be
    /// 8-byte aligned: an aligned 64-bit literal can later be retargeted with one single-copy-atomic data store
    /// (Arm ARM B2.2.1: an aligned doubleword access by a 64-bit LDR/STR is single-copy atomic), so a concurrent
    /// caller observes the old or the new target and never a mix, and no instruction bytes change at all (so the
    /// concurrent-modification rules of B2.2.5 do not come into play). If <paramref name="from"/> is only 4-aligned
    /// the literal needs a pad word (20 bytes) and MOVZ/MOVK wins unless it needs all four halfwords.
    /// </summary>
    public static Arm64JumpSequence Encode(ulong from, ulong to, Arm64JumpForms forms = Arm64JumpForms.Any, int register = Arm64Instructions.Ip0)
    {
        CheckAligned(from, to);
        if ((forms & Arm64JumpForms.Branch) != 0 && Arm64Instructions.IsBranchInRange(from, to))
            return EncodeBranch(from, to);
        bool literal = (forms & Arm64JumpForms.LiteralLoad) != 0;
        bool move = (forms & Arm64JumpForms.MoveWide) != 0;
        if (!literal && !move)
            throw new ArgumentOutOfRangeException(nameof(to), $"0x{to:x} is out of B range of 0x{from:x} and no absolute form is allowed.");
        if (literal && (!move || LiteralLength(from) <= MoveWideLength(to)))
            return EncodeLiteral(from, to, register);
        return EncodeMoveWide(from, to, register);
    }

    public static Arm64JumpSequence EncodeBranch(ulong from, ulong to) =>
        new(from, to, Arm64JumpForm.Branch, new[] { Arm64Instructions.B(from, to) }, -1, -1);

    /// <summary>
    /// <c>LDR xR, lit; BR xR; [BRK pad]; .quad to</c>. The literal is placed at the first 8-byte aligned address after
    /// the BR, because only an aligned doubleword load is single-copy atomic (B2.2.1) — that is what makes a later
    /// in-place retarget of the literal safe against concurrent callers. The pad word is never executed (it follows an
    /// unconditional BR); it is a BRK so that a wild jump into it traps instead of sliding into the literal.
    /// </summary>
    public static Arm64JumpSequence EncodeLiteral(ulong from, ulong to, int register = Arm64Instructions.Ip0)
    {
        CheckAligned(from, to);
        CheckScratch(register);
        bool pad = (from & 7) != 0;
        int literalOffset = pad ? 12 : 8;
        var words = new List<uint>
        {
            Arm64Instructions.LdrLiteral64(register, from, from + (ulong)literalOffset),
            Arm64Instructions.Br(register),
        };
        if (pad)
            words.Add(Arm64Instructions.Brk(0xF000));
        words.Add((uint)to);
        words.Add((uint)(to >> 32));
        return new Arm64JumpSequence(from, to, Arm64JumpForm.LiteralLoad, words.ToArray(), literalOffset, register);
    }

    /// <summary>
    /// Builds <paramref name="to"/> in the scratch register with as few MOV-wide instructions as possible, then BR.
    /// MOVZ starts from all-zero halfwords and MOVN from all-0xFFFF halfwords; whichever leaves fewer halfwords to
    /// patch with MOVK is used (ties: MOVZ). Zero (or 0xFFFF) halfwords cost nothing.
    /// </summary>
    public static Arm64JumpSequence EncodeMoveWide(ulong from, ulong to, int register = Arm64Instructions.Ip0)
    {
        CheckAligned(from, to);
        CheckScratch(register);
        var words = new List<uint>(5);
        bool useMovN = CountHalfwords(to, 0xFFFF) > CountHalfwords(to, 0);
        ushort background = useMovN ? (ushort)0xFFFF : (ushort)0;
        bool first = true;
        for (int hw = 0; hw < 4; hw++)
        {
            ushort part = (ushort)(to >> (16 * hw));
            if (part == background)
                continue;
            if (first)
            {
                words.Add(useMovN
                    ? Arm64Instructions.MovWide(Arm64MoveKind.MovN, register, (ushort)~part, hw)
                    : Arm64Instructions.MovWide(Arm64MoveKind.MovZ, register, part, hw));
                first = false;
            }
            else
            {
                words.Add(Arm64Instructions.MovWide(Arm64MoveKind.MovK, register, part, hw));
            }
        }
        if (first) // every halfword equals the background: 0 or ~0
            words.Add(Arm64Instructions.MovWide(useMovN ? Arm64MoveKind.MovN : Arm64MoveKind.MovZ, register, 0, 0));
        words.Add(Arm64Instructions.Br(register));
        return new Arm64JumpSequence(from, to, Arm64JumpForm.MoveWide, words.ToArray(), -1, register);
    }

    public static int LiteralLength(ulong from) => (from & 7) == 0 ? 16 : 20;

    public static int MoveWideLength(ulong to)
    {
        int needed = 4 - Math.Max(CountHalfwords(to, 0), CountHalfwords(to, 0xFFFF));
        return 4 * (Math.Max(needed, 1) + 1);
    }

    /// <summary>
    /// Recognises a jump at <paramref name="address"/>: B, LDR-literal+BR (the target is read when the literal lies
    /// inside <paramref name="code"/>), MOVZ/MOVN/MOVK+BR, ADRP+ADD+BR and ADRP+LDR+BR (an indirect cell).
    /// Only sequences whose loads all feed the final BR register are accepted.
    /// </summary>
    public static bool TryDecode(ulong address, byte[] code, out Arm64DecodedJump? jump)
    {
        jump = null;
        int words = code.Length / 4;
        if (words < 1)
            return false;
        uint w0 = Arm64Instructions.ReadWord(code, 0);
        if (Arm64Instructions.IsB(w0))
        {
            jump = new Arm64DecodedJump(Arm64DecodedJumpKind.Branch, 4, Arm64Instructions.DecodeBranchTarget(address, w0), null, -1);
            return true;
        }
        if (words < 2)
            return false;
        uint w1 = Arm64Instructions.ReadWord(code, 4);

        if (Arm64Instructions.IsLdrLiteral64(w0, address, out int rt, out ulong literal)
            && Arm64Instructions.IsBr(w1, out int rn) && rn == rt)
        {
            long offset = unchecked((long)(literal - address));
            int length = offset == 8 || offset == 12 ? (int)offset + 8 : 8;
            ulong? target = offset >= 0 && offset + 8 <= code.Length ? Arm64Instructions.ReadUInt64(code, (int)offset) : null;
            jump = new Arm64DecodedJump(Arm64DecodedJumpKind.LiteralLoad, length, target, literal, rt);
            return true;
        }

        if (Arm64Instructions.IsMovWide(w0, out var kind, out int rd, out ushort imm, out int hw) && kind != Arm64MoveKind.MovK)
        {
            ulong value = kind == Arm64MoveKind.MovZ ? (ulong)imm << (16 * hw) : ~((ulong)imm << (16 * hw));
            for (int i = 1; i < Math.Min(words, 5); i++)
            {
                uint w = Arm64Instructions.ReadWord(code, i * 4);
                if (Arm64Instructions.IsBr(w, out int brReg))
                {
                    if (brReg != rd)
                        return false;
                    jump = new Arm64DecodedJump(Arm64DecodedJumpKind.MoveWide, (i + 1) * 4, value, null, rd);
                    return true;
                }
                if (!Arm64Instructions.IsMovWide(w, out var k, out int r, out ushort part, out int shift) || k != Arm64MoveKind.MovK || r != rd)
                    return false;
                value = (value & ~(0xFFFFUL << (16 * shift))) | ((ulong)part << (16 * shift));
            }
            return false;
        }

        if (words >= 3 && Arm64Instructions.IsAdrp(w0, address, out int ra, out ulong page))
        {
            uint w2 = Arm64Instructions.ReadWord(code, 8);
            if (!Arm64Instructions.IsBr(w2, out int rb) || rb != ra)
                return false;
            if (Arm64Instructions.IsAddImm(w1, out int addRd, out int addRn, out uint lo12) && addRd == ra && addRn == ra)
            {
                jump = new Arm64DecodedJump(Arm64DecodedJumpKind.AdrpAdd, 12, page + lo12, null, ra);
                return true;
            }
            if (Arm64Instructions.IsLdrImm64(w1, out int ldrRt, out int ldrRn, out uint off) && ldrRt == ra && ldrRn == ra)
            {
                jump = new Arm64DecodedJump(Arm64DecodedJumpKind.AdrpLoad, 12, null, page + off, ra);
                return true;
            }
        }
        return false;
    }

    private static int CountHalfwords(ulong value, ushort halfword)
    {
        int n = 0;
        for (int hw = 0; hw < 4; hw++)
            if ((ushort)(value >> (16 * hw)) == halfword)
                n++;
        return n;
    }

    private static void CheckAligned(ulong from, ulong to)
    {
        // A64 instructions are 4-aligned; a BR to a misaligned address raises a PC alignment fault at the target,
        // far from the cause, so refuse here with the actual numbers instead.
        if (((from | to) & 3) != 0)
            throw new ArgumentException($"A64 code addresses must be 4-byte aligned (from 0x{from:x}, to 0x{to:x}).");
    }

    private static void CheckScratch(int register)
    {
        if (register != Arm64Instructions.Ip0 && register != Arm64Instructions.Ip1)
            throw new ArgumentOutOfRangeException(nameof(register), "Only x16 (IP0) and x17 (IP1) are free at a method entry (AAPCS64 §6.1.1).");
    }
}
