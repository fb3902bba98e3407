using System;
using System.Buffers.Binary;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.Arm64;

/// <summary>arm64 hooks: one <c>B stub</c> replaces the first instruction (<see cref="Arm64HookBuilder"/>).</summary>
internal sealed class Arm64Hooks : ICpuHooks
{
    public static readonly Arm64Hooks Instance = new();

    private static readonly uint Trap = Arm64Instructions.Brk(0x4859); // "HY"

    public string? Refusal(nint body) => null; // one instruction is replaced, and every body has one

    public long StubReach => Arm64Instructions.BranchMax; // B's imm26 words

    public string StubReachText => "±128 MiB";

    // The hidden argument follows `this`; a hidden return buffer travels in x8, outside the argument registers.
    public int HiddenArgumentIndex(MethodTarget target) => target.IsInstance ? 1 : 0;

    public HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter) =>
        Arm64HookBuilder.Build(body, Arm64HookBuilder.ReadFirstWord(body), slot.Code, slot.Data, slot.CodeSize, filter);

    public void FillWithTraps(Span<byte> code)
    {
        for (int offset = 0; offset + 4 <= code.Length; offset += 4)
            BinaryPrimitives.WriteUInt32LittleEndian(code.Slice(offset), Trap);
    }
}
