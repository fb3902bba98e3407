using System;
using System.Collections.Generic;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hybrid.CoreClr;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid;

/// <summary>Redirects any compiled .NET method to a replacement at run time.</summary>
public static class Engine
{
    internal static readonly object Gate = new();

    /// <summary>
    /// Sends every call of <paramref name="original"/> to <paramref name="replacement"/> until the returned
    /// <see cref="Redirection"/> is disposed.
    /// </summary>
    /// <param name="original">A closed method or constructor with a body.</param>
    /// <param name="replacement">A static method with the original's parameters — for an instance original the
    /// instance comes first (<c>ref T</c> for a struct) — and the identical return type.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The method cannot be redirected, or the signatures differ; the message names the method, the reason and the fix.</exception>
    /// <exception cref="NotSupportedException">The platform or the method's compiled code does not allow it; the message says why.</exception>
    public static Redirection Redirect(MethodBase original, MethodInfo replacement)
    {
        var target = MethodTarget.Analyze(original, nameof(original));
        return Install(target, Replacement.ForMethod(target, replacement, nameof(replacement)));
    }

    /// <summary>As <see cref="Redirect(MethodBase, MethodInfo)"/>, with a delegate (a lambda may capture state).</summary>
    public static Redirection Redirect(MethodBase original, Delegate replacement)
    {
        var target = MethodTarget.Analyze(original, nameof(original));
        return Install(target, Replacement.ForDelegate(target, replacement, nameof(replacement)));
    }

    /// <summary>What <see cref="Redirect(MethodBase, MethodInfo)"/> would do for <paramref name="original"/>, or exactly why it cannot. Writes no code.</summary>
    public static RedirectPlan Explain(MethodBase original)
    {
        ArgumentNullException.ThrowIfNull(original);
        MethodTarget target;
        try
        {
            target = MethodTarget.Analyze(original, nameof(original));
        }
        catch (ArgumentException e)
        {
            return new RedirectPlan(original, false, RedirectStrategy.NativeJump, StripParameter(e.Message), Array.Empty<string>());
        }
        var warnings = new List<string>();
        string name = MethodTarget.Describe(original);
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return new RedirectPlan(original, false, RedirectStrategy.NativeJump, $"{name}: native redirects on {RuntimeInformation.ProcessArchitecture} are not wired into the engine yet.", warnings);

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
        var freeze = TieringFreeze.UnavailableReason;
        if (freeze is not null)
            warnings.Add($"Tier-up cannot be held ({freeze}): if the runtime recompiles {name} after the redirect, the new code will not be redirected.");

        string? refusal = null;
        lock (Gate)
        {
            try
            {
                refusal = HookRegistry.Check(target);
            }
            catch (NotSupportedException e)
            {
                refusal = e.Message;
            }
        }
        if (refusal is not null)
            return new RedirectPlan(original, false, RedirectStrategy.NativeJump, refusal, warnings);
        return new RedirectPlan(original, true, RedirectStrategy.NativeJump,
            $"{name} will be redirected with a native jump at the entry of its compiled body; tier-up of the method is held while the redirect lives.", warnings);
    }

    private static Redirection Install(MethodTarget target, Replacement replacement)
    {
        lock (Gate)
        {
            var hook = HookRegistry.For(target);
            var redirection = new Redirection(target, replacement, hook, RedirectStrategy.NativeJump);
            hook.Add(redirection);
            return redirection;
        }
    }

    private static string StripParameter(string message)
    {
        int index = message.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return index > 0 ? message.Substring(0, index) : message;
    }
}
