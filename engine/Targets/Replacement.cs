using Hybrid.Compat;
using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Hybrid.Targets;

/// <summary>
/// A replacement checked against its original, and the code address a redirect jumps to: the replacement method
/// itself when its calling convention already matches, otherwise a small bridge method compiled for this redirect.
/// </summary>
internal sealed class Replacement
{
    private Replacement(nint entryPoint, object keepAlive, string description, Action? release = null)
    {
        EntryPoint = entryPoint;
        KeepAlive = keepAlive;
        Description = description;
        Release = release ?? (static () => { });
    }

    /// <summary>Called once the redirect that used this entry point is gone (or was never installed): its bridge may serve another.</summary>
    public Action Release { get; }

    /// <summary>Code address that takes the original's arguments (as the redirect stub delivers them).</summary>
    public nint EntryPoint { get; }

    /// <summary>The delegate or method the entry point belongs to; held so nothing it needs is collected.</summary>
    public object KeepAlive { get; }

    public string Description { get; }

    /// <summary>Checks a static replacement method against the original (both strategies); returns its description.</summary>
    public static string Validate(MethodTarget target, MethodInfo replacement, string parameterName)
    {
        Host.ThrowIfNull(replacement, parameterName);
        string described = MethodTarget.Describe(replacement);
        if (!replacement.IsStatic)
            throw new ArgumentException($"Replacement {described} for {MethodTarget.Describe(target.Method)} must be a static method (the instance, if any, comes as its first parameter). Fix: make it static, or pass a delegate for a lambda with captured state.", parameterName);
        if (replacement.ContainsGenericParameters)
            throw new ArgumentException($"Replacement {described} for {MethodTarget.Describe(target.Method)} is an open generic method. Fix: close it with MakeGenericMethod.", parameterName);
        if (replacement.DeclaringType?.Assembly.IsDynamic == true || replacement is DynamicMethod)
            throw new ArgumentException($"Replacement {described} for {MethodTarget.Describe(target.Method)} is a dynamic method. Fix: pass it as a delegate (dynamicMethod.CreateDelegate(...)).", parameterName);
        CheckShape(target, replacement.GetParameters().Select(p => p.ParameterType).ToArray(), replacement.ReturnType, described, parameterName);
        return described;
    }

    /// <summary>Checks a delegate replacement against the original (both strategies); returns its description.</summary>
    public static string Validate(MethodTarget target, Delegate replacement, string parameterName)
    {
        Host.ThrowIfNull(replacement, parameterName);
        var invoke = replacement.GetType().GetMethod("Invoke")!;
        string description = $"delegate {MethodTarget.TypeName(replacement.GetType())} ({MethodTarget.Describe(replacement.Method)})";
        CheckShape(target, invoke.GetParameters().Select(p => p.ParameterType).ToArray(), invoke.ReturnType, description, parameterName);
        return description;
    }

    /// <summary>The native-jump target for a static replacement method that <see cref="Validate(MethodTarget, MethodInfo, string)"/> accepted, with the description it returned.</summary>
    public static Replacement ForMethod(MethodTarget target, MethodInfo replacement, string description)
    {
        if (target.Context != GenericContext.HiddenArgument)
        {
            RuntimeHelpers.PrepareMethod(replacement.MethodHandle);
            return new Replacement(replacement.MethodHandle.GetFunctionPointer(), replacement, description);
        }
        var bridge = BuildBridge(target, il => il.Emit(OpCodes.Call, replacement), "method " + replacement.Name);
        return new Replacement(bridge.Entry, new object[] { replacement, bridge.Method }, description);
    }

