using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Targets;
using Hybrid.X64;

namespace Hybrid.Patching;

/// <summary>
/// One <see cref="MethodHook"/> per compiled body, created on first use and kept for the life of the process: its
/// stub and trampoline pages are never freed, because a thread may still be running in them after the last redirect
/// is disposed.
/// </summary>
internal static unsafe class HookRegistry
{
    private static readonly Dictionary<nint, MethodHook> s_byBody = new();

    /// <summary>Caller holds the engine lock.</summary>
    public static MethodHook For(MethodTarget target)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            throw new PlatformNotSupportedException($"Native redirects on {RuntimeInformation.ProcessArchitecture} CoreCLR are not wired into the engine yet; weave the method and use the IL guard.");

        // Compile first (the hold refuses every compilation of the method, the first one included), then hold
        // tier-up before reading the body, so the body cannot be replaced between finding and patching it.
        target.Prepare();
        InliningBlock.Apply(target);
        nint compileKey = CodeLocator.CompileKey(target);
        bool heldHere = !TieringFreeze.IsHeld(compileKey) && TieringFreeze.Hold(compileKey);
        try
        {
            nint body = CodeLocator.FindBody(target, s_byBody.ContainsKey);
            if (s_byBody.TryGetValue(body, out var existing))
                return existing;
            var hook = Create(target, body, compileKey);
            s_byBody.Add(body, hook);
            return hook;
        }
        finally
        {
            if (heldHere)
                TieringFreeze.Release(compileKey); // MethodHook holds it again for as long as its jump is installed
        }
    }

    /// <summary>
    /// What <see cref="For"/> would refuse, without its side effects (no pages, no flags, no code written). The method
    /// is compiled if it never was, because only compiled code can be checked. Caller holds the engine lock.
    /// </summary>
    public static string? Check(MethodTarget target)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"Native redirects on {RuntimeInformation.ProcessArchitecture} CoreCLR are not wired into the engine yet; weave the method and use the IL guard.";
        target.Prepare();
        nint body = CodeLocator.FindBody(target, s_byBody.ContainsKey);
        if (s_byBody.ContainsKey(body))
            return null;
        X64HookBuilder.Covered(body, 5, out var refusal);
        return refusal is null ? null : TooSmall(target, refusal);
    }

    private static string TooSmall(MethodTarget target, string refusal) =>
        $"{MethodTarget.Describe(target.Method)} cannot be redirected with a native jump: {refusal}. " +
        "Fix: weave it (<Patchable Include=\"" + PatchableName(target) + "\" />), which keeps it out of line and gives it an IL guard.";

    private static MethodHook Create(MethodTarget target, nint body, nint compileKey)
    {
        var memory = PlatformMemory.Current;
        int page = memory.PageSize;
        nint pages = memory.AllocateNear(body, 2 * page, int.MaxValue);
        if (pages == 0)
            throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: no free memory within ±2 GiB of its code at 0x{body:x} for the redirect stub.");

        int jumpLength = X64Encoding.Jump((ulong)body, (ulong)pages).Length;
        var covered = X64HookBuilder.Covered(body, jumpLength, out var refusal);
        if (refusal is not null)
            throw new NotSupportedException(TooSmall(target, refusal));

        StubFilter? filter = target.Context switch
        {
            GenericContext.HiddenArgument => new StubFilter(false, (target.IsInstance ? 1 : 0) + (AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType) ? 1 : 0)),
            GenericContext.ThisMethodTable => new StubFilter(true, 0),
            _ => null,
        };
        bool swap = target.IsInstance && AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType);
        var code = X64HookBuilder.Build(body, covered, pages, pages + page, page, swap, filter);
        code.StubPage.CopyTo(new Span<byte>((void*)pages, page));
        if (!memory.TryProtect(pages, page, PageAccess.ReadExecute, out int error))
            throw new NotSupportedException($"The redirect stub page for {MethodTarget.Describe(target.Method)} could not be made executable (error {error}).");
        var original = CodeMemory.Read(body, code.EntryPatch.Length);
        return new MethodHook(body, compileKey, original, code.EntryPatch, pages, pages + page, code.Trampoline, filter is not null, code.InteriorFixups);
    }

    public static string PatchableName(MethodTarget target) =>
        (target.DeclaringType.IsGenericType ? target.DeclaringType.GetGenericTypeDefinition().FullName : target.DeclaringType.FullName) + "." + target.Method.Name;
}
