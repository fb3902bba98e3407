using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Reflection.Emit;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.MonoVm;

/// <summary>
/// Mono: a method is compiled once and its function pointer is its code — nothing to walk, no tier-up to hold, no
/// MethodDesc flags to set. Shared generic code is refused: Mono's shared instantiations are not told apart yet.
/// </summary>
internal sealed class MonoRuntime : IRuntimeHooks
{
    public static readonly MonoRuntime Instance = new();

    public string? Refusal(MethodTarget target) => target.IsSharedCode
        ? "it runs generic code that Mono shares between reference-type instantiations, and the native jump on Mono cannot yet tell them apart (it would redirect every instantiation)"
        : null;

    public LocatedCode Locate(MethodTarget target, Func<nint, bool>? isHookedBody)
    {
        nint code = target.Method.MethodHandle.GetFunctionPointer();
        if (code == 0)
            throw new NotSupportedException($"Mono returned no code for {MethodTarget.Describe(target.Method)}.");
        return new LocatedCode(code, 0);
    }

    public nint[] BlockInlining(MethodTarget target, nint compiledAs = 0) => Array.Empty<nint>();

    public void UndoInliningBlock(nint[] changed)
    {
    }

    public string HoldSummary => "Mono compiles a method once, so the jump stays in the code that runs.";

    public string? HoldUnavailable => null;

    /// <summary>
    /// Mono keeps a dynamic method's handle in its private <c>mhandle</c> field, filled by <c>CreateDynMethod</c>
    /// (what <c>CreateDelegate</c> calls first); <c>GetFunctionPointer</c> on that handle compiles it.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Mono only; DynamicMethod's private members are not trimmed from Mono's corlib.")]
    public nint EntryPointOf(DynamicMethod method)
    {
        var type = typeof(DynamicMethod);
        var create = type.GetMethod("CreateDynMethod", BindingFlags.NonPublic | BindingFlags.Instance);
        var field = type.GetField("mhandle", BindingFlags.NonPublic | BindingFlags.Instance);
        if (create is null || field is null)
            throw new NotSupportedException("This Mono's DynamicMethod has no CreateDynMethod/mhandle; bridges for delegates cannot be built.");
        create.Invoke(method, null);
        var handle = (RuntimeMethodHandle)field.GetValue(method)!;
        return handle.GetFunctionPointer();
    }

    public nint ReserveNearCode(int size) => 0;
}
