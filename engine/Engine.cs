using Hybrid.Compat;
using System;
using System.Diagnostics.CodeAnalysis;
using System.Collections.Generic;
using System.Reflection;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Patching;
using Hybrid.Targets;
using Hybrid.Woven;

namespace Hybrid;

/// <summary>Redirects any compiled .NET method to a replacement at run time.</summary>
public static class Engine
{
    internal static readonly object Gate = new();

    /// <summary>Environment variable that pins the strategy for the whole process: <c>native</c>, <c>il</c> or <c>auto</c> (default).</summary>
    public const string StrategyVariable = "HYBRID_STRATEGY";

    private static RedirectStrategy? s_forced;
    private static bool s_forcedSet;

    /// <summary>
    /// Pins every redirect to one strategy, or <c>null</c> (the default) to let the engine choose per method: a native
    /// jump where the platform allows it, the woven IL guard where it does not. Takes precedence over
    /// <see cref="StrategyVariable"/>. A pinned strategy that cannot serve a method is an error, never a silent switch.
    /// </summary>
    public static RedirectStrategy? ForcedStrategy
    {
        get
        {
            if (s_forcedSet)
                return s_forced;
            return Environment.GetEnvironmentVariable(StrategyVariable)?.Trim().ToLowerInvariant() switch
            {
                "native" or "nativejump" => RedirectStrategy.NativeJump,
                "il" or "ildispatch" => RedirectStrategy.ILDispatch,
                _ => null,
            };
        }
        set
        {
            s_forced = value;
            s_forcedSet = true;
        }
    }

    /// <summary>
    /// Sends every call of <paramref name="original"/> to <paramref name="replacement"/> until the returned
    /// <see cref="Redirection"/> is disposed.
    /// </summary>
    /// <param name="original">A closed method or constructor with a body.</param>
    /// <param name="replacement">A static method with the original's parameters — for an instance original the
    /// instance comes first (<c>ref T</c> for a struct) — and the identical return type.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The method cannot be redirected, or the signatures differ; the message names the method, the reason and the fix.</exception>
    /// <exception cref="NotSupportedException">Neither strategy can serve the method here; the message says why and which <c>&lt;Patchable&gt;</c> line would fix it.</exception>
    public static Redirection Redirect(MethodBase original, MethodInfo replacement)
    {
        var target = MethodTarget.Analyze(original, nameof(original));
        string description = Replacement.Validate(target, replacement, nameof(replacement));
        return Install(target, replacement, description, nameof(replacement));
    }

    /// <summary>As <see cref="Redirect(MethodBase, MethodInfo)"/>, with a delegate (a lambda may capture state).</summary>
    public static Redirection Redirect(MethodBase original, Delegate replacement)
    {
        var target = MethodTarget.Analyze(original, nameof(original));
        string description = Replacement.Validate(target, replacement, nameof(replacement));
        return Install(target, replacement, description, nameof(replacement));
    }

    /// <summary>What <see cref="Redirect(MethodBase, MethodInfo)"/> would do for <paramref name="original"/>, or exactly why it cannot. Writes no code.</summary>
    public static RedirectPlan Explain(MethodBase original)
    {
        Host.ThrowIfNull(original, nameof(original));
        MethodTarget target;
        try
        {
            target = MethodTarget.Analyze(original, nameof(original));
        }
        catch (ArgumentException e)
        {
            return new RedirectPlan(original, false, RedirectStrategy.NativeJump, StripParameter(e.Message), Array.Empty<string>());
        }
        string name = MethodTarget.Describe(original);
        lock (Gate)
        {
            bool woven = ILGuards.Exist(target);
            string? nativeRefusal = NativeRefusal(target);
            var forced = ForcedStrategy;
            if (forced == RedirectStrategy.ILDispatch || (forced is null && nativeRefusal is not null && woven))
            {
                if (!woven)
                    return new RedirectPlan(original, false, RedirectStrategy.ILDispatch, NotWovenMessage(target, $"the strategy is pinned to ILDispatch ({ForcedSource()})"), Array.Empty<string>());
                string why = forced is not null ? $"the strategy is pinned to ILDispatch ({ForcedSource()})" : $"native patching is not possible: {nativeRefusal}";
                return new RedirectPlan(original, true, RedirectStrategy.ILDispatch,
                    $"{name} will be redirected through its woven IL guard{(ILGuards.IsWoven(original) ? "" : "s at its call sites (calls written in woven assemblies only)")} (a delegate stored in the slot; no code is written) because {why}.", Array.Empty<string>());
            }
            if (nativeRefusal is not null)
                return new RedirectPlan(original, false, RedirectStrategy.NativeJump,
                    woven || forced == RedirectStrategy.NativeJump ? $"{name} cannot be redirected with a native jump: {nativeRefusal}" : NotWovenMessage(target, nativeRefusal), Array.Empty<string>());
            return new RedirectPlan(original, true, RedirectStrategy.NativeJump,
                $"{name} will be redirected with a native jump at the entry of its compiled body; " +
                (Host.IsMono ? "Mono compiles a method once, so the jump stays in the code that runs." : "tier-up of the method is held while the redirect lives.") +
                (woven ? " (It is also woven: the IL guard is the fallback if the platform refuses the write.)" : ""), NativeWarnings(target));
        }
    }

