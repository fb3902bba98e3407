using System;

namespace Hybrid.Arm64;

/// <summary>
/// Encoders and decoders for the few A64 instructions the engine emits or has to recognise.
/// Every encoder validates its operands and throws instead of silently truncating a field: a truncated
/// branch offset is still a valid instruction, so the bug would only show up as a jump to the wrong place.
/// Bit layouts are from the Arm ARM (DDI 0487), chapter C6 (A64 base instruction descriptions).
/// </summary>
internal static class Arm64Instructions
{
    // Register numbers. X16/X17 are IP0/IP1 (AAPCS64 §6.1.1 "General-purpose registers"): see Arm64JumpEncoder
    // for why they are the only registers a jump at a method's entry may clobber.
    public const int X0 = 0, X9 = 9, X10 = 10, X11 = 11, X12 = 12, Ip0 = 16, Ip1 = 17, Lr = 30, Zr = 31;

    public const uint Nop = 0xD503201F;
    public const uint Isb = 0xD5033FDF;         // ISB SY
    public const uint DsbIsh = 0xD5033B9F;      // DSB ISH
    public const uint DmbIshLd = 0xD50339BF;    // DMB ISHLD
    public const uint Ret = 0xD65F03C0;         // RET X30

    /// <summary>B: [-2^27, 2^27-4] bytes from the branch itself (imm26 is a signed word offset).</summary>
    public const long BranchMin = -(1L << 27), BranchMax = (1L << 27) - 4;

    // ---------------------------------------------------------------- branches

    public static bool IsBranchInRange(ulong from, ulong to)
    {
        if (((from | to) & 3) != 0)
            return false;
        long delta = unchecked((long)(to - from));
        return delta >= BranchMin && delta <= BranchMax;
    }

    public static uint B(ulong from, ulong to) => 0x14000000u | BranchImm26(from, to);

    public static uint Bl(ulong from, ulong to) => 0x94000000u | BranchImm26(from, to);

    private static uint BranchImm26(ulong from, ulong to)
    {
        if (((from | to) & 3) != 0)
            throw new ArgumentException($"A64 branch source 0x{from:x} and target 0x{to:x} must be 4-byte aligned.");
        long delta = unchecked((long)(to - from));
        if (delta < BranchMin || delta > BranchMax)
            throw new ArgumentOutOfRangeException(nameof(to), $"0x{to:x} is {delta} bytes from 0x{from:x}; B/BL reach [-128 MiB, +128 MiB - 4].");
        return (uint)(delta >> 2) & 0x03FFFFFFu;
    }

    public static bool IsB(uint word) => (word & 0xFC000000u) == 0x14000000u;

    public static bool IsBl(uint word) => (word & 0xFC000000u) == 0x94000000u;

    /// <summary>Target of a B or BL at <paramref name="address"/>.</summary>
    public static ulong DecodeBranchTarget(ulong address, uint word)
    {
        if (!IsB(word) && !IsBl(word))
            throw new ArgumentException($"0x{word:x8} is not B/BL.");
        long offset = SignExtend(word & 0x03FFFFFFu, 26) << 2;
        return unchecked(address + (ulong)offset);
    }

    public static uint Br(int rn) => 0xD61F0000u | (Reg(rn) << 5);

    public static uint Blr(int rn) => 0xD63F0000u | (Reg(rn) << 5);

    public static bool IsBr(uint word, out int rn)
    {
        rn = (int)((word >> 5) & 31);
        return (word & 0xFFFFFC1Fu) == 0xD61F0000u;
    }

    /// <summary>B.cond; <paramref name="cond"/> is the 4-bit condition (3 = LO/CC).</summary>
    public static uint BCond(int cond, ulong from, ulong to)
    {
        long delta = unchecked((long)(to - from));
        CheckScaled(delta, 19, 4, "B.cond");
        return 0x54000000u | (((uint)(delta >> 2) & 0x7FFFFu) << 5) | ((uint)cond & 15);
    }

