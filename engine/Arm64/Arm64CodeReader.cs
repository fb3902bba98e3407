using Hybrid.CoreClr;
using Hybrid.Os;

namespace Hybrid.Arm64;

/// <summary>
/// arm64 reading of CoreCLR code: stubs by <see cref="Arm64StubMatcher"/> (read through <see cref="PlatformMemory"/>,
/// because a stub can sit at the end of a mapping), calls by following the constants the JIT builds in registers.
/// </summary>
internal sealed unsafe class Arm64CodeReader : ICodeReader, IArm64MemoryReader
{
    public static readonly Arm64CodeReader Instance = new();

    private const int This = Arm64Instructions.X0; // `this` is x0 even with a hidden return buffer (x8 on arm64)

    public StubKind Classify(nint address, out nint next, out nint methodDesc)
    {
        next = 0;
        methodDesc = 0;
        if (!Arm64StubMatcher.ReadAvailable(this, (ulong)address, new byte[Arm64StubMatcher.MaxPatternBytes], out byte[] code))
            return StubKind.Body;
        // CoreCLR's unboxing stub (StubLinkerCPU::EmitUnboxMethodStub): `add x0, x0, #8`, then a tail jump to the
        // struct method's own entry (`ldr x16, lit; br x16` seen on .NET 10). Only a stub the walk knows may follow:
        // a body may begin with the same addition.
        if (Arm64Instructions.IsAddImm(Arm64Instructions.ReadWord(code, 0), out int rd, out int rn, out uint imm)
            && rd == This && rn == This && imm == 8)
        {
            if (Classify(address + 4, out _, out _) is StubKind.Body or StubKind.UncompiledFixupPrecode)
                return StubKind.Body;
            next = address + 4;
            return StubKind.UnboxingStub;
        }
        var match = Arm64StubMatcher.Match((ulong)address, code);
        if (match is null)
            return StubKind.Body;
        if (match.DirectTarget is { } direct)
            next = (nint)direct;
        else if (match.TargetSlot is not { } slot || !Arm64StubMatcher.TryReadPointer(this, slot, out ulong target))
            return StubKind.Body; // a cell we cannot read: not a stub of the runtime's
        else
            next = (nint)target;
        if (match.MethodDescSlot is { } mdSlot && match.Kind is Arm64StubKind.FixupPrecode or Arm64StubKind.StubPrecode
            && Arm64StubMatcher.TryReadPointer(this, mdSlot, out ulong md))
            methodDesc = (nint)md;
        return match.Kind switch
        {
            Arm64StubKind.FixupPrecode when match.UnpreparedTargetValue == (ulong)next => StubKind.UncompiledFixupPrecode,
            Arm64StubKind.FixupPrecode => StubKind.FixupPrecode,
            Arm64StubKind.StubPrecode => StubKind.StubPrecode,
            Arm64StubKind.CallCountingStub => StubKind.CallCountingStub,
            _ => StubKind.Jump,
        };
    }

    /// <summary>
    /// Follows the values the code builds in registers — <c>movz/movk</c>, <c>adrp</c>, <c>add #imm</c>, <c>mov</c>,
    /// <c>ldr</c> from a known address or a literal — up to the call: <c>blr xN</c> (through a cell the JIT loaded,
    /// e.g. <c>movz/movk x2, cell; ldr x2, [x2]; blr x2</c>), <c>bl</c>, or a tail call (<c>br xN</c>, or <c>b</c> out of
    /// the code). Any other instruction forgets the register its bits 0–4 name (the destination of nearly every
    /// instruction that writes one), so a stale value is never taken for a loaded one.
    /// </summary>
    public nint FindCalledEntry(nint code, ulong? key)
    {
        var known = new ulong?[32];
        bool keyLoaded = false;
        nint found = 0;
        for (int i = 0; i < 1024; i++)
        {
            nint at = code + 4 * i;
            uint word = *(uint*)at; // compiled code up to its return is mapped; the walk stops there
            int written = -1;
            nint call = 0;
            bool last = false;
            if (Arm64Instructions.IsMovWide(word, out var kind, out int rd, out ushort imm16, out int hw))
            {
                ulong part = (ulong)imm16 << (16 * hw);
                known[rd] = kind switch
                {
                    Arm64MoveKind.MovZ => part,
                    Arm64MoveKind.MovN => ~part,
                    _ => known[rd] is { } old ? (old & ~(0xFFFFUL << (16 * hw))) | part : null,
                };
                written = rd;
            }
            else if (Arm64Instructions.IsAdrp(word, (ulong)at, out rd, out ulong page))
                (known[rd], written) = (page, rd);
            else if (Arm64Instructions.IsAdr(word, (ulong)at, out rd, out ulong address))
                (known[rd], written) = (address, rd);
            else if (Arm64Instructions.IsAddImm(word, out rd, out int rn, out uint imm))
                (known[rd], written) = (rn != 31 && known[rn] is { } b ? b + imm : null, rd);
            else if (Arm64Instructions.IsLdrImm64(word, out int rt, out rn, out uint offset))
                (known[rt], written) = (rn != 31 && known[rn] is { } b && b != 0 ? *(ulong*)(nint)(b + offset) : null, rt);
            else if (Arm64Instructions.IsLdrLiteral64(word, (ulong)at, out rt, out ulong literal))
                (known[rt], written) = (*(ulong*)(nint)literal, rt);
            else if (IsMovRegister(word, out rd, out int rm))
                (known[rd], written) = (rm == 31 ? 0 : known[rm], rd);
            else if (Arm64Instructions.IsBl(word))
                call = (nint)Arm64Instructions.DecodeBranchTarget((ulong)at, word);
            else if (IsBlr(word, out rn))
                call = (nint)(known[rn] ?? 0);
            else if (Arm64Instructions.IsBr(word, out rn))
                (call, last) = ((nint)(known[rn] ?? 0), true);
            else if (Arm64Instructions.IsB(word))
            {
                ulong to = Arm64Instructions.DecodeBranchTarget((ulong)at, word);
                (call, last) = (to < (ulong)code || to >= (ulong)code + 4096 ? (nint)to : 0, true);
            }
            else if (word == Arm64Instructions.Ret || IsBrk(word) || word == 0)
                break;
            else
                known[word & 31] = null;

            if (written >= 0 && written != 31 && known[written] == key)
                keyLoaded = true;
            if (call != 0 && (keyLoaded || key is null))
            {
                if (key is not null)
                    return call;
                found = call;
            }
            if (call != 0 || IsBlr(word, out _))
                for (int r = 0; r <= 18; r++)
                    known[r] = null; // the callee may change every caller-saved register (AAPCS64 6.1.1)
            if (last)
                break;
        }
        return found;
    }

    /// <summary>BLR Xn.</summary>
    private static bool IsBlr(uint word, out int rn)
    {
        rn = (int)((word >> 5) & 31);
        return (word & 0xFFFFFC1Fu) == 0xD63F0000u;
    }

    /// <summary>MOV Xd, Xm (ORR Xd, XZR, Xm).</summary>
    private static bool IsMovRegister(uint word, out int rd, out int rm)
    {
        rd = (int)(word & 31);
        rm = (int)((word >> 16) & 31);
        return (word & 0xFFE0FFE0u) == 0xAA0003E0u;
    }

    private static bool IsBrk(uint word) => (word & 0xFFE0001Fu) == 0xD4200000u;

    /// <summary>Reads through <see cref="PlatformMemory"/>: a stub can sit at the end of a mapping.</summary>
    public bool TryRead(ulong address, byte[] buffer) => Platform.Memory.TryRead((nint)address, buffer);
}
