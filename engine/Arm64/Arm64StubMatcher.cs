using System;
using System.Collections.Generic;

namespace Hybrid.Arm64;

/// <summary>CoreCLR arm64 stub shapes the matcher recognises (plus plain jumps).</summary>
internal enum Arm64StubKind
{
    None,

    /// <summary><c>ldr x10, Target; ldr x12, MethodDesc|SecretParam; br x10</c> (StubPrecodeCode).</summary>
    StubPrecode,

    /// <summary><c>ldr x11, Target; br x11; [dmb ishld;] ldr x12, MethodDesc; ldr x11, PrecodeFixupThunk; br x11</c> (FixupPrecodeCode).</summary>
    FixupPrecode,

    /// <summary>The tiering call-counting stub (CallCountingStubCode).</summary>
    CallCountingStub,

    /// <summary>A jump: B, LDR-literal+BR (CoreCLR's <c>emitJump</c> jump stubs and our own), MOVZ/MOVK+BR, ADRP forms.</summary>
    Jump,
}

/// <summary>Which runtime generation's template the bytes match (when the shape differs between them).</summary>
internal enum Arm64StubShape
{
    /// <summary>The shape is the same in every supported version, or could not be told apart from the bytes given.</summary>
    Any,

    /// <summary>.NET 8 and 9 (and .NET 10 on Windows, whose thunktemplates.asm kept the 5-instruction FixupPrecode).</summary>
    Net8,

    /// <summary>.NET 10 on Unix: FixupPrecode has <c>dmb ishld</c> at +8; StubPrecode is padded with <c>brk #0xf000</c>.</summary>
    Net10,
}

/// <summary>A recognised stub: where its cells are. Slot addresses are absolute; read 8 bytes there for the value.</summary>
internal sealed class Arm64StubMatch
{
    public Arm64StubKind Kind { get; internal set; }

    public Arm64StubShape Shape { get; internal set; }

    public ulong Address { get; internal set; }

    /// <summary>Bytes of code matched.</summary>
    public int Length { get; internal set; }

    /// <summary>
    /// The cell holding where the stub currently goes: StubPrecode/FixupPrecode <c>Target</c>, CallCountingStub
    /// <c>TargetForMethod</c>, a jump's literal or ADRP+LDR cell. Null for jumps whose target is encoded in the code.
    /// </summary>
    public ulong? TargetSlot { get; internal set; }

    /// <summary>The destination when it is encoded in the instructions themselves (B, MOVZ/MOVK, ADRP+ADD) or the literal was in the bytes given.</summary>
    public ulong? DirectTarget { get; internal set; }

    /// <summary>StubPrecode <c>SecretParam</c> (.NET 10; <c>MethodDesc</c> before) / FixupPrecode <c>MethodDesc</c>.</summary>
    public ulong? MethodDescSlot { get; internal set; }

    /// <summary>FixupPrecode <c>PrecodeFixupThunk</c> (holds ThePreStub's address).</summary>
    public ulong? PrecodeFixupThunkSlot { get; internal set; }

    /// <summary>CallCountingStub <c>RemainingCallCountCell</c> (a pointer to the 16-bit counter).</summary>
    public ulong? RemainingCallCountSlot { get; internal set; }

    /// <summary>CallCountingStub <c>TargetForThresholdReached</c>.</summary>
    public ulong? ThresholdReachedSlot { get; internal set; }

    /// <summary>The code-to-data distance (GetStubCodePageSize()) inferred from the LDR literals; 0 for jumps.</summary>
    public ulong StubPageSize { get; internal set; }

    /// <summary>
    /// For a FixupPrecode: the value <c>Target</c> holds while the method has never been prepared (entry + 8, which
    /// runs the precode's own fixup half and ends in ThePreStub). Patching that state would patch shared code.
    /// </summary>
    public ulong? UnpreparedTargetValue { get; internal set; }

    public override string ToString() => $"{Kind} ({Shape}) at 0x{Address:x}" + (TargetSlot is { } s ? $", target slot 0x{s:x}" : "") + (DirectTarget is { } t ? $", target 0x{t:x}" : "");
}

/// <summary>Reads the debuggee/own process memory for <see cref="Arm64StubMatcher.Resolve"/>.</summary>
internal interface IArm64MemoryReader
{
    /// <summary>Fills <paramref name="buffer"/> from <paramref name="address"/>; false if the memory is not readable.</summary>
    bool TryRead(ulong address, byte[] buffer);
}

