using System;
using System.Reflection;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using Hybrid.Compat;
using Hybrid.Os;
using Hybrid.Targets;
using Hybrid.X64;

namespace Hybrid.CoreClr;

/// <summary>
/// Finds the compiled body of a method. CoreCLR: start at its stable entry point (<c>GetFunctionPointer</c>, a
/// precode) and follow the stubs the runtime puts in between, recognised by the CPU's stub matcher
/// (<see cref="X64StubMatcher"/>, <see cref="Arm64StubMatcher"/>). Mono: <c>GetFunctionPointer</c> compiles the
/// method and answers with its native code (<c>mono_compile_method</c>); there is no precode in front of it.
/// </summary>
internal static class CodeLocator
{
    public static nint FindBody(MethodTarget target, Func<nint, bool>? isHookedBody = null)
    {
        if (Host.IsMono)
        {
            nint code = target.Method.MethodHandle.GetFunctionPointer();
            if (code == 0)
                throw new NotSupportedException($"Mono returned no code for {MethodTarget.Describe(target.Method)}.");
            return code;
        }
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            return FollowArm64(target, StartAddress(target));
        return Follow(target, StartAddress(target), isHookedBody);
    }

    /// <summary>
    /// arm64 CoreCLR: precodes, call-counting stubs and jump stubs are recognised from the runtime's stub templates.
    /// A body we hooked starts with <c>B stub</c>, which matches no stub pattern, so the walk stops there.
    /// </summary>
    private static nint FollowArm64(MethodTarget target, nint entry)
    {
        var walk = Arm64StubMatcher.Resolve((ulong)entry, ReadableMemory.Instance);
        return walk.Status switch
        {
            Arm64ResolveStatus.Resolved => (nint)walk.Body!.Value,
            Arm64ResolveStatus.NotPrepared => throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} has no compiled code even after RuntimeHelpers.PrepareMethod; its precode at 0x{entry:x} still points at the runtime's prestub."),
            _ => throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: the stubs in front of its code at 0x{entry:x} could not be followed ({walk.Chain.Count} recognised); this runtime's layout is not one Hybrid knows."),
        };
    }

    private sealed class ReadableMemory : IArm64MemoryReader
    {
        public static readonly ReadableMemory Instance = new();

        public bool TryRead(ulong address, byte[] buffer)
        {
            var memory = PlatformMemory.Current;
            nint first = (nint)address, last = (nint)address + buffer.Length - 1;
            if ((memory.Query(first) & PageAccess.Read) == 0 || (memory.PageStart(first) != memory.PageStart(last) && (memory.Query(last) & PageAccess.Read) == 0))
                return false;
            Marshal.Copy(first, buffer, 0, buffer.Length);
            return true;
        }
    }

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
