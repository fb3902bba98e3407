using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.Woven;

/// <summary>
/// The IL dispatch guard the Hybrid weaver put into a method (docs/weaver.md, "woven-assembly contract"): a static
/// delegate slot per closed instantiation, read at the method's entry. Redirecting is storing a delegate there — no
/// code is written, nothing is emitted at run time, so this path works under W^X and NativeAOT.
/// </summary>
internal sealed class GuardSlot : RedirectSite
{
    private const string GuardAttribute = "Hybrid.Woven.HybridGuardAttribute";
    private static readonly Dictionary<FieldInfo, GuardSlot> s_slots = new();
    private readonly List<Redirection> _live = new();
    private readonly FieldInfo _slot;
    private readonly MethodBase? _original;

    private GuardSlot(FieldInfo slot, MethodBase? original)
    {
        _slot = slot;
        _original = original;
    }

    /// <summary>The delegate type the slot holds: the original's shape, instance first.</summary>
    public Type HandlerType => _slot.FieldType;

    /// <summary>True when the weaver gave <paramref name="method"/> a guard (one attribute lookup, no type scan).</summary>
    public static bool IsWoven(MethodBase method) => FindAttribute(method) is not null;

    private static CustomAttributeData? FindAttribute(MethodBase method)
    {
        foreach (var data in method.GetCustomAttributesData())
            if (data.AttributeType.FullName == GuardAttribute)
                return data;
        return null;
    }

    /// <summary>The slot of this exact instantiation, or null when the method was not woven. Caller holds the engine lock.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "The weaver's guard types are referenced by the woven method's own IL, so they are kept whenever the method is.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "As above: guard types and Original methods are kept with the woven method.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above.")]
    [UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification = "The closed guard type already exists: the woven method's own code instantiates it for every instantiation that can run.")]
    [UnconditionalSuppressMessage("AOT", "IL2055", Justification = "As above.")]
    [UnconditionalSuppressMessage("AOT", "IL2060", Justification = "As above.")]
    public static GuardSlot? For(MethodTarget target)
    {
        var attribute = FindAttribute(target.Method);
        if (attribute is null)
            return null;
        var guardType = (Type)attribute.ConstructorArguments[0].Value!;
        string originalName = (string)attribute.ConstructorArguments[1].Value!;
        var typeArguments = (target.DeclaringType.IsGenericType ? target.DeclaringType.GetGenericArguments() : Type.EmptyTypes)
            .Concat(target.Method.IsGenericMethod ? target.Method.GetGenericArguments() : Type.EmptyTypes).ToArray();
        if (guardType.IsGenericTypeDefinition)
            guardType = guardType.MakeGenericType(typeArguments);
        var slot = guardType.GetField("Target", BindingFlags.Public | BindingFlags.Static)
            ?? throw new NotSupportedException($"{MethodTarget.Describe(target.Method)} is marked as woven but its guard {guardType.FullName} has no Target slot; the assembly was woven by an incompatible weaver. Fix: weave it again with this version of Hybrid.");
        if (s_slots.TryGetValue(slot, out var existing))
            return existing;

        MethodBase? original = null;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var parameterTypes = target.ParameterTypes;
        foreach (var candidate in target.DeclaringType.GetMethods(all))
        {
            if (candidate.Name != originalName || candidate.IsStatic != target.Method.IsStatic && !target.Method.IsConstructor)
                continue;
            var closed = candidate.IsGenericMethodDefinition ? candidate.MakeGenericMethod(target.Method.GetGenericArguments()) : candidate;
            if (closed.GetParameters().Select(p => p.ParameterType).SequenceEqual(parameterTypes))
            {
                original = closed;
                break;
            }
        }
        var created = new GuardSlot(slot, original);
        s_slots.Add(slot, created);
        return created;
    }

    /// <summary>Builds the slot's delegate for a replacement (already checked for shape).</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Invoke of a delegate type is always kept.")]
    public Delegate Handler(object replacement)
    {
        if (replacement is MethodInfo method)
            return Delegate.CreateDelegate(HandlerType, method);
        var source = (Delegate)replacement;
        if (source.GetInvocationList().Length == 1)
        {
            var direct = Delegate.CreateDelegate(HandlerType, source.Target, source.Method, throwOnBindFailure: false);
            if (direct is not null)
                return direct;
        }
        return Delegate.CreateDelegate(HandlerType, source, source.GetType().GetMethod("Invoke")!);
    }

    public override void Add(Redirection redirection)
    {
        _live.Add(redirection);
        Refresh();
    }

    public override void Remove(Redirection redirection)
    {
        if (_live.Remove(redirection))
            Refresh();
    }

    private void Refresh() => _slot.SetValue(null, _live.Count == 0 ? null : _live[^1].Handler);

    public override TDelegate CreateOriginal<TDelegate>(MethodTarget target)
    {
        OriginalInvoker.CheckShape<TDelegate>(target);
        if (_original is not MethodInfo original)
            throw new NotSupportedException($"The weaver recorded no callable original body for {MethodTarget.Describe(target.Method)}. Fix: weave the assembly again with this version of Hybrid.");
        return (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), original);
    }
}