internal enum Arm64ResolveStatus
{
    /// <summary><see cref="Arm64ResolvedCode.Body"/> is the code the stable entry point currently reaches.</summary>
    Resolved,

    /// <summary>The method has not been prepared yet (FixupPrecode points at itself+8, or a StubPrecode at ThePreStub).</summary>
    NotPrepared,

    /// <summary>Memory could not be read or the chain was longer than allowed.</summary>
    Unreadable,
}

/// <summary>The walk from a stable entry point through CoreCLR's stubs to the method body.</summary>
internal sealed class Arm64ResolvedCode
{
    public Arm64ResolveStatus Status { get; internal set; }

    /// <summary>The address callers use (what <c>GetFunctionPointer</c> returns): the first element of the walk.</summary>
    public ulong StableEntryPoint { get; internal set; }

    /// <summary>The first code that matched no stub pattern: the compiled body (null unless <see cref="Status"/> is Resolved).</summary>
    public ulong? Body { get; internal set; }

    /// <summary>The precode's <c>Target</c> cell, if the entry is a precode: redirecting precode-routed callers means storing here.</summary>
    public ulong? EntryTargetSlot { get; internal set; }

    /// <summary>ThePreStub's address if a FixupPrecode revealed it.</summary>
    public ulong? PreStub { get; internal set; }

    public List<Arm64StubMatch> Chain { get; } = new();
}

/// <summary>
/// Recognises CoreCLR's arm64 stubs by instruction pattern so the engine can find a method's stable entry point's
/// indirection cell and the real body behind it.
///
/// Sources (dotnet/runtime): <c>src/coreclr/vm/arm64/thunktemplates.S</c> (Unix) / <c>thunktemplates.asm</c>
/// (Windows), data layouts in <c>src/coreclr/vm/arm64/asmconstants.h</c>, jump stubs in <c>cgencpu.h</c>
/// (<c>emitJump</c>). The code page and its data page are <c>GetStubCodePageSize()</c> apart: 16 KiB on Windows and
/// <c>max(16 KiB, OS page)</c> on Unix since .NET 8 (the OS page, usually 4 KiB, in .NET 7). The matcher does not
/// assume it: it decodes every LDR literal and requires the offsets to agree with one power-of-two page size and with
/// the field offsets from asmconstants.h (StubPrecodeData: SecretParam/MethodDesc 0, Target 8; FixupPrecodeData:
/// Target 0, MethodDesc 8, PrecodeFixupThunk 16; CallCountingStubData: RemainingCallCountCell 0, TargetForMethod 8,
/// TargetForThresholdReached 16).
/// </summary>
internal static class Arm64StubMatcher
{
    /// <summary>Enough bytes for the longest pattern (CallCountingStub, 9 instructions) plus StubPrecode's padding check.</summary>
    public const int MaxPatternBytes = 40;

    private const uint LdrhW10X9 = 0x7940012Au;     // ldrh w10, [x9]
    private const uint SubsW10One = 0x7100054Au;    // subs w10, w10, #1
    private const uint StrhW10X9 = 0x7900012Au;     // strh w10, [x9]
    private const uint BeqPlus12 = 0x54000060u;     // b.eq .+12
    private const uint BrkF000 = 0xD43E0000u;       // brk #0xf000 (StubPrecode padding, .NET 10)

    public static Arm64StubMatch? Match(ulong address, byte[] code)
    {
        if (code == null)
            throw new ArgumentNullException(nameof(code));
        return MatchCallCounting(address, code) ?? MatchFixup(address, code) ?? MatchStubPrecode(address, code) ?? MatchJump(address, code);
    }

