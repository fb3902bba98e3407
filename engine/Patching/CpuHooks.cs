using System;
using Hybrid.Targets;

namespace Hybrid.Patching;

/// <summary>
/// What one CPU contributes to a hook: whether a compiled body can take the entry patch, how far its stub may be, where
/// a shared generic method's hidden argument travels, the hook's code, and the trap that fills unused stub memory.
/// <see cref="HookRegistry"/>, <see cref="StubHeap"/> and <see cref="MethodHook"/> are the same on every CPU; adding one
/// means adding an implementation and naming it in <see cref="Platform.Cpu"/>.
/// </summary>
internal interface ICpuHooks
{
    /// <summary>Why <paramref name="body"/> cannot take the entry patch (a bare reason for a message), or null.</summary>
    string? Refusal(nint body);

    /// <summary>How far (bytes, either way) the entry patch can reach: the stub must lie within it.</summary>
    long StubReach { get; }

    /// <summary>The same reach as people say it, for messages ("±2 GiB").</summary>
    string StubReachText { get; }

    /// <summary>The argument index of the hidden instantiation argument of shared generic code.</summary>
    int HiddenArgumentIndex(MethodTarget target);

    /// <summary>
    /// The entry patch, dispatch stub and trampoline for <paramref name="body"/>, with the stub in <paramref name="slot"/>.
    /// Called under the engine lock right after <see cref="Refusal"/> of the same body answered null, whose analysis
    /// it may reuse.
    /// </summary>
    HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter);

    /// <summary>Fills code memory no stub uses with traps, so a stray jump stops instead of sliding.</summary>
    void FillWithTraps(Span<byte> code);

    /// <summary>
    /// Stores <paramref name="bytes"/> over code other threads may be running, in pieces each thread fetches whole;
    /// <paramref name="entryWordLast"/> when putting an entry back (see each CPU's order). The page is writable.
    /// </summary>
    void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast);

    /// <summary>Makes code written into fresh memory (a stub, a trampoline, a filter) visible to instruction fetch.</summary>
    void FlushNewCode(nint address, int length);
}
