using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.Woven;

/// <summary>
/// The IL dispatch guards of one method: the guard the weaver put into the method itself (docs/weaver.md, "woven-
/// assembly contract") and the call-site guards woven assemblies have for calls to it ("Call-site guards"), each a
/// static delegate slot per closed instantiation. Redirecting is storing a delegate in every slot — no code is written,
/// nothing is emitted at run time, so this path works under W^X and NativeAOT.
/// </summary>
internal sealed class ILGuards : RedirectSite
{
    private const string GuardAttribute = "Hybrid.Woven.HybridGuardAttribute";
    private static readonly Dictionary<MethodBase, ILGuards> s_guards = new();
    private static readonly HashSet<MethodBase> s_unwoven = new();
    private readonly List<Redirection> _live = new();
    private readonly MethodBase _method;
    private readonly FieldInfo? _methodSlot;
    private readonly MethodBase? _original;
    private List<FieldInfo> _callSiteSlots;

    private ILGuards(MethodBase method, FieldInfo? methodSlot, MethodBase? original, List<FieldInfo> callSiteSlots)
    {
        _method = method;
        _methodSlot = methodSlot;
        _original = original;
        _callSiteSlots = callSiteSlots;
    }

    /// <summary>True when the weaver gave <paramref name="method"/> a guard (one attribute lookup, no type scan).</summary>
    public static bool IsWoven(MethodBase method) => FindAttribute(method) is not null;

    /// <summary>True when any IL guard — in the method or at call sites — can serve the method. Caller holds the engine lock.</summary>
    public static bool Exist(Targets.MethodTarget target) => Find(target) is not null;

    /// <summary>
    /// <see cref="For"/>, and when nothing serves the method, the same after loading the woven assemblies of the
    /// application's folder that are not loaded yet (<see cref="CallSiteGuards.LoadWovenFromAppDirectory"/>): the IL path
    /// must not depend on whether the code under test happened to run before the redirect. Caller holds the engine lock.
    /// </summary>
    public static ILGuards? Find(Targets.MethodTarget target) =>
        For(target) ?? (CallSiteGuards.LoadWovenFromAppDirectory() ? For(target) : null);

    private static CustomAttributeData? FindAttribute(MethodBase method)
    {
        foreach (var data in method.GetCustomAttributesData())
            if (data.AttributeType.FullName == GuardAttribute)
                return data;
        return null;
    }

    /// <summary>The guards of this exact instantiation, or null when there are none. Caller holds the engine lock.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "The weaver's guard types are referenced by the woven method's own IL, so they are kept whenever the method is.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "As above: guard types and Original methods are kept with the woven method.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above.")]
    [UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification = "The closed guard type already exists where the woven code that uses it was compiled; NativeAOT needs it listed for reflection (README).")]
    [UnconditionalSuppressMessage("AOT", "IL2055", Justification = "As above.")]
    [UnconditionalSuppressMessage("AOT", "IL2060", Justification = "As above.")]
    public static ILGuards? For(MethodTarget target)
    {
        var callSites = CallSiteGuards.SlotsFor(target.Method);
        if (s_guards.TryGetValue(target.Method, out var existing))
        {
            existing._callSiteSlots = callSites; // assemblies loaded since the last look may have added call sites
            return existing;
        }
        if (callSites.Count == 0 && s_unwoven.Contains(target.Method))
            return null; // asked on every native redirect: a method's own attributes never change
        FieldInfo? slot = null;
        MethodBase? original = null;
        var attribute = FindAttribute(target.Method);
        if (attribute is null)
            s_unwoven.Add(target.Method);
        if (attribute is not null)
        {
            var guardType = (Type)attribute.ConstructorArguments[0].Value!;
            string originalName = (string)attribute.ConstructorArguments[1].Value!;
            var typeArguments = (target.DeclaringType.IsGenericType ? target.DeclaringType.GetGenericArguments() : Type.EmptyTypes)
                .Concat(target.Method.IsGenericMethod ? target.Method.GetGenericArguments() : Type.EmptyTypes).ToArray();
            if (guardType.IsGenericTypeDefinition)
                guardType = guardType.MakeGenericType(typeArguments);
            slot = guardType.GetField("Target", BindingFlags.Public | BindingFlags.Static)
                ?? throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} is marked as woven but its guard {guardType.FullName} has no Target slot; the assembly was woven by an incompatible weaver. Fix: weave it again with this version of Hybrid.");
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
            foreach (var candidate in target.DeclaringType.GetMethods(all))
            {
                if (candidate.Name != originalName)
                    continue;
                var closed = candidate.IsGenericMethodDefinition ? candidate.MakeGenericMethod(target.Method.GetGenericArguments()) : candidate;
                if (closed.GetParameters().Select(p => p.ParameterType).SequenceEqual(target.ParameterTypes))
                {
                    original = closed;
                    break;
                }
            }
        }
        else if (callSites.Count == 0)
        {
            return null;
        }
        var created = new ILGuards(target.Method, slot, original, callSites);
        s_guards.Add(target.Method, created);
        return created;
    }

    /// <summary>
    /// Fills the call-site guards of an assembly that has just loaded for every live redirect: IL redirects and the
    /// call-site half of native ones (<see cref="Redirection.AttachCallSites"/>), including native redirects that had no
    /// call sites to fill when they were made.
    /// </summary>
    internal static void RefreshLive()
    {
        lock (Engine.Gate)
        {
            foreach (var guards in s_guards.Values)
            {
                if (guards._live.Count == 0)
                    continue;
                guards._callSiteSlots = CallSiteGuards.SlotsFor(guards._method);
                guards.Refresh();
            }
            Redirection.AttachWaitingCallSites();
        }
    }

    public override void Add(Redirection redirection)
    {
        _live.Add(redirection);
        try
        {
            Refresh();
        }
        catch
        {
            _live.Remove(redirection);
            Refresh();
            throw;
        }
    }

    public override void Remove(Redirection redirection)
    {
        if (_live.Remove(redirection))
            Refresh();
    }

    private void Refresh()
    {
        var top = _live.Count == 0 ? null : _live[_live.Count - 1];
        if (_methodSlot is not null)
        {
            // The call-site half of a native redirect never fills the method's own guard: the native trampoline runs
            // the original body, guard included, and a filled guard would send GetOriginal back to the replacement.
            var forMethod = _live.LastOrDefault(r => !r.CallSitesOnly);
            _methodSlot.SetValue(null, forMethod?.HandlerFor(_methodSlot.FieldType));
        }
        foreach (var slot in _callSiteSlots)
            slot.SetValue(null, top?.HandlerFor(slot.FieldType));
    }

    /// <summary>How many call-site guards woven assemblies loaded so far have for the method.</summary>
    public int CallSiteSlotCount => _callSiteSlots.Count;

    /// <summary>How many slots a redirect fills (the method's own guard, then call-site guards).</summary>
    public int SlotCount => (_methodSlot is null ? 0 : 1) + _callSiteSlots.Count;

    public override TDelegate CreateOriginal<TDelegate>(MethodTarget target)
    {
        OriginalInvoker.CheckShape<TDelegate>(target);
        // Call-site guards leave the method itself untouched, so without a woven copy "the original" is the method.
        var original = _original ?? (_methodSlot is null ? _method : null);
        if (original is not MethodInfo method)
            throw new NotSupportedException($"No callable original body is recorded for {MethodTarget.Describe(target.Method)}. Fix: weave the assembly again with this version of Hybrid.");
        return (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), method);
    }
}
