using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Threading;

namespace Hybrid.Differential;

/// <summary>
/// State of one pass-through replacement. The emitted replacement is a <see cref="DynamicMethod"/> closed over this
/// object: it counts the call and forwards every argument to <see cref="Original"/>.
/// </summary>
public sealed class PassThrough
{
    // Public fields: the emitted IL reaches them without reflection.
    public long Calls;
    public Delegate? Original;
    public readonly string Method;

    /// <summary>Calls that arrived before <see cref="Original"/> was stored (between Redirect and GetOriginal).</summary>
    public long EarlyCalls;

    public PassThrough(string method) => Method = method;

    /// <summary>Counts a call and returns the delegate to forward it to.</summary>
    public static Delegate Enter(PassThrough passThrough)
    {
        Interlocked.Increment(ref passThrough.Calls);
        var original = passThrough.Original;
        if (original is not null)
            return original;
        // Nothing else can run the original body: the only way in is the GetOriginal delegate we do not have yet.
        Interlocked.Increment(ref passThrough.EarlyCalls);
        throw new InvalidOperationException($"differential: {passThrough.Method} was called through its pass-through before GetOriginal returned (re-entrant call while redirecting)");
    }
}

/// <summary>
/// Builds, for arbitrary signatures (by-ref and pointer parameters, ref structs, struct returns), the delegate type of
/// the replacement shape and a pass-through of that type. Delegate types are emitted rather than taken from
/// Func/Action because generic delegates cannot carry by-refs, pointers or ref structs.
/// </summary>
internal sealed class PassThroughFactory
{
    private static readonly MethodInfo s_enter = typeof(PassThrough).GetMethod(nameof(PassThrough.Enter))!;
    private static readonly MethodInfo s_getOriginal = typeof(Redirection).GetMethod(nameof(Redirection.GetOriginal))!;

    private readonly ModuleBuilder _module;
    private readonly Dictionary<string, Type> _delegateTypes = new(StringComparer.Ordinal);
    private int _typeCount;

    public PassThroughFactory()
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Hybrid.Differential.Delegates"), AssemblyBuilderAccess.Run);
        _module = assembly.DefineDynamicModule("Hybrid.Differential.Delegates");
    }

    public int DelegateTypeCount => _delegateTypes.Count;

    /// <summary>The replacement shape: static, the instance first (by ref for a struct), then the original's parameters.</summary>
    public static (Type Return, Type[] Parameters) ShapeOf(MethodBase method)
    {
        var parameters = method.GetParameters().Select(p => p.ParameterType);
        if (!method.IsStatic)
        {
            var type = method.DeclaringType!;
            parameters = new[] { type.IsValueType ? type.MakeByRefType() : type }.Concat(parameters);
        }
        return (method is MethodInfo info ? info.ReturnType : typeof(void), parameters.ToArray());
    }

    public Type DelegateTypeFor(Type returnType, Type[] parameters)
    {
        // Type handles identify types exactly (by-ref, pointer and array forms included), so equal keys mean equal shapes.
        string key = string.Join(",", parameters.Prepend(returnType).Select(t => t.TypeHandle.Value.ToString("X")));
        if (_delegateTypes.TryGetValue(key, out var known))
            return known;
        var builder = _module.DefineType($"Shape{_typeCount++}",
            TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.AutoClass, typeof(MulticastDelegate));
        var ctor = builder.DefineConstructor(MethodAttributes.RTSpecialName | MethodAttributes.SpecialName | MethodAttributes.HideBySig | MethodAttributes.Public,
            CallingConventions.Standard, new[] { typeof(object), typeof(IntPtr) });
        ctor.SetImplementationFlags(MethodImplAttributes.Runtime | MethodImplAttributes.Managed);
        var invoke = builder.DefineMethod("Invoke", MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.NewSlot | MethodAttributes.Virtual,
            returnType, parameters);
        invoke.SetImplementationFlags(MethodImplAttributes.Runtime | MethodImplAttributes.Managed);
        var created = builder.CreateType();
        _delegateTypes[key] = created;
        return created;
    }

    /// <summary>A delegate of <paramref name="delegateType"/> that counts the call in <paramref name="state"/> and forwards to its original.</summary>
    public static Delegate Create(Type delegateType, PassThrough state)
    {
        var invoke = delegateType.GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => p.ParameterType).ToArray();
        // skipVisibility: the signatures name the libraries' internal and private types.
        var method = new DynamicMethod("PassThrough<" + state.Method + ">", invoke.ReturnType,
            parameters.Prepend(typeof(PassThrough)).ToArray(), typeof(PassThrough).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, s_enter);
        il.Emit(OpCodes.Castclass, delegateType);
        for (int i = 1; i <= parameters.Length; i++)
            il.Emit(OpCodes.Ldarg, (short)i);
        il.Emit(OpCodes.Callvirt, invoke);
        il.Emit(OpCodes.Ret);
        return method.CreateDelegate(delegateType, state);
    }

    /// <summary><see cref="Redirection.GetOriginal{TDelegate}"/> for a delegate type known only at run time.</summary>
    public static Delegate GetOriginal(Redirection redirection, Type delegateType)
    {
        try
        {
            return (Delegate)s_getOriginal.MakeGenericMethod(delegateType).Invoke(redirection, null)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
