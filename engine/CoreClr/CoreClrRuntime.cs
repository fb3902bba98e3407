using System;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.CoreClr;

/// <summary>CoreCLR (.NET 8–10): precodes in front of tiered bodies, tier-up held by a JIT filter, MethodDesc flags against inlining.</summary>
internal sealed class CoreClrRuntime : IRuntimeHooks
{
    public static readonly CoreClrRuntime Instance = new();

    public string? Refusal(MethodTarget target) => null;

    public LocatedCode Locate(MethodTarget target, Func<nint, bool>? isHookedBody) => CodeLocator.Locate(target, isHookedBody);

    public nint[] BlockInlining(MethodTarget target, nint compiledAs = 0) => InliningBlock.Apply(target, compiledAs);

    public void UndoInliningBlock(nint[] changed) => InliningBlock.Undo(changed);

    public string HoldSummary => "tier-up of the method is held while the redirect lives.";

    public string? HoldUnavailable => TieringFreeze.UnavailableReason;

    private static readonly MethodInfo? s_getMethodDescriptor =
        typeof(DynamicMethod).GetMethod("GetMethodDescriptor", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>
    /// <c>DynamicMethod.MethodHandle</c> throws by design and <c>ldftn</c> may not name a dynamic method, so this uses
    /// CoreCLR's internal <c>GetMethodDescriptor</c> (present from .NET Core 1.0 to .NET 10).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "DynamicMethod's private members are not trimmed from CoreLib.")]
    public nint EntryPointOf(DynamicMethod method)
    {
        if (s_getMethodDescriptor is null)
            throw new NotSupportedException("This runtime's DynamicMethod has no GetMethodDescriptor; bridges for delegates and shared generic code cannot be built.");
        var handle = (RuntimeMethodHandle)s_getMethodDescriptor.Invoke(method, null)!;
        RuntimeHelpers.PrepareMethod(handle);
        return handle.GetFunctionPointer();
    }

    /// <summary>
    /// CoreCLR keeps its loader heaps' reserved range at the frontier of the code it compiled last ("close to the
    /// executable code", loaderheap.cpp), so a block of type-associated memory — never freed for a type of a
    /// non-collectible assembly — is stub memory the runtime will not touch again. Only its page-aligned interior is
    /// used, so changing the protection of those pages affects nothing of the runtime's.
    /// </summary>
    public nint ReserveNearCode(int size)
    {
#if NET
        int page = Platform.Memory.PageSize;
        nint block = RuntimeHelpers.AllocateTypeAssociatedMemory(typeof(CoreClrRuntime), size + page);
        return block == 0 ? 0 : (block + page - 1) & ~(nint)(page - 1);
#else
        return 0;
#endif
    }
}
