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
        return Install(target, replacement, description);
    }

    /// <summary>As <see cref="Redirect(MethodBase, MethodInfo)"/>, with a delegate (a lambda may capture state).</summary>
    public static Redirection Redirect(MethodBase original, Delegate replacement)
    {
        var target = MethodTarget.Analyze(original, nameof(original));
        string description = Replacement.Validate(target, replacement, nameof(replacement));
        return Install(target, replacement, description);
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
        lock (Gate)
        {
            string? nativeRefusal = ForcedStrategy == RedirectStrategy.ILDispatch ? null : PredictNativeRefusal(target);
            return RedirectPolicy.Plan(target, RedirectPolicy.Decide(target, nativeRefusal, () => ILGuards.Find(target)));
        }
    }

    private static Redirection Install(MethodTarget target, object replacement, string description)
    {
        lock (Gate)
        {
            var decision = RedirectPolicy.Decide(target, NativePatching.UnavailableReason, () => ILGuards.Find(target));
            if (decision.Strategy == RedirectStrategy.NativeJump && decision.Refusal is null)
            {
                try
                {
                    return InstallNative(target, replacement, description);
                }
                catch (CodeWriteRefusedException e)
                {
                    // Refused at the write itself (the policy can differ per mapping); nothing was changed. Unless the
                    // strategy is pinned (a caller who pins it retries on purpose), later redirects do not try again.
                    if (ForcedStrategy is null)
                        NativePatching.RecordRefusal(e.Message);
                    decision = RedirectPolicy.Decide(target, e.Message, () => ILGuards.Find(target));
                }
                catch (NotSupportedException e)
                {
                    // e.g. a body too small for a jump: decided again with the reason met, as Explain predicts it
                    decision = RedirectPolicy.Decide(target, NativeRefusalException.ReasonOf(e), () => ILGuards.Find(target));
                }
            }
            if (decision.Refusal is not null)
                throw new NotSupportedException(decision.Refusal);
            return InstallIL(target, decision.Guards!, replacement, description);
        }
    }

    private static Redirection InstallNative(MethodTarget target, object replacement, string description)
    {
        var native = replacement is MethodInfo method
            ? Replacement.ForMethod(target, method, description)
            : Replacement.ForDelegate(target, (Delegate)replacement, description);
        MethodHook hook;
        Action undo;
        try
        {
            hook = HookRegistry.For(target, out undo);
        }
        catch
        {
            native.Release();
            throw;
        }
        var redirection = Redirection.Native(target, hook, native);
        try
        {
            hook.Add(redirection);
        }
        catch
        {
            undo(); // a refused attempt leaves nothing behind: no hook, no pages, no flags
            native.Release();
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

    /// <summary>Why the native path would refuse the method (a bare reason), or null: asked without writing code.</summary>
    private static string? PredictNativeRefusal(MethodTarget target)
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
            return NativeRefusalException.ReasonOf(e);
        }
    }

    /// <summary>True when <see cref="ForcedStrategy"/> was set in code (rather than from <see cref="StrategyVariable"/>).</summary>
    internal static bool ForcedBySetter => s_forcedSet;

    private static string StripParameter(string message)
    {
        int index = message.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return index > 0 ? message.Substring(0, index) : message;
    }
}