    /// <summary>
    /// Walks from <paramref name="entry"/> through precodes, call-counting stubs and jumps to the first code that is
    /// none of them. <paramref name="knownPreStub"/> (ThePreStub, if the caller knows it) lets a StubPrecode that still
    /// points at the prestub be reported as <see cref="Arm64ResolveStatus.NotPrepared"/>.
    /// </summary>
    public static Arm64ResolvedCode Resolve(ulong entry, IArm64MemoryReader reader, ulong? knownPreStub = null, int maxHops = 8)
    {
        var result = new Arm64ResolvedCode { StableEntryPoint = entry, PreStub = knownPreStub };
        ulong current = entry;
        var buffer = new byte[MaxPatternBytes];
        for (int hop = 0; hop <= maxHops; hop++)
        {
            if (result.PreStub is { } prestub && current == prestub)
            {
                result.Status = Arm64ResolveStatus.NotPrepared;
                return result;
            }
            if (!ReadAvailable(reader, current, buffer, out byte[] bytes))
            {
                result.Status = Arm64ResolveStatus.Unreadable;
                return result;
            }
            var match = Match(current, bytes);
            if (match == null)
            {
                result.Status = Arm64ResolveStatus.Resolved;
                result.Body = current;
                return result;
            }
            result.Chain.Add(match);
            if (hop == 0 && match.Kind is Arm64StubKind.StubPrecode or Arm64StubKind.FixupPrecode)
                result.EntryTargetSlot = match.TargetSlot;
            if (match.PrecodeFixupThunkSlot is { } thunkSlot && result.PreStub == null && TryReadPointer(reader, thunkSlot, out ulong thunk))
                result.PreStub = thunk;

            ulong next;
            if (match.DirectTarget is { } direct)
                next = direct;
            else if (match.TargetSlot is { } slot && TryReadPointer(reader, slot, out ulong value))
                next = value;
            else
            {
                result.Status = Arm64ResolveStatus.Unreadable;
                return result;
            }
            if (match.UnpreparedTargetValue == next)
            {
                result.Status = Arm64ResolveStatus.NotPrepared;
                return result;
            }
            current = next;
        }
        result.Status = Arm64ResolveStatus.Unreadable;
        return result;
    }

    // StubPrecodeCode (thunktemplates.S, all of .NET 8–10):
    //   ldr x10, DATA_SLOT(StubPrecode, Target)        ; data + 8
    //   ldr x12, DATA_SLOT(StubPrecode, SecretParam)   ; data + 0 (named MethodDesc before .NET 10)
    //   br  x10
    //   brk #0xf000 ×3                                 ; .NET 10 only (earlier versions copy whatever follows the template)
    private static Arm64StubMatch? MatchStubPrecode(ulong address, byte[] code)
    {
        if (code.Length < 12)
            return null;
        uint w0 = Word(code, 0), w1 = Word(code, 1), w2 = Word(code, 2);
        if (!Ldr(w0, address, 10, out ulong target) || !Ldr(w1, address + 4, 12, out ulong secret) || !Br(w2, 10))
            return null;
        if (!PageSize(target - address, 8, out ulong page) || secret != address + page)
            return null;
        bool padded = code.Length >= 24 && Word(code, 3) == BrkF000 && Word(code, 4) == BrkF000 && Word(code, 5) == BrkF000;
        return new Arm64StubMatch
        {
            Kind = Arm64StubKind.StubPrecode,
            Shape = padded ? Arm64StubShape.Net10 : Arm64StubShape.Any,
            Address = address,
            Length = padded ? 24 : 12,
            TargetSlot = target,
            MethodDescSlot = secret,
            StubPageSize = page,
        };
    }

    // FixupPrecodeCode:
    //   .NET 8/9 (and Windows .NET 10):     .NET 10 Unix:
    //   ldr x11, DATA_SLOT(Target)           ldr x11, DATA_SLOT(Target)
    //   br  x11                              br  x11
    //   ldr x12, DATA_SLOT(MethodDesc)       dmb ishld
    //   ldr x11, DATA_SLOT(PrecodeFixupThunk) ldr x12, DATA_SLOT(MethodDesc)
    //   br  x11                              ldr x11, DATA_SLOT(PrecodeFixupThunk)
    //                                        br  x11
    private static Arm64StubMatch? MatchFixup(ulong address, byte[] code)
    {
        if (code.Length < 20)
            return null;
        uint w0 = Word(code, 0), w1 = Word(code, 1);
        if (!Ldr(w0, address, 11, out ulong target) || !Br(w1, 11) || !PageSize(target - address, 0, out ulong page))
            return null;
        int i = 2;
        bool barrier = Word(code, 2) == Arm64Instructions.DmbIshLd;
        if (barrier)
        {
            if (code.Length < 24)
                return null;
            i = 3;
        }
        ulong at = address + (ulong)i * 4;
        if (!Ldr(Word(code, i), at, 12, out ulong md) || md != address + page + 8)
            return null;
        if (!Ldr(Word(code, i + 1), at + 4, 11, out ulong thunk) || thunk != address + page + 16)
            return null;
        if (!Br(Word(code, i + 2), 11))
            return null;
        return new Arm64StubMatch
        {
            Kind = Arm64StubKind.FixupPrecode,
            Shape = barrier ? Arm64StubShape.Net10 : Arm64StubShape.Net8,
            Address = address,
            Length = (i + 3) * 4,
            TargetSlot = target,
            MethodDescSlot = md,
            PrecodeFixupThunkSlot = thunk,
            StubPageSize = page,
            // FixupPrecode::FixupCodeOffset is 8 in both shapes (precode.h): Target = this + 8 until first prepared.
            UnpreparedTargetValue = address + 8,
        };
    }

