using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using Hybrid.Compat;
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
        var unsupported = Unsupported(target);
        if (unsupported is not null)
            throw new NotSupportedException(Refused(target, unsupported));

        // Compile first (the hold refuses every compilation of the method, the first one included), then hold
        // tier-up before reading the body, so the body cannot be replaced between finding and patching it. Mono does
        // not tier and has no MethodDesc flags: there, the body found is the body that stays.
        target.Prepare();
        nint compileKey = 0;
        if (Host.IsCoreClr)
        {
            InliningBlock.Apply(target);
            compileKey = CodeLocator.CompileKey(target);
        }
        bool heldHere = compileKey != 0 && !TieringFreeze.IsHeld(compileKey) && TieringFreeze.Hold(compileKey);
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
    /// Why <see cref="For"/> would refuse (a bare reason, for <see cref="Engine.Explain"/> to frame), without its side effects (no pages, no flags, no code written). The method
    /// is compiled if it never was, because only compiled code can be checked. Caller holds the engine lock.
    /// </summary>
    public static string? Check(MethodTarget target)
    {
        var unsupported = Unsupported(target);
        if (unsupported is not null)
            return unsupported;
        target.Prepare();
        nint body = CodeLocator.FindBody(target, s_byBody.ContainsKey);
        if (s_byBody.ContainsKey(body) || IsArm64)
            return null; // arm64 replaces one instruction, which every body has
        X64HookBuilder.Covered(body, 5, out var refusal);
        return refusal;
    }

    private static bool IsArm64 => RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>
    /// The (CPU × runtime × method) combinations the native path does not serve, with the reason and the fix. The
    /// platform-wide refusals (no JIT, W^X, unknown CPU or runtime) are <see cref="NativePatching"/>'s.
    /// </summary>
    private static string? Unsupported(MethodTarget target)
    {
        if (Host.IsMono && target.IsSharedCode)
            return "it runs generic code that Mono shares between reference-type instantiations, and the native jump on Mono cannot yet tell them apart (it would redirect every instantiation)";
        if (IsArm64 && Host.IsCoreClr && target.Context == GenericContext.HiddenArgument)
            return "it runs shared generic code reached through a hidden instantiation argument, which the arm64 CoreCLR path cannot locate yet";
        return null;
    }

    /// <summary>The whole message for a refusal that <see cref="Check"/> reports as a bare reason.</summary>
    private static string Refused(MethodTarget target, string reason) =>
        $"{MethodTarget.Describe(target.Method)} cannot be redirected with a native jump: {reason}. " +
        "Fix: weave it (<Patchable Include=\"" + PatchableName(target) + "\" />), which keeps it out of line and gives it an IL guard.";

    private static MethodHook Create(MethodTarget target, nint body, nint compileKey)
    {
        var memory = PlatformMemory.Current;
        int page = memory.PageSize;
        // x64: the entry jmp rel32 reaches ±2 GiB. arm64: the entry B reaches ±128 MiB (imm26 words).
        long reach = IsArm64 ? Arm64Instructions.BranchMax - 2L * page : int.MaxValue;
        nint pages = memory.AllocateNear(body, 2 * page, reach);
        if (pages == 0)
            throw new NotSupportedException($"{MethodTarget.Describe(target.Method)}: no free memory within ±{(IsArm64 ? "128 MiB" : "2 GiB")} of its code at 0x{body:x} for the redirect stub.");

        StubFilter? filter = target.Context switch
        {
            // The hidden argument follows `this`. On x64 a hidden return buffer is an argument too (it comes before
            // the generic context); on arm64 it travels in x8, outside the argument registers.
            GenericContext.HiddenArgument => new StubFilter(false, (target.IsInstance ? 1 : 0) + (!IsArm64 && AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType) ? 1 : 0)),
            GenericContext.ThisMethodTable => new StubFilter(true, 0),
            _ => null,
        };
        HookCode code;
        if (IsArm64)
        {
            code = Arm64HookBuilder.Build(body, Arm64HookBuilder.ReadFirstWord(body), pages, pages + page, page, filter);
        }
        else
        {
            int jumpLength = X64Encoding.Jump((ulong)body, (ulong)pages).Length;
            var covered = X64HookBuilder.Covered(body, jumpLength, out var refusal);
            if (refusal is not null)
                throw new NotSupportedException(Refused(target, refusal));
            // x64 passes a hidden return buffer of an instance method after `this`, of a static one first: swap.
            bool swap = target.IsInstance && AbiFacts.ReturnsThroughHiddenBuffer(target.ReturnType);
            code = X64HookBuilder.Build(body, covered, pages, pages + page, page, swap, filter);
        }
        code.StubPage.CopyTo(new Span<byte>((void*)pages, page));
        if (!memory.TryProtect(pages, page, PageAccess.ReadExecute, out int error))
            throw new NotSupportedException($"The redirect stub page for {MethodTarget.Describe(target.Method)} could not be made executable (error {error}).");
        CodeMemory.FlushNewCode(pages, page);
        var original = CodeMemory.Read(body, code.EntryPatch.Length);
        return new MethodHook(body, compileKey, original, code.EntryPatch, pages, pages + page, code.Trampoline, filter is not null, code.InteriorFixups);
    }

    public static string PatchableName(MethodTarget target) =>
        (target.DeclaringType.IsGenericType ? target.DeclaringType.GetGenericTypeDefinition().FullName : target.DeclaringType.FullName) + "." + target.Method.Name;
}
