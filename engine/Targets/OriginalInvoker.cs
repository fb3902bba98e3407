using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;

namespace Hybrid.Targets;

/// <summary>Delegates that run a method's original body, for <see cref="Redirection.GetOriginal{TDelegate}"/>.</summary>
internal static class OriginalInvoker
{
    /// <summary>Throws when <typeparamref name="TDelegate"/> does not have the replacement shape of the original.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2090", Justification = Os.AotJustifications.DelegateInvoke)]
    public static void CheckShape<TDelegate>(MethodTarget target) where TDelegate : Delegate
    {
        var invoke = typeof(TDelegate).GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => p.ParameterType).ToArray();
        if (!Replacement.HasReplacementShape(target, parameters, invoke.ReturnType))
            throw new ArgumentException(
                $"{MethodTarget.TypeName(typeof(TDelegate))} cannot call the original {MethodTarget.Describe(target.Method)}: " +
                $"expected a delegate shaped {target.ExpectedReplacementShape}, got static {MethodTarget.TypeName(invoke.ReturnType)} ({string.Join(", ", parameters.Select(MethodTarget.TypeName))}). " +
                "Fix: use a delegate type with the original's parameters (instance first) and return type.", nameof(TDelegate));
    }

    /// <summary>
    /// Native path: calls the original code at a raw address (the trampoline) with the method's managed calling
    /// convention — <c>calli</c> with <c>HasThis</c> for instance methods, so the runtime places <c>this</c> and a hidden
    /// return buffer exactly as the original expects — plus the hidden instantiation argument for shared generic code.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2090", Justification = Os.AotJustifications.DelegateInvoke)]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Os.AotJustifications.NativeOnly)]
    public static TDelegate ForCode<TDelegate>(MethodTarget target, nint code) where TDelegate : Delegate
    {
        CheckShape<TDelegate>(target);
        var invoke = typeof(TDelegate).GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => p.ParameterType).ToArray();
        var method = new DynamicMethod($"Hybrid.Original<{target.Method.Name}>", invoke.ReturnType, parameters, typeof(OriginalInvoker).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        var calliParameters = (target.IsInstance ? parameters.Skip(1) : parameters).ToList();
        int first = 0;
        if (target.IsInstance)
        {
            il.Emit(OpCodes.Ldarg_0);
            first = 1;
        }
        if (target.Context == GenericContext.HiddenArgument)
        {
            EmitPointer(il, target.ContextKey);
            calliParameters.Insert(0, typeof(nint));
        }
        for (int i = first; i < parameters.Length; i++)
            il.Emit(OpCodes.Ldarg, (short)i);
        EmitPointer(il, code);
        il.EmitCalli(OpCodes.Calli, target.IsInstance ? CallingConventions.HasThis : CallingConventions.Standard, invoke.ReturnType, calliParameters.ToArray(), null);
        il.Emit(OpCodes.Ret);
        return (TDelegate)method.CreateDelegate(typeof(TDelegate));
    }

    private static void EmitPointer(ILGenerator il, nint value)
    {
        il.Emit(OpCodes.Ldc_I8, (long)value);
        il.Emit(OpCodes.Conv_I);
    }
}
