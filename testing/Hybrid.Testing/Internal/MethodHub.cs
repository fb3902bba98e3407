using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Threading;

namespace Hybrid.Testing.Internal;

/// <summary>
/// The one engine redirect Hybrid.Testing keeps per method, shared by every fake of that method in every scope.
/// Its replacement (the <em>dispatcher</em>) has the original's exact shape; on each call it asks which fake, if any,
/// the calling async flow sees for this instance, and otherwise runs the original. Because fakes are resolved per call
/// and not per redirect, parallel tests can fake the same method differently, and every engine strategy (native jump
/// or woven IL guard) honours scopes without knowing about them.
/// </summary>
internal sealed class MethodHub
{
    private static readonly ConcurrentDictionary<MethodBase, MethodHub> s_hubs = new();

    /// <summary>Returned by a behaviour to mean "run the original with the caller's own arguments".</summary>
    internal static readonly object CallOriginal = new();

    // Set while Hybrid.Testing's own bookkeeping runs on this thread: a faked method called from inside that code
    // (say a faked DateTime.UtcNow used by a lock or a collection) must run the original, not recurse into a fake.
    [ThreadStatic] private static bool t_busy;
    [ThreadStatic] private static MethodHub? t_installing;

    private readonly object _gate = new();
    private readonly object? _defaultResult;
    private int _users;
    private Redirection? _redirection;
    private Timer? _idle;

    /// <summary>
    /// How long the engine redirect stays after the last fake of the method went. Why not remove it at once: the next
    /// test usually fakes the same method again, and installing writes the entry jump behind the thread fence
    /// (~40–50 µs a method, 1.5 s over 10,000 tests faking three methods) while keeping it costs unfaked calls the
    /// dispatcher's check (~15 ns) until it goes. <see cref="FakeScope.RemoveIdleRedirects"/> removes them at once.
    /// </summary>
    internal const int IdleMilliseconds = 1000;
    private volatile Delegate? _original;

    private MethodHub(MethodBase method)
    {
        Method = method;
        Name = Names.Describe(method);
        IsInstance = !method.IsStatic;
        ReturnType = method is MethodInfo info ? info.ReturnType : typeof(void);
        Parameters = method.GetParameters();
        var declaring = method.DeclaringType!;
        InstanceIsValueType = IsInstance && declaring.IsValueType;

        string? why = Unsupported();
        if (why is not null)
            throw new NotSupportedException($"Hybrid.Testing cannot fake {Name}: {why} Fix: redirect it with Engine.Redirect(method, replacement) and a hand-written replacement of the exact shape, which has no such limit.");

        var shape = (IsInstance ? new[] { declaring.IsValueType ? declaring.MakeByRefType() : declaring } : Type.EmptyTypes)
            .Concat(Parameters.Select(p => p.ParameterType)).ToArray();
        DelegateType = DelegateTypes.For(ReturnType, shape);
        Dispatcher = DispatcherBuilder.Build(this, shape);
        if (ReturnType != typeof(void) && ReturnType.IsValueType)
            _defaultResult = Activator.CreateInstance(ReturnType);
    }

    public MethodBase Method { get; }
    public string Name { get; }
    public bool IsInstance { get; }
    public bool InstanceIsValueType { get; }
    public Type ReturnType { get; }
    public ParameterInfo[] Parameters { get; }
    public Type DelegateType { get; }

    /// <summary>The replacement handed to the engine: a delegate of <see cref="DelegateType"/> closed over this hub.</summary>
    public Delegate Dispatcher { get; }

    /// <summary>The hub of <paramref name="method"/>, created (and its signature checked) on first use.</summary>
    public static MethodHub For(MethodBase method)
    {
        // Reflection hands out distinct MethodInfo objects for one method reached through different types
        // (typeof(Derived).GetMethod("BaseMethod")); normalise so one method always maps to one hub and one redirect.
        if (method.DeclaringType is not null && method.ReflectedType != method.DeclaringType)
            method = MethodBase.GetMethodFromHandle(method.MethodHandle, method.DeclaringType.TypeHandle)!;
        return s_hubs.GetOrAdd(method, m => new MethodHub(m));
    }