    /// <summary>The native-jump target for a delegate replacement that <see cref="Validate(MethodTarget, Delegate, string)"/> accepted, with the description it returned.</summary>
    public static Replacement ForDelegate(MethodTarget target, Delegate replacement, string description)
    {
        var invoke = replacement.GetType().GetMethod("Invoke")!;
        if (replacement.Target is null && replacement.Method.IsStatic && replacement.GetInvocationList().Length == 1
            && replacement.Method is not DynamicMethod && replacement.Method.DeclaringType?.Assembly.IsDynamic != true
            && target.Context != GenericContext.HiddenArgument
            && replacement.Method.GetParameters().Select(p => p.ParameterType).SequenceEqual(invoke.GetParameters().Select(p => p.ParameterType)))
        {
            RuntimeHelpers.PrepareMethod(replacement.Method.MethodHandle);
            return new Replacement(replacement.Method.MethodHandle.GetFunctionPointer(), replacement, description);
        }
        var lease = DelegateBridges.Lease(target, replacement, () =>
        {
            int slot = DelegateSlots.Add(replacement);
            var built = BuildBridge(target, il => il.Emit(OpCodes.Callvirt, invoke), "delegate", il =>
            {
                il.Emit(OpCodes.Ldsfld, typeof(DelegateSlots).GetField(nameof(DelegateSlots.Items))!);
                il.Emit(OpCodes.Ldc_I4, slot);
                il.Emit(OpCodes.Ldelem_Ref);
                il.Emit(OpCodes.Castclass, replacement.GetType());
            });
            return (built.Entry, built.Method, slot);
        });
        return new Replacement(lease.Entry, new object[] { replacement, lease.Method }, description, lease.Return);
    }

    /// <summary>True when a delegate or method with these parameters and return type has the replacement shape.</summary>
    public static bool HasReplacementShape(MethodTarget target, Type[] parameters, Type returnType)
    {
        var expected = target.ReplacementParameterTypes;
        if (parameters.Length != expected.Length || returnType != target.ReturnType)
            return false;
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = i == 0 && target.IsInstance && !target.DeclaringType.IsValueType
                ? !parameters[0].IsByRef && !parameters[0].IsValueType && parameters[0].IsAssignableFrom(target.DeclaringType)
                : parameters[i] == expected[i];
            if (!ok)
                return false;
        }
        return true;
    }

    private static void CheckShape(MethodTarget target, Type[] parameters, Type returnType, string replacementName, string parameterName)
    {
        // The message is built only for a mismatch: every redirect passes through here.
        string Fail(string why) =>
            $"Replacement {replacementName} does not match {MethodTarget.Describe(target.Method)}: {why}. Expected {target.ExpectedReplacementShape}; " +
            $"got static {MethodTarget.TypeName(returnType)} ({string.Join(", ", parameters.Select(MethodTarget.TypeName))}). " +
            "Fix: give the replacement exactly the original's parameters and return type" + (target.IsInstance ? ", with the instance first" + (target.DeclaringType.IsValueType ? " as ref " + MethodTarget.TypeName(target.DeclaringType) : "") : "") + ".";
        var expected = target.ReplacementParameterTypes;
        if (parameters.Length != expected.Length)
            throw new ArgumentException(Fail($"it takes {parameters.Length} parameter(s), the original needs {expected.Length}"), parameterName);
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = i == 0 && target.IsInstance && !target.DeclaringType.IsValueType
                ? !parameters[0].IsByRef && !parameters[0].IsValueType && parameters[0].IsAssignableFrom(target.DeclaringType)
                : parameters[i] == expected[i];
            if (!ok)
                throw new ArgumentException(Fail($"parameter {i + 1} is {MethodTarget.TypeName(parameters[i])}, expected {MethodTarget.TypeName(expected[i])}"), parameterName);
        }
        if (returnType != target.ReturnType)
            throw new ArgumentException(Fail($"it returns {MethodTarget.TypeName(returnType)}, the original returns {MethodTarget.TypeName(target.ReturnType)}"), parameterName);
    }

    private readonly record struct Bridge(nint Entry, DynamicMethod Method);

    /// <summary>
    /// A static method with the original's machine-level signature — the instance first and, for shared generic
    /// code, the hidden instantiation argument where CoreCLR passes it — that forwards to the replacement.
    /// </summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Os.AotJustifications.NativeOnly)]
    private static Bridge BuildBridge(MethodTarget target, Action<ILGenerator> emitCall, string what, Action<ILGenerator>? emitReceiver = null)
    {
        var parameters = target.ReplacementParameterTypes.ToList();
        int hidden = -1;
        if (target.Context == GenericContext.HiddenArgument)
        {
            hidden = target.IsInstance ? 1 : 0;
            parameters.Insert(hidden, typeof(nint));
        }
        var method = new DynamicMethod($"Hybrid.Bridge<{target.Method.Name}→{what}>", target.ReturnType, parameters.ToArray(), typeof(Replacement).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        emitReceiver?.Invoke(il);
        for (int i = 0; i < parameters.Count; i++)
        {
            if (i != hidden)
                il.Emit(OpCodes.Ldarg, (short)i);
        }
        emitCall(il);
        il.Emit(OpCodes.Ret);
        return new Bridge(EntryPointOf(method), method);
    }

    /// <summary>The entry point of a compiled dynamic method (<see cref="Patching.IRuntimeHooks.EntryPointOf"/>).</summary>
    internal static nint EntryPointOf(DynamicMethod method) => Platform.Runtime.EntryPointOf(method);
}

