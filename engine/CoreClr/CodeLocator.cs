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
    public static nint FindBody(MethodTarget target)
    {
        var owner = target.CodeOwner;
        target.Prepare();
        nint at = owner.MethodHandle.GetFunctionPointer();
        for (int hop = 0; hop < 8; hop++)
        {
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