    private string? Unsupported()
    {
        if (Method.DeclaringType is null)
            return "it is a global method.";
        if (Method.ContainsGenericParameters)
            return "it is an open generic method or belongs to an open generic type; close it first (MakeGenericMethod / MakeGenericType).";
        if (ReturnType.IsByRef)
            return $"it returns by reference ({Names.Type(ReturnType)}), which a fake's boxed result cannot provide.";
        if (ReturnType.IsByRefLike)
            return $"it returns the ref struct {Names.Type(ReturnType)}, which cannot be boxed into a fake's result.";
        if (ReturnType.IsPointer || ReturnType.IsFunctionPointer)
            return $"it returns the pointer type {Names.Type(ReturnType)}, which cannot be boxed into a fake's result.";
        foreach (var p in Parameters)
        {
            var t = p.ParameterType.IsByRef ? p.ParameterType.GetElementType()! : p.ParameterType;
            if (t == typeof(TypedReference) || t == typeof(ArgIterator) || t == typeof(RuntimeArgumentHandle))
                return $"parameter '{p.Name}' is {Names.Type(t)}, which cannot be captured.";
        }
        return null;
    }

    /// <summary>Counts one more live fake of this method; the first one installs the engine redirect.</summary>
    public void Acquire()
    {
        lock (_gate)
        {
            if (_users == 0 && _redirection is null)
            {
                t_installing = this;
                try
                {
                    var redirection = Engine.Redirect(Method, Dispatcher);
                    // The original invoker only exists once the redirect does. Until this assignment other threads
                    // that reach the dispatcher wait in Original (first install) or use the previous install's
                    // invoker, which the engine keeps valid after its redirect is disposed.
                    _original = (Delegate)typeof(Redirection).GetMethod(nameof(Redirection.GetOriginal))!
                        .MakeGenericMethod(DelegateType).Invoke(redirection, null)!;
                    _redirection = redirection;
                }
                finally
                {
                    t_installing = null;
                }
            }
            _users++;
        }
    }

    /// <summary>
    /// Counts one live fake less. After the last one the engine redirect stays for <see cref="IdleMilliseconds"/> (the
    /// dispatcher runs the original for every call meanwhile), then goes, so an unfaked method runs untouched again.
    /// </summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_users == 0)
                return;
            if (--_users == 0 && _redirection is not null)
            {
                _idle ??= new Timer(static hub => ((MethodHub)hub!).RemoveIfIdle(), this, Timeout.Infinite, Timeout.Infinite);
                _idle.Change(IdleMilliseconds, Timeout.Infinite);
            }
        }
    }

    /// <summary>Removes the engine redirect when no fake uses the method; true when it did.</summary>
    public bool RemoveIfIdle()
    {
        lock (_gate)
        {
            if (_users != 0 || _redirection is null)
                return false;
            _redirection.Dispose();
            _redirection = null;
            return true;
        }
    }

    /// <summary><see cref="RemoveIfIdle"/> for every method; how many redirects went.</summary>
    public static int RemoveAllIdle() => s_hubs.Values.Count(hub => hub.RemoveIfIdle());

    /// <summary>True while the engine redirect is installed (some fake uses the method, or the last one went less than <see cref="IdleMilliseconds"/> ago).</summary>
    public bool IsInstalled
    {
        get { lock (_gate) return _redirection is not null; }
    }

    /// <summary>True while at least one live fake uses the method.</summary>
    public bool InUse
    {
        get { lock (_gate) return _users != 0; }
    }

    // ---- called by the dispatcher's IL ----

    /// <summary>The invoker of the original code (the dispatcher casts it to <see cref="DelegateType"/>).</summary>
    internal Delegate Original()
    {
        var original = _original;
        if (original is not null)
            return original;
        if (t_installing == this)
            throw new InvalidOperationException($"{Name} was called by the engine while Hybrid.Testing was installing its redirect on the same thread, before the original could be reached. This method cannot be faked with Hybrid.Testing; redirect it with Engine.Redirect instead.");
        var spin = new SpinWait();
        while ((original = _original) is null)
            spin.SpinOnce();
        return original;
    }

    /// <summary>The fake the calling async flow sees for this call, or null to run the original.</summary>
    internal Fake? Resolve(object? instance)
    {
        if (t_busy)
            return null;
        t_busy = true;
        try
        {
            return FakeScope.Resolve(this, instance);
        }
        finally
        {
            t_busy = false;
        }
    }

    /// <summary>Records the call on <paramref name="fake"/> and runs its behaviour.</summary>
    internal object? Invoke(Fake fake, object? instance, object?[] args)
    {
        FakeCall call;
        t_busy = true;
        try
        {
            call = fake.Record(instance, args);
        }
        finally
        {
            t_busy = false;
        }
        // The behaviour is user code and runs with fakes visible, like the code under test.
        var result = fake.Run(call);
        if (ReferenceEquals(result, CallOriginal))
            return result;
        for (int i = 0; i < Parameters.Length; i++)
        {
            var type = Parameters[i].ParameterType;
            if (!type.IsByRef)
                continue;
            var element = type.GetElementType()!;
            if (element.IsByRefLike || element.IsPointer)
                continue;
            if (args[i] is null && element.IsValueType && Nullable.GetUnderlyingType(element) is null)
                args[i] = Activator.CreateInstance(element);
            else if (args[i] is not null && !IsAssignable(element, args[i]!))
                throw new InvalidCastException($"The fake of {Name} set argument {i} ('{Parameters[i].Name}') to a {Names.Type(args[i]!.GetType())}, but the parameter is {Names.Type(type)}. Fix: call SetArgument with a {Names.Type(element)}.");
        }
        if (ReturnType == typeof(void))
            return null;
        if (result is null)
            return _defaultResult;
        if (!IsAssignable(ReturnType, result))
            throw new InvalidCastException($"The fake of {Name} returned a {Names.Type(result.GetType())}, but the method returns {Names.Type(ReturnType)}. Fix: return a {Names.Type(ReturnType)} from the behaviour.");
        return result;
    }

    private static bool IsAssignable(Type target, object value) =>
        (Nullable.GetUnderlyingType(target) ?? target).IsInstanceOfType(value);
}