/// <summary>
/// Bridges to delegates, kept for reuse. Building one compiles a method (~100 µs) and takes a <see cref="DelegateSlots"/>
/// entry; a test framework that redirects the same method to the same kind of delegate in every test would pay that
/// each time and grow the slots without end. A bridge serves one redirect at a time: a later redirect of the same
/// method to a delegate of the same type takes a bridge whose redirect is gone, with the new delegate stored in its
/// slot. A thread still inside the old bridge at that moment (it entered before the old redirect went) calls the new
/// delegate: a call that raced a redirect change sees the old or the new replacement, as everywhere else.
/// </summary>
internal static class DelegateBridges
{
    private sealed class Entry
    {
        public nint Code;
        public DynamicMethod Method = null!;
        public int Slot;
        public bool InUse;
    }

    private static readonly object s_gate = new();
    private static readonly System.Collections.Generic.Dictionary<(MethodBase, Type), System.Collections.Generic.List<Entry>> s_pool = new();

    /// <summary>How many bridges exist (tests prove with it that reuse bounds them).</summary>
    internal static int Count
    {
        get
        {
            lock (s_gate)
                return s_pool.Values.Sum(l => l.Count);
        }
    }

    public readonly record struct BridgeLease(nint Entry, DynamicMethod Method, Action Return);

    public static BridgeLease Lease(MethodTarget target, Delegate replacement, Func<(nint Entry, DynamicMethod Method, int Slot)> build)
    {
        var key = (target.Method, replacement.GetType());
        Entry? entry = null;
        lock (s_gate)
        {
            if (!s_pool.TryGetValue(key, out var entries))
                s_pool[key] = entries = new System.Collections.Generic.List<Entry>();
            // The bridge that already holds this very delegate first (no store at all), then any free one.
            entry = entries.FirstOrDefault(e => !e.InUse && ReferenceEquals(DelegateSlots.Items[e.Slot], replacement))
                ?? entries.FirstOrDefault(e => !e.InUse);
            if (entry is not null)
            {
                entry.InUse = true;
                Volatile.Write(ref DelegateSlots.Items[entry.Slot], replacement);
            }
        }
        if (entry is null)
        {
            var (code, method, slot) = build();
            entry = new Entry { Code = code, Method = method, Slot = slot, InUse = true };
            lock (s_gate)
                s_pool[key].Add(entry);
        }
        var leased = entry;
        return new BridgeLease(leased.Code, leased.Method, () =>
        {
            lock (s_gate)
                leased.InUse = false;
        });
    }
}

/// <summary>Delegates that bridges call; a bridge loads its delegate by index, so the array may grow.</summary>
internal static class DelegateSlots
{
    private static readonly object s_gate = new();
    private static int s_count;

    public static Delegate?[] Items = new Delegate?[16];

    public static int Add(Delegate item)
    {
        lock (s_gate)
        {
            if (s_count == Items.Length)
            {
                var grown = new Delegate?[Items.Length * 2];
                Array.Copy(Items, grown, Items.Length);
                Volatile.Write(ref Items, grown);
            }
            Items[s_count] = item;
            return s_count++;
        }
    }
}
