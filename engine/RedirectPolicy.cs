using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Hybrid.Compat;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Patching;
using Hybrid.Targets;
using Hybrid.Woven;

namespace Hybrid;

/// <summary>
/// The one place that decides how a method is redirected, or why it cannot be, and words it. <see cref="Engine.Explain"/>
/// asks with the native path's answer predicted (<see cref="HookRegistry.Check"/>); <see cref="Engine.Redirect(MethodBase, MethodInfo)"/>
/// asks before it tries, and again with the refusal the native path met while installing. Same facts, same decision,
/// same words — a refusal in <see cref="RedirectPlan.Summary"/> is the message <c>Redirect</c> throws.
/// </summary>
internal static class RedirectPolicy
{
    /// <summary>
    /// The strategy to use, the guards it uses (IL), or the whole refusal message (reason and fix); for an IL decision,
    /// why the IL guard serves rather than a native jump.
    /// </summary>
    internal sealed record Decision(RedirectStrategy Strategy, ILGuards? Guards, string? Refusal, string Why);

    /// <param name="target">The method.</param>
    /// <param name="nativeRefusal">Why a native jump cannot serve the method (bare reason), or null when it can.</param>
    /// <param name="findGuards">The method's IL guards, or null when nothing is woven for it; asked only when needed.</param>
    public static Decision Decide(MethodTarget target, string? nativeRefusal, Func<ILGuards?> findGuards)
    {
        var forced = Engine.ForcedStrategy;
        if (forced == RedirectStrategy.ILDispatch)
        {
            string pinned = $"the strategy is pinned to ILDispatch ({ForcedSource()})";
            return findGuards() is { } guards
                ? new Decision(RedirectStrategy.ILDispatch, guards, null, pinned)
                : new Decision(RedirectStrategy.ILDispatch, null, NotWoven(target, pinned), pinned);
        }
        if (nativeRefusal is null)
            return new Decision(RedirectStrategy.NativeJump, null, null, "");
        if (forced == RedirectStrategy.NativeJump)
            return new Decision(RedirectStrategy.NativeJump, null,
                $"{MethodTarget.Describe(target.Method)} cannot be redirected with a native jump, and the strategy is pinned to NativeJump ({ForcedSource()}): {nativeRefusal}. " +
                $"Fix: unpin it (null, or {Engine.StrategyVariable}=auto) so that a woven IL guard can serve the method.", "");
        return findGuards() is { } fallback
            ? new Decision(RedirectStrategy.ILDispatch, fallback, null, $"native patching is not possible: {nativeRefusal}")
            : new Decision(RedirectStrategy.NativeJump, null, NotWoven(target, nativeRefusal), "");
    }

    /// <summary>What <see cref="Engine.Explain"/> reports for a decision.</summary>
    public static RedirectPlan Plan(MethodTarget target, Decision decision)
    {
        var original = target.Method;
        if (decision.Refusal is not null)
            return new RedirectPlan(original, false, decision.Strategy, decision.Refusal, Array.Empty<string>());
        string name = MethodTarget.Describe(original);
        if (decision.Strategy == RedirectStrategy.ILDispatch)
            return new RedirectPlan(original, true, RedirectStrategy.ILDispatch,
                $"{name} will be redirected through its woven IL guard{(ILGuards.IsWoven(original) ? "" : "s at its call sites (calls written in woven assemblies only)")} (a delegate stored in the slot; no code is written) because {decision.Why}.", Array.Empty<string>());
        bool woven = ILGuards.Exist(target);
        return new RedirectPlan(original, true, RedirectStrategy.NativeJump,
            $"{name} will be redirected with a native jump at the entry of its compiled body; " +
            Platform.Runtime.HoldSummary +
            (woven ? " (It is also woven: the IL guard is the fallback if the platform refuses the write.)" : ""), NativeWarnings(target));
    }

    /// <summary>Limits a native redirect of <paramref name="target"/> keeps even though it can be installed.</summary>
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
        if (Platform.Fence.UnavailableReason is { } noFence)
            warnings.Add($"Other threads are not stopped while the entry jump is written ({noFence}): a thread executing the first instructions of {name} at that moment may run a mix of the old and the new code and crash. Install the redirect before other threads call {name}, or weave it (<Patchable Include=\"{HookRegistry.PatchableName(target)}\" />) so the IL guard serves it without writing code.");
        if (Platform.Runtime.HoldUnavailable is { } freeze)
            warnings.Add($"Tier-up cannot be held ({freeze}): if the runtime recompiles {name} after the redirect, the new code will not be redirected.");
        return warnings;
    }

    private static string NotWoven(MethodTarget target, string why)
    {
        bool framework = IsFramework(target.DeclaringType.Assembly);
        return $"{MethodTarget.Describe(target.Method)} cannot be redirected: {why}, and it is not woven, so there is no IL guard to fall back to. " +
            $"Fix: add <Patchable Include=\"{HookRegistry.PatchableName(target)}\" /> to " +
            (framework
                ? "each project whose calls to it should see the redirect (a framework method is woven at its call sites)."
                : $"the project that builds {target.DeclaringType.Assembly.GetName().Name}.");
    }

    /// <summary>
    /// True for an assembly of the .NET runtime itself, whose methods are woven at their call sites. Framework-dependent
    /// apps load it from the runtime's folder. A self-contained app (a published test program) has the runtime's files
    /// next to its own, so there the folder cannot tell: the framework's assemblies are the ones signed with the keys
    /// the runtime is built with.
    /// </summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "An empty location (single-file) only changes the wording of an error message.")]
    private static bool IsFramework(Assembly assembly)
    {
        if (assembly == typeof(object).Assembly)
            return true;
        string location = assembly.IsDynamic ? "" : assembly.Location;
        string runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        bool selfContained = SameFolder(runtime, AppContext.BaseDirectory);
        if (!selfContained)
            return location.Length > 0 && location.StartsWith(runtime, StringComparison.Ordinal);
        var token = assembly.GetName().GetPublicKeyToken();
        return token is { Length: 8 } && Array.IndexOf(FrameworkKeyTokens, BitConverter.ToString(token).Replace("-", "").ToLowerInvariant()) >= 0;
    }

    /// <summary>Public key tokens of the runtime's own assemblies (ECMA, Microsoft, the .NET Core platform keys).</summary>
    private static readonly string[] FrameworkKeyTokens = { "b77a5c561934e089", "b03f5f7f11d50a3a", "cc7b13ffcd2ddd51", "7cec85d7bea7798e", "adb9793829ddae60" };

    private static bool SameFolder(string a, string b) =>
        string.Equals(a.TrimEnd('/', '\\'), b.TrimEnd('/', '\\'), StringComparison.OrdinalIgnoreCase);

    private static string ForcedSource() => Engine.ForcedBySetter ? "Engine.ForcedStrategy" : $"environment variable {Engine.StrategyVariable}";
}
