using System;
using System.Runtime.CompilerServices;
using System.Threading;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.X64;

/// <summary>x64 hooks: a 5-byte <c>jmp rel32</c> over whole instructions at the entry (<see cref="X64HookBuilder"/>).</summary>
internal sealed unsafe class X64Hooks : ICpuHooks
{
    private readonly X64Abi _abi;

    public X64Hooks(X64Abi abi) => _abi = abi;

    // The plan Refusal made last (under the engine lock), for Build of the same body right after it: planning decodes
    // the entry and scans the whole body for branches into it, ~13 µs of a first redirect — twice, before.
    private (nint Body, X64EntryPlan Plan)? _lastPlan;

    public string? Refusal(nint body)
    {
        var plan = X64HookBuilder.Plan(body);
        _lastPlan = (body, plan);
        return plan.Refusal;
    }

    public long StubReach => int.MaxValue; // jmp rel32

    public string StubReachText => "±2 GiB";

    // The hidden argument follows `this`, and a hidden return buffer is an argument too (before the generic context).
    public int HiddenArgumentIndex(MethodTarget target) =>
        (target.IsInstance ? 1 : 0) + (_abi.ReturnsThroughHiddenBuffer(target.ReturnType) ? 1 : 0);

    public HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter)
    {
        var plan = _lastPlan is { } last && last.Body == body ? last.Plan : X64HookBuilder.Plan(body);
        _lastPlan = null;
        if (plan.Refusal is { } refusal)
            throw new InvalidOperationException(refusal); // HookRegistry asked Refusal first
        // x64 passes a hidden return buffer of an instance method after `this`, of a static one first: swap.
        bool swap = target.IsInstance && _abi.ReturnsThroughHiddenBuffer(target.ReturnType);
        return X64HookBuilder.Build(body, plan.Covered, slot.Code, slot.Data, slot.CodeSize, swap, filter, _abi);
    }

    public void FillWithTraps(Span<byte> code) => code.Fill(0xCC); // int3

    /// <summary>
    /// One aligned 8-byte word at a time, each with a single locked write, so a thread fetching a word sees all of its
    /// old or all of its new bytes. Which word goes first matters when a patch spans two words: installing a jump writes
    /// the entry word first (entering threads are diverted before the rest changes); restoring writes it last (the tail
    /// is only the int3 padding behind the jump until the entry word, holding the start of the original code, comes
    /// back in one store).
    /// </summary>
    public void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        nint first = address & ~(nint)7;
        nint last = (address + bytes.Length - 1) & ~(nint)7;
        int words = (int)((last - first) / 8) + 1;
        for (int n = 0; n < words; n++)
        {
            nint word = entryWordLast ? last - n * 8 : first + n * 8;
            long oldValue = Volatile.Read(ref Unsafe.AsRef<long>((void*)word));
            long newValue = oldValue;
            var span = new Span<byte>(&newValue, 8);
            for (int i = 0; i < bytes.Length; i++)
            {
                nint at = address + i;
                if (at >= word && at < word + 8)
                    span[(int)(at - word)] = bytes[i];
            }
            Interlocked.Exchange(ref Unsafe.AsRef<long>((void*)word), newValue);
        }
    }

    /// <summary>x64 keeps instruction fetch coherent with stores (Intel SDM vol. 3, 11.6): nothing to do.</summary>
    public void FlushNewCode(nint address, int length)
    {
    }
}
