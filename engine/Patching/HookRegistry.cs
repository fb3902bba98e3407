using System;
using System.Collections.Generic;
using System.Linq;
using Hybrid.Compat;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Targets;

namespace Hybrid.Patching;

/// <summary>
/// One <see cref="MethodHook"/> per compiled body, created on first use and kept for the life of the process: its
/// stub and trampoline pages are never freed, because a thread may still be running in them after the last redirect
/// is disposed.
/// </summary>
internal static unsafe class HookRegistry
{
    private static readonly Dictionary<nint, MethodHook> s_byBody = new();

    /// <summary>Hooks that exist (tests count them to prove a failed redirect left none behind).</summary>
    internal static int Count
    {
        get
        {
            lock (Engine.Gate)
                return s_byBody.Count;
        }
    }

    /// <summary>
    /// The hook of the body <paramref name="target"/> runs, created if it has none yet. <paramref name="undo"/> puts
    /// back everything this call changed (a new hook's registration and pages, not-inline flags): the caller runs it
    /// when the redirect fails after all, so that a refused attempt leaves no trace. Caller holds the engine lock.
    /// </summary>
    public static MethodHook For(MethodTarget target, out Action undo)
    {
        var runtime = Platform.Runtime;
        if (runtime.Refusal(target) is { } unsupported)
            throw Refused(target, unsupported);

        // Compile first (the hold refuses every later compilation of the method), then hold tier-up before reading
        // the body again, so the body cannot be replaced between finding and patching it. A runtime that does not
        // tier (Mono) has no compile key: there, the body found is the body that stays.
        target.Prepare();
        nint[] flagged = Array.Empty<nint>();
        undo = () => runtime.UndoInliningBlock(flagged);
        try
        {
            flagged = runtime.BlockInlining(target); // before locating: the call-site probe must not inline it
            var located = runtime.Locate(target, s_byBody.ContainsKey);
            if (s_byBody.TryGetValue(located.Body, out var existing))
                return existing;
            nint compileKey = located.MethodDesc;
            if (compileKey != 0)
                flagged = flagged.Concat(runtime.BlockInlining(target, compileKey)).Distinct().ToArray();
            bool heldHere = compileKey != 0 && !TieringFreeze.IsHeld(compileKey) && TieringFreeze.Hold(compileKey);
            try
            {
                nint body = heldHere ? AfterPendingTierUp(target, compileKey) : located.Body;
                if (s_byBody.TryGetValue(body, out existing))
                    return existing;
                var hook = Create(target, body, compileKey);
                s_byBody.Add(body, hook);
                var undoFlags = undo;
                undo = () =>
                {
                    if (hook.LiveCount == 0 && !hook.Installed)
                    {
                        s_byBody.Remove(hook.Body);
                        FreeStubs(hook);
                    }
                    undoFlags();
                };
                return hook;
            }
            finally
            {
                if (heldHere)
                    TieringFreeze.Release(compileKey); // MethodHook holds it again for as long as its jump is installed
            }
        }
        catch
        {
            undo();
            undo = static () => { };
            throw;
        }
    }

    /// <summary>
    /// The body to hook once tier-up is held. A tier-up the JIT finished just before the hold may still be on its way to
    /// being published (the runtime repoints the precode and vtable slots after compileMethod returns); callers would
    /// then run the new code, past a jump written into the old. Wait until it is published (it is due within
    /// microseconds; 2 s allows for a loaded machine) and hook that.
    /// </summary>
    private static nint AfterPendingTierUp(MethodTarget target, nint compileKey)
    {
        nint body = Platform.Runtime.Locate(target, s_byBody.ContainsKey).Body;
        nint pending = TieringFreeze.LastTierUp(compileKey);
        if (pending == 0 || pending == body)
            return body;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.ElapsedMilliseconds < 2000)
        {
            System.Threading.Thread.Sleep(1);
            body = Platform.Runtime.Locate(target, s_byBody.ContainsKey).Body;
            if (body == pending)
                return body;
        }
        return body; // an older tier-up the runtime has since replaced (or never published): the located body is the live one
    }

    /// <summary>
    /// Why <see cref="For"/> would refuse (a bare reason, for <see cref="Engine.Explain"/> to frame), without its side
    /// effects (no code written, no hook, no flags left set; stub memory it finds in reach stays for later redirects). The method is compiled if it never was, because only
    /// compiled code can be checked. Caller holds the engine lock.
    /// </summary>
    public static string? Check(MethodTarget target)
    {
        var runtime = Platform.Runtime;
        if (runtime.Refusal(target) is { } unsupported)
            return unsupported;
        target.Prepare();
        var flagged = runtime.BlockInlining(target);
        try
        {
            nint body = runtime.Locate(target, s_byBody.ContainsKey).Body;
            if (s_byBody.ContainsKey(body))
                return null;
            var cpu = Platform.Cpu;
            if (cpu.Refusal(body) is { } refusal)
                return refusal;
            // Redirect would need stub memory in reach: find it now (a chunk made here serves later redirects).
            var slot = StubHeap.Allocate(body, cpu.StubReach, StubHeap.CellSlotSize);
            if (slot.Code == 0)
                return NoStubMemory(cpu, body);
            StubHeap.Free(slot);
            return null;
        }
        finally
        {
            runtime.UndoInliningBlock(flagged);
        }
    }

    private static string NoStubMemory(ICpuHooks cpu, nint body) =>
        $"no memory is free within {cpu.StubReachText} of its code at 0x{body:x} for the redirect stub (the entry jump reaches no farther)";

    /// <summary>A refusal that <see cref="Check"/> reports as a bare reason; <see cref="RedirectPolicy"/> words what follows and the fix.</summary>
    private static NativeRefusalException Refused(MethodTarget target, string reason) =>
        new($"{MethodTarget.Describe(target.Method)} cannot be redirected with a native jump: {reason}.", reason);

    private static MethodHook Create(MethodTarget target, nint body, nint compileKey)
    {
        var cpu = Platform.Cpu;
        if (cpu.Refusal(body) is { } refusal)
            throw Refused(target, refusal);
        StubFilter? filter = target.Context switch
        {
            GenericContext.HiddenArgument => new StubFilter(false, cpu.HiddenArgumentIndex(target)),
            GenericContext.ThisMethodTable => new StubFilter(true, 0),
            _ => null,
        };
        // A filtered stub's instantiation table takes a page of data.
        var slot = StubHeap.Allocate(body, cpu.StubReach, filter is null ? StubHeap.CellSlotSize : Platform.Memory.PageSize);
        if (slot.Code == 0)
            throw Refused(target, NoStubMemory(cpu, body));
        try
        {
            var code = cpu.Build(target, body, slot, filter);
            CodeMemory.WriteNewCode(slot.Code, code.StubPage);
            return new MethodHook(body, compileKey, CodeMemory.Read(body, code.EntryPatch.Length), code.EntryPatch, slot.Code, slot.Data, slot.DataSize, code.Trampoline, filter is not null, code.InteriorFixups);
        }
        catch
        {
            StubHeap.Free(slot);
            throw;
        }
    }

    /// <summary>Gives back the stub memory of a hook that never went live.</summary>
    private static void FreeStubs(MethodHook hook) =>
        StubHeap.Free(new StubSlot(hook.CodePage, StubHeap.CodeSlotSize, hook.DataPage, hook.DataSize));

    public static string PatchableName(MethodTarget target) =>
        (target.DeclaringType.IsGenericType ? target.DeclaringType.GetGenericTypeDefinition().FullName : target.DeclaringType.FullName) + "." + target.Method.Name;
}
