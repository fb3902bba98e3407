using System;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.X64;

/// <summary>x64 hooks: a 5-byte <c>jmp rel32</c> over whole instructions at the entry (<see cref="X64HookBuilder"/>).</summary>
internal sealed class X64Hooks : ICpuHooks
{
    public static readonly X64Hooks Instance = new();

    public string? Refusal(nint body) => X64HookBuilder.Plan(body).Refusal;

    public long StubReach => int.MaxValue; // jmp rel32

    public string StubReachText => "±2 GiB";

    // The hidden argument follows `this`, and a hidden return buffer is an argument too (before the generic context).
    public int HiddenArgumentIndex(MethodTarget target) =>
        (target.IsInstance ? 1 : 0) + (AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType) ? 1 : 0);

    public HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter)
    {
        var plan = X64HookBuilder.Plan(body);
        if (plan.Refusal is { } refusal)
            throw new InvalidOperationException(refusal); // HookRegistry asked Refusal first
        // x64 passes a hidden return buffer of an instance method after `this`, of a static one first: swap.
        bool swap = target.IsInstance && AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType);
        return X64HookBuilder.Build(body, plan.Covered, slot.Code, slot.Data, slot.CodeSize, swap, filter);
    }

    public void FillWithTraps(Span<byte> code) => code.Fill(0xCC); // int3
}