    // CallCountingStubCode (.NET 8–10):
    //   ldr  x9, DATA_SLOT(RemainingCallCountCell)    ; data + 0
    //   ldrh w10, [x9]
    //   subs w10, w10, #1
    //   strh w10, [x9]
    //   beq  CountReachedZero
    //   ldr  x9, DATA_SLOT(TargetForMethod)           ; data + 8
    //   br   x9
    // CountReachedZero:
    //   ldr  x10, DATA_SLOT(TargetForThresholdReached) ; data + 16
    //   br   x10
    private static Arm64StubMatch? MatchCallCounting(ulong address, byte[] code)
    {
        if (code.Length < 36)
            return null;
        if (!Ldr(Word(code, 0), address, 9, out ulong count) || !PageSize(count - address, 0, out ulong page))
            return null;
        if (Word(code, 1) != LdrhW10X9 || Word(code, 2) != SubsW10One || Word(code, 3) != StrhW10X9 || Word(code, 4) != BeqPlus12)
            return null;
        if (!Ldr(Word(code, 5), address + 20, 9, out ulong target) || target != address + page + 8 || !Br(Word(code, 6), 9))
            return null;
        if (!Ldr(Word(code, 7), address + 28, 10, out ulong threshold) || threshold != address + page + 16 || !Br(Word(code, 8), 10))
            return null;
        return new Arm64StubMatch
        {
            Kind = Arm64StubKind.CallCountingStub,
            Address = address,
            Length = 36,
            TargetSlot = target,
            RemainingCallCountSlot = count,
            ThresholdReachedSlot = threshold,
            StubPageSize = page,
        };
    }

    private static Arm64StubMatch? MatchJump(ulong address, byte[] code)
    {
        if (!Arm64JumpEncoder.TryDecode(address, code, out var jump))
            return null;
        return new Arm64StubMatch
        {
            Kind = Arm64StubKind.Jump,
            Address = address,
            Length = jump!.Length,
            TargetSlot = jump.Slot,
            DirectTarget = jump.Target,
        };
    }

    private static bool PageSize(ulong distance, ulong fieldOffset, out ulong page)
    {
        page = distance - fieldOffset;
        // GetStubCodePageSize() is a power of two: 4 KiB (.NET 7 on 4 KiB-page Unix), 16 KiB, or the OS page up to 64 KiB.
        // An LDR literal reaches 1 MiB, so anything else is not a runtime stub.
        return page >= 0x1000 && page <= 0x10000 && (page & (page - 1)) == 0;
    }

    private static bool Ldr(uint word, ulong at, int register, out ulong literal) =>
        Arm64Instructions.IsLdrLiteral64(word, at, out int rt, out literal) && rt == register;

    private static bool Br(uint word, int register) => Arm64Instructions.IsBr(word, out int rn) && rn == register;

    private static uint Word(byte[] code, int index) => Arm64Instructions.ReadWord(code, index * 4);

    internal static bool ReadAvailable(IArm64MemoryReader reader, ulong address, byte[] buffer, out byte[] bytes)
    {
        // Stubs sit at the end of a code page next to unmapped/guard memory; fall back to shorter reads.
        foreach (int size in new[] { MaxPatternBytes, 24, 12, 4 })
        {
            var b = size == buffer.Length ? buffer : new byte[size];
            if (reader.TryRead(address, b))
            {
                bytes = b;
                return true;
            }
        }
        bytes = Array.Empty<byte>();
        return false;
    }

    internal static bool TryReadPointer(IArm64MemoryReader reader, ulong address, out ulong value)
    {
        var b = new byte[8];
        if (reader.TryRead(address, b))
        {
            value = Arm64Instructions.ReadUInt64(b, 0);
            return true;
        }
        value = 0;
        return false;
    }
}