    private static Redirection Install(MethodTarget target, object replacement, string description, string parameterName)
    {
        lock (Gate)
        {
            var forced = ForcedStrategy;
            if (forced != RedirectStrategy.ILDispatch)
            {
                string? unavailable = NativePatching.UnavailableReason;
                if (unavailable is null)
                {
                    try
                    {
                        return InstallNative(target, replacement, description, parameterName);
                    }
                    catch (CodeWriteRefusedException e) when (forced is null)
                    {
                        // Refused at the write itself (the policy can differ per mapping); nothing was changed.
                        NativePatching.RecordRefusal(e.Message);
                        unavailable = e.Message;
                    }
                    catch (NotSupportedException e) when (forced is null && ILGuards.Exist(target))
                    {
                        unavailable = e.Message; // e.g. a body too small for a jump: the guard serves instead
                    }
                }
                if (forced == RedirectStrategy.NativeJump)
                    throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} cannot be redirected with a native jump, and the strategy is pinned to NativeJump ({ForcedSource()}): {unavailable}");
                var fallback = ILGuards.Find(target) ?? throw new NotSupportedException(NotWovenMessage(target, unavailable!));
                return InstallIL(target, fallback, replacement, description);
            }
            var guards = ILGuards.Find(target) ?? throw new NotSupportedException(NotWovenMessage(target, $"the strategy is pinned to ILDispatch ({ForcedSource()})"));
            return InstallIL(target, guards, replacement, description);
        }
    }

    private static Redirection InstallNative(MethodTarget target, object replacement, string description, string parameterName)
    {
        var native = replacement is MethodInfo method
            ? Replacement.ForMethod(target, method, parameterName)
            : Replacement.ForDelegate(target, (Delegate)replacement, parameterName);
        var hook = HookRegistry.For(target, out var undo);
        var redirection = Redirection.Native(target, hook, native);
        try
        {
            hook.Add(redirection);
        }
        catch
        {
            undo(); // a refused attempt leaves nothing behind: no hook, no pages, no flags
            throw;
        }
        try
        {
            redirection.AttachCallSites(ILGuards.For(target), replacement, description);
        }
        catch
        {
            redirection.Dispose();
            throw;
        }
        return redirection;
    }

    private static Redirection InstallIL(MethodTarget target, ILGuards guards, object replacement, string description)
    {
        var redirection = Redirection.IL(target, guards, replacement, description);
        guards.Add(redirection);
        return redirection;
    }

    private static string? NativeRefusal(MethodTarget target)
    {
        var unavailable = NativePatching.UnavailableReason;
        if (unavailable is not null)
            return unavailable;
        try
        {
            return HookRegistry.Check(target);
        }
        catch (NotSupportedException e)
        {
            return e.Message;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Explain only: a trimmed body merely loses the inlining hint.")]
    private static List<string> NativeWarnings(MethodTarget target)
    {
        var warnings = new List<string>();
        var original = target.Method;
        string name = MethodTarget.Describe(original);
        if (original.IsStatic || !original.IsVirtual || original.IsFinal)
        {
            // An inlined copy in an already-compiled caller never reaches the method's own code.
            var body = original.GetMethodBody();
            bool noInlining = (original.MethodImplementationFlags & MethodImplAttributes.NoInlining) != 0;
            if (!noInlining && body is not null && body.GetILAsByteArray()?.Length <= 32)
                warnings.Add($"{name} is small ({body.GetILAsByteArray()!.Length} bytes of IL) and not marked NoInlining: callers compiled before the redirect may have inlined it and will keep the original behaviour. Weave it (<Patchable Include=\"{HookRegistry.PatchableName(target)}\" />) to rule this out.");
        }
        if (target.IsSharedCode)
            warnings.Add(target.Context == GenericContext.ThisMethodTable
                ? $"{name} runs shared generic code (reference-type arguments share one body). The redirect checks the object's exact type, so it applies to instances whose runtime type is exactly {MethodTarget.TypeName(target.DeclaringType)}; instances of subclasses and other instantiations run the original."
                : $"{name} runs shared generic code (reference-type arguments share one body). The redirect checks the hidden instantiation argument, so only this instantiation is redirected; the others run the original.");
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64
            && ThreadFence.UnavailableReason is { } noFence)
            warnings.Add($"Other threads are not stopped while the entry jump is written ({noFence}): a thread preempted inside the first instructions of {name} at that moment would resume in the middle of the jump and crash. Install the redirect before other threads call {name}, or weave it (<Patchable Include=\"{HookRegistry.PatchableName(target)}\" />) so the IL guard serves it without writing code.");
        var freeze = Host.IsCoreClr ? TieringFreeze.UnavailableReason : null;
        if (freeze is not null)
            warnings.Add($"Tier-up cannot be held ({freeze}): if the runtime recompiles {name} after the redirect, the new code will not be redirected.");
        return warnings;
    }

    private static string NotWovenMessage(MethodTarget target, string why)
    {
        bool framework = IsFramework(target.DeclaringType.Assembly);
        return $"{MethodTarget.Describe(target.Method)} cannot be redirected: {why}, and it is not woven, so there is no IL guard to fall back to. " +
            $"Fix: add <Patchable Include=\"{HookRegistry.PatchableName(target)}\" /> to " +
            (framework
                ? "each project whose calls to it should see the redirect (a framework method is woven at its call sites)."
                : $"the project that builds {target.DeclaringType.Assembly.GetName().Name}.");
    }

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "An empty location (single-file) only changes the wording of an error message.")]
    private static bool IsFramework(Assembly assembly)
    {
        string location = assembly.IsDynamic ? "" : assembly.Location;
        return assembly == typeof(object).Assembly
            || (location.Length > 0 && location.StartsWith(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), StringComparison.Ordinal));
    }

    private static string ForcedSource() => s_forcedSet ? "Engine.ForcedStrategy" : $"environment variable {StrategyVariable}";

    private static string StripParameter(string message)
    {
        int index = message.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return index > 0 ? message.Substring(0, index) : message;
    }
}