    public static bool IsBCond(uint word, out int cond, out long offset)
    {
        cond = (int)(word & 15);
        offset = SignExtend((word >> 5) & 0x7FFFFu, 19) << 2;
        return (word & 0xFF000010u) == 0x54000000u;
    }

    /// <summary>TBZ/TBNZ Wt/Xt, #bit, label.</summary>
    public static uint TestBit(bool nonZero, int rt, int bit, ulong from, ulong to)
    {
        if (bit < 0 || bit > 63)
            throw new ArgumentOutOfRangeException(nameof(bit));
        long delta = unchecked((long)(to - from));
        CheckScaled(delta, 14, 4, nonZero ? "TBNZ" : "TBZ");
        return (nonZero ? 0x37000000u : 0x36000000u) | ((uint)(bit >> 5) << 31) | ((uint)(bit & 31) << 19)
               | (((uint)(delta >> 2) & 0x3FFFu) << 5) | Reg(rt);
    }

    // ---------------------------------------------------------------- PC-relative addressing

    /// <summary>LDR Xt, label (64-bit literal load). Reach: ±1 MiB, word-aligned offsets.</summary>
    public static uint LdrLiteral64(int rt, ulong from, ulong literal)
    {
        long delta = unchecked((long)(literal - from));
        CheckScaled(delta, 19, 4, "LDR (literal)");
        return 0x58000000u | (((uint)(delta >> 2) & 0x7FFFFu) << 5) | Reg(rt);
    }

    /// <summary>Recognises LDR Xt, label (opc=01, V=0) and returns the literal's address.</summary>
    public static bool IsLdrLiteral64(uint word, ulong address, out int rt, out ulong literal)
    {
        rt = (int)(word & 31);
        literal = unchecked(address + (ulong)(SignExtend((word >> 5) & 0x7FFFFu, 19) << 2));
        return (word & 0xFF000000u) == 0x58000000u;
    }

    /// <summary>ADR Xd, label. Reach: ±1 MiB, byte granular.</summary>
    public static uint Adr(int rd, ulong from, ulong to)
    {
        long delta = unchecked((long)(to - from));
        if (delta < -(1L << 20) || delta >= (1L << 20))
            throw new ArgumentOutOfRangeException(nameof(to), $"ADR reaches ±1 MiB; 0x{to:x} is {delta} bytes from 0x{from:x}.");
        uint imm = (uint)delta & 0x1FFFFFu;
        return 0x10000000u | ((imm & 3) << 29) | ((imm >> 2) << 5) | Reg(rd);
    }

    public static bool IsAdr(uint word, ulong address, out int rd, out ulong target)
    {
        rd = (int)(word & 31);
        long imm = SignExtend(((word >> 29) & 3) | (((word >> 5) & 0x7FFFFu) << 2), 21);
        target = unchecked(address + (ulong)imm);
        return (word & 0x9F000000u) == 0x10000000u;
    }

    /// <summary>ADRP Xd, label: Xd = (PC &amp; ~0xFFF) + imm21 * 4096. Reach: ±4 GiB of pages.</summary>
    public static uint Adrp(int rd, ulong from, ulong to)
    {
        long pages = unchecked((long)(to & ~0xFFFUL) - (long)(from & ~0xFFFUL)) >> 12;
        if (pages < -(1L << 20) || pages >= (1L << 20))
            throw new ArgumentOutOfRangeException(nameof(to), $"ADRP reaches ±4 GiB; 0x{to:x} is out of range of 0x{from:x}.");
        uint imm = (uint)pages & 0x1FFFFFu;
        return 0x90000000u | ((imm & 3) << 29) | ((imm >> 2) << 5) | Reg(rd);
    }

    public static bool IsAdrpInRange(ulong from, ulong to)
    {
        long pages = unchecked((long)(to & ~0xFFFUL) - (long)(from & ~0xFFFUL)) >> 12;
        return pages >= -(1L << 20) && pages < (1L << 20);
    }

