using System;
using System.Reflection;
using Hybrid.Targets;
using Hybrid.X64;

namespace Hybrid.CoreClr;

/// <summary>
/// Finds the compiled body of a method on CoreCLR x64 by starting at its stable entry point
/// (<c>RuntimeMethodHandle.GetFunctionPointer</c>, a precode) and following the stubs the runtime puts in between.
/// </summary>
internal static class CodeLocator
{
    public static nint FindBody(MethodTarget target, Func<nint, bool>? isHookedBody = null) => Follow(target, StartAddress(target), isHookedBody);

    private static nint StartAddress(MethodTarget target) =>
        // Shared code that takes a hidden instantiation argument has no usable stable entry point: GetFunctionPointer
        // (ldftn) answers with a stub that supplies the argument, not the code callers reach. Ask a caller instead.
        target.Context == GenericContext.HiddenArgument
            ? CallSiteProbe.EntryCalledFor(target)
            : target.CodeOwner.MethodHandle.GetFunctionPointer();

    /// <summary>Follows precodes, call-counting stubs and jump stubs from <paramref name="at"/> to the compiled body.</summary>
    public static nint Follow(MethodTarget target, nint at, Func<nint, bool>? isHookedBody = null)
    {
        for (int hop = 0; hop < 8; hop++)
        {
            // A body we already hooked starts with our jump; following it would lead into the replacement.
            if (isHookedBody?.Invoke(at) == true)
                return at;
            var kind = X64StubMatcher.Classify(at, out var next);
            switch (kind)
            {
                case X64StubKind.Body:
                    return at;
                case X64StubKind.UncompiledFixupPrecode:
                    throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} has no compiled code even after RuntimeHelpers.PrepareMethod; its precode at 0x{at:x} still points at the runtime's prestub.");
                default:
                    at = next;
                    break;
            }
        }
        throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: more than 8 stubs in front of its code; this runtime's layout is not one Hybrid knows.");
    }

    /// <summary>The handle the JIT sees as <c>CORINFO_METHOD_INFO.ftn</c> when it compiles this method's code.</summary>
    public static nint CompileKey(MethodTarget target) => target.CodeOwner.MethodHandle.Value;
}
