using System;
using System.Reflection.Emit;
using Hybrid.Targets;

namespace Hybrid.Patching;

/// <summary>
/// What one runtime contributes to a native redirect: which methods it cannot serve, where a method's compiled body
/// is, how callers are kept from inlining it, what holds the body in place, where a dynamic method's code starts,
/// and stub memory it reserves near its code. <see cref="HookRegistry"/> and <see cref="RedirectPolicy"/> are the same
/// on every runtime; adding one means adding an implementation and naming it in <see cref="Platform.Runtime"/>.
/// </summary>
internal interface IRuntimeHooks
{
    /// <summary>Why the native path cannot serve <paramref name="target"/> on this runtime (a bare reason), or null.</summary>
    string? Refusal(MethodTarget target);

    /// <summary>
    /// The compiled body of <paramref name="target"/> and the key its code is compiled under (0 where the runtime has
    /// none to hold). <paramref name="isHookedBody"/> stops the walk at bodies that already carry our jump.
    /// </summary>
    LocatedCode Locate(MethodTarget target, Func<nint, bool>? isHookedBody);

    /// <summary>
    /// Keeps callers compiled from now on from inlining the method (and the code it is compiled as); returns what it
    /// changed, for <see cref="UndoInliningBlock"/> when the redirect fails after all.
    /// </summary>
    nint[] BlockInlining(MethodTarget target, nint compiledAs = 0);

    /// <summary>Puts back what <see cref="BlockInlining"/> changed.</summary>
    void UndoInliningBlock(nint[] changed);

    /// <summary>What keeps the jump in the code that runs, in a sentence for <c>Explain</c>.</summary>
    string HoldSummary { get; }

    /// <summary>Why that hold is unavailable in this process (Explain warns), or null.</summary>
    string? HoldUnavailable { get; }

    /// <summary>The entry point of a compiled dynamic method (bridges to delegates and shared generic code).</summary>
    nint EntryPointOf(DynamicMethod method);

    /// <summary>Page-aligned memory of <paramref name="size"/> bytes the runtime reserved near its code, never freed; 0 when it has none.</summary>
    nint ReserveNearCode(int size);
}

/// <summary>A method's compiled body and the MethodDesc the JIT compiles it under.</summary>
internal readonly record struct LocatedCode(nint Body, nint MethodDesc);