/// <summary>Emits the dispatcher: a method with the original's exact shape (instance first) closed over its hub.</summary>
internal static class DispatcherBuilder
{
    private static readonly MethodInfo s_resolve = typeof(MethodHub).GetMethod(nameof(MethodHub.Resolve), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly MethodInfo s_invoke = typeof(MethodHub).GetMethod(nameof(MethodHub.Invoke), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly MethodInfo s_original = typeof(MethodHub).GetMethod(nameof(MethodHub.Original), BindingFlags.Instance | BindingFlags.NonPublic)!;
    private static readonly FieldInfo s_callOriginal = typeof(MethodHub).GetField(nameof(MethodHub.CallOriginal), BindingFlags.Static | BindingFlags.NonPublic)!;

    public static Delegate Build(MethodHub hub, Type[] shape)
    {
        var method = new DynamicMethod($"Hybrid.Testing.Dispatch<{hub.Method.Name}>", hub.ReturnType,
            new[] { typeof(MethodHub) }.Concat(shape).ToArray(), typeof(MethodHub).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        var fake = il.DeclareLocal(typeof(Fake));
        var args = il.DeclareLocal(typeof(object[]));
        var result = il.DeclareLocal(typeof(object));
        var instance = il.DeclareLocal(typeof(object));
        var callOriginal = il.DefineLabel();
        var faked = il.DefineLabel();
        int first = hub.IsInstance ? 2 : 1;     // IL index of the original's first parameter (arg 0 is the hub)
        var declaring = hub.Method.DeclaringType!;

        // object instance = this (boxed copy for a struct; ref structs cannot be boxed, so they are never filtered).
        if (!hub.IsInstance || declaring.IsByRefLike)
            il.Emit(OpCodes.Ldnull);
        else
        {
            il.Emit(OpCodes.Ldarg_1);
            if (declaring.IsValueType)
            {
                il.Emit(OpCodes.Ldobj, declaring);
                il.Emit(OpCodes.Box, declaring);
            }
        }
        il.Emit(OpCodes.Stloc, instance);

        // Fake fake = hub.Resolve(instance); if (fake == null) goto callOriginal;
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldloc, instance);
        il.Emit(OpCodes.Call, s_resolve);
        il.Emit(OpCodes.Stloc, fake);
        il.Emit(OpCodes.Ldloc, fake);
        il.Emit(OpCodes.Brtrue, faked);

        // callOriginal: return ((D)hub.Original()).Invoke(all arguments as received);
        il.MarkLabel(callOriginal);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, s_original);
        il.Emit(OpCodes.Castclass, hub.DelegateType);
        for (int i = 0; i < shape.Length; i++)
            il.Emit(OpCodes.Ldarg, (short)(i + 1));
        il.Emit(OpCodes.Callvirt, hub.DelegateType.GetMethod("Invoke")!);
        il.Emit(OpCodes.Ret);

        // faked: object[] args = { boxed arguments };
        il.MarkLabel(faked);
        il.Emit(OpCodes.Ldc_I4, hub.Parameters.Length);
        il.Emit(OpCodes.Newarr, typeof(object));
        il.Emit(OpCodes.Stloc, args);
        for (int i = 0; i < hub.Parameters.Length; i++)
        {
            var parameter = hub.Parameters[i];
            var type = parameter.ParameterType;
            bool byRef = type.IsByRef;
            var element = byRef ? type.GetElementType()! : type;
            short index = (short)(first + i);
            il.Emit(OpCodes.Ldloc, args);
            il.Emit(OpCodes.Ldc_I4, i);
            if (byRef && parameter.IsOut && !parameter.IsIn)
                il.Emit(OpCodes.Ldnull);        // an out argument has no value yet (and may hold garbage): record null
            else if (element.IsByRefLike)
                EmitRefStructCopy(il, element, index, byRef);
            else if (element.IsPointer || element.IsFunctionPointer)
            {
                il.Emit(OpCodes.Ldarg, index);
                if (byRef)
                    il.Emit(OpCodes.Ldind_I);
                il.Emit(OpCodes.Box, typeof(nint));   // pointers cannot be boxed; record the address
            }
            else
            {
                il.Emit(OpCodes.Ldarg, index);
                if (byRef)
                    il.Emit(OpCodes.Ldobj, element);
                if (element.IsValueType)
                    il.Emit(OpCodes.Box, element);
            }
            il.Emit(OpCodes.Stelem_Ref);
        }

        // object result = hub.Invoke(fake, instance, args); if (result == CallOriginal) goto callOriginal;
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldloc, fake);
        il.Emit(OpCodes.Ldloc, instance);
        il.Emit(OpCodes.Ldloc, args);
        il.Emit(OpCodes.Call, s_invoke);
        il.Emit(OpCodes.Stloc, result);
        il.Emit(OpCodes.Ldloc, result);
        il.Emit(OpCodes.Ldsfld, s_callOriginal);
        il.Emit(OpCodes.Beq, callOriginal);

        // Write ref/out arguments back (hub.Invoke has made them non-null and type-checked).
        for (int i = 0; i < hub.Parameters.Length; i++)
        {
            var parameter = hub.Parameters[i];
            var type = parameter.ParameterType;
            if (!type.IsByRef || (parameter.IsIn && !parameter.IsOut))
                continue;
            var element = type.GetElementType()!;
            if (element.IsByRefLike || element.IsPointer || element.IsFunctionPointer)
                continue;
            il.Emit(OpCodes.Ldarg, (short)(first + i));
            il.Emit(OpCodes.Ldloc, args);
            il.Emit(OpCodes.Ldc_I4, i);
            il.Emit(OpCodes.Ldelem_Ref);
            il.Emit(OpCodes.Unbox_Any, element);
            il.Emit(OpCodes.Stobj, element);
        }

        if (hub.ReturnType != typeof(void))
        {
            il.Emit(OpCodes.Ldloc, result);
            il.Emit(OpCodes.Unbox_Any, hub.ReturnType);
        }
        il.Emit(OpCodes.Ret);
        return method.CreateDelegate(hub.DelegateType, hub);
    }

    /// <summary>Span and ReadOnlySpan arguments are recorded as an array copy (ToArray); other ref structs as null.</summary>
    private static void EmitRefStructCopy(ILGenerator il, Type element, short index, bool byRef)
    {
        var definition = element.IsGenericType ? element.GetGenericTypeDefinition() : null;
        if (definition != typeof(Span<>) && definition != typeof(ReadOnlySpan<>))
        {
            il.Emit(OpCodes.Ldnull);
            return;
        }
        if (byRef)
            il.Emit(OpCodes.Ldarg, index);
        else
            il.Emit(OpCodes.Ldarga, index);
        il.Emit(OpCodes.Call, element.GetMethod("ToArray", Type.EmptyTypes)!);
    }
}