    /// <summary>Recognises ADRP and returns the 4 KiB page address it computes.</summary>
    public static bool IsAdrp(uint word, ulong address, out int rd, out ulong page)
    {
        rd = (int)(word & 31);
        long imm = SignExtend(((word >> 29) & 3) | (((word >> 5) & 0x7FFFFu) << 2), 21);
        page = unchecked((address & ~0xFFFUL) + (ulong)(imm << 12));
        return (word & 0x9F000000u) == 0x90000000u;
    }

    // ---------------------------------------------------------------- immediates and arithmetic

    /// <summary>MOVZ/MOVN/MOVK Xd, #imm16, LSL #(16*hw).</summary>
    public static uint MovWide(Arm64MoveKind kind, int rd, ushort imm16, int hw)
    {
        if (hw < 0 || hw > 3)
            throw new ArgumentOutOfRangeException(nameof(hw));
        uint opc = kind switch
        {
            Arm64MoveKind.MovN => 0x92800000u,
            Arm64MoveKind.MovZ => 0xD2800000u,
            Arm64MoveKind.MovK => 0xF2800000u,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return opc | ((uint)hw << 21) | ((uint)imm16 << 5) | Reg(rd);
    }

    public static bool IsMovWide(uint word, out Arm64MoveKind kind, out int rd, out ushort imm16, out int hw)
    {
        rd = (int)(word & 31);
        imm16 = (ushort)((word >> 5) & 0xFFFF);
        hw = (int)((word >> 21) & 3);
        switch (word & 0xFF800000u)
        {
            case 0x92800000u: kind = Arm64MoveKind.MovN; return true;
            case 0xD2800000u: kind = Arm64MoveKind.MovZ; return true;
            case 0xF2800000u: kind = Arm64MoveKind.MovK; return true;
            default: kind = default; return false;
        }
    }

    /// <summary>ADD Xd, Xn, #imm12 (no shift).</summary>
    public static uint AddImm(int rd, int rn, uint imm12)
    {
        if (imm12 > 0xFFF)
            throw new ArgumentOutOfRangeException(nameof(imm12));
        return 0x91000000u | (imm12 << 10) | (Reg(rn) << 5) | Reg(rd);
    }

    public static bool IsAddImm(uint word, out int rd, out int rn, out uint imm)
    {
        rd = (int)(word & 31);
        rn = (int)((word >> 5) & 31);
        imm = ((word >> 10) & 0xFFF) << (((word >> 22) & 1) != 0 ? 12 : 0);
        return (word & 0xFF800000u) == 0x91000000u;
    }

    /// <summary>SUB Xd, Xn, #imm12 (no shift).</summary>
    public static uint SubImm(int rd, int rn, uint imm12)
    {
        if (imm12 > 0xFFF)
            throw new ArgumentOutOfRangeException(nameof(imm12));
        return 0xD1000000u | (imm12 << 10) | (Reg(rn) << 5) | Reg(rd);
    }

    public static uint AddReg(int rd, int rn, int rm) => 0x8B000000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Reg(rd);

    /// <summary>CMP Xn, Xm (SUBS XZR, Xn, Xm).</summary>
    public static uint CmpReg(int rn, int rm) => 0xEB000000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Zr;

    /// <summary>BIC Xd, Xn, Xm: Xd = Xn &amp; ~Xm.</summary>
    public static uint BicReg(int rd, int rn, int rm) => 0x8A200000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Reg(rd);

    /// <summary>LSL Xd, Xn, Xm (LSLV).</summary>
    public static uint LslReg(int rd, int rn, int rm) => 0x9AC02000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Reg(rd);

    /// <summary>UBFX Xd, Xn, #lsb, #width (UBFM Xd, Xn, #lsb, #lsb+width-1).</summary>
    public static uint Ubfx(int rd, int rn, int lsb, int width)
    {
        if (lsb < 0 || width < 1 || lsb + width > 64)
            throw new ArgumentOutOfRangeException(nameof(width));
        return 0xD3400000u | ((uint)lsb << 16) | ((uint)(lsb + width - 1) << 10) | (Reg(rn) << 5) | Reg(rd);
    }

    // ---------------------------------------------------------------- loads and stores

    /// <summary>LDR Xt, [Xn, #imm] (unsigned offset, multiple of 8, up to 32760).</summary>
    public static uint LdrImm64(int rt, int rn, uint byteOffset)
    {
        if ((byteOffset & 7) != 0 || byteOffset > 0xFFF * 8)
            throw new ArgumentOutOfRangeException(nameof(byteOffset));
        return 0xF9400000u | ((byteOffset / 8) << 10) | (Reg(rn) << 5) | Reg(rt);
    }

    public static bool IsLdrImm64(uint word, out int rt, out int rn, out uint byteOffset)
    {
        rt = (int)(word & 31);
        rn = (int)((word >> 5) & 31);
        byteOffset = ((word >> 10) & 0xFFF) * 8;
        return (word & 0xFFC00000u) == 0xF9400000u;
    }

    /// <summary>STR Xt, [Xn], #imm9 (post-index). Used only by the test probe of the cache routine.</summary>
    public static uint StrPostIndex64(int rt, int rn, int imm9)
    {
        if (imm9 < -256 || imm9 > 255)
            throw new ArgumentOutOfRangeException(nameof(imm9));
        return 0xF8000400u | (((uint)imm9 & 0x1FFu) << 12) | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>LDR Xt, [Xn], #imm9 (post-index): the dispatch stub's table walk.</summary>
    public static uint LdrPostIndex64(int rt, int rn, int imm9)
    {
        if (imm9 < -256 || imm9 > 255)
            throw new ArgumentOutOfRangeException(nameof(imm9));
        return 0xF8400400u | (((uint)imm9 & 0x1FFu) << 12) | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>LDUR Xt, [Xn, #imm9] (unscaled signed offset).</summary>
    public static uint Ldur64(int rt, int rn, int imm9)
    {
        if (imm9 < -256 || imm9 > 255)
            throw new ArgumentOutOfRangeException(nameof(imm9));
        return 0xF8400000u | (((uint)imm9 & 0x1FFu) << 12) | (Reg(rn) << 5) | Reg(rt);
    }

    public static uint LdrhImm(int rt, int rn, uint byteOffset) => 0x79400000u | ((byteOffset / 2) << 10) | (Reg(rn) << 5) | Reg(rt);

    public static uint StrhImm(int rt, int rn, uint byteOffset) => 0x79000000u | ((byteOffset / 2) << 10) | (Reg(rn) << 5) | Reg(rt);

    /// <summary>SUBS Wd, Wn, #imm12.</summary>
    public static uint SubsImm32(int rd, int rn, uint imm12) => 0x71000000u | (imm12 << 10) | (Reg(rn) << 5) | Reg(rd);

    /// <summary>LDR Wt, [Xn, #imm] (unsigned offset, multiple of 4).</summary>
    public static uint LdrImm32(int rt, int rn, uint byteOffset)
    {
        if ((byteOffset & 3) != 0 || byteOffset > 0xFFF * 4)
            throw new ArgumentOutOfRangeException(nameof(byteOffset));
        return 0xB9400000u | ((byteOffset / 4) << 10) | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>STR Wt, [Xn, #imm] (unsigned offset, multiple of 4).</summary>
    public static uint StrImm32(int rt, int rn, uint byteOffset)
    {
        if ((byteOffset & 3) != 0 || byteOffset > 0xFFF * 4)
            throw new ArgumentOutOfRangeException(nameof(byteOffset));
        return 0xB9000000u | ((byteOffset / 4) << 10) | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>STR Xt, [Xn, #imm] (unsigned offset, multiple of 8); Xt = 31 stores XZR.</summary>
    public static uint StrImm64(int rt, int rn, uint byteOffset)
    {
        if ((byteOffset & 7) != 0 || byteOffset > 0xFFF * 8)
            throw new ArgumentOutOfRangeException(nameof(byteOffset));
        return 0xF9000000u | ((byteOffset / 8) << 10) | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>LDR Xt, [Xn, Xm, LSL #3].</summary>
    public static uint LdrIndexed64(int rt, int rn, int rm) => 0xF8607800u | (Reg(rm) << 16) | (Reg(rn) << 5) | Reg(rt);

    /// <summary>LDAR Wt, [Xn]: load-acquire (Arm ARM B2.3.7).</summary>
    public static uint LdarW(int rt, int rn) => 0x88DFFC00u | (Reg(rn) << 5) | Reg(rt);

    /// <summary>STLR Wt, [Xn]: store-release.</summary>
    public static uint StlrW(int rt, int rn) => 0x889FFC00u | (Reg(rn) << 5) | Reg(rt);

    /// <summary>LDAXR Wt, [Xn]: load-acquire exclusive (with <see cref="StlxrW"/>, an atomic update on ARMv8.0, which has no LSE atomics).</summary>
    public static uint LdaxrW(int rt, int rn) => 0x885FFC00u | (Reg(rn) << 5) | Reg(rt);

    /// <summary>STLXR Ws, Wt, [Xn]: store-release exclusive; Ws = 0 when it succeeded.</summary>
    public static uint StlxrW(int rs, int rt, int rn) => 0x8800FC00u | (Reg(rs) << 16) | (Reg(rn) << 5) | Reg(rt);

    // ---------------------------------------------------------------- 32-bit arithmetic, moves

    /// <summary>ADD Wd, Wn, #imm12.</summary>
    public static uint AddImmW(int rd, int rn, uint imm12)
    {
        if (imm12 > 0xFFF)
            throw new ArgumentOutOfRangeException(nameof(imm12));
        return 0x11000000u | (imm12 << 10) | (Reg(rn) << 5) | Reg(rd);
    }

    /// <summary>SUB Wd, Wn, Wm.</summary>
    public static uint SubRegW(int rd, int rn, int rm) => 0x4B000000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Reg(rd);

    /// <summary>CMP Wn, Wm (SUBS WZR, Wn, Wm).</summary>
    public static uint CmpRegW(int rn, int rm) => 0x6B000000u | (Reg(rm) << 16) | (Reg(rn) << 5) | Zr;

    /// <summary>MOV Xd, Xm (ORR Xd, XZR, Xm).</summary>
    public static uint MovReg(int rd, int rm) => 0xAA0003E0u | (Reg(rm) << 16) | Reg(rd);

    // ---------------------------------------------------------------- system

    /// <summary>BRK #imm16.</summary>
    public static uint Brk(ushort imm16) => 0xD4200000u | ((uint)imm16 << 5);

    /// <summary>SVC #0: a Linux system call (number in x8, arguments in x0–x5, result in x0; the kernel keeps every other register).</summary>
    public const uint Svc0 = 0xD4000001;

    /// <summary>MRS Xt, CTR_EL0 (op0=3, op1=3, CRn=0, CRm=0, op2=1). Readable at EL0 on Linux, macOS and Windows.</summary>
    public static uint MrsCtrEl0(int rt) => 0xD53B0020u | Reg(rt);

    /// <summary>DC CVAU, Xt: clean data cache line by VA to the Point of Unification (SYS #3, C7, C11, #1).</summary>
    public static uint DcCvau(int rt) => 0xD50B7B20u | Reg(rt);

    /// <summary>IC IVAU, Xt: invalidate instruction cache line by VA to the Point of Unification (SYS #3, C7, C5, #1).</summary>
    public static uint IcIvau(int rt) => 0xD50B7520u | Reg(rt);

    // ---------------------------------------------------------------- helpers

    public static uint ReadWord(byte[] code, int offset) =>
        code[offset] | ((uint)code[offset + 1] << 8) | ((uint)code[offset + 2] << 16) | ((uint)code[offset + 3] << 24);

    public static ulong ReadUInt64(byte[] code, int offset) => ReadWord(code, offset) | ((ulong)ReadWord(code, offset + 4) << 32);

    public static void WriteWord(byte[] code, int offset, uint word)
    {
        code[offset] = (byte)word;
        code[offset + 1] = (byte)(word >> 8);
        code[offset + 2] = (byte)(word >> 16);
        code[offset + 3] = (byte)(word >> 24);
    }

    public static void WriteUInt64(byte[] code, int offset, ulong value)
    {
        WriteWord(code, offset, (uint)value);
        WriteWord(code, offset + 4, (uint)(value >> 32));
    }

    public static byte[] ToBytes(uint[] words)
    {
        var bytes = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++)
            WriteWord(bytes, i * 4, words[i]);
        return bytes;
    }

    internal static long SignExtend(uint value, int bits)
    {
        int shift = 64 - bits;
        return ((long)value << shift) >> shift;
    }

    private static void CheckScaled(long delta, int bits, int scale, string what)
    {
        long limit = (1L << (bits - 1)) * scale;
        if (delta % scale != 0 || delta < -limit || delta >= limit)
            throw new ArgumentOutOfRangeException(nameof(delta), $"{what}: offset {delta} is not a multiple of {scale} in [-{limit}, {limit}).");
    }

    private static uint Reg(int r)
    {
        if (r < 0 || r > 31)
            throw new ArgumentOutOfRangeException(nameof(r), $"Register number {r} is not 0..31.");
        return (uint)r;
    }

    // ---------------------------------------------------------------- relocation (used by Arm64Relocator)
    // Decoders for every PC-relative class of the A64 base encoding tables (DDI 0487 C4.1), and the encoders the
    // relocator needs to rebuild them elsewhere. Offsets are returned in bytes, already scaled.

    /// <summary>CBZ/CBNZ Wt|Xt, label (C4.1 "Compare and branch (immediate)"). Reach: ±1 MiB, word-aligned.</summary>
    public static uint CompareBranch(bool nonZero, bool is64, int rt, ulong from, ulong to)
    {
        long delta = unchecked((long)(to - from));
        CheckScaled(delta, 19, 4, nonZero ? "CBNZ" : "CBZ");
        return (is64 ? 0x80000000u : 0u) | (nonZero ? 0x35000000u : 0x34000000u) | (((uint)(delta >> 2) & 0x7FFFFu) << 5) | Reg(rt);
    }

    /// <summary>Recognises CBZ/CBNZ (sf 011010 op imm19 Rt) and returns its byte offset.</summary>
    public static bool IsCompareBranch(uint word, out bool nonZero, out bool is64, out int rt, out long offset)
    {
        nonZero = (word & 0x01000000u) != 0;
        is64 = (word & 0x80000000u) != 0;
        rt = (int)(word & 31);
        offset = SignExtend((word >> 5) & 0x7FFFFu, 19) << 2;
        return (word & 0x7E000000u) == 0x34000000u;
    }

    /// <summary>Recognises TBZ/TBNZ (b5 011011 op b40 imm14 Rt) and returns the tested bit and byte offset.</summary>
    public static bool IsTestBit(uint word, out bool nonZero, out int rt, out int bit, out long offset)
    {
        nonZero = (word & 0x01000000u) != 0;
        rt = (int)(word & 31);
        bit = (int)(((word >> 26) & 0x20u) | ((word >> 19) & 31u));
        offset = SignExtend((word >> 5) & 0x3FFFu, 14) << 2;
        return (word & 0x7E000000u) == 0x36000000u;
    }

    /// <summary>BC.cond (FEAT_HBC): B.cond with bit 4 set, a hint that the branch is consistent; same reach.</summary>
    public static uint BcCond(int cond, ulong from, ulong to) => BCond(cond, from, to) | 0x10u;

    /// <summary>Recognises B.cond and BC.cond (01010100 imm19 o0 cond); <paramref name="consistent"/> is o0 (BC).</summary>
    public static bool IsConditionalBranch(uint word, out int cond, out bool consistent, out long offset)
    {
        cond = (int)(word & 15);
        consistent = (word & 0x10u) != 0;
        offset = SignExtend((word >> 5) & 0x7FFFFu, 19) << 2;
        return (word & 0xFF000000u) == 0x54000000u;
    }

    /// <summary>
    /// FEAT_CMPBR (Armv9.6) CB&lt;cc&gt;, CBB&lt;cc&gt;, CBH&lt;cc&gt;: compare-and-branch with an imm9 PC offset, in the
    /// block (bits 30:25 = 111010) that the branch group listed as unallocated before that extension.
    /// </summary>
    public static bool IsCompareAndBranchExtended(uint word) => (word & 0x7E000000u) == 0x74000000u;

    /// <summary>LDR Wt|Xt|St|Dt|Qt, LDRSW Xt, PRFM prfop (literal). Reach: ±1 MiB, word-aligned.</summary>
    public static uint LoadLiteral(Arm64LiteralLoad kind, int rt, ulong from, ulong literal)
    {
        if (kind == Arm64LiteralLoad.Unallocated || (uint)kind > 7)
            throw new ArgumentOutOfRangeException(nameof(kind));
        long delta = unchecked((long)(literal - from));
        CheckScaled(delta, 19, 4, "LDR (literal)");
        uint k = (uint)kind;
        return ((k >> 1) << 30) | ((k & 1) << 26) | 0x18000000u | (((uint)(delta >> 2) & 0x7FFFFu) << 5) | Reg(rt);
    }

    /// <summary>
    /// Recognises the whole "Load register (literal)" class (xx011x00 imm19 Rt) and returns the literal's address.
    /// <paramref name="kind"/> is opc:V, so <see cref="Arm64LiteralLoad.Unallocated"/> (opc=11, V=1) is reported too.
    /// </summary>
    public static bool IsLoadLiteral(uint word, ulong address, out Arm64LiteralLoad kind, out int rt, out ulong literal)
    {
        kind = (Arm64LiteralLoad)(((word >> 30) << 1) | ((word >> 26) & 1));
        rt = (int)(word & 31);
        literal = unchecked(address + (ulong)(SignExtend((word >> 5) & 0x7FFFFu, 19) << 2));
        return (word & 0x3B000000u) == 0x18000000u;
    }

    /// <summary>
    /// The unsigned-offset form with offset 0 of the same access: LDR Wt|Xt|St|Dt|Qt, LDRSW Xt or PRFM prfop, [Xn]
    /// (C4.1 "Load/store register (unsigned immediate)"). <paramref name="rn"/> 31 would be SP, so it is refused.
    /// </summary>
    public static uint LoadBase(Arm64LiteralLoad kind, int rt, int rn)
    {
        if (rn == 31)
            throw new ArgumentOutOfRangeException(nameof(rn), "Register 31 as a load base is SP, not a materialised address.");
        uint opcode = kind switch
        {
            Arm64LiteralLoad.LdrW => 0xB9400000u,
            Arm64LiteralLoad.LdrX => 0xF9400000u,
            Arm64LiteralLoad.Ldrsw => 0xB9800000u,
            Arm64LiteralLoad.Prfm => 0xF9800000u,
            Arm64LiteralLoad.LdrS => 0xBD400000u,
            Arm64LiteralLoad.LdrD => 0xFD400000u,
            Arm64LiteralLoad.LdrQ => 0x3DC00000u,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return opcode | (Reg(rn) << 5) | Reg(rt);
    }

    /// <summary>
    /// MOVZ Xd for the lowest non-zero halfword, then MOVK for each other non-zero halfword (1..4 words; a zero value
    /// is one MOVZ #0). MOVK keeps the other bits and MOVZ clears them, so skipping zero halfwords is exact.
    /// </summary>
    public static uint[] MoveImmediate64(int rd, ulong value)
    {
        var words = new System.Collections.Generic.List<uint>(4);
        for (int hw = 0; hw < 4; hw++)
        {
            ushort part = (ushort)(value >> (16 * hw));
            if (part == 0)
                continue;
            words.Add(MovWide(words.Count == 0 ? Arm64MoveKind.MovZ : Arm64MoveKind.MovK, rd, part, hw));
        }
        if (words.Count == 0)
            words.Add(MovWide(Arm64MoveKind.MovZ, rd, 0, 0));
        return words.ToArray();
    }
}

internal enum Arm64MoveKind
{
    MovZ,
    MovN,
    MovK,
}
