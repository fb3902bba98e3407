using System;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.CoreClr;

/// <summary>
/// Finds the compiled body of a method on CoreCLR: start at its stable entry point (<c>GetFunctionPointer</c>, a
/// precode) and follow the stubs the runtime puts in between, recognised by the CPU's <see cref="ICodeReader"/>
/// (the same walk on x64 and arm64). Mono needs no walk (<see cref="MonoVm.MonoRuntime"/>).
/// </summary>
internal static class CodeLocator
{
    private static nint StartAddress(MethodTarget target) =>
        // Shared code that takes a hidden instantiation argument has no usable stable entry point: GetFunctionPointer
        // (ldftn) answers with a stub that supplies the argument, not the code callers reach. Ask a caller instead.
        target.Context == GenericContext.HiddenArgument
            ? CallSiteProbe.EntryCalledFor(target)
            : target.CodeOwner.MethodHandle.GetFunctionPointer();

    /// <summary>Follows precodes, call-counting stubs and jump stubs from <paramref name="at"/> to the compiled body.</summary>
    public static nint Follow(MethodTarget target, nint at, Func<nint, bool>? isHookedBody = null) =>
        Walk(target, at, isHookedBody, probeWhenUncompiled: false).Body;

    /// <summary>
    /// The compiled body of <paramref name="target"/> and the MethodDesc its code is compiled under (what the JIT sees
    /// as <c>CORINFO_METHOD_INFO.ftn</c>), which differs from the reflected method's for a struct's virtual methods
    /// (reflection hands out the unboxing stub's MethodDesc).
    /// </summary>
    public static LocatedCode Locate(MethodTarget target, Func<nint, bool>? isHookedBody = null)
    {
        var located = Walk(target, StartAddress(target), isHookedBody, probeWhenUncompiled: target.Context != GenericContext.HiddenArgument);
        return located.MethodDesc == 0 ? located with { MethodDesc = CompileKey(target) } : located;
    }

    private static LocatedCode Walk(MethodTarget target, nint at, Func<nint, bool>? isHookedBody, bool probeWhenUncompiled)
    {
        nint methodDesc = 0; // of the last precode passed: the MethodDesc the code at the end is compiled under
        bool unboxed = false;
        for (int hop = 0; hop < 8; hop++)
        {
            // A body we already hooked starts with our jump; following it would lead into the replacement.
            if (isHookedBody?.Invoke(at) == true)
                return new LocatedCode(at, methodDesc);
            var kind = Platform.CodeReader.Classify(at, out var next, out var stubMethodDesc);
            switch (kind)
            {
                case StubKind.Body when unboxed && methodDesc == 0:
                    // The hold and the inlining block would go to the unboxing stub's MethodDesc, not the body's.
                    throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: its unboxing stub leads straight to code, with no precode that names the MethodDesc the code is compiled under; this runtime's layout is not one Hybrid knows.");
                case StubKind.Body:
                    return new LocatedCode(at, methodDesc);
                case StubKind.UnboxingStub when !unboxed && target.IsInstance && target.DeclaringType.IsValueType:
                    // Everything before it served the unboxing stub's MethodDesc (what reflection hands out); the
                    // struct's code and its MethodDesc come after.
                    unboxed = true;
                    methodDesc = 0;
                    at = next;
                    break;
                case StubKind.UnboxingStub when unboxed:
                    throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: an unboxing stub leads to another; this runtime's layout is not one Hybrid knows.");
                case StubKind.UnboxingStub:
                    return new LocatedCode(at, methodDesc); // not a struct method: a body that merely begins like one
                case StubKind.UncompiledFixupPrecode when probeWhenUncompiled:
                    // A virtual method whose callers go through vtable slots that the runtime backpatches with its
                    // code (CoreCLR "entry point slot backpatching" for tiered virtual methods): its precode stays on
                    // the prestub forever. Ask the JIT what a direct caller calls: the slot, whose content is the code.
                    probeWhenUncompiled = false;
                    at = CallSiteProbe.EntryCalledFor(target);
                    break;
                case StubKind.UncompiledFixupPrecode:
                    throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} has no compiled code even after RuntimeHelpers.PrepareMethod; its precode at 0x{at:x} still points at the runtime's prestub.");
                default:
                    if (stubMethodDesc != 0)
                        methodDesc = stubMethodDesc;
                    at = next;
                    break;
            }
        }
        throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: more than 8 stubs in front of its code; this runtime's layout is not one Hybrid knows.");
    }

    /// <summary>The handle the JIT sees as <c>CORINFO_METHOD_INFO.ftn</c> when it compiles this method's code.</summary>
    public static nint CompileKey(MethodTarget target) => target.CodeOwner.MethodHandle.Value;
}
